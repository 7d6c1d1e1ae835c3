package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/store/storetest"
)

func TestMain(m *testing.M) {
	serveFloorIfAsked() // the floor server is this binary, started again
	os.Exit(m.Run())
}

// TestCompareSmoke runs the whole comparison briefly: every contender
// built, started, logged in through and driven, every check answered as
// the logged-in user's, and a report with every pair's ratios. The
// numbers of so short a run mean nothing; that it runs is the point.
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds sessiond and oauth2-proxy")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var log bytes.Buffer
	cfg := &config{
		Only:      contenderNames,
		Rounds:    2,
		Duration:  300 * time.Millisecond,
		Warmup:    100 * time.Millisecond,
		Conns:     4,
		Logins:    2,
		Timeout:   10 * time.Second,
		RedisAddr: "127.0.0.1:6379",
		Log:       &log,
	}
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	rep, err := compare(ctx, cfg)
	if errors.Is(err, errNoRedis) {
		storetest.ServerMissing(t, err.Error()+"; run bash .ci/services.sh")
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if rep.Errors != 0 {
		t.Errorf("%d checks failed", rep.Errors)
	}
	if len(rep.Contenders) != len(contenderNames) {
		t.Fatalf("%d contenders reported, want %d", len(rep.Contenders), len(contenderNames))
	}
	for _, c := range rep.Contenders {
		if c.Checks == 0 || c.PerSec <= 0 || c.P99 <= 0 || c.P50 > c.P99 {
			t.Errorf("%s: %d checks, %.0f/s, p50 %.3f ms, p99 %.3f ms", c.Name, c.Checks, c.PerSec, c.P50, c.P99)
		}
		if len(c.Rounds) != cfg.Rounds {
			t.Errorf("%s: %d rounds, want %d", c.Name, len(c.Rounds), cfg.Rounds)
		}
		if (c.LoginP50 <= 0 || c.LoginCPUPer <= 0) != (c.Name == floorName) {
			t.Errorf("%s: login %.3f ms, %.3f ms CPU", c.Name, c.LoginP50, c.LoginCPUPer)
		}
		// With the client-side cache, checks need not reach Redis at all.
		onRedis, everyCheck := strings.Contains(c.Name, "/redis"), strings.HasSuffix(c.Name, "/redis")
		if c.RedisPer > 0 && !onRedis || c.RedisPer <= 0 && everyCheck {
			t.Errorf("%s: Redis CPU per check %.1f µs", c.Name, c.RedisPer)
		}
	}
	if len(rep.Ratios) != len(comparisons) {
		t.Errorf("%d comparisons, want %d", len(rep.Ratios), len(comparisons))
	}
	if !strings.HasPrefix(rep.OAuth2Proxy, "v7.") {
		t.Errorf("oauth2-proxy version %q, want v7.x from the bench module's tool directive", rep.OAuth2Proxy)
	}
	// The report survives -json and -from.
	path := filepath.Join(t.TempDir(), "run.json")
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	if err := enc.Encode(rep); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, js.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var text, md, again bytes.Buffer
	rep.writeText(&text)
	rep.writeMarkdown(&md)
	if code := run(ctx, []string{"-from", path, "-markdown"}, &again, io.Discard); code != 0 || again.String() != md.String() {
		t.Errorf("-from %s -markdown: status %d, printed\n%s\nwant\n%s", path, code, again.String(), md.String())
	}
	for _, name := range contenderNames {
		if !strings.Contains(text.String(), name) || !strings.Contains(md.String(), "| "+name+" |") {
			t.Errorf("%s missing from the report:\n%s\n%s", name, text.String(), md.String())
		}
	}
}

// TestReadResponse reads responses as servers send them and refuses
// those it cannot delimit.
func TestReadResponse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		status    int
		keepAlive bool
		err       string
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nX-Auth-User: bench\r\nContent-Length: 5\r\n\r\nhello", 200, true, ""},
		{"empty", "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 202, true, ""},
		{"no reason", "HTTP/1.1 401\r\nContent-Length: 0\r\n\r\n", 401, true, ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nTrailer: t\r\n\r\n", 200, true, ""},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, true, ""},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, false, ""},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, false, ""},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nall of it", 200, false, ""},
		{"header case", "HTTP/1.1 200 OK\r\ncontent-LENGTH:  3 \r\n\r\nabc", 200, true, ""},

		{"eof", "", 0, false, "EOF"},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, "malformed status line"},
		{"short status", "HTTP/1.1 20\r\n\r\n", 0, false, "malformed status line"},
		{"status letters", "HTTP/1.1 2x0 OK\r\n\r\n", 0, false, "malformed status line"},
		{"status joined", "HTTP/1.1 2000 OK\r\n\r\n", 0, false, "malformed status line"},
		{"bare LF", "HTTP/1.1 200 OK\n\n", 0, false, "not ended by CRLF"},
		{"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", 0, false, "malformed header line"},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, false, "bad Content-Length"},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0, false, "bad Content-Length"},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", 0, false, "too large"},
		{"gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, false, "unsupported Transfer-Encoding"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, false, "reading the body"},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, "bad chunk size"},
		{"chunk overrun", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 0, false, "not followed by CRLF"},
		{"304 with body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\nabc", 0, false, "with a body"},
		{"long line", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxHeaderLine) + "\r\n\r\n", 0, false, "too long"},
		{"many headers", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", maxHeaderLines+1) + "\r\n", 0, false, "too many header lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), maxHeaderLine)
			status, keepAlive, err := readResponse(br)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || status != tt.status || keepAlive != tt.keepAlive {
				t.Fatalf("got %d, keep-alive %v, %v; want %d, %v", status, keepAlive, err, tt.status, tt.keepAlive)
			}
			if keepAlive {
				if rest, _ := io.ReadAll(br); len(rest) != 0 {
					t.Fatalf("left %q unread", rest)
				}
			}
		})
	}
}

// TestReadResponseSequence reads responses one after another from one
// connection, as the load generator does.
func TestReadResponseSequence(t *testing.T) {
	one := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	two := "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
	br := bufio.NewReaderSize(strings.NewReader(one+two+one), maxHeaderLine)
	for i, want := range []int{200, 202, 200} {
		status, keepAlive, err := readResponse(br)
		if err != nil || status != want || !keepAlive {
			t.Fatalf("response %d: %d, %v, %v; want %d", i, status, keepAlive, err, want)
		}
	}
	if _, _, err := readResponse(br); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last response: %v, want EOF", err)
	}
}

// FuzzReadResponse feeds the reader arbitrary bytes: it must return,
// never panic, and never report a status it did not read.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 204 x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), maxHeaderLine)
		for range 4 {
			status, _, err := readResponse(br)
			if err != nil {
				return
			}
			if status < 100 || status > 999 {
				t.Fatalf("status %d", status)
			}
		}
	})
}

// TestFlags refuses what cannot run.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-only", "nginx/lua"},
		{"-only", ","},
		{"-rounds", "0"},
		{"-conns", "0"},
		{"-duration", "0s"},
		{"-json", "-markdown"},
		{"extra"},
		{"-from", "/nonexistent/run.json"},
	} {
		if args[0] == "-from" {
			if code := run(context.Background(), args, io.Discard, io.Discard); code != 2 {
				t.Errorf("%q: exit status %d, want 2", args, code)
			}
			continue
		}
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%q: exit status %d, want 2", args, code)
		}
	}
	cfg, err := parseFlags([]string{"-only", "sessiond/redis, oauth2-proxy/redis,sessiond/redis"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Only, ",") != "sessiond/redis,oauth2-proxy/redis" {
		t.Errorf("-only gives %q", cfg.Only)
	}
}

// TestPercentile takes nearest-rank percentiles.
func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(ds, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
}

// TestVerdict: the floor's row says whether the goal is within reach of
// any Go server; sessiond's rows say met or missed.
func TestVerdict(t *testing.T) {
	tests := []struct {
		sessiond string
		met      bool
		want     string
	}{
		{"sessiond/bolt", true, "met"},
		{"sessiond/bolt", false, "missed"},
		{floorName, true, "reachable"},
		{floorName, false, "unreachable by any Go server here"},
	}
	for _, tt := range tests {
		c := Comparison{comparison: comparison{Sessiond: tt.sessiond}, GoalMet: tt.met}
		if got := c.verdict(); got != tt.want {
			t.Errorf("%s, goal met %v: %q, want %q", tt.sessiond, tt.met, got, tt.want)
		}
	}
}
