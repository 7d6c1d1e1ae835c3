package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
)

// errMissing says that a program the run needs is not installed; a test
// skips on it (or fails, with SESAME_REQUIRE_SERVERS=1).
var errMissing = errors.New("not installed")

// findProgram returns the first of the paths or names that exists, or an
// error wrapping errMissing that says what to install.
func findProgram(pkg string, candidates ...string) (string, error) {
	for _, c := range candidates {
		if strings.Contains(c, "/") {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c, nil
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is %w (Debian package %s; bash .ci/services.sh installs it)", candidates[0], errMissing, pkg)
}

// freePort returns a loopback port the operating system handed out a
// moment ago and that is free again, for a server that cannot be told to
// pick one itself and report it (nginx, redis-server, postgres).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// proc is a server process the run started and owns, restartable with
// the same arguments.
type proc struct {
	name    string
	bin     string
	args    []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
}

// start runs the program (again).
func (p *proc) start() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	sessiondproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// running reports whether the process is alive.
func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *proc) kill() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process dies at once too
	_ = p.cmd.Process.Kill()
	<-p.done
}

// signal sends sig to the running process.
func (p *proc) signal(sig os.Signal) error {
	if !p.running() {
		return fmt.Errorf("%s is not running", p.name)
	}
	return p.cmd.Process.Signal(sig)
}

// logTail is the end of the process's log, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// waitFor polls cond every 50 ms until it returns true, ctx ends or limit
// passes.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %v", what, limit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// listening reports whether something accepts connections at addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// nginxConf is real nginx in front of the fleet: round-robin over the
// sessiond processes for their pages, auth_request to them for the
// protected application, keep-alive connections upstream, and a failed
// process taken out for fail_timeout after one failure. %[1]s is the
// directory, %[2]d nginx's port, %[3]s the sessiond servers' lines, %[4]s
// the application's address.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    absolute_redirect off;

    upstream sessiond {
%[3]s        keepalive 64;
    }
    upstream app {
        server %[4]s;
        keepalive 16;
    }

    server {
        listen 127.0.0.1:%[2]d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_connect_timeout 2s;
        proxy_read_timeout 30s;

        # sessiond's pages: login, your sessions, logout. nginx sends a
        # GET that a process died answering to the next one; the first
        # may have shown, and so removed, the session's flash messages.
        # The servers tried are listed for the checker.
        location /_sessiond/ {
            proxy_pass http://sessiond;
            add_header X-Upstream-Addr $upstream_addr always;
        }

        # The forward-auth check, for auth_request only.
        location = /_sessiond/auth {
            internal;
            proxy_pass http://sessiond;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        # The protected application.
        location /app/ {
            auth_request /_sessiond/auth;
            auth_request_set $auth_user $upstream_http_x_auth_user;
            proxy_set_header X-Auth-User $auth_user;
            error_page 401 = @login;
            proxy_pass http://app;
        }

        location @login {
            return 302 /_sessiond/from$request_uri;
        }
    }
}
`

// startNginx starts nginx in dir in front of the sessiond addresses and
// the application, and waits until it listens.
func startNginx(ctx context.Context, dir string, sessionds []string, app string) (*proc, string, error) {
	bin, err := findProgram("nginx", "/usr/sbin/nginx", "/usr/bin/nginx", "nginx")
	if err != nil {
		return nil, "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	var servers strings.Builder
	for _, a := range sessionds {
		fmt.Fprintf(&servers, "        server %s max_fails=1 fail_timeout=1s;\n", a)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port, servers.String(), app), 0o600); err != nil {
		return nil, "", err
	}
	p := &proc{name: "nginx", bin: bin, args: []string{"-p", dir, "-c", conf}, logPath: filepath.Join(dir, "nginx.out")}
	if err := p.start(); err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitFor(ctx, 15*time.Second, "nginx listening on "+addr, func() bool { return !p.running() || listening(addr) }); err != nil || !p.running() {
		p.kill()
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return nil, "", fmt.Errorf("nginx did not start (%v): %s%s", err, p.logTail(), b)
	}
	return p, "http://" + addr, nil
}

// nginxErrors counts the [error] and [crit] lines of nginx's error log, as
// it is now.
func nginxErrors(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "error.log"))
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "[error]") + strings.Count(string(b), "[crit]")
}
