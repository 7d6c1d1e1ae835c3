package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/stores"
)

// startServe runs serve as `sessiond --data-dir dir --listen 127.0.0.1:0`
// would, and returns its base URL, what it printed, and a stop function
// that shuts it down gracefully and waits. The drain timeout is short
// unless args say otherwise: the tests' clients keep idle connections
// open, which the drain would wait for.
func startServe(t *testing.T, args ...string) (base string, out *syncBuffer, stop func()) {
	t.Helper()
	opt, err := parseOptions(append([]string{"--listen", "127.0.0.1:0", "--drain-timeout", "100ms"}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs io.Writer = io.Discard
	if testing.Verbose() {
		logs = os.Stderr
	}
	go func() { done <- serve(ctx, opt, out, logs, func(b string) { ready <- b }) }()
	select {
	case base = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return base, out, stop
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var firstPasswordRE = regexp.MustCompile(`created user "admin" with password (\S+)`)

// noRedirect is an HTTP client that shows redirects instead of following
// them; cookies are handled by hand (Go's jar, unlike browsers, sends no
// Secure cookie to http://127.0.0.1).
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func loginHTTP(t *testing.T, base, user, password string) *http.Cookie {
	t.Helper()
	code, c := loginCode(t, base, user, password)
	if c == nil {
		t.Fatalf("login: %d, no session cookie", code)
	}
	return c
}

func authAs(t *testing.T, base string, c *http.Cookie) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+pages.PathAuth, nil)
	req.AddCookie(c)
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("X-Auth-User")
}

// TestRestartKeepsSessionsAndKeys runs the zero-configuration service (the
// default store in a fresh data directory), logs in, restarts it, and finds
// the session, the user and the generated keys still there.
func TestRestartKeepsSessionsAndKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base, out, stop := startServe(t, "--data-dir", dir, "--ticket")
	m := firstPasswordRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("first run printed no password:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Log in at "+base+pages.PathLogin) {
		t.Errorf("first run printed no login URL:\n%s", out.String())
	}
	cookie := loginHTTP(t, base, "admin", m[1])
	if code, user := authAs(t, base, cookie); code != 200 || user != "admin" {
		t.Fatalf("before restart: %d %q", code, user)
	}
	secret, err := os.ReadFile(filepath.Join(dir, "ticket-secret"))
	if err != nil {
		t.Fatal(err)
	}
	stop()

	// Everything the service keeps is private.
	for _, name := range []string{"users", "ticket-secret", defaultStoreName()} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v", name, perm)
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v", st.Mode().Perm())
	}

	base, out, _ = startServe(t, "--data-dir", dir, "--ticket")
	if strings.Contains(out.String(), "password") {
		t.Errorf("second run printed a password again:\n%s", out.String())
	}
	if code, user := authAs(t, base, cookie); code != 200 || user != "admin" {
		t.Errorf("after restart: %d %q", code, user)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ticket-secret")); string(again) != string(secret) {
		t.Error("ticket secret changed across restart")
	}
}

// defaultStoreName is the default store's file or directory in the data dir.
func defaultStoreName() string {
	return filepath.Base(stores.Default("/x").Rest)
}

// TestGracefulShutdownFinishesInFlight stops the server while a slow
// request is in flight; the request still completes.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	up := make(chan struct{})
	release := make(chan struct{})
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(up)
		<-release
		io.WriteString(w, "finished")
	})}
	ln := listenLoopback(t)
	go upstream.Serve(ln)
	defer upstream.Close()

	dir := t.TempDir()
	base, out, stop := startServe(t, "--data-dir", dir, "--store", "memory://", "--upstream", "http://"+ln.Addr().String())
	m := firstPasswordRE.FindStringSubmatch(out.String())
	cookie := loginHTTP(t, base, "admin", m[1])

	result := getAsync(base+"/slow", cookie)
	<-up
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("shutdown did not wait for the request in flight")
	default:
	}
	close(release)
	if got := <-result; got != "finished" {
		t.Errorf("in-flight request got %q", got)
	}
	<-stopped
}

// getAsync GETs url with cookie in the background; the channel receives
// the body, or the error's text.
func getAsync(url string, cookie *http.Cookie) <-chan string {
	result := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", url, nil)
		req.AddCookie(cookie)
		res, err := noRedirect.Do(req)
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		result <- string(b)
	}()
	return result
}
