package storetest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestServerMissing checks both ways ServerMissing ends a test: a skip
// by default, a failure that says why when SESAME_REQUIRE_SERVERS=1. Each
// runs in a test binary of its own, whose outcome this test reads.
func TestServerMissing(t *testing.T) {
	if os.Getenv("STORETEST_SERVER_MISSING_CHILD") == "1" {
		ServerMissing(t, "no server at 127.0.0.1:1")
		t.Fatal("ServerMissing returned")
	}
	tests := []struct {
		require string
		fails   bool
		says    string
	}{
		{"", false, "--- SKIP: TestServerMissing"},
		{"1", true, "no server at 127.0.0.1:1 (SESAME_REQUIRE_SERVERS=1 makes this a failure)"},
	}
	for _, tc := range tests {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServerMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "STORETEST_SERVER_MISSING_CHILD=1", "SESAME_REQUIRE_SERVERS="+tc.require)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fails || !strings.Contains(string(out), tc.says) {
			t.Errorf("SESAME_REQUIRE_SERVERS=%q: exit %v, output:\n%s\nwant failed %v and %q", tc.require, err, out, tc.fails, tc.says)
		}
	}
}
