// Package ticket issues and verifies signed login tickets compatible with
// Apache's mod_auth_tkt (2.3.99) and the Python implementations that follow
// it (plone.session, paste's auth_tkt), so a Go service and applications
// behind Apache or Plone can share one login.
//
// A ticket is
//
//	hex(digest) ‖ %08x timestamp ‖ uid ‖ "!" ‖ tokens ‖ "!" ‖ user data
//
// (the tokens part left out when there are none), sent base64-encoded in
// a cookie named auth_tkt. The digest is H(hex(H(ip ‖ ts ‖ secret ‖ uid ‖
// NUL ‖ tokens ‖ NUL ‖ data)) ‖ secret) with H one of SHA-256 (the default
// here), SHA-512 or, for old peers only, MD5; ip is the client's IPv4
// address, or 0.0.0.0 with IP binding off.
//
// plone.session's own default (Config.Format Plone) has the same layout
// with another digest: the 32 raw bytes of HMAC-SHA256(secret, ip ‖ ts ‖
// uid ‖ NUL ‖ tokens ‖ NUL ‖ data). Plone sends it in a cookie named __ac,
// which Zope may URL-quote and put within double quotes. Its mod_auth_tkt
// mode is the MD5 ticket above. plone.session reads both more strictly
// than Apache does (see Plone).
//
// A ticket is signed, not encrypted: the uid, tokens and user data are
// readable by anyone holding the cookie. It cannot be revoked before it
// expires. Codec issues and verifies tickets; Issuer writes, reads and
// clears the cookie; Guard is the middleware that protects handlers.
package ticket
