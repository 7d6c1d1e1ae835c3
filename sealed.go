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

// ErrTooLarge reports a change that would make a sealed or CookieCodec
// session's cookie larger than browsers keep: 4096 bytes of name and
// value (less if the key ring's MaxTokenLen is lower, or the codec's
// format has a lower limit). A browser would drop such a cookie
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
var ErrTooLarge = errors.New("sesame: session too large for its cookie")

// ErrNoRevocations reports RevokeAll or RevokeOthers on sessions that live
// in their cookie with nothing on the server to end them: sealed sessions
// without Config.Revocations, and Config.CookieCodec sessions.
var ErrNoRevocations = errors.New("sesame: cookie sessions cannot be revoked without a revocation store (Config.Revocations, for sealed sessions)")

// maxRevokeAttempts bounds the load-and-save loop of a revocation when
// saves conflict.
const maxRevokeAttempts = 32

// maxCookieSize is the most name and value browsers are required to keep
// for one cookie (RFC 6265 §6.1).
const maxCookieSize = 4096

// sealed is the backend of sealed-cookie sessions: the cookie holds the
// record itself, sealed with the key ring, and no store is needed to
// serve it. revoked, if set, keeps each user's revocation mark.
type sealed struct {
	m       *Manager
	ring    *seal.KeyRing
	revoked Store
}

// load opens the session from the cookie. Anything wrong with the token
// (tampered, sealed for another cookie, under a retired key, expired,
// revoked) leaves the session anonymous.
func (b *sealed) load(s *Session, value string) error {
	m, ctx := b.m, s.req.Context()
	plain, _, err := b.ring.Open(m.cookie.Name, value)
	var rec record
	if err != nil || decodeRecord(plain, &rec) != nil || rec.flags&flagDead != 0 {
		m.emit(ctx, EventInvalid, "", "")
		s.endedUnseen()
		return nil
	}
	key := sealedHandle(value)
	if rec.expired(s.clock()) {
		m.emit(ctx, EventExpired, key, string(rec.user))
		s.ended(&rec, key)
		return nil
	}
	if len(rec.user) > 0 && b.revoked != nil {
		nvb, _, err := b.notValidBefore(ctx, string(rec.user))
		if err != nil {
			return err
		}
		if rec.created <= nvb {
			m.emit(ctx, EventInvalid, key, string(rec.user))
			s.ended(&rec, key)
			return nil
		}
	}
	s.cur = loadedRecord{key: key, rec: rec}
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

// save seals the record into a new cookie when the request changed it,
// when the idle deadline is due to be extended, or when a revocation
// requires it. Every save is a Set-Cookie, so late changes are refused.
func (b *sealed) save(s *Session) (bool, error) {
	m, ctx := b.m, s.req.Context()
	now := s.clock()
	dirty, due, err := s.cookieSaveDue(now)
	if !due {
		return false, err
	}
	if s.log.login != "" && b.revoked != nil {
		// A login begins after every revocation of its user that has
		// returned, even one in this very millisecond or stamped by a
		// server whose clock runs ahead of this one's.
		nvb, _, err := b.notValidBefore(ctx, s.log.login)
		if err != nil {
			s.log.forget()
			return false, err
		}
		s.log.notBefore = max(s.log.notBefore, nvb)
	}
	if err := s.applyBind(); err != nil {
		return false, err
	}
	h := b.nextRecord(s, now)
	enc := s.encode(&h)
	if err := b.fits(len(enc)); err != nil {
		s.log.forget()
		return false, err
	}
	c := m.cookieStart(seal.SealedLen(len(enc)))
	start := len(c)
	c, err = b.ring.AppendSeal(c, m.cookie.Name, enc)
	if err != nil {
		return false, fmt.Errorf("sesame: sealing session: %w", err)
	}
	end := len(c)
	kind := s.cookieEvent()
	extended := !dirty
	s.adopt(sessionID{}, "", 0, &h)
	s.reply.line = m.cookieLine(c, s.cookieExpires())
	s.cur.key = sealedHandle(s.reply.line[start:end])
	if kind != 0 {
		m.emit(ctx, kind, s.cur.key, string(h.user))
	}
	return extended, nil
}

// nextRecord is Session.nextRecord for a sealed session, which begins
// after the revocation mark that RevokeOthers set or that a Login read.
func (b *sealed) nextRecord(s *Session, now int64) record {
	h := s.nextRecord(now)
	if s.log.notBefore > 0 {
		h.created = max(h.created, s.log.notBefore+1)
	}
	return h
}

// checkSize returns ErrTooLarge if the sealed session, with the request's
// changes so far, would not fit in its cookie. Put, Flash and Login call
// it, so that a change too large is refused when it is made rather than
// at commit. It measures the record without encoding or sealing it.
func (b *sealed) checkSize(s *Session) error {
	h := b.nextRecord(s, s.clock())
	// First a bound, which nearly every session fits without a walk: the
	// record read, plus every change as a whole new entry. A flash grows
	// the list it joins by its length, a comma or two brackets, and
	// perhaps a longer length prefix: at most 3 bytes more than an entry
	// of its own, which the 4 added to each change cover.
	bound := len(s.cur.rec.data)
	for _, o := range s.log.ops {
		bound += entryLen(len(o.key), len(o.value)) + 4
	}
	if b.sealedFits(recordLen(&h, int(s.cur.rec.n)+len(s.log.ops), bound)) {
		return nil
	}
	count, dataLen := 0, 0
	for it := s.iter(); ; count++ {
		kb, ks, v, ok := it.next()
		if !ok {
			return b.fits(recordLen(&h, count, dataLen))
		}
		dataLen += entryLen(len(kb)+len(ks), len(v))
	}
}

// sealedFits reports whether a record of n bytes seals into a cookie that
// browsers keep and the key ring opens.
func (b *sealed) sealedFits(n int) bool {
	token := seal.SealedLen(n)
	return len(b.m.cookie.Name)+1+token <= maxCookieSize && token <= b.ring.MaxTokenLen()
}

// fits is sealedFits as an error: ErrTooLarge, with the sizes.
func (b *sealed) fits(n int) error {
	if b.sealedFits(n) {
		return nil
	}
	size := len(b.m.cookie.Name) + 1 + seal.SealedLen(n)
	return fmt.Errorf("%w: a %d-byte record makes a %d-byte cookie (name and value)", ErrTooLarge, n, size)
}

// revocationKey is the store key of user's not-valid-before time.
func revocationKey(user string) string {
	sum := sha256.Sum256([]byte("sesame/not-valid-before\x00" + user))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// notValidBefore returns the time (Unix ms) before which user's sealed
// sessions are revoked, 0 if none, and its store version.
func (b *sealed) notValidBefore(ctx context.Context, user string) (int64, uint64, error) {
	v, ver, err := b.revoked.Load(ctx, revocationKey(user))
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

// revoke makes every sealed session of user that exists now invalid,
// and returns the new mark: sessions created at or before it are revoked.
// Milliseconds alone cannot tell a login just before the revocation from
// one just after it, so the mark is also a counter: it is above the
// previous mark, and a login stamps its session after the mark it reads
// (see save). A session sealed before the mark was saved dies; a
// login after RevokeAll returned lives, even on a server whose clock runs
// behind the one that revoked. (A login on a server whose clock runs ahead
// of the revoking one's, shortly before the revocation, outlives it by up
// to that difference: keep the servers' clocks synchronized.) The mark
// lasts one Lifetime, after which those sessions have passed their
// absolute deadline anyway.
func (b *sealed) revoke(ctx context.Context, user string) (int64, error) {
	m := b.m
	if b.revoked == nil {
		return 0, ErrNoRevocations
	}
	now := m.nowMS()
	for range maxRevokeAttempts {
		old, ver, err := b.notValidBefore(ctx, user)
		if err != nil && !errors.Is(err, errCorrupt) {
			return 0, err
		}
		nvb := max(old+1, now)
		opts := SaveOptions{ExpiresAt: time.UnixMilli(nvb + m.lifetime)}
		_, err = b.revoked.Save(ctx, revocationKey(user), binary.AppendUvarint(nil, uint64(nvb)), ver, opts)
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

// revokeAll revokes every sealed session of user that exists now.
func (b *sealed) revokeAll(ctx context.Context, user string) error {
	_, err := b.revoke(ctx, user)
	return err
}

// revokeOthers revokes every sealed session of user, then re-seals s
// after the new mark, so that it alone lives on.
func (b *sealed) revokeOthers(ctx context.Context, s *Session, user string) error {
	nvb, err := b.revoke(ctx, user)
	if err == nil {
		s.mu.Lock()
		s.log.notBefore = nvb
		s.mu.Unlock()
	}
	return err
}
