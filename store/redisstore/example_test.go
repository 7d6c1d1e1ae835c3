package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/redisstore"
	"github.com/sesame-go/sesame/store/storetest"
)

// Example saves, updates, loads and lists a session in Redis. The same code
// works against a Redis Cluster: list some of its nodes in Addrs.
func Example() {
	store, err := redisstore.New(redisstore.Config{
		Addrs:  []string{"127.0.0.1:6379"},
		Prefix: "example:",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	key := "c2Vzc2lvbi1rZXktZXhhbXBsZQ" // the Manager uses a hash of the session id
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "alice"}
	defer store.Delete(ctx, key)

	// Version 0: create the record; it must not exist yet.
	v1, err := store.Save(ctx, key, []byte("cart=3"), 0, opts)
	if err != nil {
		log.Fatal(err)
	}
	// Replace it, conditional on the version read.
	if _, err := store.Save(ctx, key, []byte("cart=4"), v1, opts); err != nil {
		log.Fatal(err)
	}
	// A writer still holding v1 loses instead of overwriting.
	_, err = store.Save(ctx, key, []byte("cart=0"), v1, opts)
	fmt.Println("stale save conflicts:", errors.Is(err, sesame.ErrConflict))

	value, _, err := store.Load(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("loaded: %s\n", value)

	sessions, err := store.UserSessions(ctx, "alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice's sessions:", len(sessions))
}

// TestExample runs Example against the Redis it names, when there is one.
// (Example has no Output comment, so that go test passes on machines
// without Redis; this is the check.)
func TestExample(t *testing.T) {
	if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second); err != nil {
		storetest.ServerMissing(t, "Redis at 127.0.0.1:6379 is not reachable ("+err.Error()+"); see shared/services.md to start it")
	} else {
		c.Close()
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	func() {
		defer func() { os.Stdout = stdout }()
		Example()
	}()
	w.Close()
	out, _ := io.ReadAll(r)
	const want = "stale save conflicts: true\nloaded: cart=4\nalice's sessions: 1\n"
	if string(out) != want {
		t.Errorf("Example printed:\n%s\nwant:\n%s", out, want)
	}
}
