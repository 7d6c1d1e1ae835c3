package storetest

import (
	"os"
	"testing"
)

// ServerMissing ends a test that needs a server which does not answer:
// it skips the test, saying why, or, when SESAME_REQUIRE_SERVERS=1 (as CI
// sets), fails it, so that a missing server cannot pass for a store that
// works.
func ServerMissing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("SESAME_REQUIRE_SERVERS") == "1" {
		t.Fatal(why + " (SESAME_REQUIRE_SERVERS=1 makes this a failure)")
	}
	t.Skip(why)
}
