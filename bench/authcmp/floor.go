package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// The floor is no contender but the measure of what the others stand on:
// a net/http server whose check answers 200 and names a user without
// looking at the request at all. Its CPU time per check is what Go's HTTP
// server, the runtime and the kernel's loopback TCP cost for the exchange
// on this machine, which any Go forward-auth server pays before it reads
// a cookie. The harness runs it as a process of its own: itself, started
// again with floorEnv set.

// floorEnv, set to 1 in this program's environment, makes it serve the
// floor instead of comparing.
const floorEnv = "AUTHCMP_SERVE_FLOOR"

// floorName is the floor's name among the contenders.
const floorName = "floor/net-http"

// serveFloorIfAsked serves the floor until killed when floorEnv asks for
// it, and otherwise returns at once.
func serveFloorIfAsked() {
	if os.Getenv(floorEnv) != "1" {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(2)
	}
	fmt.Printf("floor is listening on http://%s/\n", ln.Addr())
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/auth" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Auth-User", "bench")
			w.WriteHeader(http.StatusOK)
		}),
	}
	fmt.Fprintln(os.Stderr, "floor:", srv.Serve(ln))
	os.Exit(2)
}

// startFloor starts the floor server.
func (e *env) startFloor(c *contender, logPath string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(e.ctx, self)
	cmd.Env = childEnv(floorEnv + "=1")
	p, addr, err := startAnnounced(cmd, "floor is listening on http://", logPath)
	if err != nil {
		return err
	}
	c.proc, c.addr = p, addr
	c.authPath, c.okStatus, c.userHdr = "/auth", http.StatusOK, "X-Auth-User"
	c.sessions = []string{""} // no login: the floor answers every check alike
	return p.waitReady(e.ctx, e.hc, c.url("/auth"))
}
