package dbsc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/sesame-go/sesame"
)

// errBound refuses a registration of a session that is bound already:
// whoever holds its cookie must not rebind it to another key.
var errBound = errors.New("dbsc: the session is bound already")

// errGone reports a refresh for a bound session that is no more, or no
// longer the one the browser knows.
var errGone = errors.New("dbsc: no such bound session")

// Handler serves the registration endpoint (Config.Path+"register") and
// the refresh endpoint (Config.Path+"refresh"), POST only. It must run
// under the Manager's Handler, which gives it the session; mount it at
// Config.Path.
//
// Registration verifies the browser's proof (its signature with the key
// it carries, the challenge made for this session, the algorithm and key
// type) and binds the session to the key. Refresh verifies a proof
// against the bound key for the session's current challenge, spends the
// challenge, and sets a fresh bound cookie; without a proof, or with one
// for a challenge it can no longer accept, it answers 403 with a new
// challenge, which the browser signs and sends at once. A refresh for a
// session that has ended tells the browser to end its bound session.
func (b *Binder) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != b.registerPath && r.URL.Path != b.refreshPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			b.log.ErrorContext(r.Context(), "dbsc: Handler must run under the Manager's Handler", "error", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if r.URL.Path == b.registerPath {
			b.register(w, r, s)
		} else {
			b.refresh(w, r, s)
		}
	})
}

// register binds the session to the key in the browser's proof.
func (b *Binder) register(w http.ResponseWriter, r *http.Request, s *sesame.Session) {
	now := b.now()
	user := s.User()
	raw, err := s.Binding()
	if err != nil {
		b.unavailable(w, r, err)
		return
	}
	refuse := func(status int, err error) {
		b.emit(r.Context(), Event{Kind: EventRefused, User: user, Err: fmt.Errorf("registration: %w", err)})
		http.Error(w, "registration refused", status)
	}
	token, err := requestString(r.Header, hdrResponse, maxProofLen)
	switch {
	case err != nil:
		refuse(http.StatusBadRequest, err)
		return
	case len(raw) > 0:
		refuse(http.StatusBadRequest, errBound)
		return
	case user == "":
		refuse(http.StatusUnauthorized, sesame.ErrNotLoggedIn)
		return
	}
	key, c, alg, err := b.verifyRegistration(token, r, now)
	if err == nil {
		err = b.checkRegistrationChallenge(c.jti, user, s.Info().Created, now)
	}
	if err != nil {
		refuse(http.StatusBadRequest, err)
		return
	}
	bd, err := newBinding(alg, key)
	if err != nil {
		b.unavailable(w, r, err)
		return
	}
	err = s.Bind(func(cur []byte) ([]byte, error) {
		if len(cur) > 0 {
			return nil, errBound
		}
		return bd.encode(), nil
	})
	switch {
	case errors.Is(err, errBound):
		refuse(http.StatusBadRequest, err)
		return
	case errors.Is(err, sesame.ErrNotLoggedIn):
		refuse(http.StatusUnauthorized, err)
		return
	case err != nil:
		b.unavailable(w, r, err)
		return
	}
	b.emit(r.Context(), Event{Kind: EventRegistered, User: user})
	b.respond(w, bd, now)
}

// verifyRegistration reads a registration proof: an offered algorithm,
// a key of its type in the header, a signature that key verifies, and
// claims this server accepts. The challenge is left to the caller.
func (b *Binder) verifyRegistration(token string, r *http.Request, now time.Time) (any, *claims, string, error) {
	p, err := parseProof(token)
	if err != nil {
		return nil, nil, "", err
	}
	if !slices.Contains(b.algs, p.alg) {
		return nil, nil, "", fmt.Errorf("%w: %s was not offered", ErrAlgorithm, p.alg)
	}
	key, err := p.embeddedKey()
	if err != nil {
		return nil, nil, "", err
	}
	c, err := p.verify(key)
	if err == nil {
		err = b.checkClaims(c, r, now)
	}
	return key, c, p.alg, err
}

// refresh renews the bound cookie of a browser that proves it holds the
// session's key.
func (b *Binder) refresh(w http.ResponseWriter, r *http.Request, s *sesame.Session) {
	now := b.now()
	sid, err := requestString(r.Header, hdrSessionID, 64)
	if err != nil {
		b.emit(r.Context(), Event{Kind: EventRefused, Err: fmt.Errorf("refresh: %w", err)})
		http.Error(w, "refresh refused", http.StatusBadRequest)
		return
	}
	raw, err := s.Binding()
	if err != nil {
		b.unavailable(w, r, err)
		return
	}
	bd, err := b.boundTo(raw, sid)
	if err != nil {
		if !errors.Is(err, errGone) {
			b.log.ErrorContext(r.Context(), "dbsc: ending a bound session whose binding cannot be read", "error", err)
		}
		b.terminate(w, r, sid)
		return
	}
	token, err := requestString(r.Header, hdrResponse, maxProofLen)
	if errors.Is(err, errNoHeader) {
		b.challenge(w, r, bd, now)
		return
	}
	refuse := func(err error) {
		b.emit(r.Context(), Event{Kind: EventRefused, Err: fmt.Errorf("refresh: %w", err)})
		if errors.Is(err, ErrChallenge) {
			b.challenge(w, r, bd, now)
			return
		}
		// Nothing a new challenge can mend: the browser ends its bound
		// session when told so by a 4xx other than 403.
		http.Error(w, "refresh refused", http.StatusBadRequest)
	}
	p, err := parseProof(token)
	if err == nil && p.alg != bd.algName() {
		err = fmt.Errorf("%w: %s for a session bound with %s", ErrAlgorithm, p.alg, bd.algName())
	}
	var c *claims
	if err == nil {
		c, err = p.verify(bd.key)
	}
	if err == nil {
		err = b.checkClaims(c, r, now)
	}
	if err == nil {
		_, err = bd.spend(c.jti, now, b.lifetime+challengeSlack, b.skew)
	}
	if err != nil {
		refuse(err)
		return
	}
	// Spend the challenge in the record: a request that saved first (a
	// second tab, or a replay) makes this one's update see it spent.
	var saved *binding
	err = s.Bind(func(cur []byte) ([]byte, error) {
		fresh, err := decodeBinding(cur)
		if err != nil || fresh.id != bd.id {
			return nil, errGone
		}
		t, err := fresh.spend(c.jti, now, b.lifetime+challengeSlack, b.skew)
		if err != nil {
			return nil, err
		}
		fresh.spent, saved = t, fresh
		return fresh.encode(), nil
	})
	switch {
	case errors.Is(err, ErrChallenge):
		// Answer with a challenge above the one spent meanwhile.
		if raw, err := s.Binding(); err == nil {
			if fresh, err := b.boundTo(raw, sid); err == nil {
				bd = fresh
			}
		}
		refuse(err)
		return
	case errors.Is(err, errGone), errors.Is(err, sesame.ErrNotLoggedIn):
		b.terminate(w, r, sid)
		return
	case err != nil:
		b.unavailable(w, r, err)
		return
	}
	b.emit(r.Context(), Event{Kind: EventRefreshed, User: s.User()})
	b.respond(w, saved, now)
}

// boundTo decodes the session's binding, which must be to the session the
// browser names.
func (b *Binder) boundTo(raw []byte, sid string) (*binding, error) {
	if raw == nil {
		return nil, errGone
	}
	bd, err := decodeBinding(raw)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(bd.id[:]) != sid {
		return nil, errGone
	}
	return bd, nil
}

// checkClaims checks the claims besides the challenge: a proof's iat and
// exp within the clock skew, and an audience, if named, that is this
// endpoint. (Chromium sends neither time, and the audience only when
// asked to; the challenge is what makes a proof fresh.)
func (b *Binder) checkClaims(c *claims, r *http.Request, now time.Time) error {
	skew := int64(b.skew / time.Second)
	sec := now.Unix()
	switch {
	case c.iat != 0 && (c.iat > sec+skew || c.iat < sec-skew):
		return fmt.Errorf("%w: iat %v is %v from the server's clock", ErrClaims, time.Unix(c.iat, 0).UTC(), time.Unix(c.iat, 0).Sub(now).Round(time.Second))
	case c.exp != 0 && c.exp < sec-skew:
		return fmt.Errorf("%w: expired at %v", ErrClaims, time.Unix(c.exp, 0).UTC())
	}
	if c.aud == nil {
		return nil
	}
	for _, a := range c.aud {
		if u, err := url.Parse(a); err == nil && u.Host == r.Host && u.Path == r.URL.Path {
			return nil
		}
	}
	return fmt.Errorf("%w: audience %q is not this endpoint", ErrClaims, c.aud)
}

// instructions is the session configuration a registration or refresh
// answers with, in the draft's JSON.
type instructions struct {
	ID          string       `json:"session_identifier"`
	RefreshURL  string       `json:"refresh_url,omitempty"`
	Continue    *bool        `json:"continue,omitempty"`
	Scope       *scope       `json:"scope,omitempty"`
	Credentials []credential `json:"credentials,omitempty"`
}

// scope is the whole origin of the endpoint that answers; the refresh
// endpoint is left out of it by the browser.
type scope struct {
	IncludeSite bool `json:"include_site"`
}

type credential struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Attributes string `json:"attributes"`
}

// respond answers a registration or refresh that succeeded: a fresh bound
// cookie, the challenge for the next refresh, and the session's
// configuration.
func (b *Binder) respond(w http.ResponseWriter, bd *binding, now time.Time) {
	id := b64.EncodeToString(bd.id[:])
	h := w.Header()
	h.Add("Set-Cookie", b.boundCookie(bd, now))
	h.Set(hdrChallenge, sfString(bd.nextChallenge(now))+";id="+sfString(id))
	writeJSON(w, http.StatusOK, instructions{
		ID:          id,
		RefreshURL:  b.refreshPath,
		Scope:       &scope{},
		Credentials: []credential{{Type: "cookie", Name: b.cookieName, Attributes: b.cookieAttrs}},
	})
}

// challenge answers a refresh with a challenge to sign: 403, which makes
// the browser sign it and try again at once.
func (b *Binder) challenge(w http.ResponseWriter, r *http.Request, bd *binding, now time.Time) {
	b.emit(r.Context(), Event{Kind: EventChallenged})
	w.Header().Set(hdrChallenge, sfString(bd.nextChallenge(now))+";id="+sfString(b64.EncodeToString(bd.id[:])))
	http.Error(w, "sign this challenge", http.StatusForbidden)
}

// terminate tells the browser to end its bound session sid, whose
// session has ended, and clears the bound cookie.
func (b *Binder) terminate(w http.ResponseWriter, r *http.Request, sid string) {
	b.emit(r.Context(), Event{Kind: EventTerminated})
	w.Header().Add("Set-Cookie", b.cookieName+"=; Max-Age=0; "+b.cookieAttrs)
	stop := false
	writeJSON(w, http.StatusOK, instructions{ID: sid, Continue: &stop})
}

func (b *Binder) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	b.log.ErrorContext(r.Context(), "dbsc: session unavailable", "error", err)
	http.Error(w, "session unavailable", http.StatusServiceUnavailable)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v) // plain structs of strings and booleans
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
