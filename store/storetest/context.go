package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// doneContexts are contexts that are over before a call starts, with the
// error a store must wrap when it is handed one.
func doneContexts(t *testing.T) []struct {
	name string
	ctx  context.Context
	want error
} {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel2)
	return []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline passed", expired, context.DeadlineExceeded},
	}
}

// testDoneContext checks that every method gives up on a context that is
// already done, with an error that says so, and changes nothing.
func testDoneContext(t *testing.T, s sesame.Store) {
	for _, c := range doneContexts(t) {
		t.Run(c.name, func(t *testing.T) {
			key := newKey()
			v := save(t, s, key, []byte("kept"), 0, live(""))
			for _, o := range []op{
				storeOps[0], // Load
				{"Save", func(ctx context.Context, s sesame.Store, key string) error {
					_, err := s.Save(ctx, key, []byte("changed"), v, live(""))
					return err
				}},
				storeOps[2], // Delete
			} {
				if err := o.call(c.ctx, s, key); !errors.Is(err, c.want) {
					t.Errorf("%s with a %s context: error %v; want an error wrapping %v", o.name, c.name, err, c.want)
				}
			}
			wantRecord(t, s, key, []byte("kept"), v)

			// Creating a new record fails the same way.
			other := newKey()
			if err := storeOps[1].call(c.ctx, s, other); !errors.Is(err, c.want) {
				t.Errorf("Save of a new key with a %s context: error %v; want an error wrapping %v", c.name, err, c.want)
			}
			wantNotFound(t, s, other)
		})
	}
}
