package dbsctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Browser is a client of one site that speaks DBSC as Chromium does. It
// keeps cookies by name (one site, one path: enough for a test), follows
// no redirects, and is safe for concurrent use, like tabs of one browser.
type Browser struct {
	// Base is the site, such as an httptest TLS server's URL.
	Base string
	// Client sends the requests; set it to trust the site's certificate.
	Client *http.Client
	// Key is the key the browser binds new sessions to; nil makes a
	// browser without DBSC, which ignores every offer.
	Key *Key
	// Now is the browser's clock, by which cookies expire. Default
	// time.Now.
	Now func() time.Time

	mu       sync.Mutex
	cookies  map[string]cookie
	sessions map[string]*Session
	proofs   []string
}

type cookie struct {
	value   string
	expires time.Time // zero: until the browser closes
}

// Session is a bound session as the browser keeps it.
type Session struct {
	ID         string
	RefreshURL string // absolute
	CookieName string
	Attributes string
	Challenge  string // the cached challenge, "" if none
	Key        *Key
}

// Instructions is the session configuration a registration or refresh
// answers with.
type Instructions struct {
	SessionIdentifier string `json:"session_identifier"`
	RefreshURL        string `json:"refresh_url"`
	Continue          *bool  `json:"continue"`
	Scope             *struct {
		Origin      string `json:"origin"`
		IncludeSite bool   `json:"include_site"`
	} `json:"scope"`
	Credentials []struct {
		Type       string `json:"type"`
		Name       string `json:"name"`
		Attributes string `json:"attributes"`
	} `json:"credentials"`
}

func (b *Browser) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Get sends a GET for path, after refreshing any bound session whose
// cookie is missing or expired, as a browser defers a request.
func (b *Browser) Get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, b.Base+path, nil)
	if err != nil {
		return nil, err
	}
	return b.Do(req)
}

// PostForm sends form to path as a same-origin form submission.
func (b *Browser) PostForm(path string, form url.Values) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, b.Base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.Base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.Do(req)
}

// Do sends req with the browser's cookies, first refreshing the bound
// sessions whose cookie is missing or expired, then keeps the cookies
// and challenges the response sets, and registers when it offers a
// session to bind (before Do returns, where a browser would do it just
// after). The response body is read and closed; Body holds a copy.
func (b *Browser) Do(req *http.Request) (*http.Response, error) {
	for _, s := range b.Sessions() {
		if !b.HasCookie(s.CookieName) {
			if _, err := b.Refresh(s.ID); err != nil {
				return nil, err
			}
		}
	}
	res, err := b.send(req)
	if err != nil {
		return nil, err
	}
	if b.Key != nil {
		for _, offer := range res.Header.Values("Secure-Session-Registration") {
			if _, _, err := b.Register(offer); err != nil {
				return nil, fmt.Errorf("registering: %w", err)
			}
		}
	}
	return res, nil
}

// send sends req with the cookies, keeps what the response sets, and
// returns it with its body read.
func (b *Browser) send(req *http.Request) (*http.Response, error) {
	b.mu.Lock()
	now := b.now()
	for n, c := range b.cookies {
		if c.expires.IsZero() || now.Before(c.expires) {
			req.AddCookie(&http.Cookie{Name: n, Value: c.value})
		}
	}
	b.mu.Unlock()
	res, err := b.Client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(strings.NewReader(string(body)))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cookies == nil {
		b.cookies = map[string]cookie{}
	}
	for _, c := range res.Cookies() {
		switch {
		case c.MaxAge < 0 || c.Value == "":
			delete(b.cookies, c.Name)
		case c.MaxAge > 0:
			b.cookies[c.Name] = cookie{c.Value, now.Add(time.Duration(c.MaxAge) * time.Second)}
		default:
			b.cookies[c.Name] = cookie{c.Value, c.Expires}
		}
	}
	for _, v := range res.Header.Values("Secure-Session-Challenge") {
		if ch, id, err := ParseChallenge(v); err == nil {
			if s := b.sessions[id]; s != nil {
				s.Challenge = ch
			}
		}
	}
	return res, nil
}

// HasCookie reports whether the browser holds an unexpired cookie name.
func (b *Browser) HasCookie(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.cookies[name]
	return ok && (c.expires.IsZero() || b.now().Before(c.expires))
}

// Cookies returns the browser's unexpired cookies by name: what a thief
// copies out of its profile.
func (b *Browser) Cookies() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for n, c := range b.cookies {
		if c.expires.IsZero() || b.now().Before(c.expires) {
			out[n] = c.value
		}
	}
	return out
}

// SetCookie sets a cookie as if the site had, working until expires
// (zero: until the browser closes).
func (b *Browser) SetCookie(name, value string, expires time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cookies == nil {
		b.cookies = map[string]cookie{}
	}
	b.cookies[name] = cookie{value, expires}
}

// DeleteCookie drops a cookie, as DevTools' Network.deleteCookies does.
func (b *Browser) DeleteCookie(name string) {
	b.mu.Lock()
	delete(b.cookies, name)
	b.mu.Unlock()
}

// AddSession makes the browser keep s as a bound session, as a thief who
// copied a profile's session list (and not its key) would.
func (b *Browser) AddSession(s Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions == nil {
		b.sessions = map[string]*Session{}
	}
	b.sessions[s.ID] = &s
}

// Sessions returns copies of the browser's bound sessions.
func (b *Browser) Sessions() []Session {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Session, 0, len(b.sessions))
	for _, s := range b.sessions {
		out = append(out, *s)
	}
	return out
}

// Proofs returns every proof the browser sent, oldest first: what a
// network observer could have kept to replay.
func (b *Browser) Proofs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.proofs...)
}

// Offer is a parsed Secure-Session-Registration entry.
type Offer struct {
	Algorithms []string
	Path       string
	Challenge  string
}

// ParseOffer reads a Secure-Session-Registration value of one entry:
// (ALG ...);path="...";challenge="..." (parameters in any order).
func ParseOffer(v string) (Offer, error) {
	var o Offer
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "(") {
		return o, fmt.Errorf("dbsctest: offer %q: no algorithm list", v)
	}
	end := strings.IndexByte(v, ')')
	if end < 0 {
		return o, fmt.Errorf("dbsctest: offer %q: unterminated algorithm list", v)
	}
	o.Algorithms = strings.Fields(v[1:end])
	params, err := parseParams(v[end+1:])
	if err != nil {
		return o, fmt.Errorf("dbsctest: offer %q: %w", v, err)
	}
	o.Path, o.Challenge = params["path"], params["challenge"]
	if o.Path == "" {
		return o, fmt.Errorf("dbsctest: offer %q: no path", v)
	}
	return o, nil
}

// ParseChallenge reads a Secure-Session-Challenge value: "c";id="sid".
func ParseChallenge(v string) (challenge, id string, err error) {
	v = strings.TrimSpace(v)
	s, rest, err := quoted(v)
	if err != nil {
		return "", "", fmt.Errorf("dbsctest: challenge %q: %w", v, err)
	}
	params, err := parseParams(rest)
	if err != nil {
		return "", "", fmt.Errorf("dbsctest: challenge %q: %w", v, err)
	}
	return s, params["id"], nil
}

// parseParams reads ;name="value" parameters.
func parseParams(s string) (map[string]string, error) {
	out := map[string]string{}
	for s != "" {
		if s[0] != ';' {
			return nil, fmt.Errorf("unexpected %q", s)
		}
		name, rest, ok := strings.Cut(s[1:], "=")
		if !ok {
			return nil, errors.New("parameter without a value")
		}
		v, rest, err := quoted(rest)
		if err != nil {
			return nil, err
		}
		out[name], s = v, rest
	}
	return out, nil
}

// quoted reads an sf-string at the start of s.
func quoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", errors.New("not a string")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
			if i < len(s) {
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", errors.New("unterminated string")
}

// Register answers an offer as a browser does: a proof with its key for
// the offer's challenge, posted to the offer's path. It returns the
// response and the session configuration, and keeps the session.
func (b *Browser) Register(offer string) (*http.Response, *Instructions, error) {
	o, err := ParseOffer(offer)
	if err != nil {
		return nil, nil, err
	}
	supported := false
	for _, a := range o.Algorithms {
		supported = supported || a == b.Key.Alg
	}
	if !supported {
		return nil, nil, fmt.Errorf("dbsctest: the offer %q has no %s", offer, b.Key.Alg)
	}
	return b.RegisterWith(o.Path, b.Key.Proof(o.Challenge, true, nil), b.Key)
}

// RegisterWith posts proof to the registration path and, if the site
// accepts it, keeps the bound session it configures, with key for its
// refreshes.
func (b *Browser) RegisterWith(path, proof string, key *Key) (*http.Response, *Instructions, error) {
	u, err := url.JoinPath(b.Base, path)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequest(http.MethodPost, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Secure-Session-Response", proof)
	b.mu.Lock()
	b.proofs = append(b.proofs, proof)
	b.mu.Unlock()
	res, err := b.send(req)
	if err != nil || res.StatusCode != http.StatusOK {
		return res, nil, err
	}
	in, err := readInstructions(res)
	if err != nil {
		return res, nil, err
	}
	if err := b.keep(in, key, res); err != nil {
		return res, in, err
	}
	return res, in, nil
}

// keep stores (or, with continue false, drops) the session a
// registration or refresh response configures.
func (b *Browser) keep(in *Instructions, key *Key, res *http.Response) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if in.Continue != nil && !*in.Continue {
		delete(b.sessions, in.SessionIdentifier)
		return nil
	}
	if in.SessionIdentifier == "" || len(in.Credentials) != 1 || in.Credentials[0].Type != "cookie" {
		return fmt.Errorf("dbsctest: session configuration %+v", in)
	}
	ref, err := res.Request.URL.Parse(in.RefreshURL)
	if err != nil {
		return err
	}
	s := b.sessions[in.SessionIdentifier]
	if s == nil {
		s = &Session{ID: in.SessionIdentifier, Key: key}
		if b.sessions == nil {
			b.sessions = map[string]*Session{}
		}
		b.sessions[s.ID] = s
	}
	s.RefreshURL, s.CookieName, s.Attributes = ref.String(), in.Credentials[0].Name, in.Credentials[0].Attributes
	for _, v := range res.Header.Values("Secure-Session-Challenge") {
		if ch, id, err := ParseChallenge(v); err == nil && id == s.ID {
			s.Challenge = ch
		}
	}
	return nil
}

func readInstructions(res *http.Response) (*Instructions, error) {
	var in Instructions
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(strings.NewReader(string(body)))
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("dbsctest: session configuration %q: %w", body, err)
	}
	return &in, nil
}

// RefreshResult says how a refresh went.
type RefreshResult struct {
	// Status is the status of the last response.
	Status int
	// Requests is how many requests it took: 1, or 2 when the first was
	// answered with a challenge to sign.
	Requests int
	// Terminated: the site told the browser to end the session (continue
	// false, or a 4xx other than 403), and the browser dropped it.
	Terminated bool
	// Response is the last response.
	Response *http.Response
}

// Refresh refreshes the bound session id as a browser does: a proof for
// the cached challenge if it has one, and once more with the challenge of
// a 403 if the site answers so.
func (b *Browser) Refresh(id string) (RefreshResult, error) {
	var r RefreshResult
	b.mu.Lock()
	s, ok := b.sessions[id]
	var sess Session
	if ok {
		sess = *s
	}
	b.mu.Unlock()
	if !ok {
		return r, fmt.Errorf("dbsctest: no bound session %q", id)
	}
	challenge := sess.Challenge
	for r.Requests < 2 {
		proof := ""
		if challenge != "" && sess.Key != nil { // a thief has no key to sign with
			proof = sess.Key.Proof(challenge, false, nil)
		}
		res, err := b.RefreshWith(id, proof)
		if err != nil {
			return r, err
		}
		r.Requests++
		r.Status, r.Response = res.StatusCode, res
		switch {
		case res.StatusCode == http.StatusForbidden:
			c, cid, err := ParseChallenge(res.Header.Get("Secure-Session-Challenge"))
			if err != nil || cid != id {
				return r, fmt.Errorf("dbsctest: a 403 without a challenge for %q: %q", id, res.Header.Get("Secure-Session-Challenge"))
			}
			challenge = c
			continue
		case res.StatusCode >= 400 && res.StatusCode < 500:
			b.mu.Lock()
			delete(b.sessions, id)
			b.mu.Unlock()
			r.Terminated = true
		case res.StatusCode == http.StatusOK:
			in, err := readInstructions(res)
			if err != nil {
				return r, err
			}
			if err := b.keep(in, sess.Key, res); err != nil {
				return r, err
			}
			r.Terminated = in.Continue != nil && !*in.Continue
		}
		return r, nil
	}
	return r, nil
}

// RefreshWith posts one refresh request for session id, carrying proof
// unless it is "".
func (b *Browser) RefreshWith(id, proof string) (*http.Response, error) {
	b.mu.Lock()
	s, ok := b.sessions[id]
	refreshURL := ""
	if ok {
		refreshURL = s.RefreshURL
	}
	b.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dbsctest: no bound session %q", id)
	}
	req, err := http.NewRequest(http.MethodPost, refreshURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Sec-Secure-Session-Id", id)
	if proof != "" {
		req.Header.Set("Secure-Session-Response", proof)
		b.mu.Lock()
		b.proofs = append(b.proofs, proof)
		b.mu.Unlock()
	}
	return b.send(req)
}

// Status is a short description of a response for test failures.
func Status(res *http.Response) string {
	if res == nil {
		return "no response"
	}
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(strings.NewReader(string(body)))
	return strconv.Itoa(res.StatusCode) + " " + strings.TrimSpace(string(body))
}
