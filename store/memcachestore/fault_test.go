package memcachestore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// clientTimeout is the memcache client's own timeout in the fault test.
// It is long on purpose: a call that ends in well under half of it was
// ended by its context or by a refused connection, not by the client
// giving up, whatever the machine's load adds.
const clientTimeout = 5 * time.Second

// freeAddr returns a loopback address with a port the operating system
// handed out a moment ago: tests never pick a port number themselves.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startMemcached starts a memcached of the test's own on addr (never the
// shared one) and waits until it answers. The test's cleanup kills it.
func startMemcached(t *testing.T, addr string) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		storetest.ServerMissing(t, "memcached is not installed (apt-get install memcached)")
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-u", "nobody", "-l", host, "-p", port, "-U", "0", "-I", "2m", "-m", "16")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start memcached on %s: %v", addr, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	c := memcache.New(addr)
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); c.Ping() != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("memcached on %s does not answer 5 s after start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd
}

// TestServerFaults runs traffic against a memcached of its own while it
// is paused (SIGSTOP), resumed, killed and started again. Calls fail fast
// with errors that name the server, nothing panics, no goroutine is left
// behind, sessions survive a pause, and the store works after a restart.
// Sessions do not survive the restart: memcached keeps nothing on disk.
func TestServerFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a memcached; skipped with -short")
	}
	faultAddr := freeAddr(t)
	cmd := startMemcached(t, faultAddr)
	baseline := runtime.NumGoroutine()

	client := memcache.New(faultAddr)
	client.Timeout = clientTimeout
	s, err := New(Config{Client: client, Server: faultAddr})
	if err != nil {
		t.Fatal(err)
	}

	// Sessions saved before any fault.
	before := map[string]uint64{}
	for i := range 20 {
		k := fmt.Sprint("before-", i)
		before[k] = mustSave(t, s, k, 0)
	}

	// Traffic: four writers loading and saving their own keys, each call
	// with a 500 ms deadline, recording the slowest call and every error.
	var (
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		mu      sync.Mutex
		slowest time.Duration
		errs    []error
	)
	for w := range 4 {
		wg.Go(func() {
			k := fmt.Sprint("traffic-", w)
			var v uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				start := time.Now()
				_, lv, err := s.Load(c, k)
				switch {
				case err == nil:
					v = lv
				case errors.Is(err, sesame.ErrNotFound):
					v = 0
				}
				if err == nil || errors.Is(err, sesame.ErrNotFound) {
					_, err = s.Save(c, k, []byte("traffic"), v, live())
				}
				cancel()
				d := time.Since(start)
				mu.Lock()
				slowest = max(slowest, d)
				if err != nil && !errors.Is(err, sesame.ErrConflict) {
					errs = append(errs, err)
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	time.Sleep(100 * time.Millisecond)

	// Pause: calls end at the context's deadline, long before the client's
	// Timeout.
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start := time.Now()
	_, _, err = s.Load(c, "before-0")
	cancel()
	if err == nil || time.Since(start) > clientTimeout/2 || !strings.Contains(err.Error(), faultAddr) {
		t.Errorf("Load from a paused server: %v after %v; want an error naming %s at the 100 ms deadline", err, time.Since(start), faultAddr)
	}
	t.Logf("paused server: %v", err)
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for k, v := range before {
		if _, got, err := s.Load(ctx, k); err != nil || got != v {
			t.Errorf("after the pause, Load(%s) = version %d, %v; want version %d", k, got, err, v)
		}
	}

	// Kill: calls fail at once (connection refused), with no deadline of
	// their own and long before the client's Timeout.
	cmd.Process.Kill()
	cmd.Wait()
	time.Sleep(100 * time.Millisecond)
	start = time.Now()
	_, _, err = s.Load(ctx, "before-0")
	if err == nil || time.Since(start) > clientTimeout/2 || !strings.Contains(err.Error(), faultAddr) {
		t.Errorf("Load from a stopped server: %v after %v; want an error naming %s at once", err, time.Since(start), faultAddr)
	}
	t.Logf("stopped server: %v", err)
	time.Sleep(200 * time.Millisecond)

	// Restart: the store works again, with what is saved from now on.
	startMemcached(t, faultAddr)
	time.Sleep(200 * time.Millisecond)
	v := mustSave(t, s, "after", 0)
	if _, got, err := s.Load(ctx, "after"); err != nil || got != v {
		t.Fatalf("after the restart, Load = version %d, %v; want %d", got, err, v)
	}
	if _, _, err := s.Load(ctx, "before-0"); !errors.Is(err, sesame.ErrNotFound) {
		t.Errorf("after the restart, a session saved before it: %v; want ErrNotFound (memcached keeps nothing)", err)
	}
	close(stop)
	wg.Wait()

	mu.Lock()
	t.Logf("slowest traffic call %v; %d failed calls during the faults", slowest, len(errs))
	if slowest > clientTimeout/2 {
		t.Errorf("a call took %v; want every call bounded by its 500 ms deadline, not the client's %v Timeout", slowest, clientTimeout)
	}
	for _, err := range errs {
		if !strings.Contains(err.Error(), faultAddr) {
			t.Errorf("error does not name the server: %v", err)
		}
	}
	mu.Unlock()

	// Goroutines that ran abandoned round trips end within the Timeout.
	client.Close()
	for deadline := time.Now().Add(clientTimeout + 5*time.Second); runtime.NumGoroutine() > baseline; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines %v after the traffic stopped; %d before it:\n%s", runtime.NumGoroutine(), clientTimeout+5*time.Second, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
