package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/filestore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := filestore.New(filestore.Config{Dir: dir, SweepInterval: 10 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "alice"}

	// Version 0: create the record; it must not exist yet.
	v1, err := store.Save(ctx, "key-1", []byte("cart=3"), 0, opts)
	if err != nil {
		log.Fatal(err)
	}
	// Replace it, conditional on the version read.
	if _, err := store.Save(ctx, "key-1", []byte("cart=4"), v1, opts); err != nil {
		log.Fatal(err)
	}
	// A writer still holding v1 loses instead of overwriting.
	_, err = store.Save(ctx, "key-1", []byte("cart=0"), v1, opts)
	fmt.Println("stale write conflicts:", errors.Is(err, sesame.ErrConflict))

	value, _, err := store.Load(ctx, "key-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("value: %s\n", value)

	sessions, err := store.UserSessions(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice's sessions:", len(sessions))
	// Output:
	// stale write conflicts: true
	// value: cart=4
	// alice's sessions: 1
}
