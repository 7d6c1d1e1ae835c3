package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sessiondPackage is what is built when no -sessiond binary is given.
const sessiondPackage = "github.com/sesame-go/sesame/cmd/sessiond"

// buildSessiond builds sessiond into dir from the working directory, which
// must be inside the repository's workspace.
func buildSessiond(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "sessiond")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, sessiondPackage)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", sessiondPackage, err, strings.TrimSpace(out.String()))
	}
	return bin, nil
}

// sessiondEnv is this process's environment without SESSIOND_ variables,
// so that the flags the load test passes are the whole configuration, and
// with TZ=UTC, so that the times on sessiond's pages read back exactly.
func sessiondEnv() []string {
	env := []string{"TZ=UTC"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") && !strings.HasPrefix(kv, "TZ=") {
			env = append(env, kv)
		}
	}
	return env
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error since Go 1.24)
	return hex.EncodeToString(b)
}

// createUsers adds the users with `sessiond user add NAME`, the password on
// stdin. Each hash takes about 0.1 s of argon2id, so several commands run
// at once on the one users file (sessiond locks it for each change), and
// `sessiond user list` then confirms that every user is there.
func createUsers(ctx context.Context, bin, usersPath string, names, passwords []string) error {
	workers := min(runtime.NumCPU(), len(names))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(names); i += workers {
				cmd := exec.CommandContext(ctx, bin, "user", "add", names[i], "--users-file", usersPath)
				cmd.Env = sessiondEnv()
				cmd.Stdin = strings.NewReader(passwords[i] + "\n")
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[w] = fmt.Errorf("sessiond user add %s: %v: %s", names[i], err, bytes.TrimSpace(out))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "user", "list", "--users-file", usersPath)
	cmd.Env = sessiondEnv()
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("sessiond user list: %v", err)
	}
	if got := len(strings.Fields(string(out))); got != len(names) {
		return fmt.Errorf("sessiond user list shows %d users, want %d", got, len(names))
	}
	return nil
}

// sessiond is one running sessiond process.
type sessiond struct {
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	ops     string // the operations listener (/readyz, /metrics): http://127.0.0.1:PORT
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed

	rssMu   sync.Mutex
	maxRSS  int64 // largest VmRSS sampled, bytes
	samples int
	stopRSS chan struct{}
	rssDone chan struct{}
}

// startSessiond starts bin with args plus --listen 127.0.0.1:0 and
// --ops-listen 127.0.0.1:0, its stderr (the log) going to logPath, and
// returns once it has said where it listens (the operations listener
// first). The process is killed if ctx ends first.
func startSessiond(ctx context.Context, bin string, args []string, logPath string) (*sessiond, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.CommandContext(ctx, bin, append([]string{"--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = sessiondEnv()
	cmd.Stderr = logf
	dieWithParent(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting sessiond: %w", err)
	}
	s := &sessiond{cmd: cmd, logPath: logPath, done: make(chan struct{}), stopRSS: make(chan struct{}), rssDone: make(chan struct{})}
	go s.sampleRSS()
	basec := make(chan [2]string, 1) // base, ops
	go func() {
		sc := bufio.NewScanner(stdout)
		var ops string
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Operations endpoints (/healthz, /readyz, /metrics) on "); ok {
				ops = strings.TrimSuffix(rest, "/")
			}
			if rest, ok := strings.CutPrefix(sc.Text(), "sessiond is listening on "); ok {
				select {
				case basec <- [2]string{strings.TrimSuffix(rest, "/"), ops}:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	select {
	case addrs := <-basec:
		s.base, s.ops = addrs[0], addrs[1]
	case <-s.done:
		return nil, fmt.Errorf("sessiond exited at start (%v):\n%s", s.waitErr, s.logTail(20))
	case <-time.After(30 * time.Second):
		s.kill()
		return nil, errors.New("sessiond did not say where it listens within 30s")
	}
	for _, addr := range []string{s.base, s.ops} {
		u, err := url.Parse(addr)
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" {
			s.kill()
			return nil, fmt.Errorf("sessiond listens on %q (operations on %q), want http://127.0.0.1:PORT", s.base, s.ops)
		}
	}
	return s, nil
}

// waitReady polls the operations listener's /readyz until it answers 200.
func (s *sessiond) waitReady(ctx context.Context, hc *http.Client) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.ops+"/readyz", nil)
		if err != nil {
			return err
		}
		res, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sessiond not ready after 30s (last: %v):\n%s", describe(res, err), s.logTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("sessiond exited before it was ready (%v):\n%s", s.waitErr, s.logTail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func describe(res *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return res.Status
}

// exited reports whether the process has ended.
func (s *sessiond) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to wait for the process to exit, then
// kills it. It returns an error unless sessiond exited by itself with
// status 0.
func (s *sessiond) stop(wait time.Duration) error {
	s.stopSampling()
	if s.exited() {
		return fmt.Errorf("sessiond had already exited: %v", s.waitErr)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.kill()
		return fmt.Errorf("sending SIGTERM to sessiond: %w", err)
	}
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Errorf("sessiond exited with %v after SIGTERM", s.waitErr)
		}
		return nil
	case <-time.After(wait):
		s.kill()
		return fmt.Errorf("sessiond did not exit within %v of SIGTERM; killed", wait)
	}
}

// kill ends the process at once and waits for it.
func (s *sessiond) kill() {
	s.stopSampling()
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// logTail returns the last n lines of sessiond's log.
func (s *sessiond) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logLevels counts sessiond's ERROR and WARN log lines and keeps the first
// few ERROR lines.
func (s *sessiond) logLevels() (errorLines, warnLines int, firstErrors []string) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return 0, 0, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "level=ERROR"):
			errorLines++
			if len(firstErrors) < maxSamples {
				firstErrors = append(firstErrors, line)
			}
		case strings.Contains(line, "level=WARN"):
			warnLines++
		}
	}
	return errorLines, warnLines, firstErrors
}

// sampleRSS reads VmRSS from /proc every 200 ms until stopped.
func (s *sessiond) sampleRSS() {
	defer close(s.rssDone)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if rss, _, err := procMemory(s.cmd.Process.Pid); err == nil {
			s.rssMu.Lock()
			s.maxRSS = max(s.maxRSS, rss)
			s.samples++
			s.rssMu.Unlock()
		}
		select {
		case <-s.stopRSS:
			return
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

func (s *sessiond) stopSampling() {
	select {
	case <-s.stopRSS:
	default:
		close(s.stopRSS)
	}
	<-s.rssDone
}

// sampledRSS returns the largest VmRSS seen and how many samples were taken.
func (s *sessiond) sampledRSS() (int64, int) {
	s.rssMu.Lock()
	defer s.rssMu.Unlock()
	return s.maxRSS, s.samples
}

// procMemory reads a process's resident set (VmRSS) and its peak (VmHWM),
// in bytes, from /proc/PID/status (Linux).
func procMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(val) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc/%d/status: odd %s line %q", pid, name, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// loopbackDialer dials 127.0.0.1 and nothing else.
func loopbackDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if host != "127.0.0.1" {
			return nil, fmt.Errorf("refusing to dial %s: the load test talks to 127.0.0.1 only", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}
