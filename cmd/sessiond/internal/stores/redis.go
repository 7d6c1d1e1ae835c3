package stores

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/redisstore"
)

// redisConfig turns the part after "://" into a redisstore.Config.
func redisConfig(scheme, rest string) (redisstore.Config, error) {
	var cfg redisstore.Config
	rest, query, _ := strings.Cut(rest, "?")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		cred := rest[:at]
		rest = rest[at+1:]
		user, pw, _ := strings.Cut(cred, ":")
		var err error
		if cfg.Username, err = url.PathUnescape(user); err != nil {
			return cfg, errors.New("bad user name escape")
		}
		if cfg.Password, err = url.PathUnescape(pw); err != nil {
			return cfg, errors.New("bad password escape")
		}
	}
	rest = strings.TrimSuffix(rest, "/")
	for a := range strings.SplitSeq(rest, ",") {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return cfg, errors.New("want host:port addresses, as in redis://127.0.0.1:6379")
		}
		cfg.Addrs = append(cfg.Addrs, a)
	}
	if scheme == "redis" && len(cfg.Addrs) != 1 {
		return cfg, errors.New("redis:// takes one host:port; use redis-cluster:// for several")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return cfg, errors.New("bad query")
	}
	for k := range q {
		if k != "prefix" && k != "min-replicas" && k != "replica-timeout" && k != "client-cache" {
			return cfg, errors.New("unknown option " + k + " (prefix, min-replicas, replica-timeout, client-cache)")
		}
	}
	cfg.Prefix = q.Get("prefix")
	if v := q.Get("min-replicas"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return cfg, fmt.Errorf("min-replicas=%q: want a number of replicas, 0 or more", v)
		}
		cfg.MinReplicas = n
	}
	if v := q.Get("replica-timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Millisecond {
			return cfg, fmt.Errorf("replica-timeout=%q: want a duration of at least 1ms, as in 500ms", v)
		}
		cfg.ReplicaTimeout = d
	}
	if v := q.Get("client-cache"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("client-cache=%q: want how long this process may keep a record, as in 2s (0: off)", v)
		}
		cfg.ClientSideCache = d
	}
	return cfg, nil
}

func checkRedis(rest string) error {
	_, err := redisConfig("redis-cluster", rest) // the address count is checked at open
	return err
}

// openRedis opens Redis: redis://[user:password@]host:port[?prefix=P] for
// one server, redis-cluster://[user:password@]h1:p1,h2:p2,h3:p3[?prefix=P]
// for the seed nodes of a cluster (the client finds the rest).
func openRedis(u URL, _ *slog.Logger) (sesame.Store, io.Closer, error) {
	cfg, err := redisConfig(u.Scheme, u.Rest)
	if err != nil {
		return nil, nil, err
	}
	s, err := redisstore.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return s, s, nil
}
