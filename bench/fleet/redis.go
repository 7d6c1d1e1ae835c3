package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// redisNode is one redis-server of the fleet's cluster.
type redisNode struct {
	*proc
	cli  string
	port int
}

func (n *redisNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// do runs redis-cli against the node and returns its trimmed output.
func (n *redisNode) do(args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, n.cli, append([]string{"-p", strconv.Itoa(n.port)}, args...)...).Output()
	return strings.TrimSpace(string(out))
}

// role returns the node's ROLE reply: "master", or "slave HOST PORT
// STATE OFFSET".
func (n *redisNode) role() []string { return strings.Fields(n.do("role")) }

// linked reports whether the node is a replica whose link to its master
// is up.
func (n *redisNode) linked() bool {
	r := n.role()
	return len(r) >= 4 && r[0] == "slave" && r[3] == "connected"
}

// cluster is the fleet's own Redis Cluster: three masters, each with one
// replica, on loopback ports from the operating system, configured as the
// redisstore README says sessions want it.
type cluster struct {
	nodes []*redisNode
}

// clusterSettings are the settings of every node (see the redisstore
// README): a failed master is noticed after a second, the other shards
// keep serving meanwhile, and a replica that lagged may still take over
// (with MinReplicas it misses nothing acknowledged).
var clusterSettings = []string{
	"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
	"--cluster-node-timeout", "1000",
	"--cluster-require-full-coverage", "no",
	"--cluster-replica-validity-factor", "0",
	"--save", "", "--appendonly", "no",
}

// startCluster starts six nodes in dir and makes them a cluster.
func startCluster(ctx context.Context, dir string) (*cluster, error) {
	server, err := findProgram("redis-server", "redis-server")
	if err != nil {
		return nil, err
	}
	cli, err := findProgram("redis-tools", "redis-cli")
	if err != nil {
		return nil, err
	}
	c := &cluster{}
	var addrs []string
	for i := range 6 {
		port, err1 := freePort()
		bus, err2 := freePort()
		if err1 != nil || err2 != nil {
			c.stop()
			return nil, fmt.Errorf("no loopback port: %v %v", err1, err2)
		}
		d := filepath.Join(dir, fmt.Sprintf("redis%d", i))
		if err := os.Mkdir(d, 0o700); err != nil {
			c.stop()
			return nil, err
		}
		args := append([]string{"--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(bus),
			"--bind", "127.0.0.1", "--dir", d, "--logfile", ""}, clusterSettings...)
		n := &redisNode{proc: &proc{name: fmt.Sprintf("redis-server :%d", port), bin: server, args: args, logPath: filepath.Join(d, "log")}, cli: cli, port: port}
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.addr())
		if err := n.start(); err != nil {
			c.stop()
			return nil, err
		}
	}
	for _, n := range c.nodes {
		if err := waitFor(ctx, 10*time.Second, n.name+" answering", func() bool { return n.do("ping") == "PONG" }); err != nil {
			c.stop()
			return nil, fmt.Errorf("%w: %s", err, n.logTail())
		}
	}
	out, err := exec.CommandContext(ctx, cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// addrs lists every node.
func (c *cluster) addrs() []string {
	var a []string
	for _, n := range c.nodes {
		a = append(a, n.addr())
	}
	return a
}

// stop kills every node.
func (c *cluster) stop() {
	for _, n := range c.nodes {
		n.kill()
	}
}

// master returns a node that is a master now, and its replica.
func (c *cluster) master() (m, r *redisNode, err error) {
	for _, n := range c.nodes {
		if role := n.role(); len(role) >= 3 && role[0] == "slave" {
			for _, x := range c.nodes {
				if x.addr() == role[1]+":"+role[2] {
					return x, n, nil
				}
			}
		}
	}
	return nil, nil, fmt.Errorf("no replica of any master in the cluster")
}

// waitHealthy waits until every node says the cluster is ok and knows all
// six nodes, and every master has a replica whose link is up.
func (c *cluster) waitHealthy(ctx context.Context) error {
	return waitFor(ctx, 60*time.Second, "the Redis Cluster healthy (every node ok, every master replicated)", func() bool {
		linked := 0
		for _, n := range c.nodes {
			info := n.do("cluster", "info")
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:6") {
				return false
			}
			if n.linked() {
				linked++
			}
		}
		return linked == 3
	})
}

// failover kills master m (SIGKILL), waits until its replica r is master
// (making it take over, as an operator would, if the cluster has not
// promoted it within five seconds), then starts m again, which rejoins as
// r's replica, and waits until the cluster is healthy. If lag is positive,
// r is stopped (SIGSTOP) and its link cut that long before the kill, so
// that what m acknowledged meanwhile reaches no replica.
func (c *cluster) failover(ctx context.Context, m, r *redisNode, lag time.Duration, logf func(string, ...any)) error {
	if lag > 0 {
		if err := r.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		// A stopped process still receives into its socket buffer:
		// dropping the link is what keeps the writes from it.
		m.do("client", "kill", "type", "replica")
		logf("%s (replica of %s) stopped and its link cut; killing the master in %v", r.name, m.name, lag)
		select {
		case <-ctx.Done():
		case <-time.After(lag):
		}
	}
	m.kill()
	if lag > 0 {
		if err := r.signal(syscall.SIGCONT); err != nil {
			return err
		}
	}
	logf("%s killed", m.name)
	start := time.Now()
	forced := false
	err := waitFor(ctx, 30*time.Second, r.name+" promoted", func() bool {
		if role := r.role(); len(role) > 0 && role[0] == "master" {
			return true
		}
		if !forced && time.Since(start) > 5*time.Second {
			logf("%s not promoted after 5s: CLUSTER FAILOVER TAKEOVER: %s", r.name, r.do("cluster", "failover", "takeover"))
			forced = true
		}
		return false
	})
	if err != nil {
		return err
	}
	logf("%s promoted after %.1fs; restarting %s", r.name, time.Since(start).Seconds(), m.name)
	if err := m.start(); err != nil {
		return err
	}
	if err := c.waitHealthy(ctx); err != nil {
		return err
	}
	logf("cluster healthy again %.1fs after the kill, %s a replica of %s", time.Since(start).Seconds(), m.name, r.name)
	return nil
}
