package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// replicaTimeout is the ReplicaTimeout of the tests' stores: a second,
// which a busy machine (the race detector, other tests) needs for a
// healthy replica's acknowledgement, and each refused write waits out.
const replicaTimeout = time.Second

// slotOf is the Redis Cluster hash slot of key: CRC16 (XMODEM) of its hash
// tag, or of the whole key when it has none.
func slotOf(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for _, b := range []byte(key) {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}

// slotRanges reads which slots each master of c serves, from its own line
// of CLUSTER NODES ("... connected 0-5460").
func slotRanges(t *testing.T, c *cluster) [][2]int {
	t.Helper()
	out := make([][2]int, len(c.masters))
	for i, m := range c.masters {
		for line := range strings.Lines(m.cli("cluster", "nodes")) {
			f := strings.Fields(line)
			if len(f) < 9 || !strings.Contains(f[2], "myself") {
				continue
			}
			lo, hi, _ := strings.Cut(f[8], "-")
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || len(f) != 9 {
				t.Fatalf("%s serves slots %q; want one range", m, f[8:])
			}
			out[i] = [2]int{a, b}
		}
	}
	return out
}

// placer makes session keys and user names whose Redis keys live on a
// chosen master of a cluster.
type placer struct {
	s      *Store
	ranges [][2]int
}

func newPlacer(t *testing.T, s *Store, c *cluster) *placer {
	t.Helper()
	p := &placer{s: s, ranges: slotRanges(t, c)}
	k := s.recordKey(newKey())
	if got, want := c.masters[0].cli("cluster", "keyslot", k), strconv.Itoa(slotOf(k)); got != want {
		t.Fatalf("slotOf(%q) = %s, Redis says %s", k, want, got)
	}
	return p
}

func (p *placer) on(master int, redisKey string) bool {
	slot := slotOf(redisKey)
	return slot >= p.ranges[master][0] && slot <= p.ranges[master][1]
}

// key returns a new session key whose record lives on the master.
func (p *placer) key(master int) string {
	for {
		if k := newKey(); p.on(master, p.s.recordKey(k)) {
			return k
		}
	}
}

// user returns a user name, starting with name, whose index lives on the
// master.
func (p *placer) user(master int, name string) string {
	for i := 0; ; i++ {
		if u := fmt.Sprintf("%s-%d", name, i); p.on(master, p.s.userKey(u)) {
			return u
		}
	}
}

func replicatedStore(t *testing.T, c *cluster, minReplicas int) *Store {
	t.Helper()
	s, err := New(Config{Addrs: addrsOf(c.masters), Prefix: testPrefix(), MinReplicas: minReplicas, ReplicaTimeout: replicaTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitReplicated waits until every replica has caught up with its master.
func waitReplicated(t *testing.T, c *cluster) {
	t.Helper()
	for i, m := range c.masters {
		waitCaughtUp(t, m, c.replicas[i])
	}
}

// waitCaughtUp waits until replica r has everything master m has.
func waitCaughtUp(t *testing.T, m, r *redisProc) {
	t.Helper()
	offset := func(p *redisProc, field string) string {
		for line := range strings.Lines(p.cli("info", "replication")) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
				return v
			}
		}
		return "?"
	}
	deadline := time.Now().Add(20 * time.Second)
	for offset(m, "master_repl_offset") != offset(r, "slave_repl_offset") {
		if time.Now().After(deadline) {
			t.Fatalf("%s, replica of %s, has not caught up after 20s", r, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantNotReplicated fails the test unless err is the refusal of a write
// that the replicas did not acknowledge in time, said clearly, and came
// within the replica timeout (plus a margin for a busy machine).
func wantNotReplicated(t *testing.T, what string, err error, took time.Duration) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s with its master's replica stalled succeeded; want an error", what)
	case !errors.Is(err, ErrNotReplicated):
		t.Errorf("%s with its master's replica stalled: %v; want an error wrapping ErrNotReplicated", what, err)
	case !strings.HasPrefix(err.Error(), "redisstore: ") || !strings.Contains(err.Error(), "0 of the 1 replicas") ||
		!strings.Contains(err.Error(), "ReplicaTimeout"):
		t.Errorf("%s: the error %q does not say how many replicas had the write, of how many, within what", what, err)
	case errors.Is(err, sesame.ErrConflict) || errors.Is(err, sesame.ErrNotFound):
		t.Errorf("%s: the error %q claims a conflict or a missing record", what, err)
	}
	if took > replicaTimeout+callSlack {
		t.Errorf("%s took %v with a ReplicaTimeout of %v", what, took, replicaTimeout)
	}
}

// TestMinReplicasRefusesUnreplicatedWrites stalls (SIGSTOP) the replica
// of one master and checks that every write touching that master, and only
// those, is refused once ReplicaTimeout has passed, while the same calls
// succeed on a healthy cluster. A DeleteUser whose records span every
// master fails for the one record on the stalled master.
func TestMinReplicasRefusesUnreplicatedWrites(t *testing.T) {
	needRedisServer(t)
	c := startCluster(t, 1, false)
	s := replicatedStore(t, c, 1)
	p := newPlacer(t, s, c)
	ctx := t.Context()
	const stalled = 0

	// Healthy: every kind of write is acknowledged, and the replicas have
	// each one when it is.
	spread := p.user(1, "spread") // records on every master, index on master 1
	var spreadKeys []string
	for m := range c.masters {
		k := p.key(m)
		if _, err := s.Save(ctx, k, []byte("v"), 0, live(spread)); err != nil {
			t.Fatalf("Save on a healthy cluster: %v", err)
		}
		spreadKeys = append(spreadKeys, k)
	}
	gone := p.key(stalled)
	if _, err := s.Save(ctx, gone, []byte("v"), 0, live("")); err != nil {
		t.Fatalf("Save on a healthy cluster: %v", err)
	}
	if err := s.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete on a healthy cluster: %v", err)
	}

	// Records to renew once the replica stalls, each with its version.
	renewable := func(m int) (string, uint64) {
		k := p.key(m)
		v, err := s.Save(ctx, k, []byte("v"), 0, live(""))
		if err != nil {
			t.Fatalf("Save on a healthy cluster: %v", err)
		}
		return k, v
	}
	fromStalled, fromStalledV := renewable(stalled)
	toStalled, toStalledV := renewable(1)
	underStalled, underStalledV := renewable(2)
	healthy, healthyV := renewable(1)
	if _, err := s.Renew(ctx, p.key(1), 0, p.key(2), []byte("v"), live(spread)); !errors.Is(err, sesame.ErrConflict) {
		t.Fatalf("Renew of a missing record: %v; want ErrConflict", err)
	}

	c.replicas[stalled].signal(syscall.SIGSTOP)
	defer c.replicas[stalled].signal(syscall.SIGCONT)
	indexedThere := p.user(stalled, "indexed")
	onStalled, onOther := p.key(stalled), p.key(2)
	if _, err := s.Save(ctx, onOther, []byte("v"), 0, live("")); err != nil {
		t.Fatalf("Save on a healthy master: %v", err)
	}
	cases := []struct {
		name    string
		call    func(ctx context.Context) error
		refused bool
	}{
		{"Save on the stalled master", func(ctx context.Context) error {
			_, err := s.Save(ctx, p.key(stalled), []byte("v"), 0, live(""))
			return err
		}, true},
		{"Save elsewhere filed under a user indexed on the stalled master", func(ctx context.Context) error {
			_, err := s.Save(ctx, p.key(1), []byte("v"), 0, live(indexedThere))
			return err
		}, true},
		{"Save on a healthy master", func(ctx context.Context) error {
			_, err := s.Save(ctx, p.key(1), []byte("v"), 0, live(spread))
			return err
		}, false},
		{"Renew of a record on the stalled master", func(ctx context.Context) error {
			_, err := s.Renew(ctx, fromStalled, fromStalledV, p.key(1), []byte("v"), live(spread))
			return err
		}, true},
		{"Renew to a key on the stalled master", func(ctx context.Context) error {
			_, err := s.Renew(ctx, toStalled, toStalledV, p.key(stalled), []byte("v"), live(spread))
			return err
		}, true},
		{"Renew filed under a user indexed on the stalled master", func(ctx context.Context) error {
			_, err := s.Renew(ctx, underStalled, underStalledV, p.key(1), []byte("v"), live(indexedThere))
			return err
		}, true},
		{"Renew on healthy masters", func(ctx context.Context) error {
			_, err := s.Renew(ctx, healthy, healthyV, p.key(2), []byte("v"), live(spread))
			return err
		}, false},
		{"Delete on the stalled master", func(ctx context.Context) error { return s.Delete(ctx, onStalled) }, true},
		{"Delete on a healthy master", func(ctx context.Context) error { return s.Delete(ctx, onOther) }, false},
		{"DeleteUser with a record on the stalled master", func(ctx context.Context) error { return s.DeleteUser(ctx, spread) }, true},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			start := time.Now()
			err := tc.call(ctx)
			took := time.Since(start)
			if !tc.refused {
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
				return
			}
			wantNotReplicated(t, tc.name, err, took)
		})
	}
	// The DeleteUser deleted the records on the healthy masters.
	for m, k := range spreadKeys {
		_, _, err := s.Load(ctx, k)
		if m != stalled && !errors.Is(err, sesame.ErrNotFound) {
			t.Errorf("after DeleteUser, the record on healthy master %d: %v; want ErrNotFound", m, err)
		}
	}
}

// TestFailoverWithLaggingReplica stalls the replica of one master, writes
// for a while (new sessions filed under a user whose index lives on that
// master, deletes and updates on every master), kills the master and lets
// its stale replica be promoted. Without MinReplicas the failover undoes
// acknowledged writes: deletes come back, and sessions outlive a
// DeleteUser acknowledged after it, because their index entries were lost.
// With MinReplicas 1 every write touching that master is refused instead,
// and nothing acknowledged is lost or undone. The old master then comes
// back as a replica, which lets the shard take writes with MinReplicas
// again.
func TestFailoverWithLaggingReplica(t *testing.T) {
	needRedisServer(t)
	for _, tc := range []struct {
		name        string
		minReplicas int
	}{
		{"WithoutMinReplicas", 0},
		{"MinReplicas1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost, refused := laggingFailover(t, tc.minReplicas)
			if tc.minReplicas == 0 {
				if lost == 0 {
					t.Error("without MinReplicas, the failover to a stale replica lost nothing acknowledged: the test cannot see a loss")
				}
				return
			}
			if lost != 0 {
				t.Errorf("with MinReplicas %d, %d acknowledged writes were lost or undone", tc.minReplicas, lost)
			}
			if refused == 0 {
				t.Error("no write was refused while the replica was stalled")
			}
		})
	}
}

// laggingFailover runs the failover of TestFailoverWithLaggingReplica and
// returns how many acknowledged writes it lost or undid, and how many
// writes were refused as not replicated.
func laggingFailover(t *testing.T, minReplicas int) (lost, refused int) {
	c := startCluster(t, 1, false)
	s := replicatedStore(t, c, minReplicas)
	p := newPlacer(t, s, c)
	ctx := t.Context()
	const victim = 0
	user := p.user(victim, "lagging")

	type saved struct {
		key     string
		version uint64
	}
	var mu sync.Mutex
	var saves []saved    // acknowledged saves, latest version of each key
	var deleted []string // acknowledged deletes
	note := func(err error) bool {
		if err == nil {
			return true
		}
		if !errors.Is(err, ErrNotReplicated) {
			t.Errorf("a write failed otherwise than as not replicated: %v", err)
		}
		mu.Lock()
		refused++
		mu.Unlock()
		return false
	}

	// Before the stall: two sessions of the user on every master.
	var before []saved
	for m := range c.masters {
		for range 2 {
			k := p.key(m)
			v, err := s.Save(ctx, k, []byte("before"), 0, live(user))
			if err != nil {
				t.Fatalf("Save before the fault: %v", err)
			}
			before = append(before, saved{k, v})
		}
	}
	waitReplicated(t, c)

	// The replica stops (SIGSTOP), and the master drops its link to it:
	// what the master writes from now on reaches no replica. (A stopped
	// process still receives into its socket buffer, so SIGSTOP alone
	// would only delay the writes, not lose them.)
	c.replicas[victim].signal(syscall.SIGSTOP)
	c.masters[victim].cli("client", "kill", "type", "replica")
	stalled := true
	defer func() {
		if stalled {
			c.replicas[victim].signal(syscall.SIGCONT)
		}
	}()
	var wg sync.WaitGroup
	for m := range c.masters {
		// New sessions of the user: index entry on the victim.
		for range 3 {
			wg.Go(func() {
				k := p.key(m)
				v, err := s.Save(ctx, k, []byte("during"), 0, live(user))
				if note(err) {
					mu.Lock()
					saves = append(saves, saved{k, v})
					mu.Unlock()
				}
			})
		}
	}
	for i, b := range before {
		wg.Go(func() {
			if i%2 == 0 { // delete one of each master's two
				if note(s.Delete(ctx, b.key)) {
					mu.Lock()
					deleted = append(deleted, b.key)
					mu.Unlock()
				}
				return
			}
			// A refused update may have landed or not: only an
			// acknowledged one says which version must be there.
			v, err := s.Save(ctx, b.key, []byte("updated"), b.version, live(user))
			if note(err) {
				mu.Lock()
				saves = append(saves, saved{b.key, v})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// The replica has been stalled for more than ReplicaTimeout; make it
	// a little longer, as a real lag would be.
	time.Sleep(300 * time.Millisecond)

	c.masters[victim].kill()
	c.replicas[victim].signal(syscall.SIGCONT)
	stalled = false
	promote(t, c.replicas[victim])
	// The old master comes back, as a replica of the new one: with
	// MinReplicas, its shard takes writes again once it has a replica.
	c.masters[victim].start()
	waitClusterOK(t, c.nodes())
	waitLinked(t, c.masters[victim])
	waitCaughtUp(t, c.replicas[victim], c.masters[victim])

	for _, r := range saves {
		waitLoads(t, s, r.key, true)
		_, v, err := s.Load(ctx, r.key)
		if err != nil || v != r.version {
			lost++
			t.Logf("after the failover, acknowledged save of %s: version %d, %v; want version %d", short(r.key), v, err, r.version)
		}
	}
	for _, k := range deleted {
		if _, _, err := s.Load(ctx, k); !errors.Is(err, sesame.ErrNotFound) {
			lost++
			t.Logf("after the failover, acknowledged delete of %s undone: Load says %v", short(k), err)
		}
	}
	if err := s.DeleteUser(ctx, user); err != nil {
		t.Fatalf("DeleteUser after the failover: %v", err)
	}
	// Every session of the user must be gone: those from before the fault
	// (deleted or not, updated or not), and those acknowledged during it.
	outlived := 0
	for _, r := range append(before, saves...) {
		if _, _, err := s.Load(ctx, r.key); !errors.Is(err, sesame.ErrNotFound) {
			outlived++
			t.Logf("session %s outlived an acknowledged DeleteUser: Load says %v", short(r.key), err)
		}
	}
	t.Logf("MinReplicas %d: %d saves and %d deletes acknowledged, %d refused; %d lost or undone by the failover, %d sessions outlived DeleteUser after it",
		minReplicas, len(saves), len(deleted), refused, lost, outlived)
	return lost + outlived, refused
}

// promote waits for a replica whose master died to take over, and makes it
// take over (CLUSTER FAILOVER TAKEOVER) if the cluster has not promoted it
// within five seconds, as an operator would.
func promote(t *testing.T, r *redisProc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	forced := false
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if strings.HasPrefix(r.cli("role"), "master") {
			return
		}
		if !forced && time.Since(start) > 5*time.Second {
			t.Logf("%s not promoted after 5s: CLUSTER FAILOVER TAKEOVER: %s", r, r.cli("cluster", "failover", "takeover"))
			forced = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not promoted after 20s", r)
		}
	}
}

// waitLinked waits until r is a replica whose link to its master is up.
func waitLinked(t *testing.T, r *redisProc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		f := strings.Fields(r.cli("role"))
		if len(f) >= 4 && f[0] == "slave" && f[3] == "connected" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not a connected replica after 20s: role %q", r, f)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterDownLoadSaysDeadline kills a master of a cluster that
// requires full coverage (Redis's default), so that every node refuses
// commands with CLUSTERDOWN. A Load retries until its deadline and then
// fails with an error that wraps context.DeadlineExceeded and still says
// what the cluster answered; a Save fails at once, saying the same.
func TestClusterDownLoadSaysDeadline(t *testing.T) {
	needRedisServer(t)
	c := startCluster(t, 0, true)
	s, err := New(Config{Addrs: addrsOf(c.masters), Prefix: testPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newPlacer(t, s, c)
	key := p.key(1)
	if _, err := s.Save(t.Context(), key, []byte("v"), 0, live("")); err != nil {
		t.Fatal(err)
	}
	c.masters[0].kill()
	waitClusterState(t, c.masters[1:], 3, "fail")

	const deadline = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	_, _, err = s.Load(ctx, key)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load while the cluster is down: %v; want an error wrapping context.DeadlineExceeded", err)
	}
	if err == nil || !strings.Contains(err.Error(), "CLUSTERDOWN") || !strings.Contains(err.Error(), "cluster-require-full-coverage") {
		t.Errorf("Load while the cluster is down: %v; want the last error (CLUSTERDOWN) and what it means", err)
	}
	if took < deadline || took > deadline+callSlack {
		t.Errorf("Load while the cluster is down took %v; want its deadline, %v", took, deadline)
	}

	_, err = s.Save(t.Context(), p.key(1), []byte("v"), 0, live(""))
	if err == nil || !strings.Contains(err.Error(), "CLUSTERDOWN") || !strings.Contains(err.Error(), "cluster-require-full-coverage") {
		t.Errorf("Save while the cluster is down: %v; want CLUSTERDOWN and what it means", err)
	}
}
