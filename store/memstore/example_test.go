package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

func Example() {
	store, err := memstore.New(memstore.Config{SweepInterval: 5 * time.Minute})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	ctx := context.Background()
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "alice"}

	// Version 0: create, failing if the key exists.
	v1, err := store.Save(ctx, "k1", []byte("cart=3"), 0, opts)
	if err != nil {
		panic(err)
	}
	value, version, _ := store.Load(ctx, "k1")
	fmt.Printf("%s (same version: %v)\n", value, version == v1)

	// A save based on what was read succeeds once; a second save based on
	// the same, now stale, version conflicts.
	if _, err := store.Save(ctx, "k1", []byte("cart=4"), v1, opts); err != nil {
		panic(err)
	}
	_, err = store.Save(ctx, "k1", []byte("cart=5"), v1, opts)
	fmt.Println(errors.Is(err, sesame.ErrConflict))

	sessions, _ := store.UserSessions(ctx, "alice")
	fmt.Println(len(sessions), "session for alice")
	// Output:
	// cart=3 (same version: true)
	// true
	// 1 session for alice
}
