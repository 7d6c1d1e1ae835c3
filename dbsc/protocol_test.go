package dbsc_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/dbsc/dbsctest"
	"github.com/sesame-go/sesame/store/memstore"
)

// TestRegistration: a login's response offers ES256 and RS256; a browser
// with either key registers, and the session is bound to that very key:
// its record holds the key whose thumbprint the browser's is, the answer
// configures the session (identifier, refresh URL, scope, the bound
// cookie's name and attributes) and sets that cookie with those
// attributes and the configured lifetime.
func TestRegistration(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			st := newSite(t, nil)
			br := st.browser(alg)
			offer := st.login(br, "alice").Header.Get("Secure-Session-Registration")
			o, err := dbsctest.ParseOffer(offer)
			if err != nil || strings.Join(o.Algorithms, " ") != "ES256 RS256" || o.Path != "/dbsc/register" || o.Challenge == "" {
				t.Fatalf("offer %q: %+v, %v", offer, o, err)
			}
			s := only(t, br)
			if s.RefreshURL != st.srv.URL+"/dbsc/refresh" || s.CookieName != dbsc.DefaultCookieName ||
				s.Attributes != "Path=/; Secure; HttpOnly; SameSite=Lax" || s.Challenge == "" || len(s.ID) != 22 {
				t.Errorf("bound session as configured: %+v", s)
			}
			if st.who(br) != "user alice" {
				t.Fatal("the bound session is not served with its cookie")
			}
			res, err := br.Get("/binding")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if want := s.ID + " " + alg + " " + br.Key.Thumbprint(); string(body) != want {
				t.Errorf("the record's binding: %q; want %q", body, want)
			}
			evs := st.took()
			if len(evs) < 2 || evs[0].Kind != dbsc.EventOffered || evs[1].Kind != dbsc.EventRegistered || evs[1].User != "alice" {
				t.Errorf("events %+v", evs)
			}
		})
	}
}

// TestRegistrationResponse checks the registration's answer on the wire.
func TestRegistrationResponse(t *testing.T) {
	st := newSite(t, func(o *siteOptions) { o.dbsc.CookieLifetime = 90 * time.Second })
	br := st.browser("")
	res := st.login(br, "alice")
	key, err := dbsctest.NewKey(dbsc.ES256)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := dbsctest.ParseOffer(res.Header.Get("Secure-Session-Registration"))
	res, in, err := br.RegisterWith(o.Path, key.Proof(o.Challenge, true, nil), key)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("registration: %s, %v", dbsctest.Status(res), err)
	}
	c := boundCookie(res)
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge != 90 {
		t.Errorf("bound cookie %+v", c)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	if in.Scope == nil || in.Scope.IncludeSite || in.RefreshURL != "/dbsc/refresh" || in.Credentials[0].Type != "cookie" {
		t.Errorf("configuration %+v", in)
	}
	ch, id, err := dbsctest.ParseChallenge(res.Header.Get("Secure-Session-Challenge"))
	if err != nil || ch == "" || id != in.SessionIdentifier {
		t.Errorf("Secure-Session-Challenge %q", res.Header.Get("Secure-Session-Challenge"))
	}
	body, _ := io.ReadAll(res.Body)
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || raw["continue"] != nil {
		t.Errorf("body %s", body)
	}
}

// TestRefresh: once the bound cookie has expired the session is withheld
// from a request that carries the session cookie alone; the browser
// refreshes first, with the challenge the last answer gave it, in one
// request that costs the store one load and one save, and the session
// is served again. Without a cached challenge the refresh takes two
// requests (403 with a challenge, then the proof) and still one save.
func TestRefresh(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			st := newSite(t, nil)
			br, s := st.boundBrowser(alg)

			st.clock.Advance(dbsc.DefaultCookieLifetime)
			if br.HasCookie(dbsc.DefaultCookieName) {
				t.Fatal("the bound cookie outlived its Max-Age")
			}
			// The session cookie alone, as a browser without the key sends it.
			thief := st.browser("")
			for n, v := range br.Cookies() {
				thief.SetCookie(n, v, time.Time{})
			}
			if got := st.who(thief); got != "anonymous" {
				t.Fatalf("the session cookie alone is served: %q", got)
			}
			loads, saves := st.store.loads.Load(), st.store.saves.Load()
			r, err := br.Refresh(s.ID)
			if err != nil || r.Status != http.StatusOK || r.Requests != 1 || r.Terminated {
				t.Fatalf("refresh with the cached challenge: %+v, %v", r, err)
			}
			if l, w := st.store.loads.Load()-loads, st.store.saves.Load()-saves; l != 1 || w != 1 {
				t.Errorf("a refresh cost %d loads and %d saves; want 1 and 1", l, w)
			}
			if st.who(br) != "user alice" {
				t.Fatal("not served after the refresh")
			}

			st.clock.Advance(dbsc.DefaultCookieLifetime + 2*time.Minute) // past the cached challenge's life too
			loads, saves = st.store.loads.Load(), st.store.saves.Load()
			if st.who(br) != "user alice" { // the browser refreshes first
				t.Fatal("not served after the deferred refresh")
			}
			if l, w := st.store.loads.Load()-loads, st.store.saves.Load()-saves; l != 3 || w != 1 {
				t.Errorf("a refresh answered with a challenge, then the request: %d loads and %d saves; want 3 and 1", l, w)
			}
			kinds := map[dbsc.EventKind]int{}
			for _, ev := range st.took() {
				kinds[ev.Kind]++
			}
			if kinds[dbsc.EventRefreshed] != 2 || kinds[dbsc.EventChallenged] != 1 || kinds[dbsc.EventRefused] != 1 || kinds[dbsc.EventWithheld] != 1 {
				t.Errorf("events %v", kinds)
			}
		})
	}
}

// TestChallengeRotation: every refresh answers with a new challenge, and a
// challenge once answered is refused: with a 403 carrying a newer one.
func TestChallengeRotation(t *testing.T) {
	st := newSite(t, nil)
	br := st.browser(dbsc.ES256)
	st.login(br, "alice")
	seen := map[string]bool{}
	for i := range 5 {
		s := only(t, br)
		if seen[s.Challenge] {
			t.Fatalf("refresh %d: challenge %q handed out twice", i, s.Challenge)
		}
		seen[s.Challenge] = true
		st.clock.Advance(time.Millisecond)
		if r, err := br.Refresh(s.ID); err != nil || r.Status != http.StatusOK || r.Requests != 1 {
			t.Fatalf("refresh %d: %+v, %v", i, r, err)
		}
		old := s.Challenge
		res, err := br.RefreshWith(s.ID, br.Key.Proof(old, false, nil))
		if err != nil || res.StatusCode != http.StatusForbidden || boundCookie(res) != nil {
			t.Fatalf("refresh %d: the spent challenge again: %s, %v", i, dbsctest.Status(res), err)
		}
		if c, _, _ := dbsctest.ParseChallenge(res.Header.Get("Secure-Session-Challenge")); c == "" || c == old {
			t.Fatalf("refresh %d: the 403 carries %q", i, res.Header.Get("Secure-Session-Challenge"))
		}
		if !refusedWith(st.refused(), dbsc.ErrChallenge) {
			t.Fatalf("refresh %d: the spent challenge not refused as such", i)
		}
	}
}

// TestReplayOfAnOldProof: a proof seen on the wire (a refresh's, or the
// registration's) gets nothing when sent again: no bound cookie.
func TestReplayOfAnOldProof(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			st := newSite(t, nil)
			br, s := st.boundBrowser(alg)
			if r, err := br.Refresh(s.ID); err != nil || r.Status != http.StatusOK {
				t.Fatal(r, err)
			}
			proofs := br.Proofs()
			registration, refresh := proofs[0], proofs[1]
			st.took()

			res, err := br.RefreshWith(s.ID, refresh)
			if err != nil || res.StatusCode != http.StatusForbidden || boundCookie(res) != nil {
				t.Errorf("replayed refresh proof: %s, %v", dbsctest.Status(res), err)
			}
			if !refusedWith(st.refused(), dbsc.ErrChallenge) {
				t.Error("the replayed refresh proof was not refused for its challenge")
			}
			res, _, err = br.RegisterWith("/dbsc/register", registration, br.Key)
			if err != nil || res.StatusCode != http.StatusBadRequest || boundCookie(res) != nil {
				t.Errorf("replayed registration proof: %s, %v", dbsctest.Status(res), err)
			}
			// A registration proof sent to the refresh endpoint.
			res, err = br.RefreshWith(s.ID, registration)
			if err != nil || res.StatusCode == http.StatusOK || boundCookie(res) != nil {
				t.Errorf("registration proof as a refresh: %s, %v", dbsctest.Status(res), err)
			}
		})
	}
}

// TestProofSignedByAnotherKey: a proof for the session's current
// challenge signed by any key but the bound one is refused for good (a
// 400, which ends a browser's bound session); the owner is unaffected.
func TestProofSignedByAnotherKey(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			st := newSite(t, nil)
			br, s := st.boundBrowser(alg)
			for _, other := range algs {
				k, err := dbsctest.NewKey(other)
				if err != nil {
					t.Fatal(err)
				}
				res, err := br.RefreshWith(s.ID, k.Proof(s.Challenge, false, nil))
				if err != nil || res.StatusCode != http.StatusBadRequest || boundCookie(res) != nil {
					t.Errorf("%s key: %s, %v", other, dbsctest.Status(res), err)
				}
				want := dbsc.ErrSignature
				if other != alg {
					want = dbsc.ErrAlgorithm
				}
				if errs := st.refused(); !refusedWith(errs, want) {
					t.Errorf("%s key: refused with %v; want %v", other, errs, want)
				}
				// With the other key's public key in the header, as a
				// registration carries it: still not the bound key.
				res, err = br.RefreshWith(s.ID, k.Proof(s.Challenge, true, nil))
				if err != nil || res.StatusCode != http.StatusBadRequest {
					t.Errorf("%s key with its jwk: %s, %v", other, dbsctest.Status(res), err)
				}
				st.took()
			}
			if r, err := br.Refresh(s.ID); err != nil || r.Status != http.StatusOK || r.Requests != 1 {
				t.Errorf("the owner's refresh after the forgeries: %+v, %v", r, err)
			}
		})
	}
}

// TestCookieThief: a thief who copied every cookie (and the bound
// session's identifier, but not the key) is served until the bound cookie
// expires, and never again: asking for a challenge gets one it cannot
// sign, signing with its own key is refused, and so is registering its
// own key over the bound session. The owner keeps working throughout.
func TestCookieThief(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			st := newSite(t, nil)
			owner := st.browser(alg)
			st.login(owner, "alice")
			s := only(t, owner)

			thief := st.browser("")
			for n, v := range owner.Cookies() {
				thief.SetCookie(n, v, st.clock.Now().Add(dbsc.DefaultCookieLifetime))
			}
			s.Key, s.Challenge = nil, ""
			thief.AddSession(s)
			if got := st.who(thief); got != "user alice" {
				t.Fatalf("the thief within the bound cookie's life: %q", got)
			}
			st.clock.Advance(dbsc.DefaultCookieLifetime)
			for n, v := range owner.Cookies() { // the cookie jar without the expired bound cookie
				thief.SetCookie(n, v, time.Time{})
			}
			if got := st.who(thief); got != "anonymous" {
				t.Fatalf("the thief after the bound cookie expired: %q", got)
			}
			r, err := thief.Refresh(s.ID)
			if err != nil || r.Status != http.StatusForbidden || boundCookie(r.Response) != nil {
				t.Fatalf("the thief's refresh without a key: %+v, %v", r, err)
			}
			c, _, _ := dbsctest.ParseChallenge(r.Response.Header.Get("Secure-Session-Challenge"))
			own, err := dbsctest.NewKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := thief.RefreshWith(s.ID, own.Proof(c, false, nil)); err != nil || res.StatusCode != http.StatusBadRequest {
				t.Errorf("the thief's own key: %s, %v", dbsctest.Status(res), err)
			}
			// A new offer comes only with a login, which takes the password;
			// the thief tries the registration endpoint with a made-up one.
			if res, _, err := thief.RegisterWith("/dbsc/register", own.Proof("made-up", true, nil), own); err != nil || res.StatusCode == http.StatusOK {
				t.Errorf("the thief's registration: %s, %v", dbsctest.Status(res), err)
			}
			if got := st.who(thief); got != "anonymous" {
				t.Errorf("the thief after all that: %q", got)
			}
			if got := st.who(owner); got != "user alice" {
				t.Errorf("the owner: %q", got)
			}
		})
	}
}

// TestTwoTabsRefreshAtOnce: tabs that refresh at the same moment with the
// same cached challenge: it is spent once, and every other tab gets a 403
// with a fresh challenge, signs it, and gets its cookie. A tab can fail
// again only because another succeeded meanwhile, so among n tabs each
// needs at most n proofs; nothing is refused for good.
func TestTwoTabsRefreshAtOnce(t *testing.T) {
	for _, tabs := range []int{2, 8} {
		t.Run(fmt.Sprintf("%d tabs", tabs), func(t *testing.T) {
			st := newSite(t, nil)
			br, s := st.boundBrowser(dbsc.ES256)
			var wg sync.WaitGroup
			var mu sync.Mutex
			firstOK, proofs := 0, 0
			// Every tab reads the session before any saves it.
			st.store.holdSaves(tabs)
			start := make(chan struct{})
			for i := range tabs {
				wg.Go(func() {
					<-start
					challenge := s.Challenge
					for attempt := 0; attempt < tabs; attempt++ {
						res, err := br.RefreshWith(s.ID, br.Key.Proof(challenge, false, nil))
						if err != nil {
							t.Errorf("tab %d: %v", i, err)
							return
						}
						mu.Lock()
						proofs++
						if attempt == 0 && res.StatusCode == http.StatusOK {
							firstOK++
						}
						mu.Unlock()
						switch res.StatusCode {
						case http.StatusOK:
							if boundCookie(res) == nil {
								t.Errorf("tab %d: a 200 without a bound cookie", i)
							}
							return
						case http.StatusForbidden:
							challenge, _, err = dbsctest.ParseChallenge(res.Header.Get("Secure-Session-Challenge"))
							if err != nil {
								t.Errorf("tab %d: %v", i, err)
								return
							}
						default:
							t.Errorf("tab %d, proof %d: %s", i, attempt, dbsctest.Status(res))
							return
						}
					}
					t.Errorf("tab %d: no cookie after %d proofs", i, tabs)
				})
			}
			close(start)
			wg.Wait()
			if firstOK != 1 {
				t.Errorf("%d tabs were served for the one cached challenge; want exactly 1", firstOK)
			}
			if st.who(br) != "user alice" {
				t.Error("not served after the tabs' refreshes")
			}
			t.Logf("%d tabs: %d proofs", tabs, proofs)
		})
	}
}

// TestRegistrationRefusals: proofs a registration must refuse, each for
// its reason, leaving the session unbound and still served by its cookie.
func TestRegistrationRefusals(t *testing.T) {
	es, err := dbsctest.NewKey(dbsc.ES256)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := dbsctest.NewKey(dbsc.RS256)
	if err != nil {
		t.Fatal(err)
	}
	type env struct {
		st        *site
		challenge string
	}
	tests := []struct {
		name   string
		proof  func(e env) string
		want   error
		status int
	}{
		{"alg none", func(e env) string {
			h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "dbsc+jwt", "jwk": es.JWK()})
			p, _ := json.Marshal(map[string]any{"jti": e.challenge})
			return b64(h) + "." + b64(p) + "."
		}, dbsc.ErrAlgorithm, 400},
		{"alg none with a signature", func(e env) string {
			return es.Sign(map[string]any{"alg": "none", "typ": "dbsc+jwt", "jwk": es.JWK()}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrAlgorithm, 400},
		{"HS256", func(e env) string {
			return es.Sign(map[string]any{"alg": "HS256", "typ": "dbsc+jwt", "jwk": es.JWK()}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrAlgorithm, 400},
		{"wrong challenge", func(e env) string { return es.Proof("not-the-challenge", true, nil) }, dbsc.ErrChallenge, 400},
		{"another session's challenge", func(e env) string {
			other := e.st.browser("")
			o, _ := dbsctest.ParseOffer(e.st.login(other, "bob").Header.Get("Secure-Session-Registration"))
			return es.Proof(o.Challenge, true, nil)
		}, dbsc.ErrChallenge, 400},
		{"expired challenge", func(e env) string {
			e.st.clock.Advance(5*time.Minute + time.Second)
			return es.Proof(e.challenge, true, nil)
		}, dbsc.ErrChallenge, 400},
		{"ES256 with an RSA key", func(e env) string {
			return rs.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": rs.JWK()}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrKey, 400},
		{"RS256 with an EC key", func(e env) string {
			return es.Sign(map[string]any{"alg": "RS256", "typ": "dbsc+jwt", "jwk": es.JWK()}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrKey, 400},
		{"P-384 key", func(e env) string {
			j := es.JWK()
			j["crv"] = "P-384"
			return es.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": j}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrKey, 400},
		{"point not on the curve", func(e env) string {
			j := es.JWK()
			j["y"] = j["x"]
			return es.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": j}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrKey, 400},
		{"RSA key of 1024 bits", func(e env) string {
			return rsa1024(t).Proof(e.challenge, true, nil)
		}, dbsc.ErrKey, 400},
		{"private key in the jwk", func(e env) string {
			j := es.JWK()
			j["d"] = j["x"]
			return es.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": j}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrKey, 400},
		{"no jwk", func(e env) string { return es.Proof(e.challenge, false, nil) }, dbsc.ErrKey, 400},
		{"bad signature", func(e env) string {
			p := strings.Split(es.Proof(e.challenge, true, nil), ".")
			sig, _ := base64.RawURLEncoding.DecodeString(p[2])
			sig[10] ^= 1
			return p[0] + "." + p[1] + "." + b64(sig)
		}, dbsc.ErrSignature, 400},
		{"signed by another key", func(e env) string {
			other, _ := dbsctest.NewKey(dbsc.ES256)
			return other.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.JWK()}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrSignature, 400},
		{"iat from the future", func(e env) string {
			return es.Proof(e.challenge, true, map[string]any{"iat": e.st.clock.Now().Add(10 * time.Minute).Unix()})
		}, dbsc.ErrClaims, 400},
		{"iat from the past", func(e env) string {
			return es.Proof(e.challenge, true, map[string]any{"iat": e.st.clock.Now().Add(-10 * time.Minute).Unix()})
		}, dbsc.ErrClaims, 400},
		{"expired", func(e env) string {
			return es.Proof(e.challenge, true, map[string]any{"exp": e.st.clock.Now().Add(-10 * time.Minute).Unix()})
		}, dbsc.ErrClaims, 400},
		{"another audience", func(e env) string {
			return es.Proof(e.challenge, true, map[string]any{"aud": "https://elsewhere.example/dbsc/register"})
		}, dbsc.ErrClaims, 400},
		{"typ JWT", func(e env) string {
			return es.Sign(map[string]any{"alg": "ES256", "typ": "JWT", "jwk": es.JWK()}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrClaims, 400},
		{"no typ", func(e env) string {
			return es.Sign(map[string]any{"alg": "ES256", "jwk": es.JWK()}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrMalformed, 400},
		{"duplicate alg", func(e env) string {
			jwk, _ := json.Marshal(es.JWK())
			h := `{"alg":"RS256","typ":"dbsc+jwt","jwk":` + string(jwk) + `,"alg":"ES256"}`
			return es.SignRaw([]byte(h), []byte(`{"jti":"`+e.challenge+`"}`))
		}, dbsc.ErrMalformed, 400},
		{"critical extension", func(e env) string {
			return es.Sign(map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": es.JWK(), "crit": []string{"b64"}}, map[string]any{"jti": e.challenge})
		}, dbsc.ErrMalformed, 400},
		{"not a JWS", func(e env) string { return "eyJhbGciOiJFUzI1NiJ9" }, dbsc.ErrMalformed, 400},
		{"padded base64", func(e env) string {
			p := strings.Split(es.Proof(e.challenge, true, nil), ".")
			return p[0] + "=." + p[1] + "." + p[2]
		}, dbsc.ErrMalformed, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newSite(t, nil)
			br := st.browser("")
			o, _ := dbsctest.ParseOffer(st.login(br, "alice").Header.Get("Secure-Session-Registration"))
			st.took()
			res, _, err := br.RegisterWith(o.Path, tc.proof(env{st, o.Challenge}), es)
			if err != nil || res.StatusCode != tc.status || boundCookie(res) != nil {
				t.Fatalf("registration: %s, %v; want %d", dbsctest.Status(res), err, tc.status)
			}
			if errs := st.refused(); !refusedWith(errs, tc.want) {
				t.Errorf("refused with %v; want %v", errs, tc.want)
			}
			if res, _ := br.Get("/binding"); res.StatusCode != http.StatusNotFound {
				t.Error("the session was bound")
			}
			if got := st.who(br); got != "user alice" {
				t.Errorf("the session after a refused registration: %q", got)
			}
		})
	}
}

// TestRegistrationAcceptsWhatChromiumMaySend: claims a browser may add
// (the audience when asked for, an iat within the allowed skew) and the
// sf-string form of the header are accepted.
func TestRegistrationAcceptsWhatChromiumMaySend(t *testing.T) {
	tests := map[string]func(k *dbsctest.Key, st *site, challenge string) string{
		"audience": func(k *dbsctest.Key, st *site, c string) string {
			return k.Proof(c, true, map[string]any{"aud": st.srv.URL + "/dbsc/register"})
		},
		"iat within the skew, as a string": func(k *dbsctest.Key, st *site, c string) string {
			return k.Proof(c, true, map[string]any{"iat": strconv.FormatInt(st.clock.Now().Add(30*time.Second).Unix(), 10)})
		},
		"quoted header": func(k *dbsctest.Key, st *site, c string) string {
			return `"` + k.Proof(c, true, nil) + `"`
		},
		"authorization": func(k *dbsctest.Key, st *site, c string) string {
			return k.Proof(c, true, map[string]any{"authorization": "ac"})
		},
	}
	for name, proof := range tests {
		t.Run(name, func(t *testing.T) {
			st := newSite(t, nil)
			br := st.browser("")
			key, _ := dbsctest.NewKey(dbsc.ES256)
			o, _ := dbsctest.ParseOffer(st.login(br, "alice").Header.Get("Secure-Session-Registration"))
			res, _, err := br.RegisterWith(o.Path, proof(key, st, o.Challenge), key)
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("%s, %v; refused: %v", dbsctest.Status(res), err, st.refused())
			}
		})
	}
}

// TestOfferedAlgorithms: a Binder offering ES256 only refuses an RS256
// registration.
func TestOfferedAlgorithms(t *testing.T) {
	st := newSite(t, func(o *siteOptions) { o.dbsc.Algorithms = []string{dbsc.ES256} })
	br := st.browser("")
	res := st.login(br, "alice")
	o, _ := dbsctest.ParseOffer(res.Header.Get("Secure-Session-Registration"))
	if strings.Join(o.Algorithms, " ") != "ES256" {
		t.Fatalf("offer %q", res.Header.Get("Secure-Session-Registration"))
	}
	rs, _ := dbsctest.NewKey(dbsc.RS256)
	st.took()
	if res, _, _ := br.RegisterWith(o.Path, rs.Proof(o.Challenge, true, nil), rs); res.StatusCode != http.StatusBadRequest {
		t.Errorf("RS256 registration: %s", dbsctest.Status(res))
	}
	if !refusedWith(st.refused(), dbsc.ErrAlgorithm) {
		t.Error("not refused for its algorithm")
	}
}

// TestTermination: when the session ends — logout, revocation from
// another session, expiry — the refresh endpoint tells the browser to end
// its bound session (continue false); a logout also clears the bound
// cookie so that the browser refreshes, and hears it, at its next request.
func TestTermination(t *testing.T) {
	ends := map[string]func(t *testing.T, st *site, br *dbsctest.Browser){
		"logout": func(t *testing.T, st *site, br *dbsctest.Browser) {
			res, err := br.PostForm("/logout", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c := boundCookie(res); c == nil || c.MaxAge >= 0 {
				t.Errorf("the logout's response does not clear the bound cookie: %q", res.Header.Values("Set-Cookie"))
			}
		},
		"revoked": func(t *testing.T, st *site, br *dbsctest.Browser) {
			other := st.browser("")
			st.login(other, "alice")
			if res, err := other.PostForm("/revoke-others", nil); err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("revoke-others: %s, %v", dbsctest.Status(res), err)
			}
			br.DeleteCookie(dbsc.DefaultCookieName) // or wait for it to expire
		},
		"logged out and in again": func(t *testing.T, st *site, br *dbsctest.Browser) {
			// The login ends the old bound session, and binds the new one.
			old := only(t, br)
			if _, err := br.PostForm("/logout", nil); err != nil {
				t.Fatal(err)
			}
			st.login(br, "alice")
			if s := only(t, br); s.ID == old.ID {
				t.Fatal("the new login was not bound anew")
			}
		},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			st := newSite(t, nil)
			br := st.browser(dbsc.ES256)
			st.login(br, "alice")
			end(t, st, br)
			st.took()
			got := st.who(br) // the browser refreshes first: its bound cookie is gone
			wantSessions := 0
			if name == "logged out and in again" {
				wantSessions = 1
				if got != "user alice" {
					t.Errorf("the new session: %q", got)
				}
			} else if got != "anonymous" {
				t.Errorf("after the end: %q", got)
			}
			if n := len(br.Sessions()); n != wantSessions {
				t.Errorf("the browser keeps %d bound sessions; want %d", n, wantSessions)
			}
		})
	}
}

// TestTerminationAtExpiry: a session past its idle deadline is gone, and
// so is its bound session, at the browser's next refresh.
func TestTerminationAtExpiry(t *testing.T) {
	const idle = time.Second
	st := newSite(t, func(o *siteOptions) { o.sesame.IdleTimeout = idle })
	br, s := st.boundBrowser(dbsc.ES256)
	time.Sleep(idle + idle/2) // the Manager reads the real clock
	r, err := br.Refresh(s.ID)
	if err != nil || !r.Terminated || r.Status != http.StatusOK || boundCookie(r.Response) == nil {
		t.Fatalf("refresh of an expired session: %+v, %v", r, err)
	}
	var in dbsctest.Instructions
	body, _ := io.ReadAll(r.Response.Body)
	if err := json.Unmarshal(body, &in); err != nil || in.Continue == nil || *in.Continue || in.SessionIdentifier != s.ID {
		t.Errorf("termination body %s", body)
	}
	if len(br.Sessions()) != 0 {
		t.Error("the browser kept the bound session")
	}
}

// TestLoginOnABoundSessionKeepsItBound: a login from the browser that
// holds the key (a second login, or as another user) renews the session's
// id and keeps its binding: no new offer, the same bound session.
func TestLoginOnABoundSessionKeepsItBound(t *testing.T) {
	st := newSite(t, nil)
	br, s := st.boundBrowser(dbsc.ES256)
	before := br.Cookies()[sesame.DefaultCookieName]
	res := st.login(br, "bob")
	if res.Header.Get("Secure-Session-Registration") != "" {
		t.Error("a bound session was offered binding again")
	}
	if br.Cookies()[sesame.DefaultCookieName] == before {
		t.Error("the login kept the session id")
	}
	if got := st.who(br); got != "user bob" || only(t, br).ID != s.ID {
		t.Errorf("after the second login: %q, bound sessions %+v", got, br.Sessions())
	}
	st.clock.Advance(dbsc.DefaultCookieLifetime)
	if got := st.who(br); got != "user bob" {
		t.Errorf("after a refresh: %q", got)
	}
}

// TestBrowserWithoutDBSC: a browser that ignores the offer keeps its
// session on the session cookie alone, however long after the bound
// cookie's lifetime, exactly as without a Binder.
func TestBrowserWithoutDBSC(t *testing.T) {
	st := newSite(t, nil)
	br := st.browser("")
	st.login(br, "alice")
	for range 3 {
		st.clock.Advance(dbsc.DefaultCookieLifetime * 3)
		if got := st.who(br); got != "user alice" {
			t.Fatalf("unbound session: %q", got)
		}
	}
	if res, _ := br.Get("/binding"); res.StatusCode != http.StatusNotFound {
		t.Error("an unbound session has a binding")
	}
	for _, ev := range st.took() {
		if ev.Kind != dbsc.EventOffered {
			t.Errorf("event %v for an unbound session", ev.Kind)
		}
	}
}

// TestOfferExisting: a session logged in without binding is offered again
// at an idle-deadline extension only with OfferExisting, and can then be
// bound.
func TestOfferExisting(t *testing.T) {
	const idle = time.Second // extensions every 50 ms
	for _, existing := range []bool{false, true} {
		st := newSite(t, func(o *siteOptions) {
			o.sesame.IdleTimeout = idle
			o.dbsc.OfferExisting = existing
		})
		old := st.browser("") // logged in before DBSC, say
		st.login(old, "alice")
		br := st.browser(dbsc.ES256)
		for n, v := range old.Cookies() {
			br.SetCookie(n, v, time.Time{})
		}
		time.Sleep(idle / 5) // the Manager reads the real clock
		res, err := br.Get("/")
		if err != nil {
			t.Fatal(err)
		}
		offered := res.Header.Get("Secure-Session-Registration") != ""
		if offered != existing || (len(br.Sessions()) == 1) != existing {
			t.Errorf("OfferExisting %v: offered %v, bound sessions %d", existing, offered, len(br.Sessions()))
		}
	}
}

// TestSealedSessions: a sealed session is bound and refreshed the same
// way; its binding travels in the sealed cookie, which a refresh re-seals.
func TestSealedSessions(t *testing.T) {
	st := newSite(t, func(o *siteOptions) {
		o.sesame.Store, o.sesame.Seal = nil, newRing(t)
	})
	br, s := st.boundBrowser(dbsc.RS256)
	before := br.Cookies()[sesame.DefaultCookieName]
	st.clock.Advance(dbsc.DefaultCookieLifetime)
	if got := st.who(br); got != "user alice" {
		t.Fatalf("after the deferred refresh: %q", got)
	}
	if after := br.Cookies()[sesame.DefaultCookieName]; after == before {
		t.Error("the refresh did not re-seal the session cookie")
	}
	thief := st.browser("")
	thief.SetCookie(sesame.DefaultCookieName, before, time.Time{})
	if got := st.who(thief); got != "anonymous" {
		t.Errorf("the old sealed cookie alone: %q", got)
	}
	if r, err := br.Refresh(s.ID); err != nil || r.Status != http.StatusOK {
		t.Errorf("a second refresh: %+v, %v", r, err)
	}
}

// TestHandlerRefusesOtherMethodsAndPaths.
func TestHandlerRefusesOtherMethodsAndPaths(t *testing.T) {
	st := newSite(t, nil)
	c := st.srv.Client()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/dbsc/register", http.StatusMethodNotAllowed},
		{"GET", "/dbsc/refresh", http.StatusMethodNotAllowed},
		{"POST", "/dbsc/other", http.StatusNotFound},
		{"POST", "/dbsc/refresh", http.StatusBadRequest},  // no session id
		{"POST", "/dbsc/register", http.StatusBadRequest}, // no proof
	} {
		req, _ := http.NewRequest(tc.method, st.srv.URL+tc.path, bytes.NewReader(nil))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s %s: %d; want %d", tc.method, tc.path, res.StatusCode, tc.want)
		}
	}
}

// TestRestartOverOneStore runs dbsctest.Restart over a memstore that
// outlives the server: a new Manager and a new Binder, with a new random
// registration key, refresh the sessions the first registered. (The store
// modules run it over storage that outlives the process.)
func TestRestartOverOneStore(t *testing.T) {
	ms, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	dbsctest.Restart(t, func(t *testing.T) (sesame.Store, func() error) {
		return ms, func() error { return nil }
	})
}

// TestNavigationFromAnotherSite: a browser does not refresh for a request
// that another site started, so once the bound cookie has expired such a
// navigation arrives with the session cookie alone. Navigations answers
// it with a page that loads the URL again, a navigation of the site's own
// that the browser refreshes for; other requests, unbound sessions, and a
// reload from the site itself (a thief's) go to the handler as before.
func TestNavigationFromAnotherSite(t *testing.T) {
	st := newSite(t, nil)
	br, _ := st.boundBrowser(dbsc.ES256)
	plain := st.browser("")
	st.login(plain, "bob")
	st.clock.Advance(dbsc.DefaultCookieLifetime)
	nav := func(br *dbsctest.Browser, method, site, mode string) string {
		t.Helper()
		req, _ := http.NewRequest(method, st.srv.URL+"/", nil)
		req.Header.Set("Sec-Fetch-Site", site)
		req.Header.Set("Sec-Fetch-Mode", mode)
		// As the browser sends it: without a refresh, whatever it holds.
		for n, v := range br.Cookies() {
			req.AddCookie(&http.Cookie{Name: n, Value: v})
		}
		res, err := st.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return string(b) // the page, or the mux's answer to a POST (405)
	}
	const bounce = `<meta http-equiv="refresh" content="0">`
	tests := []struct {
		name               string
		br                 *dbsctest.Browser
		method, site, mode string
		bounced            bool
	}{
		{"a link from another site", br, "GET", "cross-site", "navigate", true},
		{"a link from a sibling host", br, "GET", "same-site", "navigate", true},
		{"the reload", br, "GET", "same-origin", "navigate", false},
		{"typed into the address bar", br, "GET", "none", "navigate", false},
		{"a subresource", br, "GET", "cross-site", "no-cors", false},
		{"a form from another site", br, "POST", "cross-site", "navigate", false},
		{"an unbound session", plain, "GET", "cross-site", "navigate", false},
	}
	for _, tc := range tests {
		got := nav(tc.br, tc.method, tc.site, tc.mode)
		if bounced := strings.Contains(got, bounce); bounced != tc.bounced {
			t.Errorf("%s: answered %q", tc.name, got)
		}
	}
	// After the browser's refresh, the link from another site reaches the page.
	if got := st.who(br); got != "user alice" {
		t.Fatalf("after a refresh: %q", got)
	}
	if got := nav(br, "GET", "cross-site", "navigate"); got != "user alice" {
		t.Errorf("a link from another site with a fresh bound cookie: %q", got)
	}
}

// TestRegistrationChallengeIsUsedOnce: once a session is bound, its
// registration challenge binds nothing more, whatever key signs it: a
// second browser (or a thief) cannot rebind the session to its key.
func TestRegistrationChallengeIsUsedOnce(t *testing.T) {
	st := newSite(t, nil)
	br := st.browser("")
	o, _ := dbsctest.ParseOffer(st.login(br, "alice").Header.Get("Secure-Session-Registration"))
	first, _ := dbsctest.NewKey(dbsc.ES256)
	second, _ := dbsctest.NewKey(dbsc.RS256)
	if res, _, err := br.RegisterWith(o.Path, first.Proof(o.Challenge, true, nil), first); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("first registration: %s, %v", dbsctest.Status(res), err)
	}
	st.took()
	res, _, err := br.RegisterWith(o.Path, second.Proof(o.Challenge, true, nil), second)
	if err != nil || res.StatusCode != http.StatusBadRequest || boundCookie(res) != nil {
		t.Fatalf("second registration with the same challenge: %s, %v", dbsctest.Status(res), err)
	}
	if errs := st.refused(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "bound already") {
		t.Errorf("refused with %v", errs)
	}
	res, err = br.Get("/binding")
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(res.Body); !strings.HasSuffix(string(body), first.Thumbprint()) {
		t.Errorf("the session is bound to %q; want the first key, %s", body, first.Thumbprint())
	}
}
