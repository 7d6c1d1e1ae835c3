package memcachestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memcachestore"
)

// Example needs a memcached on 127.0.0.1:11211, so it is compiled but not
// run by go test.
func Example() {
	client := memcache.New("127.0.0.1:11211")
	client.Timeout = 200 * time.Millisecond // the longest a session call may wait
	store, err := memcachestore.New(memcachestore.Config{
		Client:    client,
		KeyPrefix: "myapp-session:",
		Server:    "127.0.0.1:11211",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx := context.Background()
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}
	if _, err := store.Save(ctx, "k1", []byte("cart=3"), 0, opts); err != nil {
		log.Fatal(err) // an ErrConflict here: the key exists already
	}
	value, version, err := store.Load(ctx, "k1") // one round trip
	if err != nil {
		log.Fatal(err)
	}
	// A save of the version just loaded is one round trip (a cas).
	if _, err := store.Save(ctx, "k1", []byte("cart=4"), version, opts); err != nil {
		log.Fatal(err)
	}
	// Saving the same, now stale, version again conflicts.
	_, err = store.Save(ctx, "k1", []byte("cart=5"), version, opts)
	fmt.Println(string(value), errors.Is(err, sesame.ErrConflict))
}
