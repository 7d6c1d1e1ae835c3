package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/sesame-go/sesame/bench/internal/vuser"
)

// redisDeletePrefix deletes the keys under prefix (SCAN MATCH, then DEL)
// on the Redis server at addr, and nothing else. It returns how many keys
// it deleted. prefix must hold no glob characters; the load test's
// prefixes are hex.
func redisDeletePrefix(ctx context.Context, addr, prefix string) (int, error) {
	if prefix == "" || strings.ContainsAny(prefix, `*?[]\`) {
		return 0, fmt.Errorf("refusing to delete keys under prefix %q", prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dial := vuser.LoopbackDialer()
	conn, err := redis.DialContext(ctx, "tcp", addr, redis.DialContextFunc(dial))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	deleted := 0
	cursor := "0"
	for {
		reply, err := redis.Values(redis.DoContext(conn, ctx, "SCAN", cursor, "MATCH", prefix+"*", "COUNT", 1000))
		if err != nil {
			return deleted, err
		}
		var keys []string
		if _, err := redis.Scan(reply, &cursor, &keys); err != nil {
			return deleted, fmt.Errorf("SCAN reply: %w", err)
		}
		if len(keys) > 0 {
			args := redis.Args{}.AddFlat(keys)
			n, err := redis.Int(redis.DoContext(conn, ctx, "DEL", args...))
			if err != nil {
				return deleted, err
			}
			deleted += n
		}
		if cursor == "0" {
			return deleted, nil
		}
	}
}
