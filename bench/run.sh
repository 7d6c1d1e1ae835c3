#!/usr/bin/env bash
# Measures Sesame against scs and gorilla/sessions, and each store against
# its raw client, with -count runs of each benchmark, and prints benchstat
# tables. With --readme it also rewrites the tables of bench/README.md
# from the results.
#
#   bench/run.sh                  # everything, -count 10 (about 35 minutes)
#   bench/run.sh --readme         # the same, then update bench/README.md
#   bench/run.sh --libs-only      # skip the store benchmarks
#   OUT=DIR bench/run.sh --report-only --readme   # tables from DIR's results
#   COUNT=1 BENCHTIME=1x bench/run.sh   # a smoke run: does it all work?
#
# The library benchmarks with Redis and the store benchmarks need the
# servers of .ci/services.sh (Redis, PostgreSQL, MariaDB, memcached); a
# benchmark whose server is missing is skipped and says why. The raw
# results stay in $OUT (default: a new temporary directory).
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-1s}
readme=false
stores=true
measure=true
for arg in "$@"; do
  case "$arg" in
    --readme) readme=true ;;
    --libs-only) stores=false ;;
    --report-only) measure=false ;;
    *) echo "usage: $0 [--readme] [--libs-only] [--report-only]" >&2; exit 2 ;;
  esac
done
if ! $measure && [ ! -f "${OUT:-}/libs.txt" ]; then
  echo "--report-only needs OUT set to the directory of an earlier run" >&2; exit 2
fi
OUT=${OUT:-$(mktemp -d -t sesame-bench.XXXXXX)}
mkdir -p "$OUT"
benchstat() { go tool benchstat "$@"; }

store_names="memstore filestore boltstore redisstore pgstore mysqlstore memcachestore"
# pattern prints the benchmarks run.sh runs of store $1 (a function: bash
# before 4 has no associative arrays).
pattern() {
  case "$1" in
    memstore|filestore) echo '^Benchmark(Load|Save)(Parallel)?$' ;;
    boltstore) echo '^Benchmark(Load|LoadParallel|DurableSave)$' ;;
    redisstore) echo '^BenchmarkRatio$' ;;
    *) echo '^Benchmark(Load|Save)$' ;;
  esac
}

if $measure; then
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
  echo "$(date -u +%Y-%m-%d), $(go env GOVERSION) $(go env GOOS)/$(go env GOARCH), ${cpu:-unknown CPU} ($(getconf _NPROCESSORS_ONLN) cores), -count $COUNT, -benchtime $BENCHTIME" > "$OUT/about.txt"
  echo "# $(cat "$OUT/about.txt")"
  echo "# raw results in $OUT"
  echo
  echo "## Sesame, scs and gorilla/sessions, request for request"
  go test -run '^$' -bench . -count "$COUNT" -benchtime "$BENCHTIME" . | tee "$OUT/libs.txt"
  rm -f "$OUT"/store-*.txt
  if $stores; then
    # Each networked store against the raw client doing the same work
    # (store/raw); the in-process stores on their own.
    for s in $store_names; do
      echo
      echo "## store/$s"
      (cd "../store/$s" && go test -run '^$' -bench "$(pattern "$s")" -count "$COUNT" -benchtime "$BENCHTIME" .) | tee "$OUT/store-$s.txt"
    done
  fi
fi

echo
benchstat -col '/lib@(sesame scs gorilla floor)' "$OUT/libs.txt" | tee "$OUT/libs-benchstat.txt"
echo
go run ./internal/perftable "$OUT/libs.txt" | tee "$OUT/libs.md"
: > "$OUT/stores-benchstat.txt"
for s in $store_names; do
  [ -f "$OUT/store-$s.txt" ] || continue
  echo
  benchstat "$s=$OUT/store-$s.txt" | tee "$OUT/store-$s-benchstat.txt"
  # For the README: the store/raw table of a networked store, the time
  # table of an in-process one.
  grep -Ev '^(goos|goarch|pkg|cpu):' "$OUT/store-$s-benchstat.txt" | awk -v RS= '
    /[│|] *store\/raw *[│|]/ { ratio = ratio $0 "\n\n" }
    /[│|] *sec\/op *[│|]/ { time = time $0 "\n\n" }
    END { printf "%s", ratio != "" ? ratio : time }
  ' >> "$OUT/stores-benchstat.txt"
done

if $readme; then
  {
    echo "Measured $(cat "$OUT/about.txt")."
    echo
    echo "## Sesame against scs and gorilla/sessions"
    echo
    cat "$OUT/libs.md"
    echo
    echo "<details><summary>benchstat output</summary>"
    echo
    echo '```'
    cat "$OUT/libs-benchstat.txt"
    echo '```'
    echo
    echo "</details>"
    if [ -s "$OUT/stores-benchstat.txt" ]; then
      echo
      echo "## Each store against its raw client"
      echo
      echo "store/raw is a networked store's time as a multiple of its client's doing the same"
      echo "work, call for call, alternating; memstore, filestore and boltstore are in-process."
      echo
      echo '```'
      sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$OUT/stores-benchstat.txt"
      echo '```'
    fi
  } > "$OUT/section.md"
  # Replace what lies between the markers, keeping the markers.
  awk -v section="$OUT/section.md" '
    /<!-- performance:begin -->/ { print; while ((getline line < section) > 0) print line; skip = 1; next }
    /<!-- performance:end -->/ { skip = 0 }
    !skip
  ' README.md > "$OUT/README.md"
  grep -q '<!-- performance:end -->' "$OUT/README.md" || { echo "bench/README.md has no performance markers" >&2; exit 1; }
  cp "$OUT/README.md" README.md
  echo
  echo "bench/README.md's tables rewritten."
fi
