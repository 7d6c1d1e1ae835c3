package ticket

import (
	"errors"
	"math"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary cookie values to Parse, in both formats. It
// must never panic, must refuse oversized values as ErrTooLarge, must fail
// only with its sentinel errors, and what it accepts must survive a
// re-issue unchanged. The seed corpus is in testdata/fuzz/FuzzParse, plus
// the vectors in every form Parse reads.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.Cookie)
		f.Add(v.Raw)
		if v.Zope != "" {
			f.Add(v.Zope)
			f.Add(`"` + v.Zope + `"`)
		}
	}
	codecs := []*Codec{
		mustNew(f, Config{Now: fixedNow(t0), Timeout: -1, MaxLength: 512}),
		mustNew(f, Config{Digest: LegacyMD5, IgnoreIP: true, Now: fixedNow(t0), Timeout: -1, MaxLength: 512}),
		mustNew(f, Config{Secret: "0e1d79e1-c18b-43c5-bfd6-a396e13bf39c", Digest: SHA512, IgnoreIP: true, Now: fixedNow(t0)}),
		mustNew(f, Config{Format: Plone, IgnoreIP: true, Now: fixedNow(t0), Timeout: -1, MaxLength: 512}),
		mustNew(f, Config{Format: Plone, Digest: LegacyMD5, Now: fixedNow(t0), Timeout: -1}),
	}
	sentinels := []error{ErrTooLarge, ErrMalformed, ErrBadSignature, ErrExpired, ErrNotYetValid, ErrNotIPv4}
	f.Fuzz(func(t *testing.T, value string) {
		for _, k := range codecs {
			tk, _, err := k.Parse(value, loopback)
			if len(value) > k.maxLen && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("oversized value (%d bytes): err = %v", len(value), err)
			}
			if err != nil {
				known := false
				for _, s := range sentinels {
					known = known || errors.Is(err, s)
				}
				if !known {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			v, err := k.Issue(tk, loopback)
			if err != nil {
				continue // Apache-compatible input Issue would not write, e.g. a control character in the uid
			}
			again, _, err := k.Parse(v, loopback)
			if err != nil || !reflect.DeepEqual(again, tk) {
				t.Fatalf("re-issue changed the ticket: %+v -> %+v (%v)", tk, again, err)
			}
		}
	})
}

// FuzzCookieValues feeds arbitrary Cookie headers to the reader behind
// Authenticate. It must never panic, must return at most the bound, only
// non-empty values without ";" or surrounding white space, and must find
// every non-empty value net/http finds under the name (it may find more:
// the raw tickets net/http drops).
func FuzzCookieValues(f *testing.F) {
	f.Add("auth_tkt=abc", "")
	f.Add("a=1; auth_tkt=\"quoted\"; auth_tkt=; auth_tkt=j\xc3\xb6rg!x", "auth_tkt= b ")
	f.Add(";;=; auth_tkt; ==; xauth_tkt=1;auth_tkt=2", "auth_tkt=\"\"")
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		h := http.Header{"Cookie": {line1, line2}}
		for _, max := range []int{1, maxCandidates} {
			if got := cookieValues(h, DefaultCookieName, max); len(got) > max {
				t.Fatalf("%d values, bound %d", len(got), max)
			}
		}
		ours := cookieValues(h, DefaultCookieName, math.MaxInt)
		for _, v := range ours {
			if v == "" || v == `""` || strings.Contains(v, ";") || textproto.TrimString(v) != v {
				t.Fatalf("bad value %q", v)
			}
		}
		r := &http.Request{Header: h}
		i := 0
		for _, c := range r.CookiesNamed(DefaultCookieName) {
			if c.Value == "" {
				continue
			}
			for i < len(ours) && !sameCookieValue(c, ours[i]) {
				i++
			}
			if i == len(ours) {
				t.Fatalf("net/http finds %q (quoted %v), cookieValues only %q", c.Value, c.Quoted, ours)
			}
			i++
		}
	})
}

// sameCookieValue reports whether net/http's c and our raw value v are one
// cookie: net/http strips the quotes and keeps white space after "=".
func sameCookieValue(c *http.Cookie, v string) bool {
	if c.Quoted {
		return `"`+c.Value+`"` == v
	}
	return textproto.TrimString(c.Value) == v
}
