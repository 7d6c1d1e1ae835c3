package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

// redisCPU reads the Redis server's own CPU time, which a check that
// goes to Redis costs besides the server's.
type redisCPU struct{ conn redis.Conn }

// dialRedis connects to the Redis server at addr (on 127.0.0.1).
func dialRedis(ctx context.Context, addr string) (*redisCPU, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := redis.DialContext(ctx, "tcp", addr, redis.DialContextFunc(loopbackDial))
	if err != nil {
		return nil, err
	}
	if _, err := redis.DoContext(conn, ctx, "PING"); err != nil {
		conn.Close()
		return nil, err
	}
	return &redisCPU{conn}, nil
}

// read returns Redis's used_cpu_user plus used_cpu_sys, or zero when
// measure is false or there is no Redis.
func (r *redisCPU) read(ctx context.Context, measure bool) (time.Duration, error) {
	if r == nil || !measure {
		return 0, nil
	}
	info, err := redis.String(redis.DoContext(r.conn, ctx, "INFO", "cpu"))
	if err != nil {
		return 0, fmt.Errorf("Redis INFO cpu: %w", err)
	}
	var total float64
	found := 0
	for line := range strings.Lines(info) {
		name, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_user" || name == "used_cpu_sys" {
			s, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return 0, fmt.Errorf("Redis INFO cpu: %s: %v", name, err)
			}
			total += s
			found++
		}
	}
	if found != 2 {
		return 0, fmt.Errorf("Redis INFO cpu has no used_cpu_user and used_cpu_sys")
	}
	return time.Duration(total * float64(time.Second)), nil
}

// deletePrefix deletes the keys under prefix (SCAN MATCH, then DEL), and
// nothing else. prefix holds no glob characters: the harness's are hex.
func (r *redisCPU) deletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" || strings.ContainsAny(prefix, `*?[]\`) {
		return fmt.Errorf("refusing to delete keys under prefix %q", prefix)
	}
	for cursor := "0"; ; {
		reply, err := redis.Values(redis.DoContext(r.conn, ctx, "SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
		if err != nil {
			return err
		}
		var keys []string
		if _, err := redis.Scan(reply, &cursor, &keys); err != nil {
			return err
		}
		if len(keys) > 0 {
			if _, err := redis.DoContext(r.conn, ctx, "DEL", redis.Args{}.AddFlat(keys)...); err != nil {
				return err
			}
		}
		if cursor == "0" {
			return nil
		}
	}
}

func (r *redisCPU) close() {
	if r != nil {
		r.conn.Close()
	}
}
