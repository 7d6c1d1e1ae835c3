// Package nginxtest runs a real nginx for a test, on a loopback port the
// operating system hands out, with its files in the test's temporary
// directory, until the test ends.
package nginxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sesame-go/sesame/store/storetest"
)

// binaries are where Debian's nginx package puts the program.
var binaries = []string{"/usr/sbin/nginx", "/usr/bin/nginx"}

// Need returns the nginx program, or skips the test (fails it with
// SESAME_REQUIRE_SERVERS=1) when nginx is not installed.
func Need(t testing.TB) string {
	t.Helper()
	for _, p := range binaries {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	storetest.ServerMissing(t, "needs nginx; install it with: DEBIAN_FRONTEND=noninteractive apt-get install -y nginx")
	return ""
}

// Start runs nginx with the http block's contents that servers returns,
// given nginx's directory (for cache paths and the like) and the address
// its server must listen on. It returns nginx's base URL. The process
// stops when the test ends; on failure its error log goes to the test's.
func Start(t testing.TB, servers func(dir, listen string) string) string {
	t.Helper()
	exe := Need(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, servers(dir, addr))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-p", dir, "-c", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not listen on %s 10 s after start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
