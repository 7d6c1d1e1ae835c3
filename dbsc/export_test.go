package dbsc

import "time"

// SetClock makes b read the time from now; tests use it to let bound
// cookies and challenges expire.
func SetClock(b *Binder, now func() time.Time) { b.now = now }
