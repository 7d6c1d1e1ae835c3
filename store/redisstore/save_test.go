package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// TestSaveWithPastExpiry checks that a record whose expiry has passed (or
// is the zero time) is saved and gone, not an error from Redis.
func TestSaveWithPastExpiry(t *testing.T) {
	addrs := standaloneAddrs()
	needServer(t, "Redis", addrs)
	s := openStore(t, addrs, 0)
	tests := []struct {
		name string
		at   time.Time
	}{
		{"a second ago", time.Now().Add(-time.Second)},
		{"zero time", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := newKey()
			if _, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: tc.at, User: "past"}); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if _, _, err := s.Load(t.Context(), key); !errors.Is(err, sesame.ErrNotFound) {
				t.Fatalf("Load of a record saved already expired: %v; want ErrNotFound", err)
			}
			if recs, err := s.UserSessions(t.Context(), "past"); err != nil || len(recs) != 0 {
				t.Fatalf("UserSessions = %d records, %v; want none", len(recs), err)
			}
		})
	}
}
