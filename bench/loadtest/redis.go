package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// redisDeletePrefix deletes the keys under prefix (SCAN MATCH, then DEL)
// on the Redis server at addr, and nothing else, speaking just enough RESP
// for that. It returns how many keys it deleted. prefix must hold no glob
// characters; the load test's prefixes are hex.
func redisDeletePrefix(ctx context.Context, addr, prefix string) (int, error) {
	if prefix == "" || strings.ContainsAny(prefix, `*?[]\`) {
		return 0, fmt.Errorf("refusing to delete keys under prefix %q", prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := loopbackDialer()(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	rc := &resp{w: bufio.NewWriter(conn), r: bufio.NewReader(conn)}
	deleted := 0
	cursor := "0"
	for {
		reply, err := rc.do("SCAN", cursor, "MATCH", prefix+"*", "COUNT", "1000")
		if err != nil {
			return deleted, err
		}
		arr, ok := reply.([]any)
		if !ok || len(arr) != 2 {
			return deleted, fmt.Errorf("redis SCAN: odd reply %v", reply)
		}
		cursor, _ = arr[0].(string)
		keys, _ := arr[1].([]any)
		if len(keys) > 0 {
			args := []string{"DEL"}
			for _, k := range keys {
				s, ok := k.(string)
				if !ok || !strings.HasPrefix(s, prefix) {
					return deleted, fmt.Errorf("redis SCAN returned %v outside prefix %q", k, prefix)
				}
				args = append(args, s)
			}
			n, err := rc.do(args...)
			if err != nil {
				return deleted, err
			}
			if c, ok := n.(int64); ok {
				deleted += int(c)
			}
		}
		if cursor == "0" || cursor == "" {
			return deleted, nil
		}
	}
}

// resp is a minimal RESP2 client connection.
type resp struct {
	w *bufio.Writer
	r *bufio.Reader
}

// do sends one command and reads its reply: a string, an int64, nil, or
// a []any of those; a Redis error reply is returned as an error.
func (c *resp) do(args ...string) (any, error) {
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.read(0)
}

func (c *resp) read(depth int) (any, error) {
	if depth > 4 {
		return nil, errors.New("redis: reply nested too deep")
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redis: empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, errors.New("redis: " + body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$', '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 1<<20 {
			return nil, fmt.Errorf("redis: bad length in %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		if line[0] == '$' {
			b := make([]byte, n+2)
			if _, err := io.ReadFull(c.r, b); err != nil {
				return nil, err
			}
			return string(b[:n]), nil
		}
		out := make([]any, 0, n)
		for range n {
			v, err := c.read(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: unexpected reply %q", line)
}
