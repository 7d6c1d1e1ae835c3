package sesame

import (
	"testing"
	"unsafe"
)

// TestRequestStateStaysInItsSizeClass: the one allocation the Manager
// makes for every request stays in the 512-byte size class it had before
// bindings existed, so that unbound sessions pay nothing for them: what a
// request does with bindings hangs off a pointer made only when needed.
func TestRequestStateStaysInItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(requestState{}); n > 512 {
		t.Fatalf("requestState is %d bytes, over the 512-byte size class", n)
	}
}
