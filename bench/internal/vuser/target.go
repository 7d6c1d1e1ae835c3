package vuser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	pathFrom         = "/_sessiond/from/" // where a proxy sends a visitor forward auth refused
	cookieName       = "__Host-session"
	userHeader       = "X-Auth-User"
	maxBody          = 1 << 20
)

// ErrBudget stops a user when the request budget is spent. A request
// refused for it is never sent, so the state the user expects stays exact.
var ErrBudget = errors.New("request budget spent")

// Target is the sessiond under test as clients see it: sessiond itself, or
// a proxy in front of one or more.
type Target struct {
	base    string
	timeout time.Duration
	max     atomic.Int64 // requests allowed so far
	sent    atomic.Int64 // requests started, all phases

	// Client is the HTTP client every request goes through; it dials
	// 127.0.0.1 only and follows no redirect.
	Client *http.Client
}

// NewTarget returns a Target at base (http://127.0.0.1:PORT) that keeps up
// to conns idle connections, gives each request timeout, and sends at most
// maxRequests requests (see SetBudget).
func NewTarget(base string, conns int, timeout time.Duration, maxRequests int64) *Target {
	tr := &http.Transport{
		DialContext:         LoopbackDialer(),
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	t := &Target{
		base: base,
		Client: &http.Client{
			Transport: tr,
			// A browser follows sessiond's redirects; the users check
			// each one (its Location, its cookie) and make the next
			// request themselves.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: timeout,
	}
	t.max.Store(maxRequests)
	return t
}

// SetBudget sets how many requests may have been sent in all, counting
// those sent already.
func (t *Target) SetBudget(n int64) { t.max.Store(n) }

// Close drops the idle connections.
func (t *Target) Close() { t.Client.CloseIdleConnections() }

// LoopbackDialer dials 127.0.0.1 and nothing else.
func LoopbackDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if host != "127.0.0.1" {
			return nil, fmt.Errorf("refusing to dial %s: the harness talks to 127.0.0.1 only", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// response is what a user keeps of an HTTP response.
type response struct {
	status   int
	location string
	user     string // the X-Auth-User header
	body     string
	// cookies are the values of the session cookie's Set-Cookie lines:
	// "" clears it.
	cookies []string
	// retried is set when a proxy in front says (UpstreamHeader) that it
	// sent the request to more than one server: the first may have run
	// it, and what it showed is lost.
	retried bool
}

// UpstreamHeader is the response header in which a proxy in front of the
// servers may list the servers it tried for a request, comma-separated,
// as nginx's $upstream_addr does.
const UpstreamHeader = "X-Upstream-Addr"

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
	from   string     // X-Forwarded-For to send; "" none
	form   url.Values // POST body, sent as a same-origin form
}

// do sends r and reads the whole response, recording its latency under
// r.kind in rec. Transport errors, timeouts and oversized bodies are
// errors; any status is a response.
func (t *Target) do(ctx context.Context, rec *Recorder, r request) (*response, error) {
	if t.sent.Add(1) > t.max.Load() {
		return nil, ErrBudget
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
	if r.from != "" {
		req.Header.Set("X-Forwarded-For", r.from)
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: r.cookie})
	}
	start := time.Now()
	res, err := t.Client.Do(req)
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
		retried:  strings.Contains(res.Header.Get(UpstreamHeader), ","),
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
