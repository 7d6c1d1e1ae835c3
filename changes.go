package sesame

import (
	"encoding/binary"
	"slices"
)

// opKind is the kind of one entry in a request's change log.
type opKind uint8

const (
	opSet    opKind = iota // key = value
	opDelete               // key removed
	opClear                // every key removed
	opFlash                // value appended to the flash list
)

// op is one change a request made. The log of them is applied over the
// record the request read, and applied again over a fresher one when a
// concurrent request saved first.
type op struct {
	kind  opKind
	key   string
	value []byte
}

// flashKey holds the flash messages; data keys cannot start with NUL.
const flashKey = "\x00flash"

// persistChange is what RememberMe asked of the cookie.
type persistChange uint8

const (
	persistUnchanged persistChange = iota
	persistOn                      // the cookie lasts until the absolute deadline
	persistOff                     // the cookie ends with the browser session
)

// changeLog is what a request changed since its session was loaded or
// last saved: the data changes, and what to do to the session itself.
// Commit applies it over the record read, and again over a fresher one
// when another request saved first.
type changeLog struct {
	ops   []op
	login string // bind to this user, restart the clocks, record the client

	// notBefore, for sealed sessions: the session must begin after this
	// revocation mark (set by RevokeOthers and by a Login that read it).
	notBefore int64

	// ended is the store key of a session this request destroyed, to
	// delete. loggedOut describes a logged-in session this request saw
	// end (destroyed, revoked, found expired, or named by a cookie that
	// no longer names a live session: then it is zero, its user unknown),
	// for the hooks. Both outlive forget.
	ended     string
	loggedOut *SessionInfo

	renew   bool          // give the session a new id
	persist persistChange // RememberMe
}

// dirty reports whether the request changed anything that must be saved.
func (c *changeLog) dirty() bool {
	return len(c.ops) > 0 || c.renew || c.login != "" || c.persist != persistUnchanged || c.notBefore != 0
}

// forget drops the request's pending changes to the session.
func (c *changeLog) forget() {
	c.ops, c.renew, c.login, c.persist, c.notBefore = c.ops[:0], false, "", persistUnchanged, 0
}

// current returns the value key has now: the last change the request made
// to it, or what the record holds, plus any flash messages appended since.
func (s *Session) current(key string) ([]byte, bool) {
	i := len(s.log.ops) - 1
	for ; i >= 0; i-- {
		o := &s.log.ops[i]
		if o.kind == opClear || (o.key == key && o.kind != opFlash) {
			break
		}
	}
	var v []byte
	ok := false
	switch {
	case i < 0:
		v, ok = s.cur.rec.lookup(key)
	case s.log.ops[i].kind == opSet:
		v, ok = s.log.ops[i].value, true
	}
	if key == flashKey {
		for _, o := range s.log.ops[i+1:] {
			if o.kind == opFlash {
				v, ok = appendJSONArray(v, o.value), true
			}
		}
	}
	return v, ok
}

// appendJSONArray returns a new JSON array: list (a JSON array, or nil)
// with elem appended.
func appendJSONArray(list, elem []byte) []byte {
	out := make([]byte, 0, len(list)+len(elem)+2)
	if len(list) >= 2 && list[len(list)-1] == ']' {
		out = append(out, list[:len(list)-1]...)
		if len(list) > 2 {
			out = append(out, ',')
		}
	} else {
		out = append(out, '[')
	}
	out = append(out, elem...)
	return append(out, ']')
}

// entryIter walks the entries the session holds now, in a stable order:
// the record's first, then new keys in the order they were first set. A
// key from the record comes as bytes aliasing it (kb), a new one as a
// string (ks), so that walking allocates nothing.
type entryIter struct {
	s       *Session
	d       decoder
	base    int // record entries still to read
	op      int // next op to look at
	cleared bool
}

func (s *Session) iter() entryIter {
	it := entryIter{s: s, d: decoder{b: s.cur.rec.data}, base: int(s.cur.rec.n)}
	for _, o := range s.log.ops {
		it.cleared = it.cleared || o.kind == opClear
	}
	if it.cleared {
		it.base = 0
	}
	return it
}

func (it *entryIter) next() (kb []byte, ks string, v []byte, ok bool) {
	s := it.s
	for it.base > 0 {
		it.base--
		k := it.d.bytes(maxDataKeyLen)
		v := it.d.bytes(len(it.d.b))
		if !s.changed(string(k), len(s.log.ops)) {
			return k, "", v, true
		}
		if cv, ok := s.current(string(k)); ok {
			return k, "", cv, true
		}
	}
	for it.op < len(s.log.ops) {
		o := &s.log.ops[it.op]
		it.op++
		if o.kind == opClear || s.changed(o.key, it.op-1) {
			continue // a clear, or a key already seen
		}
		if !it.cleared {
			if _, inRecord := s.cur.rec.lookup(o.key); inRecord {
				continue
			}
		}
		if cv, ok := s.current(o.key); ok {
			return nil, o.key, cv, true
		}
	}
	return nil, "", nil, false
}

// changed reports whether any of the first n ops names key.
func (s *Session) changed(key string, n int) bool {
	for _, o := range s.log.ops[:n] {
		if o.kind != opClear && o.key == key {
			return true
		}
	}
	return false
}

// keys returns every key the session holds now, in a stable order.
func (s *Session) keys() []string {
	var keys []string
	it := s.iter()
	for {
		kb, ks, _, ok := it.next()
		switch {
		case !ok:
			return keys
		case kb != nil:
			keys = append(keys, string(kb))
		default:
			keys = append(keys, ks)
		}
	}
}

// encode returns the record to save: header h and the data as it stands.
// It also points h's data region into the result, so that h describes
// the encoded record exactly (see adopt).
func (s *Session) encode(h *record) []byte {
	size := 48 + len(h.user) + len(h.userAgent) + len(h.ip) + len(h.binding) + len(s.cur.rec.data)
	for _, o := range s.log.ops {
		size += len(o.key) + len(o.value) + 4
	}
	// The entry count ends the header but is known only after the walk:
	// write 0, a one-byte varint, and patch it (widening it only for
	// sessions of 128 keys or more).
	b := appendRecordHeader(make([]byte, 0, size), h, 0)
	countAt, count := len(b)-1, 0
	for it := s.iter(); ; count++ {
		kb, ks, v, ok := it.next()
		switch {
		case !ok:
			var v [binary.MaxVarintLen64]byte
			n := binary.PutUvarint(v[:], uint64(count))
			b = slices.Replace(b, countAt, countAt+1, v[:n]...)
			h.data, h.n = b[countAt+n:], int32(count)
			return b
		case kb != nil:
			b = appendEntry(b, kb, v)
		default:
			b = appendEntry(b, ks, v)
		}
	}
}
