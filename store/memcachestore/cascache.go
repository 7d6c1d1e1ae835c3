package memcachestore

import (
	"sync"
	"time"
)

// casCache remembers, for recently loaded keys, the version read and the
// item's CAS id, so that a Save of that version can go straight to a cas.
// It holds at most max entries; when full, it forgets an arbitrary one (Go
// randomises map iteration). All methods are safe on a nil cache, which
// remembers nothing.
type casCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]casEntry
}

// casEntry is what a Load saw.
type casEntry struct {
	version uint64
	expires uint64 // the record's expiry, Unix nanoseconds; 0: never
	id      uint64 // memcached's CAS id of the item
}

func (e casEntry) expired(now time.Time) bool {
	return header{version: e.version, expires: e.expires}.expired(now)
}

func newCASCache(max int) *casCache {
	return &casCache{max: max, entries: make(map[string]casEntry)}
}

// put remembers e for key, replacing what was there.
func (c *casCache) put(key string, e casEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = e
}

// take returns and forgets the entry for key if it is for version.
func (c *casCache) take(key string, version uint64) (casEntry, bool) {
	if c == nil {
		return casEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.version != version {
		return casEntry{}, false
	}
	delete(c.entries, key)
	return e, true
}

// drop forgets the entry for key.
func (c *casCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// clear forgets everything.
func (c *casCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// len returns how many entries the cache holds.
func (c *casCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
