package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// callTimeout is the deadline of each call in the fault tests; a call
// must return within it plus failSlack, server or no server.
const (
	callTimeout = time.Second
	failSlack   = 500 * time.Millisecond
)

// viaProxy returns a pool to the test server through a new proxy.
func viaProxy(t *testing.T) (*sql.DB, *proxy) {
	cfg := testConfig(t)
	p := startProxy(t, cfg.Addr)
	cfg.Addr = p.addr()
	cfg.Timeout = callTimeout
	db := open(t, cfg)
	db.SetMaxOpenConns(4)
	return db, p
}

// TestFaultConnectionCut cuts the connection to the server in the middle
// of traffic and restores it: a network fault, made with a proxy so the
// server other tests share keeps running.
func TestFaultConnectionCut(t *testing.T) {
	table := newTable(t, testDB(t))
	before := runtime.NumGoroutine()
	db, p := viaProxy(t)
	faultTraffic(t, db, table, func() {
		p.set("down")
		time.Sleep(700 * time.Millisecond)
		p.set("up")
	})
	db.Close()
	p.close()
	waitGoroutines(t, before)
}

// TestFaultServerHangs makes the server accept connections and never
// answer: calls must give up at their deadline.
func TestFaultServerHangs(t *testing.T) {
	table := newTable(t, testDB(t))
	db, p := viaProxy(t)
	s, err := New(db, Config{Table: table, Server: "proxy " + p.addr(), SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := newKey()
	v, err := s.Save(t.Context(), key, []byte("before"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p.set("hang")
	for _, call := range calls(s, key, v) {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		start := time.Now()
		err := call.do(ctx)
		cancel()
		// A call that meets a connection the cut closed fails at once;
		// one that opens a new connection waits for its deadline.
		if err == nil {
			t.Errorf("%s on a hung server succeeded", call.name)
		}
		t.Logf("%s on a hung server: %v", call.name, err)
		if d := time.Since(start); d > 300*time.Millisecond+failSlack {
			t.Errorf("%s on a hung server returned after %v; its deadline was 300 ms", call.name, d)
		}
	}
	p.set("up")
	waitUp(t, s, key)
	got, gotV, err := s.Load(t.Context(), key)
	if err != nil || gotV != v || string(got) != "before" {
		t.Fatalf("after the hang: Load = %q, %d, %v; want %q, %d", got, gotV, err, "before", v)
	}
}

// TestFaultServerRestart really restarts the local MariaDB server in the
// middle of traffic: it stops it with mariadb-admin shutdown and starts it
// again with start-stop-daemon, as .ci/services.sh does. It disturbs every
// other user of the server, so it runs only when SESAME_RESTART_SERVERS=1
// (for a CI machine of its own).
func TestFaultServerRestart(t *testing.T) {
	if os.Getenv("SESAME_RESTART_SERVERS") != "1" {
		t.Skip("restarts the shared MariaDB server; set SESAME_RESTART_SERVERS=1 to run it")
	}
	table := newTable(t, testDB(t))
	cfg := testConfig(t)
	cfg.Timeout = callTimeout
	db := open(t, cfg)
	defer db.Close()
	faultTraffic(t, db, table, func() {
		for _, cmd := range [][]string{
			{"mariadb-admin", "shutdown"},
			{"start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"},
		} {
			if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
			}
		}
	})
}

// faultTraffic saves records, runs traffic from several goroutines, makes
// the fault (which must end with the server reachable again), and then
// checks that calls during the fault failed fast with clear errors, that
// the store works again, and that no record saved before or during the
// fault was lost.
func faultTraffic(t *testing.T, db *sql.DB, table string, fault func()) {
	s, err := New(db, Config{Table: table, Server: "via the fault proxy", SweepInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	live := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "fault"}
	type record struct {
		value   []byte
		version uint64
	}
	saved := map[string]record{}
	for i := range 20 {
		key, value := newKey(), []byte("before the fault "+strconv.Itoa(i))
		v, err := s.Save(ctx, key, value, 0, live)
		if err != nil {
			t.Fatal(err)
		}
		saved[key] = record{value, v}
	}
	keys := make([]string, 0, len(saved))
	for k := range saved {
		keys = append(keys, k)
	}

	var (
		mu       sync.Mutex
		failures int
		slowest  time.Duration
		example  error
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 100000; i++ { // bounded; stop ends it sooner
				select {
				case <-stop:
					return
				default:
				}
				key, value := newKey(), []byte(fmt.Sprintf("during the fault %d/%d", w, i))
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				start := time.Now()
				v, err := s.Save(cctx, key, value, 0, live)
				if err == nil {
					_, _, err = s.Load(cctx, keys[i%len(keys)])
				}
				d := time.Since(start)
				cancel()
				mu.Lock()
				if err == nil {
					saved[key] = record{value, v}
				} else {
					failures++
					slowest = max(slowest, d)
					if example == nil {
						example = err
					}
					if !strings.Contains(err.Error(), "mysqlstore") || !strings.Contains(err.Error(), "MySQL") {
						t.Errorf("error during the fault does not say it is mysqlstore's and MySQL's: %v", err)
					}
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	fault()
	waitUp(t, s, keys[0])
	time.Sleep(200 * time.Millisecond) // some traffic after the fault
	close(stop)
	wg.Wait()

	t.Logf("%d calls failed during the fault, the slowest after %v; for example: %v", failures, slowest.Round(time.Millisecond), example)
	if failures == 0 {
		t.Error("no call failed while the server was unreachable")
	}
	if slowest > 2*callTimeout+failSlack {
		t.Errorf("a failing Save+Load took %v; each call's deadline was %v", slowest, callTimeout)
	}
	for key, r := range saved {
		value, v, err := s.Load(ctx, key)
		if err != nil || v != r.version || !bytes.Equal(value, r.value) {
			t.Fatalf("after the fault, Load(%s) = %q, %d, %v; want %q, %d", key[:8], value, v, err, r.value, r.version)
		}
	}
	t.Logf("all %d records saved before and during the fault load after it", len(saved))
}

// waitUp waits up to 15 s for Load of key to succeed again.
func waitUp(t *testing.T, s *Store, key string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
		_, _, err := s.Load(ctx, key)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not work again within 15 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// calls are the store's methods, for tests that try each.
func calls(s *Store, key string, version uint64) []struct {
	name string
	do   func(ctx context.Context) error
} {
	live := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}
	return []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"Load", func(ctx context.Context) error { _, _, err := s.Load(ctx, key); return err }},
		{"Save", func(ctx context.Context) error { _, err := s.Save(ctx, key, []byte("x"), version, live); return err }},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, newKey()) }},
		{"UserSessions", func(ctx context.Context) error { _, err := s.UserSessions(ctx, "u"); return err }},
		{"DeleteUser", func(ctx context.Context) error { return s.DeleteUser(ctx, "nobody") }},
		{"Sweep", func(ctx context.Context) error { _, err := s.Sweep(ctx); return err }},
	}
}
