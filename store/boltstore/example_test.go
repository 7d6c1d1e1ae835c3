package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/boltstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "sessions.db")

	store, err := boltstore.New(boltstore.Config{Path: path})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "alice"}

	// Version 0: create, failing if the key exists.
	v1, err := store.Save(ctx, "k1", []byte("cart=3"), 0, opts)
	if err != nil {
		log.Fatal(err)
	}
	// A save based on a version that is no longer stored conflicts.
	v2, _ := store.Save(ctx, "k1", []byte("cart=4"), v1, opts)
	_, err = store.Save(ctx, "k1", []byte("cart=5"), v1, opts)
	fmt.Println("stale save conflicts:", errors.Is(err, sesame.ErrConflict))
	store.Close()

	// Sessions survive a restart, with their versions.
	store, err = boltstore.New(boltstore.Config{Path: path})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	value, version, _ := store.Load(ctx, "k1")
	fmt.Printf("%s, same version: %v\n", value, version == v2)
	sessions, _ := store.UserSessions(ctx, "alice")
	fmt.Println(len(sessions), "session for alice")
	// Output:
	// stale save conflicts: true
	// cart=4, same version: true
	// 1 session for alice
}

// ExampleStore_Sweep removes expired records now rather than waiting for
// the background sweeper.
func ExampleStore_Sweep() {
	dir, _ := os.MkdirTemp("", "sessions")
	defer os.RemoveAll(dir)
	store, err := boltstore.New(boltstore.Config{Path: filepath.Join(dir, "sessions.db"), SweepInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	store.Save(ctx, "gone", []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Minute)})
	store.Save(ctx, "kept", []byte("y"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	n, err := store.Sweep(ctx)
	fmt.Println(n, err)
	// Output: 1 <nil>
}
