package limit

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(Config{Burst: 3, Every: 10 * time.Second, Max: 2, Now: func() time.Time { return now }})
	steps := []struct {
		op, key string
		advance time.Duration
		want    error
		wait    time.Duration // if not 0, Reserve's wait
		len     int           // if not 0, Len afterwards
	}{
		{"reserve", "a", 0, nil, 0, 1},
		{"reserve", "a", 0, nil, 0, 0},
		{"refund", "a", 0, nil, 0, 0}, // a success gives its token back
		{"reserve", "a", 0, nil, 0, 0},
		{"reserve", "a", 0, nil, 0, 0},
		{"reserve", "a", 0, ErrLimited, 10 * time.Second, 0}, // three failures used the burst
		{"reserve", "a", 9 * time.Second, ErrLimited, time.Second, 0},
		{"reserve", "a", 1 * time.Second, nil, 0, 0}, // one token back after 10s
		{"reserve", "a", 0, ErrLimited, 0, 0},
		{"reserve", "b", 0, nil, 0, 2},                    // another key is independent; the table is full
		{"reserve", "c", 0, ErrFull, 10 * time.Second, 2}, // a and b still limit: neither is forgotten
		{"reserve", "c", 9 * time.Second, ErrFull, time.Second, 2},
		{"reserve", "c", 1 * time.Second, nil, 0, 2}, // b filled up again and made room
		{"reserve", "a", 0, nil, 0, 2},               // a kept its state: one token, not three
		{"reserve", "a", 0, ErrLimited, 0, 2},
		{"refund", "c", 0, nil, 0, 1}, // c is full again: dropped
		{"reset", "a", 0, nil, 0, -1},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		switch st.op {
		case "refund":
			l.Refund(st.key)
		case "reset":
			l.Reset(st.key)
		default:
			wait, err := l.Reserve(st.key)
			if err != st.want || (err != nil && wait <= 0) || (st.wait != 0 && (wait-st.wait).Abs() > time.Millisecond) {
				t.Errorf("step %d: Reserve(%q) = %v, %v; want %v, %v", i, st.key, wait, err, st.want, st.wait)
			}
		}
		if n := l.Len(); st.len != 0 && n != max(0, st.len) {
			t.Errorf("step %d: Len %d, want %d", i, n, max(0, st.len))
		}
	}

	// Stand-in buckets forget one of theirs rather than refuse.
	f := New(Config{Burst: 3, Every: 10 * time.Second, Max: 2, Forgetful: true})
	for _, k := range []string{"x", "y", "z", "w"} {
		if _, err := f.Reserve(k); err != nil {
			t.Errorf("forgetful Reserve(%q): %v", k, err)
		}
	}
	if f.Len() != 2 {
		t.Errorf("forgetful Len %d, want 2", f.Len())
	}
}

func TestAddrKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"::1", "::/64"},
	}
	for _, tt := range tests {
		if got := AddrKey(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("AddrKey(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
