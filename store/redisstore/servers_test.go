package redisstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/store/storetest"
)

// redisProc is a redis-server this test started and owns, so that a fault
// test can kill and restart it without touching the shared servers. Its
// data is in an append-only file written with fsync on every write, so a
// SIGKILL loses nothing the server acknowledged: what the fault tests
// check is that the store loses nothing either.
type redisProc struct {
	t    testing.TB
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// needRedisServer skips (or fails, with SESAME_REQUIRE_SERVERS=1) unless
// the redis-server and redis-cli programs are installed.
func needRedisServer(t testing.TB) {
	t.Helper()
	for _, prog := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(prog); err != nil {
			storetest.ServerMissing(t, prog+" is not installed, so this test cannot start a server of its own (Debian package redis-server)")
		}
	}
}

// osPort returns a loopback port the operating system handed out a moment
// ago and that is free again: tests never pick a port number themselves.
func osPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts a redis-server on port with a data directory of its
// own and waits until it answers. The test's cleanup kills it.
func startRedis(t testing.TB, port int, extra ...string) *redisProc {
	t.Helper()
	p := &redisProc{t: t, port: port, dir: t.TempDir()}
	p.args = append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", p.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--logfile", filepath.Join(p.dir, "log"),
	}, extra...)
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// start runs the server (again, after kill, with the same data).
func (p *redisProc) start() {
	p.t.Helper()
	p.cmd = exec.Command("redis-server", p.args...)
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("start redis-server on %s: %v", p.addr(), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.cli("ping") != "PONG" {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
			p.t.Fatalf("redis-server on %s does not answer; its log:\n%s", p.addr(), tail(string(log), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill stops the server with SIGKILL, as a crash would, and waits for it.
func (p *redisProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.cmd = nil
}

// signal sends sig to the running server.
func (p *redisProc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v to redis-server on %s: %v", sig, p.addr(), err)
	}
}

// cli runs redis-cli against the server and returns its trimmed output.
func (p *redisProc) cli(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "redis-cli", append([]string{"-p", strconv.Itoa(p.port)}, args...)...).Output()
	return strings.TrimSpace(string(out))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// cluster is a throwaway Redis Cluster of the test's own: masters[i] is
// replicated by replicas[i], if the cluster has replicas.
type cluster struct {
	masters, replicas []*redisProc
}

// nodes returns every node, masters first.
func (c *cluster) nodes() []*redisProc { return append(slices.Clone(c.masters), c.replicas...) }

// startCluster starts a throwaway Redis Cluster of three masters, each
// with the given number of replicas (0 or 1), on loopback ports from the
// operating system (each node's cluster bus on a port of its own too), for
// tests that stop or kill its nodes. The nodes give up on a dead peer after
// one second. Without fullCoverage they keep serving the slots they hold
// while another master is down (cluster-require-full-coverage no); with
// it, the whole cluster refuses commands then, as Redis does by default.
func startCluster(t testing.TB, replicas int, fullCoverage bool) *cluster {
	t.Helper()
	coverage := "no"
	if fullCoverage {
		coverage = "yes"
	}
	var nodes []*redisProc
	var addrs []string
	for range 3 * (1 + replicas) {
		n := startRedis(t, osPort(t), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(osPort(t)),
			"--cluster-node-timeout", "1000", "--cluster-require-full-coverage", coverage)
		nodes = append(nodes, n)
		addrs = append(addrs, n.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, tail(string(out), 2000))
	}
	waitClusterOK(t, nodes)
	c := &cluster{masters: nodes[:3]}
	if replicas == 0 {
		return c
	}
	// redis-cli pairs masters and replicas as it likes: ask each replica
	// (ROLE: slave, master host, master port, link state, offset), and
	// wait until its link is up.
	c.replicas = make([]*redisProc, 3)
	deadline := time.Now().Add(20 * time.Second)
	for _, r := range nodes[3:] {
		for {
			f := strings.Fields(r.cli("role"))
			if len(f) >= 4 && f[0] == "slave" && f[3] == "connected" {
				if i, ok := c.masterAt(f[1] + ":" + f[2]); ok && c.replicas[i] == nil {
					c.replicas[i] = r
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not the connected replica of a master after 20s: role %q", r, f)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// masterAt returns the index of the master whose address is addr.
func (c *cluster) masterAt(addr string) (int, bool) {
	for i, m := range c.masters {
		if m.addr() == addr {
			return i, true
		}
	}
	return 0, false
}

// waitClusterOK waits until every node reports cluster_state:ok and knows
// all of them.
func waitClusterOK(t testing.TB, nodes []*redisProc) {
	t.Helper()
	waitClusterState(t, nodes, len(nodes), "ok")
}

// waitClusterState waits until every node of nodes reports the cluster
// state (ok or fail) and knows the given number of nodes (a failed node
// stays known).
func waitClusterState(t testing.TB, nodes []*redisProc, known int, state string) {
	t.Helper()
	wantKnown := "cluster_known_nodes:" + strconv.Itoa(known)
	wantState := "cluster_state:" + state
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, n := range nodes {
			info := n.cli("cluster", "info")
			if !strings.Contains(info, wantState) || !strings.Contains(info, wantKnown) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not %s after 20s: %s", state, nodes[0].cli("cluster", "info"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func addrsOf(nodes []*redisProc) []string {
	var a []string
	for _, n := range nodes {
		a = append(a, n.addr())
	}
	return a
}

func (p *redisProc) String() string { return fmt.Sprintf("redis-server %s", p.addr()) }
