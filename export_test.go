package sesame

import (
	"io"
	"time"
)

// SetClock makes m read the time from now; tests use it to cross deadlines.
func SetClock(m *Manager, now func() time.Time) { m.now = now }

// SetRand makes m read ids from r; tests use it to make the RNG fail.
func SetRand(m *Manager, r io.Reader) { m.rand = r }

// MaxConflicts is how many conflicts a save survives when its context
// never ends.
const MaxConflicts = maxConflicts
