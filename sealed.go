package sesame

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-go/sesame/seal"
)

// ErrTooLarge reports a change that would make a sealed session's cookie
// larger than browsers keep: 4096 bytes of name and value (less if the key
// ring's MaxTokenLen is lower). A browser would drop such a cookie
// silently. Put, Flash and Login return it when the change is made, and
// leave the session as it was, so the browser keeps its previous cookie.
// The commit checks again, as the guarantee that no oversized cookie is
// ever sent: should the record still outgrow the cookie there, the
// request's changes are dropped, the error goes to Config.ErrorHandler,
// and the browser keeps its previous cookie.
//
// It is not seal.ErrTooLarge, which package seal returns for a token over
// a key ring's limit, with no cookie in view: the Manager measures the
// record against the cookie's limit before sealing, so sessions report
// only this error.
var ErrTooLarge = errors.New("sesame: sealed session too large for its cookie")

// ErrNoRevocations reports RevokeAll or RevokeOthers on sealed sessions
// without Config.Revocations.
var ErrNoRevocations = errors.New("sesame: sealed sessions cannot be revoked without Config.Revocations")

// maxCookieSize is the most name and value browsers are required to keep
// for one cookie (RFC 6265 §6.1).
const maxCookieSize = 4096

// loadSealed opens the session from the cookie. Anything wrong with the
// token (malformed, tampered, sealed for another cookie, under a retired
// key, expired, revoked) gives a fresh anonymous session and clears it.
func (s *Session) loadSealed() error {
	ctx := s.req.Context()
	value, state := readCookieValue(s.req.Header, s.m.cookie.Name)
	if state == cookieNone {
		return nil
	}
	s.hadCookie, s.clearCookie = true, true
	if state == cookieMalformed {
		s.m.emit(ctx, EventInvalid, "", "")
		return nil
	}
	plain, _, err := s.m.sealer.Open(s.m.cookie.Name, value)
	var rec record
	if err != nil || decodeRecord(plain, &rec) != nil || rec.flags&flagDead != 0 {
		s.m.emit(ctx, EventInvalid, "", "")
		return nil
	}
	key := sealedHandle(value)
	if rec.expired(s.clock()) {
		s.m.emit(ctx, EventExpired, key, string(rec.user))
		return nil
	}
	if len(rec.user) > 0 && s.m.revoked != nil {
		nvb, _, err := s.m.notValidBefore(ctx, string(rec.user))
		if err != nil {
			s.loadErr = err
			return err
		}
		if rec.created <= nvb {
			s.m.emit(ctx, EventInvalid, key, string(rec.user))
			return nil
		}
	}
	s.key, s.rec = key, rec
	s.clearCookie = false
	return nil
}

// sealedHandle names a sealed session in logs and events: characters of
// the token that encode only its random nonce. It changes at every write.
func sealedHandle(token string) string {
	if len(token) < 25 {
		return ""
	}
	return token[3:25]
}

// commitSealed seals the record into a new cookie when the request changed
// it, when the idle deadline is due to be extended, or when a revocation
// requires it. Every save is a Set-Cookie, so late changes are refused.
func (s *Session) commitSealed(late bool) error {
	ctx := s.req.Context()
	now := s.clock()
	if s.dropKey != "" {
		s.m.emit(ctx, EventDestroyed, s.dropKey, "")
		s.dropKey = ""
		s.clearCookie = s.hadCookie || s.cookieLine != ""
	}
	touch := s.key != "" && now-s.rec.lastSeen >= s.m.touchStep
	switch {
	case late && s.dirty():
		s.forget()
		return ErrHeadersWritten
	case late:
		return nil
	case !s.dirty() && !touch:
		s.writeCookie()
		return nil
	}
	if s.loginUser != "" && s.m.revoked != nil {
		// A login begins after every revocation of its user that has
		// returned, even one in this very millisecond or stamped by a
		// server whose clock runs ahead of this one's.
		nvb, _, err := s.m.notValidBefore(ctx, s.loginUser)
		if err != nil {
			s.forget()
			return err
		}
		s.reissueAfter = max(s.reissueAfter, nvb)
	}
	h := s.sealedHeader(now)
	enc := s.encode(&h)
	if err := s.m.fitsCookie(len(enc)); err != nil {
		s.forget()
		return err
	}
	b := s.m.cookieStart(seal.SealedLen(len(enc)))
	start := len(b)
	b, err := s.m.sealer.AppendSeal(b, s.m.cookie.Name, enc)
	if err != nil {
		return fmt.Errorf("sesame: sealing session: %w", err)
	}
	end := len(b)
	kind := EventCreated
	switch {
	case s.key != "" && (s.renew || s.loginUser != ""):
		kind = EventRenewed
	case s.key != "":
		kind = 0
	}
	s.extended = !s.dirty()
	s.adopt(sessionID{}, "", 0, &h)
	s.cookieLine = s.m.cookieEnd(b, s.expires(), false)
	s.key = sealedHandle(s.cookieLine[start:end])
	if kind != 0 {
		s.m.emit(ctx, kind, s.key, string(h.user))
	}
	s.writeCookie()
	return nil
}

// sealedHeader is header for a sealed session, which begins after the
// revocation mark that RevokeOthers set or that a Login read.
func (s *Session) sealedHeader(now int64) record {
	h := s.header(now)
	if s.reissueAfter > 0 {
		h.created = max(h.created, s.reissueAfter+1)
	}
	return h
}

// checkSize returns ErrTooLarge if the sealed session, with the request's
// changes so far, would not fit in its cookie. Put, Flash and Login call
// it, so that a change too large is refused when it is made rather than
// at commit. It measures the record without encoding or sealing it.
// Server-side sessions have no such limit.
func (s *Session) checkSize() error {
	if s.m.sealer == nil {
		return nil
	}
	h := s.sealedHeader(s.clock())
	// First a bound, which nearly every session fits without a walk: the
	// record read, plus every change as a whole new entry. A flash grows
	// the list it joins by its length, a comma or two brackets, and
	// perhaps a longer length prefix: at most 3 bytes more than an entry
	// of its own, which the 4 added to each change cover.
	bound := len(s.rec.data)
	for _, o := range s.ops {
		bound += entryLen(len(o.key), len(o.value)) + 4
	}
	if s.m.sealedFits(recordLen(&h, s.rec.n+len(s.ops), bound)) {
		return nil
	}
	count, dataLen := 0, 0
	for it := s.iter(); ; count++ {
		kb, ks, v, ok := it.next()
		if !ok {
			return s.m.fitsCookie(recordLen(&h, count, dataLen))
		}
		dataLen += entryLen(len(kb)+len(ks), len(v))
	}
}

// sealedFits reports whether a record of n bytes seals into a cookie that
// browsers keep and the key ring opens.
func (m *Manager) sealedFits(n int) bool {
	token := seal.SealedLen(n)
	return len(m.cookie.Name)+1+token <= maxCookieSize && token <= m.sealer.MaxTokenLen()
}

// fitsCookie is sealedFits as an error: ErrTooLarge, with the sizes.
func (m *Manager) fitsCookie(n int) error {
	if m.sealedFits(n) {
		return nil
	}
	size := len(m.cookie.Name) + 1 + seal.SealedLen(n)
	return fmt.Errorf("%w: a %d-byte record makes a %d-byte cookie (name and value)", ErrTooLarge, n, size)
}

// revocationKey is the store key of user's not-valid-before time.
func revocationKey(user string) string {
	sum := sha256.Sum256([]byte("sesame/not-valid-before\x00" + user))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// notValidBefore returns the time (Unix ms) before which user's sealed
// sessions are revoked, 0 if none, and its store version.
func (m *Manager) notValidBefore(ctx context.Context, user string) (int64, uint64, error) {
	v, ver, err := m.revoked.Load(ctx, revocationKey(user))
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, 0, nil
	case err != nil:
		return 0, 0, fmt.Errorf("sesame: loading revocations: %w", err)
	}
	t, n := binary.Uvarint(v)
	if n <= 0 || t > 1<<62 {
		return 0, ver, fmt.Errorf("sesame: revocation record: %w", errCorrupt)
	}
	return int64(t), ver, nil
}

// revokeSealed makes every sealed session of user that exists now invalid,
// and returns the new mark: sessions created at or before it are revoked.
// Milliseconds alone cannot tell a login just before the revocation from
// one just after it, so the mark is also a counter: it is above the
// previous mark, and a login stamps its session after the mark it reads
// (see commitSealed). A session sealed before the mark was saved dies; a
// login after RevokeAll returned lives, even on a server whose clock runs
// behind the one that revoked. (A login on a server whose clock runs ahead
// of the revoking one's, shortly before the revocation, outlives it by up
// to that difference: keep the servers' clocks synchronized.) The mark
// lasts one Lifetime, after which those sessions have passed their
// absolute deadline anyway.
func (m *Manager) revokeSealed(ctx context.Context, user string) (int64, error) {
	if m.revoked == nil {
		return 0, ErrNoRevocations
	}
	now := m.nowMS()
	for range maxAttempts {
		old, ver, err := m.notValidBefore(ctx, user)
		if err != nil && !errors.Is(err, errCorrupt) {
			return 0, err
		}
		nvb := max(old+1, now)
		opts := SaveOptions{ExpiresAt: time.UnixMilli(nvb + m.lifetime)}
		_, err = m.revoked.Save(ctx, revocationKey(user), binary.AppendUvarint(nil, uint64(nvb)), ver, opts)
		if err == nil {
			m.emit(ctx, EventDestroyed, "", user)
			return nvb, nil
		}
		if !errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("sesame: saving revocation: %w", err)
		}
	}
	return 0, fmt.Errorf("sesame: saving revocation: %w", ErrConflict)
}
