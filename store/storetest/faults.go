package storetest

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// Defaults of NetworkFaults.
const (
	// DefaultCallTimeout is NetworkFaults.CallTimeout when it is zero.
	DefaultCallTimeout = time.Second
	// DefaultSlack is NetworkFaults.Slack when it is zero.
	DefaultSlack = 500 * time.Millisecond
)

// hangDeadline is the deadline of each call to a hung server.
const hangDeadline = 300 * time.Millisecond

// NetworkFaults describes a store that talks to a server over TCP, for
// RunNetworkFaults and RunTraffic.
type NetworkFaults struct {
	// Server is the host:port of the running server the store uses.
	// RunNetworkFaults puts a Proxy in front of it.
	Server string

	// NewStore returns a store on a fresh, empty namespace (table, key
	// prefix, database) of the server that reaches it only through addr,
	// a Proxy's address. Its client should use CallTimeout as its connect
	// timeout and keep at most a few connections. A store with background
	// work (a sweeper) should run it often, every 50 ms or so, so that the
	// faults meet it too. NewStore must release everything it starts (the
	// store, its connection pool) with t.Cleanup: once those cleanups have
	// run, no goroutine NewStore started may be left. Work done on another
	// client whose goroutines outlive the test (creating the table with a
	// pool shared by the whole test binary, say) is fine, provided that
	// client was started before RunNetworkFaults was called.
	NewStore func(t *testing.T, addr string) sesame.Store

	// ErrorMentions are strings that every error a call returns during a
	// fault must contain, so that whoever reads it in a log knows where it
	// came from: typically the package name and the server's product, as
	// in {"pgstore", "PostgreSQL"}.
	ErrorMentions []string

	// CallTimeout is the deadline of each call made during a fault
	// (DefaultCallTimeout when zero).
	CallTimeout time.Duration

	// Slack is how much later than its deadline a failing call may return,
	// for slow and shared machines and the race detector (DefaultSlack
	// when zero).
	Slack time.Duration

	// MoreCalls are methods of the store beyond sesame.Store and
	// sesame.UserIndex (which RunNetworkFaults tries by itself) that must
	// also give up on a hung server at their deadline, a Sweep for example.
	MoreCalls []Call
}

// Call is one method of a store, for the checks that try each: Do calls
// it on s with ctx and returns its error.
type Call struct {
	Name string
	Do   func(ctx context.Context, s sesame.Store) error
}

// RunNetworkFaults checks that a store whose server becomes unreachable
// fails fast and clearly, and loses nothing. Through a Proxy to f.Server
// it runs these subtests:
//
//   - ConnectionCut: traffic from several goroutines while the proxy cuts
//     every connection for 700 ms and then restores it, checked as
//     RunTraffic describes; then, once the store and the proxy are
//     released, no goroutine of theirs may be left.
//   - ServerHangs: with the proxy accepting connections and never
//     answering, every method (Load, Save, Delete, the sesame.UserIndex
//     methods when the store has them, and f.MoreCalls) must fail within
//     its 300 ms deadline plus f.Slack; after Restore, the record saved
//     before the hang loads unchanged.
//
// Nothing may panic. The server keeps running throughout, so other tests
// that share it are not disturbed.
func RunNetworkFaults(t *testing.T, f NetworkFaults) {
	t.Helper()
	if f.NewStore == nil || f.Server == "" {
		t.Fatal("storetest: NetworkFaults needs NewStore and Server")
	}
	f = f.withDefaults()
	t.Run("ConnectionCut", func(t *testing.T) {
		before := runtime.NumGoroutine()
		// The store, its pool and the proxy live in a subtest, so that
		// their cleanups have run when the goroutines are counted.
		t.Run("Traffic", func(t *testing.T) {
			p := StartProxy(t, f.Server)
			s := fresh(t, func(t *testing.T) sesame.Store { return f.NewStore(t, p.Addr()) })
			f.RunTraffic(t, s, func() {
				p.Cut()
				time.Sleep(700 * time.Millisecond)
				p.Restore()
			})
		})
		WaitGoroutines(t, before)
	})
	t.Run("ServerHangs", func(t *testing.T) {
		p := StartProxy(t, f.Server)
		s := fresh(t, func(t *testing.T) sesame.Store { return f.NewStore(t, p.Addr()) })
		f.serverHangs(t, s, p)
	})
}

func (f NetworkFaults) withDefaults() NetworkFaults {
	if f.CallTimeout <= 0 {
		f.CallTimeout = DefaultCallTimeout
	}
	if f.Slack <= 0 {
		f.Slack = DefaultSlack
	}
	return f
}

// serverHangs tries each method of s on a hung server.
func (f NetworkFaults) serverHangs(t *testing.T, s sesame.Store, p *Proxy) {
	key := newKey()
	v, err := s.Save(t.Context(), key, []byte("before"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p.Hang()
	for _, call := range f.calls(s, key, v) {
		ctx, cancel := context.WithTimeout(t.Context(), hangDeadline)
		start := time.Now()
		err := call.Do(ctx, s)
		cancel()
		// A call that meets a connection the hang closed fails at once;
		// one that opens a new connection waits for its deadline.
		if err == nil {
			t.Errorf("%s on a hung server succeeded", call.Name)
		}
		t.Logf("%s on a hung server: %v", call.Name, err)
		if d := time.Since(start); d > hangDeadline+f.Slack {
			t.Errorf("%s on a hung server returned after %v; its deadline was %v", call.Name, d, hangDeadline)
		}
	}
	p.Restore()
	f.waitUp(t, s, key)
	got, gotV, err := s.Load(t.Context(), key)
	if err != nil || gotV != v || string(got) != "before" {
		t.Fatalf("after the hang: Load = %q, %d, %v; want %q, %d", got, gotV, err, "before", v)
	}
}

// calls are the methods of s for serverHangs to try: Save replaces key at
// version, Delete deletes a missing key.
func (f NetworkFaults) calls(s sesame.Store, key string, version uint64) []Call {
	live := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}
	calls := []Call{
		{"Load", func(ctx context.Context, s sesame.Store) error { _, _, err := s.Load(ctx, key); return err }},
		{"Save", func(ctx context.Context, s sesame.Store) error {
			_, err := s.Save(ctx, key, []byte("x"), version, live)
			return err
		}},
		{"Delete", func(ctx context.Context, s sesame.Store) error { return s.Delete(ctx, newKey()) }},
	}
	if _, ok := s.(sesame.UserIndex); ok {
		calls = append(calls,
			Call{"UserSessions", func(ctx context.Context, s sesame.Store) error {
				_, err := s.(sesame.UserIndex).UserSessions(ctx, "u")
				return err
			}},
			Call{"DeleteUser", func(ctx context.Context, s sesame.Store) error {
				return s.(sesame.UserIndex).DeleteUser(ctx, "nobody")
			}},
		)
	}
	return append(calls, f.MoreCalls...)
}

// RunTraffic saves 20 records in s, runs Save and Load traffic on it from
// four goroutines, makes fault in the middle of it, and checks that:
//
//   - some calls failed during the fault (fault must make the server
//     unreachable for a while), each Save and Load pair within twice
//     f.CallTimeout plus f.Slack, with an error that contains every one
//     of f.ErrorMentions;
//   - the store works again within 15 s of the fault's end (fault must
//     leave the server reachable);
//   - every record saved before or during the fault loads after it with
//     its value and version.
//
// RunNetworkFaults calls it with a proxy's cut as the fault; a store's own
// tests may call it with others, a real restart of the server for
// example. s should be on a fresh namespace.
func (f NetworkFaults) RunTraffic(t *testing.T, s sesame.Store, fault func()) {
	t.Helper()
	f = f.withDefaults()
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
				cctx, cancel := context.WithTimeout(ctx, f.CallTimeout)
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
					if missing := f.unmentioned(err); len(missing) > 0 {
						t.Errorf("error during the fault does not mention %q: %v", missing, err)
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
	f.waitUp(t, s, keys[0])
	time.Sleep(200 * time.Millisecond) // some traffic after the fault
	close(stop)
	wg.Wait()

	t.Logf("%d calls failed during the fault, the slowest after %v; for example: %v", failures, slowest.Round(time.Millisecond), example)
	if failures == 0 {
		t.Error("no call failed while the server was unreachable")
	}
	if slowest > 2*f.CallTimeout+f.Slack {
		t.Errorf("a failing Save+Load took %v; each call's deadline was %v", slowest, f.CallTimeout)
	}
	for key, r := range saved {
		value, v, err := s.Load(ctx, key)
		if err != nil || v != r.version || !bytes.Equal(value, r.value) {
			t.Fatalf("after the fault, Load(%s) = %q, %d, %v; want %q, %d", short(key), value, v, err, r.value, r.version)
		}
	}
	t.Logf("all %d records saved before and during the fault load after it", len(saved))
}

// unmentioned returns the strings of f.ErrorMentions that err lacks.
func (f NetworkFaults) unmentioned(err error) []string {
	var missing []string
	for _, m := range f.ErrorMentions {
		if !strings.Contains(err.Error(), m) {
			missing = append(missing, m)
		}
	}
	return missing
}

// waitUp waits up to 15 s for Load of key to succeed again.
func (f NetworkFaults) waitUp(t *testing.T, s sesame.Store, key string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), f.CallTimeout)
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

// WaitGoroutines waits up to 5 s for runtime.NumGoroutine to fall back to
// want, a count taken before the code under test started, and fails the
// test with every goroutine's stack if it does not: a check that a
// store's Close (with its client's) leaves nothing running.
func WaitGoroutines(t testing.TB, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left; want at most %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
