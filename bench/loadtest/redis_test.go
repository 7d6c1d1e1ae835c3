package main

import (
	"strconv"
	"testing"

	"github.com/gomodule/redigo/redis"
	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestRedisDeletePrefix deletes the keys under one prefix, across several
// SCAN pages, and leaves a key that only looks alike.
func TestRedisDeletePrefix(t *testing.T) {
	const addr = "127.0.0.1:6379"
	conn, err := redis.Dial("tcp", addr)
	if err != nil {
		storetest.ServerMissing(t, "no Redis at "+addr+": "+err.Error())
	}
	defer conn.Close()
	prefix := "sesame-loadtest-test-" + sessiondproc.RandomHex(8) + ":"
	other := prefix[:len(prefix)-1] + "x:kept"
	const n = 2500 // more than one SCAN page of 1000
	for i := range n {
		conn.Send("SET", prefix+strconv.Itoa(i), "v")
	}
	conn.Send("SET", other, "v")
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	for range n + 1 {
		if _, err := conn.Receive(); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.Do("DEL", other)

	if _, err := redisDeletePrefix(t.Context(), addr, "a*b"); err == nil {
		t.Error("a prefix with a glob character was accepted")
	}
	deleted, err := redisDeletePrefix(t.Context(), addr, prefix)
	if err != nil {
		t.Fatal(err)
	}
	left, err := redis.Strings(conn.Do("KEYS", prefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	if exists, _ := redis.Bool(conn.Do("EXISTS", other)); !exists || len(left) != 0 || deleted != n {
		t.Errorf("deleted %d of %d, %d left, the other key kept: %v", deleted, n, len(left), exists)
	}
}
