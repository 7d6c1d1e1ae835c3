// Package dbsc binds Sesame sessions to a private key the browser keeps,
// with Device Bound Session Credentials (DBSC: the W3C webappsec-dbsc
// draft, shipped in Chrome), so that a stolen session cookie stops working
// on another machine.
//
// A Binder is a sesame.Binder: set it as the Manager's Config.Binder,
// serve its Handler under the Manager's Handler, and put its Navigations
// in front of the pages (the package's Example, in full):
//
//	b, err := dbsc.New(dbsc.Config{})
//	m, err := sesame.New(sesame.Config{Store: store, Binder: b})
//	mux.Handle(dbsc.DefaultPath, b.Handler())
//	h := m.Handler(b.Navigations(mux))
//
// DBSC needs HTTPS: browsers register only on a secure origin whose
// certificate they accept.
//
// How it goes:
//
//  1. The response to a login carries Secure-Session-Registration: the
//     algorithms offered (ES256, RS256), the registration path, and a
//     challenge sealed for this session. A browser without DBSC ignores
//     it, and its session works exactly as before.
//  2. The browser makes a key pair and posts a proof, a JWT signed with
//     the new key and carrying it, for the challenge. The registration
//     endpoint verifies it, binds the session to the key
//     (sesame.Session.Bind keeps the public key, a session identifier and
//     a per-session secret in the session's record) and answers with a
//     short-lived bound cookie and the session's configuration.
//  3. From then on the Manager serves the session only with a valid bound
//     cookie, checked against the record: no store call, no key ring. The
//     session cookie alone, or with an expired bound cookie, gets an
//     anonymous session. Before the bound cookie expires, or when it has,
//     the browser holds back its request, signs the latest challenge with
//     its key, posts it to the refresh endpoint, and sends the request
//     with the fresh cookie it gets.
//     A browser does not refresh for a request another site starts (a
//     link followed from elsewhere): Navigations answers such a navigation
//     with a reload of the site's own, for which it does.
//  4. When the session ends (logout, revocation, expiry) the refresh
//     endpoint tells the browser to end its bound session; a logout also
//     clears the bound cookie, so the browser hears of it at once.
//
// What it stops: a session cookie stolen from the browser's storage
// (infostealer malware, a leaked backup, a debugging proxy) and replayed
// from another machine works only until the bound cookie taken with it
// expires, Config.CookieLifetime at most, since renewing it takes the
// private key, which the browser keeps in a TPM where it has one and
// never sends. What it does not stop: malware running on the user's
// machine while the browser runs can use the browser, or ask the key to
// sign, as long as it runs there; with software keys (no TPM) it may copy
// the key itself.
//
// What it costs: a request of a bound session computes one HMAC on top of
// the session's usual load; a request of an unbound session costs nothing
// more than without a Binder. A refresh costs one store read and one
// conditional write (the challenge spent, with the idle deadline moved
// on), or one read only when it is answered with a challenge to sign. A
// refresh hands out the next challenge with the cookie, so a browser's
// next refresh is a single request.
package dbsc
