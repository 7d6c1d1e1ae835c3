package beaker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-go/sesame"
)

// A Codec is a sesame.CookieCodec: with sesame.Config{CookieCodec: codec}
// a Manager serves Beaker sessions through the Session API.
var _ sesame.CookieCodec = (*Codec)(nil)

// beakerAdds bounds what Beaker adds to a session Go wrote when it writes
// it again, in bytes of serialized data: _domain and _path where Go
// wrote none (about 35 bytes, and the path's length), and _accessed_time
// to a few more digits in JSON. It leaves room for a cookie_path of 80
// bytes.
const beakerAdds = 120

// cookieState is what DecodeCookie keeps of a session for EncodeCookie:
// Beaker's keys, and the values as Python wrote them.
type cookieState struct {
	id, domain, path string
	created, expires time.Time // to the microsecond, as the cookie held them
	read             map[string]readValue
}

// readValue is one value as DecodeCookie read it: the JSON the Session
// API saw, and the Python value behind it.
type readValue struct {
	json  json.RawMessage
	value any
}

// DecodeCookie reads a Beaker cookie for a sesame.Manager: Decode, with
// its errors (tampered, expired by Config.Timeout or _expires, refused),
// then the session in the Session API's terms. Each value becomes JSON: str,
// int, float (always with a fraction or an exponent), bool, None, list,
// tuple (as a list) and dict as themselves, bytes as a base64 string and a
// datetime as an RFC 3339 string, as encoding/json writes []byte and
// time.Time, so that Get[[]byte] and Get[time.Time] read them. A str under
// Config.UserKey is the user; a list of str under Config.FlashKey are the
// flash messages. _creation_time is Created, _accessed_time LastSeen, and
// _expires Expires.
func (c *Codec) DecodeCookie(value string) (*sesame.CookieSession, error) {
	s, err := c.Decode(value)
	if err != nil {
		return nil, err
	}
	cs := &sesame.CookieSession{
		Values:   make(map[string]json.RawMessage, len(s.Values)),
		Created:  s.Created,
		LastSeen: s.Accessed,
		Expires:  s.Expires,
	}
	st := &cookieState{id: s.ID, domain: s.Domain, path: s.Path, created: s.Created, expires: s.Expires,
		read: make(map[string]readValue, len(s.Values))}
	for k, v := range s.Values {
		switch k {
		case c.userKey:
			if u, ok := v.(string); ok && u != "" {
				cs.User = u
				continue
			}
		case c.flashKey:
			if msgs, ok := stringList(v); ok {
				cs.Flashes = msgs
				continue
			}
		}
		raw, err := appendJSON(nil, v, apiJSON)
		if err != nil {
			return nil, fmt.Errorf("%w: value of %q: %v", ErrMalformed, k, err)
		}
		cs.Values[k] = raw
		st.read[k] = readValue{json: raw, value: v}
	}
	cs.State = st
	return cs, nil
}

// stringList returns v's items if it is a list of str.
func stringList(v any) ([]string, bool) {
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(items))
	for i, item := range items {
		if out[i], ok = item.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

// EncodeCookie writes a session for a sesame.Manager: the values as they
// were read where the Session API left them unchanged (so that bytes,
// datetimes and floats Python wrote come back as they were), and the
// others from their JSON: str, int (a number without a fraction or an
// exponent), float, bool, None, list and dict. Beaker's keys are kept,
// with a new _id when the Manager asks for one (Login, Renew, a new
// session). _accessed_time is the Manager's LastSeen, _creation_time its
// Created (kept to the microsecond while unchanged), _expires its Expires
// or, when zero, Config.CookieExpires from now. A session Beaker might
// not fit in its cookie when it writes it again on loading it (see the
// package documentation) is refused with an error matching both
// ErrTooLarge and sesame.ErrTooLarge; a value under UserKey or FlashKey
// that is not the one read, or under one of Beaker's keys, with
// ErrInvalidValue.
func (c *Codec) EncodeCookie(cs *sesame.CookieSession) (string, error) {
	st, _ := cs.State.(*cookieState)
	if st == nil {
		st = &cookieState{}
	}
	s := &Session{Values: make(map[string]any, len(cs.Values)+2), Domain: st.domain, Path: st.path}
	if !cs.Renew {
		s.ID = st.id
	}
	for k, raw := range cs.Values {
		if rv, ok := st.read[k]; ok && bytes.Equal(rv.json, raw) {
			s.Values[k] = rv.value
			continue
		}
		switch k {
		case c.userKey:
			return "", fmt.Errorf("%w: %q holds the session's user: use Login", ErrInvalidValue, k)
		case c.flashKey:
			return "", fmt.Errorf("%w: %q holds the flash messages: use Flash", ErrInvalidValue, k)
		}
		v, err := parseJSON(raw)
		if err != nil {
			return "", fmt.Errorf("%w: value of %q: %v", ErrInvalidValue, k, err)
		}
		s.Values[k] = v
	}
	if cs.User != "" {
		s.Values[c.userKey] = cs.User
	}
	if len(cs.Flashes) > 0 {
		msgs := make([]any, len(cs.Flashes))
		for i, m := range cs.Flashes {
			msgs[i] = m
		}
		s.Values[c.flashKey] = msgs
	}
	s.Created = sameMilli(cs.Created, st.created)
	s.Expires = sameMilli(cs.Expires, st.expires)
	v, beakerMax, err := c.encodeAt(s, cs.LastSeen)
	if reload := c.payloadLen(beakerMax + beakerAdds); err == nil && reload > MaxPayloadLength {
		// Beaker writes every session it loads again at once, and
		// raises if that is over its limit: the Python application would
		// fail on every request of this browser.
		err = fmt.Errorf("%w: Beaker could need %d bytes to write the session again, more than the %d it stores", ErrTooLarge, reload, MaxPayloadLength)
	}
	if errors.Is(err, ErrTooLarge) {
		return "", fmt.Errorf("%w: %w", sesame.ErrTooLarge, err)
	}
	if err != nil {
		return "", err
	}
	cs.Expires = s.Expires
	cs.State = &cookieState{id: s.ID, domain: s.Domain, path: s.Path, created: s.Created, expires: s.Expires, read: st.read}
	return v, nil
}

// sameMilli returns exact if t is exact to the millisecond the Manager
// keeps, and t otherwise.
func sameMilli(t, exact time.Time) time.Time {
	if !t.IsZero() && !exact.IsZero() && t.UnixMilli() == exact.UnixMilli() {
		return exact
	}
	return t
}
