package memstore

import (
	"strings"
	"sync"
)

// entry is one stored record. Its value is never modified after Save
// stores it, so Load can hand it out without copying.
type entry struct {
	key     string
	value   []byte
	user    string
	version uint64
	expires int64 // Unix nanoseconds; the record is dead from then on
	index   int   // position in the shard's expiry heap
}

// shard is one independently locked part of a Store: its records, their
// expiry heap, its user index and its version counter.
type shard struct {
	mu      sync.RWMutex
	records map[string]*entry
	expiry  expiryHeap
	users   map[string]map[*entry]struct{} // user → that user's records here
	version uint64                         // last version handed out here

	// The most records and users the maps have held since they were made:
	// Go maps keep their largest size after deletes, so these say how
	// much memory the maps hold (see shrink).
	peakRecords, peakUsers int

	_ [64]byte // keeps neighbouring shards' locks off one cache line
}

func (sh *shard) init() {
	sh.records = make(map[string]*entry)
	sh.users = make(map[string]map[*entry]struct{})
}

// put stores a record under key, over e if it is not nil, and returns its
// new version. The caller holds sh.mu and has checked the version.
func (sh *shard) put(e *entry, key string, value []byte, expires int64, user string) uint64 {
	// A version is never handed out twice by a shard, and a key always
	// lives in the same shard, so a key never sees an old version again.
	sh.version++
	if e == nil {
		e = &entry{key: strings.Clone(key), value: value, version: sh.version, expires: expires}
		sh.records[e.key] = e
		sh.peakRecords = max(sh.peakRecords, len(sh.records))
		sh.expiry.push(e)
	} else {
		e.value, e.version = value, sh.version
		if e.expires != expires {
			e.expires = expires
			sh.expiry.fix(e.index)
		}
	}
	if e.user != user {
		sh.unindex(e)
		e.user = user
		sh.index(e)
	}
	return e.version
}

// remove deletes e from every structure of the shard. The caller holds
// sh.mu.
func (sh *shard) remove(e *entry) {
	delete(sh.records, e.key)
	sh.expiry.remove(e.index)
	sh.unindex(e)
}

// index files e under its user, if it has one.
func (sh *shard) index(e *entry) {
	if e.user == "" {
		return
	}
	set := sh.users[e.user]
	if set == nil {
		set = make(map[*entry]struct{})
		sh.users[e.user] = set
		sh.peakUsers = max(sh.peakUsers, len(sh.users))
	}
	set[e] = struct{}{}
}

// unindex removes e from its user's set, and the set when it empties.
func (sh *shard) unindex(e *entry) {
	if e.user == "" {
		return
	}
	set := sh.users[e.user]
	delete(set, e)
	if len(set) == 0 {
		delete(sh.users, e.user)
	}
}
