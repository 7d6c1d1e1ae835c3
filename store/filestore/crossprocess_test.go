package filestore

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The cross-process test runs this test binary again as its children;
// these variables tell a child what to do.
const (
	childDirEnv   = "FILESTORE_TEST_CHILD_DIR"
	childKeyEnv   = "FILESTORE_TEST_CHILD_KEY"
	childCountEnv = "FILESTORE_TEST_CHILD_COUNT"
)

// TestCrossProcessIncrementsLoseNoUpdates runs two child processes that
// increment one counter with conditional saves while this process does
// the same: every increment must survive.
func TestCrossProcessIncrementsLoseNoUpdates(t *testing.T) {
	if !crossProcess {
		t.Skip("locking is in-process only on this platform")
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const children, perProcess = 2, 150
	s, dir := newTestStore(t, Config{}, nil)
	key := newKey()
	var cmds []*exec.Cmd
	for i := range children {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrossProcessChild$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			childDirEnv+"="+dir, childKeyEnv+"="+key, childCountEnv+"="+strconv.Itoa(perProcess))
		out := &prefixWriter{t: t, prefix: fmt.Sprintf("child %d: ", i)}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting child %d: %v", i, err)
		}
		cmds = append(cmds, cmd)
	}
	for range perProcess {
		if err := increment(t.Context(), s, key); err != nil {
			t.Fatalf("parent: %v", err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	if got, want := counter(t, s, key), (children+1)*perProcess; got != want {
		t.Fatalf("counter = %d after %d processes × %d increments; want %d (updates were lost)", got, children+1, perProcess, want)
	}
}

// TestCrossProcessChild is the child of the test above; it does nothing
// when run on its own.
func TestCrossProcessChild(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("runs only as a child of TestCrossProcessIncrementsLoseNoUpdates")
	}
	n, err := strconv.Atoi(os.Getenv(childCountEnv))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: dir, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := os.Getenv(childKeyEnv)
	for range n {
		if err := increment(t.Context(), s, key); err != nil {
			t.Fatal(err)
		}
	}
}

// prefixWriter passes a child's output to the test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s%s", w.prefix, p)
	return len(p), nil
}
