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

// Allow reports whether key has a token left, without taking one, and if
// not, how long until it will.
func (l *limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.items[key]
	if !ok {
		return true, 0
	}
	b := e.Value.(*bucket)
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.every))
}

// Take removes a token from key's bucket (a failed attempt).
func (l *limiter) Take(key string) {
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
	b.tokens = max(0, b.tokens-1)
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
