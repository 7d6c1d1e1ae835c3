#!/usr/bin/env bash
# Installs and starts, on loopback only, every server the tests talk to,
# skipping what is already there. Safe to run again. Used by .ci/run; a
# developer can run it once on a fresh Debian machine.
set -euo pipefail

need=()
command -v memcached >/dev/null || need+=(memcached)
command -v apache2 >/dev/null && [ -e /usr/lib/apache2/modules/mod_auth_tkt.so ] || need+=(apache2 libapache2-mod-auth-tkt)
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v chromium >/dev/null || need+=(chromium)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
# ticket.TestPloneInterop runs plone.session's tktauth.py (from ../shared/interop) with it.
command -v python3 >/dev/null || need+=(python3)
# beaker's interop tests run Debian's Beaker with both of its AES modules.
for pkg in python3-beaker python3-pycryptodome python3-cryptography; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  # Packages must not start their own daemons (Apache and nginx would take
  # port 80 on every address); the tests start what they need on loopback.
  created_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ -z "$created_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

pgver=$(ls /etc/postgresql | sort -V | tail -1)
if ! pg_isready -q -h 127.0.0.1; then
  pg_ctlcluster --skip-systemctl-redirect "$pgver" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
fi
# A fresh Debian cluster asks for passwords over TCP; the tests connect as
# postgres without one, on loopback only.
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1; then
  hba=/etc/postgresql/$pgver/main/pg_hba.conf
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  su postgres -c "psql -tAc 'SELECT pg_reload_conf()'" >/dev/null
  sleep 1
fi
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 ||
  psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null

if ! mariadb-admin ping >/dev/null 2>&1; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  for _ in $(seq 30); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 1; done
fi
# A fresh install lets root in through the Unix socket only; the tests
# connect over TCP on loopback as root without a password.
if ! mariadb -h 127.0.0.1 -u root -e "SELECT 1" >/dev/null 2>&1; then
  mariadb -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
fi
mariadb -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test"

if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/11211) 2>/dev/null; then
  memcached -d -u nobody -l 127.0.0.1 -p 11211 -I 2m
fi

# A three-master Redis Cluster on 17000-17002.
if ! redis-cli -p 17000 cluster info 2>/dev/null | grep -q cluster_state:ok; then
  for p in 17000 17001 17002; do
    redis-cli -p "$p" ping >/dev/null 2>&1 && continue
    d=$(mktemp -d)
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$d/nodes.conf" \
      --dir "$d" --save "" --appendonly no --daemonize yes --logfile "$d/log"
  done
  for _ in $(seq 20); do redis-cli -p 17002 ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-cli --cluster create 127.0.0.1:17000 127.0.0.1:17001 127.0.0.1:17002 --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 30); do redis-cli -p 17000 cluster info | grep -q cluster_state:ok && break; sleep 1; done
fi
echo "services ready"
