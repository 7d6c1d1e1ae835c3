package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// contenderNames are the configurations the harness measures, in the
// order it reports them.
var contenderNames = []string{
	"oauth2-proxy/cookie",
	"oauth2-proxy/redis",
	"sessiond/bolt",
	"sessiond/redis",
	"sessiond/redis-cache",
	"sessiond/sealed",
	floorName,
}

// comparison is a pair of configurations that do the same job.
type comparison struct {
	Label    string `json:"label"`
	Sessiond string `json:"sessiond"`
	Proxy    string `json:"oauth2_proxy"`
}

var comparisons = []comparison{
	{"each one's default store", "sessiond/bolt", "oauth2-proxy/cookie"},
	{"stateless (the session in the cookie)", "sessiond/sealed", "oauth2-proxy/cookie"},
	{"Redis against Redis", "sessiond/redis", "oauth2-proxy/redis"},
	{"Redis against Redis, sessiond's client-side cache on", "sessiond/redis-cache", "oauth2-proxy/redis"},
	// Not sessiond: the bound. What the floor, a Go server doing no
	// session work at all, reaches against oauth2-proxy on this machine is
	// the most any Go forward-auth server can.
	{"bound: the floor, no session work at all", floorName, "oauth2-proxy/cookie"},
}

// contender is one running server in one configuration.
type contender struct {
	name      string
	*proc     // the server process
	addr      string
	authPath  string // the forward-auth endpoint
	okStatus  int    // what it answers a logged-in user
	userHdr   string // the response header naming the user
	usesRedis bool

	// login logs a new session in and returns its Cookie header; nil for
	// the floor, which has no sessions.
	login func(ctx context.Context) (string, error)
	// sessions are the Cookie headers of the sessions logged in.
	sessions []string
	// loginTimes are the logins' durations, end to end.
	loginTimes []time.Duration
	loginCPU   time.Duration
}

func (c *contender) url(path string) string { return "http://" + c.addr + path }

// env is what every contender shares.
type env struct {
	ctx       context.Context
	dir       string
	hc        *http.Client
	sessiond  string // binary
	proxy     string // binary
	redisAddr string
	usersFile string
	user      string
	password  string
	oidc      *provider
	// prefixes are the Redis key prefixes the servers write under, to
	// delete at the end.
	prefixes []string
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error since Go 1.24)
	return hex.EncodeToString(b)
}

// newClient is an HTTP client that follows no redirects (the logins walk
// them one by one) and dials 127.0.0.1 only.
func newClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 4,
		DialContext:         loopbackDial,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// startContender starts the server of configuration name.
func (e *env) startContender(name string) (*contender, error) {
	server, store, _ := strings.Cut(name, "/")
	logPath := filepath.Join(e.dir, strings.ReplaceAll(name, "/", "-")+".log")
	c := &contender{name: name, usesRedis: strings.HasPrefix(store, "redis")}
	var err error
	switch server {
	case "sessiond":
		err = e.startSessiond(c, store, logPath)
	case "oauth2-proxy":
		err = e.startProxy(c, store, logPath)
	case "floor":
		err = e.startFloor(c, logPath)
	default:
		err = fmt.Errorf("unknown contender %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func (e *env) startSessiond(c *contender, store, logPath string) error {
	dataDir := filepath.Join(e.dir, "sessiond-"+store)
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return err
	}
	args := []string{"--data-dir", dataDir, "--users-file", e.usersFile, "--shutdown-timeout", "5s"}
	switch store {
	case "bolt": // the default
	case "sealed":
		args = append(args, "--sealed")
	case "redis", "redis-cache":
		prefix := "authcmp-" + randomHex(6) + ":"
		e.prefixes = append(e.prefixes, prefix)
		u := "redis://" + e.redisAddr + "?prefix=" + prefix
		if store == "redis-cache" {
			u += "&client-cache=2s" // as the redisstore README suggests
		}
		args = append(args, "--store", u)
	default:
		return fmt.Errorf("unknown store %q", store)
	}
	p, addr, err := startSessiond(e.ctx, e.sessiond, args, logPath)
	if err != nil {
		return err
	}
	c.proc, c.addr = p, addr
	c.authPath, c.okStatus, c.userHdr = "/_sessiond/auth", http.StatusOK, "X-Auth-User"
	c.login = func(ctx context.Context) (string, error) { return e.sessiondLogin(ctx, c) }
	return p.waitReady(e.ctx, e.hc, c.url("/_sessiond/readyz")) // the main listener's; /readyz is on --ops-listen only
}

// startProxy starts oauth2-proxy as the nginx auth_request guide sets it
// up: the OIDC provider, --set-xauthrequest so that /oauth2/auth names the
// user, plain-HTTP cookies on loopback. Request logging is off, since
// sessiond writes no line per request either; everything else is
// oauth2-proxy's default.
func (e *env) startProxy(c *contender, store, logPath string) error {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cookie := "_oauth2_proxy_" + randomHex(4)
	args := []string{
		"--provider", "oidc",
		"--oidc-issuer-url", e.oidc.issuer(),
		"--client-id", e.oidc.clientID(),
		"--client-secret", e.oidc.clientSecret(),
		"--cookie-secret", base64.RawURLEncoding.EncodeToString(secret),
		"--cookie-name", cookie,
		"--cookie-secure=false",
		"--cookie-expire", "1h",
		"--email-domain", "*",
		"--upstream", "static://202",
		"--set-xauthrequest",
		"--request-logging=false",
	}
	switch store {
	case "cookie": // the default
	case "redis":
		// Its keys are the cookie's name, a dash and a ticket id.
		e.prefixes = append(e.prefixes, cookie+"-")
		args = append(args, "--session-store-type", "redis", "--redis-connection-url", "redis://"+e.redisAddr)
	default:
		return fmt.Errorf("unknown store %q", store)
	}
	p, addr, err := startOAuth2Proxy(e.ctx, e.proxy, args, logPath)
	if err != nil {
		return err
	}
	c.proc, c.addr = p, addr
	c.authPath, c.okStatus, c.userHdr = "/oauth2/auth", http.StatusAccepted, "X-Auth-Request-Email"
	c.login = func(ctx context.Context) (string, error) { return e.proxyLogin(ctx, c) }
	return p.waitReady(e.ctx, e.hc, c.url("/ping"))
}

// jar collects the cookies a server sets, as a browser would for one
// host, and gives them back as a Cookie header. (net/http/cookiejar does
// not send sessiond's Secure, __Host- cookie over plain HTTP.)
type jar []*http.Cookie

func (j *jar) take(res *http.Response) {
	for _, c := range res.Cookies() {
		*j = slices.DeleteFunc(*j, func(o *http.Cookie) bool { return o.Name == c.Name })
		if c.MaxAge >= 0 && c.Value != "" {
			*j = append(*j, &http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
}

func (j jar) header() string {
	s := make([]string, len(j))
	for i, c := range j {
		s[i] = c.String()
	}
	return strings.Join(s, "; ")
}

// get sends a GET with the jar's cookies and takes the ones set.
func (e *env) get(ctx context.Context, j *jar, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if h := j.header(); h != "" {
		req.Header.Set("Cookie", h)
	}
	return e.do(req, j)
}

// do sends req, reads the body away and takes the cookies set.
func (e *env) do(req *http.Request, j *jar) (*http.Response, error) {
	res, err := e.hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(res.Body, maxBody))
	res.Body.Close()
	j.take(res)
	return res, err
}

// redirect checks that res is a redirect and returns where to, resolved
// against the request's URL.
func redirect(res *http.Response, step string) (string, error) {
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("%s: %s, want a redirect", step, res.Status)
	}
	loc, err := res.Location()
	if err != nil {
		return "", fmt.Errorf("%s: %w", step, err)
	}
	return loc.String(), nil
}

// sessiondLogin posts the login form, as a browser does.
func (e *env) sessiondLogin(ctx context.Context, c *contender) (string, error) {
	var j jar
	form := url.Values{"user": {e.user}, "password": {e.password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/_sessiond/login"), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := e.do(req, &j)
	if err != nil {
		return "", err
	}
	if _, err := redirect(res, "POST /_sessiond/login"); err != nil {
		return "", err
	}
	if len(j) == 0 {
		return "", errors.New("POST /_sessiond/login set no cookie")
	}
	return j.header(), nil
}

// proxyLogin walks oauth2-proxy's OIDC login: /oauth2/start sends the
// browser to the provider, which sends it back to /oauth2/callback with a
// code; oauth2-proxy redeems the code at the provider's token endpoint,
// checks the ID token and sets the session cookie.
func (e *env) proxyLogin(ctx context.Context, c *contender) (string, error) {
	var j jar
	res, err := e.get(ctx, &j, c.url("/oauth2/start?rd=%2F"))
	if err != nil {
		return "", err
	}
	authorize, err := redirect(res, "GET /oauth2/start")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(authorize, e.oidc.issuer()) {
		return "", fmt.Errorf("GET /oauth2/start sends to %q, not to the provider", authorize)
	}
	var provider jar // the provider's cookies are not the proxy's
	res, err = e.get(ctx, &provider, authorize)
	if err != nil {
		return "", err
	}
	callback, err := redirect(res, "provider authorization")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(callback, c.url("/oauth2/callback?")) {
		return "", fmt.Errorf("the provider sends to %q, not to the callback", callback)
	}
	res, err = e.get(ctx, &j, callback)
	if err != nil {
		return "", err
	}
	if _, err := redirect(res, "GET /oauth2/callback"); err != nil {
		return "", fmt.Errorf("%w\n%s", err, c.logTail(5))
	}
	return j.header(), nil
}

// verify checks that c answers a check with cookie as it should: with the
// user named when cookie is a session's, 401 without a cookie.
func (e *env) verify(c *contender, cookie, wantUser string) error {
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, c.url(c.authPath), nil)
	if err != nil {
		return err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := e.do(req, new(jar))
	if err != nil {
		return err
	}
	switch {
	case cookie == "" && res.StatusCode != http.StatusUnauthorized:
		return fmt.Errorf("%s: a check without a session answers %s, want 401", c.name, res.Status)
	case cookie == "":
	case res.StatusCode != c.okStatus:
		return fmt.Errorf("%s: a logged-in check answers %s, want %d", c.name, res.Status, c.okStatus)
	case res.Header.Get(c.userHdr) != wantUser:
		return fmt.Errorf("%s: the check names %q in %s, want %q", c.name, res.Header.Get(c.userHdr), c.userHdr, wantUser)
	}
	return nil
}

// addUser adds the sessiond user with `sessiond user add`.
func (e *env) addUser() error {
	cmd := exec.CommandContext(e.ctx, e.sessiond, "user", "add", e.user, "--users-file", e.usersFile)
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(e.password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sessiond user add: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
