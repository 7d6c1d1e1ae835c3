package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sessiond's paths (cmd/sessiond/server.go) and its session cookie.
const (
	pathHome         = "/_sessiond/"
	pathLogin        = "/_sessiond/login"
	pathLogout       = "/_sessiond/logout"
	pathLogoutAll    = "/_sessiond/logout-all"
	pathSessions     = "/_sessiond/sessions"
	pathRevoke       = "/_sessiond/sessions/revoke"
	pathRevokeOthers = "/_sessiond/sessions/revoke-others"
	pathAuth         = "/_sessiond/auth"
	cookieName       = "__Host-session"
	userHeader       = "X-Auth-User"
	maxBody          = 1 << 20
)

// errBudget stops a user when -max-requests is spent. A request refused
// for it is never sent, so the state the user expects stays exact.
var errBudget = errors.New("request budget spent")

// target is the sessiond under test, as clients see it.
type target struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	max     atomic.Int64 // requests allowed so far (-max-requests, less what the sweep needs)
	sent    atomic.Int64 // requests started, all phases
}

func newTarget(base string, conns int, timeout time.Duration, maxRequests int64) *target {
	tr := &http.Transport{
		DialContext:         loopbackDialer(),
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	t := &target{
		base: base,
		hc: &http.Client{
			Transport: tr,
			// A browser follows sessiond's redirects; the load test checks
			// each one (its Location, its cookie) and makes the next
			// request itself.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: timeout,
	}
	t.max.Store(maxRequests)
	return t
}

// close drops the idle connections.
func (t *target) close() { t.hc.CloseIdleConnections() }

// response is what the load test keeps of an HTTP response.
type response struct {
	status   int
	location string
	user     string // the X-Auth-User header
	body     string
	// cookies are the values of the session cookie's Set-Cookie lines:
	// "" clears it.
	cookies []string
}

// setCookie returns the one Set-Cookie value of the session cookie, and
// whether there was one.
func (r *response) setCookie() (string, bool) {
	if len(r.cookies) == 0 {
		return "", false
	}
	return r.cookies[len(r.cookies)-1], true
}

// request is one HTTP request of a device.
type request struct {
	kind   string // latency bucket: "GET auth", "POST login", ...
	method string
	path   string
	cookie string // session cookie to send; "" none
	ua     string
	form   url.Values // POST body, sent as a same-origin form
}

// do sends r and reads the whole response, recording its latency under
// r.kind in rec. Transport errors, timeouts and oversized bodies are
// errors; any status is a response.
func (t *target) do(ctx context.Context, rec *recorder, r request) (*response, error) {
	if t.sent.Add(1) > t.max.Load() {
		return nil, errBudget
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.method, t.base+r.path, body)
	if err != nil {
		return nil, err
	}
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.method == http.MethodPost {
		// What a browser sends with a form posted from sessiond's own
		// pages; http.CrossOriginProtection refuses POSTs without it.
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	req.Header.Set("User-Agent", r.ua)
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: r.cookie})
	}
	start := time.Now()
	res, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	elapsed := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("body over %d bytes", maxBody)
	}
	rec.add(r.kind, elapsed)
	out := &response{
		status:   res.StatusCode,
		location: res.Header.Get("Location"),
		user:     res.Header.Get(userHeader),
		body:     string(b),
	}
	for _, c := range res.Cookies() {
		if c.Name != cookieName {
			continue
		}
		v := c.Value
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			v = ""
		}
		out.cookies = append(out.cookies, v)
	}
	return out, nil
}

// recorder keeps the latency of every request of a phase, by kind.
type recorder struct {
	mu  sync.Mutex
	lat map[string][]time.Duration
}

func newRecorder() *recorder { return &recorder{lat: map[string][]time.Duration{}} }

func (r *recorder) add(kind string, d time.Duration) {
	r.mu.Lock()
	r.lat[kind] = append(r.lat[kind], d)
	r.mu.Unlock()
}

// count returns how many requests were recorded.
func (r *recorder) count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lat {
		n += len(l)
	}
	return int64(n)
}

// maxSamples bounds the problem messages kept for the report.
const maxSamples = 20

// tally counts what went wrong, and the operations done, for all users.
type tally struct {
	log io.Writer // problems are printed here as they happen, up to maxSamples

	mu          sync.Mutex
	errors      int64
	lost        int64
	errSamples  []string
	lostSamples []string
	ops         map[string]int64
	// Racing reads that found the session still there, and that found it
	// ended already.
	raceServed, raceEnded int64
}

func newTally(log io.Writer) *tally { return &tally{log: log, ops: map[string]int64{}} }

// errorf counts an error: an unexpected status or page, a transport error,
// a timeout.
func (t *tally) errorf(format string, args ...any) {
	t.note(&t.errors, &t.errSamples, "ERROR", fmt.Sprintf(format, args...))
}

// lostf counts a lost write: the effect of a write that sessiond
// acknowledged is not what a later read sees.
func (t *tally) lostf(format string, args ...any) {
	t.note(&t.lost, &t.lostSamples, "LOST WRITE", fmt.Sprintf(format, args...))
}

// note counts a problem, and keeps and prints the first maxSamples.
func (t *tally) note(count *int64, samples *[]string, label, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	*count++
	if len(*samples) < maxSamples {
		*samples = append(*samples, msg)
		fmt.Fprintf(t.log, "%s: %s\n", label, msg)
	}
}

// op counts one operation of the mix.
func (t *tally) op(name string) {
	t.mu.Lock()
	t.ops[name]++
	t.mu.Unlock()
}

// raced counts a racing read by what it found.
func (t *tally) raced(served bool) {
	t.mu.Lock()
	if served {
		t.raceServed++
	} else {
		t.raceEnded++
	}
	t.mu.Unlock()
}

// snapshot returns the counts so far.
func (t *tally) snapshot() (errs, lost int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.errors, t.lost
}

// takeOps returns the operation counts and starts counting afresh.
func (t *tally) takeOps() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	ops := t.ops
	t.ops = map[string]int64{}
	return ops
}
