package main

import (
	"container/list"
	"sync"
	"time"
)

// limiter is a set of token buckets, one per key (a user name or a client
// address), holding at most max keys: when full, the least recently used
// bucket is forgotten. Forgetting a bucket only ever gives its key a full
// bucket again, so an attacker flooding it with new keys can reset buckets
// but never grow memory.
type limiter struct {
	burst float64       // bucket size
	every time.Duration // one token comes back this often
	max   int
	now   func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element
	lru   list.List // of *bucket, most recent at front
}

type bucket struct {
	key    string
	tokens float64
	at     time.Time
}

func newLimiter(burst int, every time.Duration, max int) *limiter {
	return &limiter{burst: float64(burst), every: every, max: max, now: time.Now, items: map[string]*list.Element{}}
}

// refill brings b's tokens up to now.
func (l *limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
	}
	b.at = now
}

// Reserve takes a token from key's bucket before an attempt is checked,
// so that attempts made at the same time cannot all pass: it reports
// whether there was one, and if not, how long until there will be. An
// attempt that succeeds gives its token back with Refund or Reset.
func (l *limiter) Reserve(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e, ok := l.items[key]
	if !ok {
		if l.lru.Len() >= l.max {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.items, old.Value.(*bucket).key)
		}
		e = l.lru.PushFront(&bucket{key: key, tokens: l.burst, at: now})
		l.items[key] = e
	} else {
		l.lru.MoveToFront(e)
	}
	b := e.Value.(*bucket)
	l.refill(b, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return true, 0
}

// Refund gives back a token that Reserve took for an attempt that was not
// a failure.
func (l *limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[key]; ok {
		b := e.Value.(*bucket)
		l.refill(b, l.now())
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// Reset forgets key (a successful login clears the user's failures).
func (l *limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[key]; ok {
		l.lru.Remove(e)
		delete(l.items, key)
	}
}

// Len returns how many buckets are kept.
func (l *limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
