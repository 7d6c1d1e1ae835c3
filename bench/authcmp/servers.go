package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The packages the harness builds: sessiond from the workspace, and
// oauth2-proxy at the version of the bench module's tool directive (the
// one `go tool oauth2-proxy` runs).
const (
	sessiondPackage    = "github.com/sesame-go/sesame/cmd/sessiond"
	oauth2ProxyPackage = "github.com/oauth2-proxy/oauth2-proxy/v7"
)

// build builds pkg into dir and returns the binary's path.
func build(ctx context.Context, dir, pkg, name string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// moduleVersion is the version of the main module bin was built from, as
// `go version -m` shows it.
func moduleVersion(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown"
	}
	return bi.Main.Version
}

// proc is a server process the harness started.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// startProc starts cmd with its stdout and stderr appended to logPath,
// unless stdout is already taken. The kernel kills it if the harness dies
// without stopping it.
func startProc(cmd *exec.Cmd, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	if cmd.Stdout == nil {
		cmd.Stdout = logf
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &proc{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, waits up to wait, then kills.
func (p *proc) stop(wait time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(wait):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// logTail returns the last n lines of the process's log.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 on every architecture Go runs on.
const userHZ = 100

// cpuTime is the server's user plus system CPU time so far, all threads.
func (p *proc) cpuTime() (time.Duration, error) { return cpuTime(strconv.Itoa(p.cmd.Process.Pid)) }

// cpuTime is the user plus system CPU time so far of process pid ("self"
// for this one), all threads, from /proc/PID/stat (Linux), in steps of
// 1/USER_HZ.
func cpuTime(pid string) (time.Duration, error) {
	path := "/proc/" + pid + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	// The command name, in parentheses, may hold spaces: the fields that
	// follow it start with the state (field 3); utime and stime are 14, 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", path, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// runTime is the CPU time the scheduler has given the server's threads
// so far, to the nanosecond: the sum of the first field of each
// /proc/PID/task/TID/schedstat (Linux). It measures logins, which take
// too little CPU for cpuTime's 10 ms steps.
func (p *proc) runTime() (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("reading the server's threads: %w", err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread has just ended
		}
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("%s/%s/schedstat: empty", dir, t.Name())
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %v", dir, t.Name(), err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// childEnv is the harness's environment without the variables through
// which either server reads its configuration, so that the flags given
// are the whole of it.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSIOND_") && !strings.HasPrefix(kv, "OAUTH2_PROXY_") && !strings.HasPrefix(kv, "LISTEN_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startAnnounced starts cmd, a server that listens on 127.0.0.1 and a
// port of the OS's choosing and prints a line announcing its address
// after prefix ("sessiond is listening on http://"), and returns that
// address.
func startAnnounced(cmd *exec.Cmd, prefix, logPath string) (*proc, string, error) {
	name := filepath.Base(cmd.Path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc(cmd, logPath)
	if err != nil {
		return nil, "", err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				select {
				case addrc <- strings.TrimSuffix(rest, "/"):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case addr := <-addrc:
		if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
			p.stop(time.Second)
			return nil, "", fmt.Errorf("%s listens on %q, want 127.0.0.1:PORT", name, addr)
		}
		return p, addr, nil
	case <-p.done:
		return nil, "", fmt.Errorf("%s exited at start (%v):\n%s", name, p.waitErr, p.logTail(20))
	case <-time.After(30 * time.Second):
		p.stop(time.Second)
		return nil, "", fmt.Errorf("%s did not say where it listens within 30s", name)
	}
}

// startSessiond starts sessiond on 127.0.0.1 and a port of the OS's
// choosing, which it learns from the line sessiond prints.
func startSessiond(ctx context.Context, bin string, args []string, logPath string) (*proc, string, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = childEnv()
	return startAnnounced(cmd, "sessiond is listening on http://", logPath)
}

// startOAuth2Proxy starts oauth2-proxy on a listener the harness opens on
// 127.0.0.1 and a port of the OS's choosing, handed over by systemd's
// socket activation protocol (--http-address fd:3): a shell sets
// LISTEN_PID to its own pid and execs oauth2-proxy in its place.
func startOAuth2Proxy(ctx context.Context, bin string, args []string, logPath string) (*proc, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	defer ln.Close() // the child has its own copy
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	sh := append([]string{"-c", `export LISTEN_PID=$$; exec "$0" "$@"`, bin, "--http-address", "fd:3"}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", sh...)
	cmd.Env = childEnv("LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	p, err := startProc(cmd, logPath)
	if err != nil {
		return nil, "", err
	}
	return p, ln.Addr().String(), nil
}

// waitReady polls url until it answers 200.
func (p *proc) waitReady(ctx context.Context, hc *http.Client, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
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
			err = fmt.Errorf("%s answers %s", url, res.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 30s (%v):\n%s", err, p.logTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("exited before it was ready (%v):\n%s", p.waitErr, p.logTail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
