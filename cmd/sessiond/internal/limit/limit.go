// Package limit holds back failed logins: token buckets, one per user
// name or client network, in a table that fails closed when full.
package limit

import (
	"errors"
	"net/netip"
	"sync"
	"time"
)

// Limiter is a set of token buckets, one per key (a user name or a client
// network), holding at most max keys. A bucket that has filled up again
// is the same as no bucket and is dropped when room is needed; a bucket
// still limiting is never dropped, so flooding the limiter with new keys
// cannot reset it. When every bucket is still limiting, an attempt under
// a new key is refused (ErrFull) instead: the limiter fails closed.
type Limiter struct {
	burst     float64       // bucket size
	every     time.Duration // one token comes back this often
	max       int
	now       func() time.Time
	forgetful bool // see Config.Forgetful

	mu      sync.Mutex
	buckets map[string]*bucket
	// sweepAt is when the first bucket fills up again: a full table is
	// not searched for buckets to drop before then.
	sweepAt time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// Reserve's refusals.
var (
	ErrLimited = errors.New("too many failed attempts")
	ErrFull    = errors.New("too many clients are being limited at once")
)

// Config describes a Limiter.
type Config struct {
	Burst int           // attempts a bucket allows at once: its size
	Every time.Duration // one token comes back this often
	Max   int           // buckets kept at most
	// Forgetful makes a full table forget a bucket at random instead of
	// refusing: for stand-in buckets whose loss gives nobody anything.
	Forgetful bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Limiter with no buckets yet.
func New(c Config) *Limiter {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Limiter{burst: float64(c.Burst), every: c.Every, max: c.Max, now: now, forgetful: c.Forgetful, buckets: map[string]*bucket{}}
}

// refill brings b's tokens up to now.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
	}
	b.at = now
}

// Reserve takes a token from key's bucket before an attempt is checked,
// so that attempts made at the same time cannot all pass. It returns nil
// if there was one; ErrLimited and how long until there will be one; or
// ErrFull and how long until the full table may have room. An attempt
// that succeeds gives its token back with Refund or Reset.
func (l *Limiter) Reserve(key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max && !l.makeRoom(now) {
			return l.sweepAt.Sub(now), ErrFull
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) * float64(l.every)), ErrLimited
	}
	b.tokens--
	return 0, nil
}

// makeRoom drops the buckets that have filled up again, or, if none has
// and the limiter is forgetful, one bucket. It reports whether there is
// room for another. The caller holds l.mu.
func (l *Limiter) makeRoom(now time.Time) bool {
	if !now.Before(l.sweepAt) {
		var next time.Time
		for k, b := range l.buckets {
			l.refill(b, now)
			if b.tokens >= l.burst {
				delete(l.buckets, k)
				continue
			}
			if full := now.Add(time.Duration((l.burst - b.tokens) * float64(l.every))); next.IsZero() || full.Before(next) {
				next = full
			}
		}
		l.sweepAt = next
	}
	if len(l.buckets) < l.max {
		return true
	}
	if l.forgetful {
		for k := range l.buckets {
			delete(l.buckets, k)
			return true
		}
	}
	return false
}

// Refund gives back a token that Reserve took for an attempt that was not
// a failure.
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		l.refill(b, l.now())
		if b.tokens++; b.tokens >= l.burst {
			delete(l.buckets, key)
		}
	}
}

// Reset forgets key (a successful login clears the user's failures).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
}

// Len returns how many buckets are kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// AddrKey is the key of a client address in the per-address limiter: the
// address itself for IPv4, its /64 network for IPv6, since one IPv6
// client usually holds a whole /64 and could otherwise change address at
// every attempt.
func AddrKey(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
