package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"go.uber.org/goleak"
)

// callTimeout bounds every call the fault tests make; callSlack is what a
// slow, shared machine (and the race detector) may add to it: generous,
// because what the tests prove is that a call ends near its deadline
// instead of hanging on a dead or stopped server, which would hold it for
// as long as the server is down.
const (
	callTimeout = 300 * time.Millisecond
	callSlack   = 2 * time.Second
)

// verifyNoLeaks fails t if goroutines started during the test (those not
// ignored by before, taken at its start) outlive it. rueidis retries a
// lost node after a randomized delay of up to about a second, in a
// goroutine that sleeps it out even after Close, so the check gives
// goroutines five seconds to end by themselves before it reports them.
func verifyNoLeaks(t *testing.T, before goleak.Option) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if goleak.Find(before) == nil {
			return
		}
	}
	goleak.VerifyNone(t, before)
}

// TestStandaloneServerFault kills a Redis server of the test's own in the
// middle of traffic and starts it again on the same data.
func TestStandaloneServerFault(t *testing.T) {
	needRedisServer(t)
	defer verifyNoLeaks(t, goleak.IgnoreCurrent())

	srv := startRedis(t, osPort(t))
	s, err := New(Config{Addrs: []string{srv.addr()}, Prefix: testPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seeded := seed(t, s, 40)

	t.Run("PausedServerFailsAtTheDeadline", func(t *testing.T) {
		// The server is stopped (SIGSTOP) until the calls are done: it
		// accepts nothing and answers nothing, as a hung machine would.
		srv.signal(syscall.SIGSTOP)
		defer srv.signal(syscall.SIGCONT)
		key := newKey()
		calls := []struct {
			name string
			call func(ctx context.Context) error
		}{
			{"Load", func(ctx context.Context) error { _, _, err := s.Load(ctx, seeded[0].key); return err }},
			{"Save", func(ctx context.Context) error { _, err := s.Save(ctx, key, []byte("x"), 0, live("")); return err }},
			{"Delete", func(ctx context.Context) error { return s.Delete(ctx, key) }},
			{"UserSessions", func(ctx context.Context) error { _, err := s.UserSessions(ctx, "user0"); return err }},
		}
		for _, c := range calls {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			start := time.Now()
			err := c.call(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s on a paused server: error %v; want one wrapping context.DeadlineExceeded", c.name, err)
			}
			if d := time.Since(start); d > 100*time.Millisecond+callSlack {
				t.Errorf("%s on a paused server took %v with a 100ms deadline", c.name, d)
			}
		}

	})

	tr := startTraffic(t, s, 4)
	time.Sleep(300 * time.Millisecond)
	srv.kill()
	time.Sleep(time.Second)
	t.Run("DeadServerFailsFastWithClearErrors", func(t *testing.T) {
		for _, r := range seeded[:5] {
			start := time.Now()
			_, _, err := s.Load(ctxWithTimeout(t), r.key)
			wantClearError(t, err, srv.addr())
			if d := time.Since(start); d > callTimeout+callSlack {
				t.Errorf("Load on a dead server took %v", d)
			}
		}
	})
	srv.start()
	waitWorks(t, s, seeded[0].key)
	tr.stop(t, srv.addr())
	checkSeeded(t, s, seeded)
}

// TestClusterNodeFault kills one master of a throwaway three-node cluster
// in the middle of traffic and starts it again on the same data.
func TestClusterNodeFault(t *testing.T) {
	needRedisServer(t)
	defer verifyNoLeaks(t, goleak.IgnoreCurrent())

	nodes := startCluster(t, 0, false).masters
	s, err := New(Config{Addrs: addrsOf(nodes), Prefix: testPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seeded := seed(t, s, 60)

	tr := startTraffic(t, s, 4)
	time.Sleep(300 * time.Millisecond)
	dead := nodes[1]
	dead.kill()
	time.Sleep(time.Second)
	t.Run("LiveNodesServeDeadNodeFailsFast", func(t *testing.T) {
		var ok, failed int
		for _, r := range seeded {
			start := time.Now()
			v, _, err := s.Load(ctxWithTimeout(t), r.key)
			if d := time.Since(start); d > callTimeout+callSlack {
				t.Errorf("Load with one node dead took %v", d)
			}
			if err != nil {
				wantClearError(t, err, "")
				failed++
				continue
			}
			if string(v) != string(r.value) {
				t.Errorf("Load(%s) with one node dead returned another value", short(r.key))
			}
			ok++
		}
		t.Logf("with %s dead: %d loads served, %d failed", dead, ok, failed)
		if ok == 0 || failed == 0 {
			t.Errorf("with one of three nodes dead, %d loads succeeded and %d failed; want some of each", ok, failed)
		}
	})
	dead.start()
	waitClusterOK(t, nodes)
	for _, r := range seeded {
		waitWorks(t, s, r.key)
	}
	tr.stop(t, "")
	checkSeeded(t, s, seeded)
}

// seededRecord is a session saved before a fault.
type seededRecord struct {
	key, user string
	value     []byte
	version   uint64
}

// seed saves n sessions, every other one under one of five users.
func seed(t *testing.T, s *Store, n int) []seededRecord {
	t.Helper()
	rs := make([]seededRecord, n)
	for i := range rs {
		r := seededRecord{key: newKey(), value: []byte(fmt.Sprintf("session %d", i))}
		if i%2 == 0 {
			r.user = fmt.Sprintf("user%d", i%5)
		}
		v, err := s.Save(t.Context(), r.key, r.value, 0, live(r.user))
		if err != nil {
			t.Fatalf("seed Save: %v", err)
		}
		r.version = v
		rs[i] = r
	}
	return rs
}

// checkSeeded fails the test unless every seeded session is there, as it
// was saved, listed under its user, and can be updated.
func checkSeeded(t *testing.T, s *Store, seeded []seededRecord) {
	t.Helper()
	byUser := map[string]map[string]bool{}
	for _, r := range seeded {
		v, version, err := s.Load(t.Context(), r.key)
		if err != nil || version != r.version || string(v) != string(r.value) {
			t.Errorf("after the fault, Load(%s) = %q, version %d, %v; want %q, version %d", short(r.key), v, version, err, r.value, r.version)
		}
		if r.user != "" {
			if byUser[r.user] == nil {
				byUser[r.user] = map[string]bool{}
			}
			byUser[r.user][r.key] = true
		}
	}
	for user, keys := range byUser {
		recs, err := s.UserSessions(t.Context(), user)
		if err != nil {
			t.Fatalf("after the fault, UserSessions(%q): %v", user, err)
		}
		if len(recs) != len(keys) {
			t.Errorf("after the fault, UserSessions(%q) lists %d sessions; want %d", user, len(recs), len(keys))
		}
		for _, r := range recs {
			if !keys[r.Key] {
				t.Errorf("after the fault, UserSessions(%q) lists %s, not one of the user's", user, short(r.Key))
			}
		}
	}
	r := seeded[0]
	if _, err := s.Save(t.Context(), r.key, []byte("after"), r.version, live(r.user)); err != nil {
		t.Errorf("after the fault, Save with the version read before it: %v", err)
	}
}

// traffic is a few goroutines loading and saving their own sessions (eight
// each, so that in a cluster every node gets some), each call bounded by
// callTimeout, until stopped.
type traffic struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ok, bad atomic.Int64
	slowest atomic.Int64 // nanoseconds
	mu      sync.Mutex
	errs    []error
}

func startTraffic(t *testing.T, s *Store, workers int) *traffic {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // bounded whatever happens
	tr := &traffic{cancel: cancel}
	for range workers {
		tr.wg.Go(func() {
			var keys [8]string
			var versions [8]uint64
			for i := range keys {
				keys[i] = newKey()
			}
			for i := 0; ctx.Err() == nil; i++ {
				key, version := keys[i/2%8], &versions[i/2%8]
				start := time.Now()
				call, cancel := context.WithTimeout(ctx, callTimeout)
				var err error
				if i%2 == 0 {
					var v uint64
					v, err = s.Save(call, key, []byte("traffic"), *version, live("traffic"))
					if err == nil {
						*version = v
					} else if errors.Is(err, sesame.ErrConflict) {
						_, *version, err = s.Load(call, key)
					}
				} else {
					_, _, err = s.Load(call, key)
					if errors.Is(err, sesame.ErrNotFound) {
						err = nil
					}
				}
				cancel()
				if d := time.Since(start); int64(d) > tr.slowest.Load() {
					tr.slowest.Store(int64(d))
				}
				if err == nil {
					tr.ok.Add(1)
					continue
				}
				if ctx.Err() != nil {
					return
				}
				tr.bad.Add(1)
				tr.mu.Lock()
				tr.errs = append(tr.errs, err)
				tr.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	return tr
}

// stop ends the traffic and checks what it saw: some failures, each one
// clear, none slower than its deadline allows.
func (tr *traffic) stop(t *testing.T, addr string) {
	t.Helper()
	tr.cancel()
	tr.wg.Wait()
	t.Logf("traffic: %d calls succeeded, %d failed, slowest %v", tr.ok.Load(), tr.bad.Load(), time.Duration(tr.slowest.Load()))
	if tr.bad.Load() == 0 {
		t.Error("no call failed while a server was down")
	}
	if d := time.Duration(tr.slowest.Load()); d > callTimeout+callSlack {
		t.Errorf("slowest call took %v with a %v deadline", d, callTimeout)
	}
	for i, err := range tr.errs {
		if i < 3 {
			t.Logf("error during the fault: %v", err)
		}
		wantClearError(t, err, addr)
	}
}

// wantClearError fails the test unless err says it comes from this store,
// names the server (when addr is set), and is not a conflict or not-found
// that would send the Manager down the wrong path.
func wantClearError(t *testing.T, err error, addr string) {
	t.Helper()
	switch {
	case err == nil:
		t.Error("a call succeeded while its server was down")
	case !strings.HasPrefix(err.Error(), "redisstore: "):
		t.Errorf("error %q does not say it comes from redisstore", err)
	case addr != "" && !strings.Contains(err.Error(), addr) && !errors.Is(err, context.DeadlineExceeded):
		t.Errorf("error %q does not name the server %s", err, addr)
	case errors.Is(err, sesame.ErrConflict), errors.Is(err, sesame.ErrNotFound):
		t.Errorf("error %q during an outage claims a conflict or a missing record", err)
	}
}

// waitWorks waits until key loads again.
func waitWorks(t *testing.T, s *Store, key string) {
	t.Helper()
	waitLoads(t, s, key, false)
}

// waitLoads waits until a Load of key succeeds, or, with absentOK, at
// least finds out that there is no such record.
func waitLoads(t *testing.T, s *Store, key string, absentOK bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, err := s.Load(ctxWithTimeout(t), key)
		if err == nil || absentOK && errors.Is(err, sesame.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store still fails 20s after the server came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxWithTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newKey() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func live(user string) sesame.SaveOptions {
	return sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: user}
}
