package pages

import (
	"fmt"
	"time"
)

// shortHandle is the start of a session's handle, enough to tell a
// user's sessions apart on the sessions page.
func shortHandle(h string) string {
	return h[:min(len(h), 6)]
}

// formatTime shows a time for people.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006 15:04:05 MST")
}

// ago says how long before now t was (or how long until it comes).
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	switch {
	case d < time.Minute:
		if suffix == "ago" {
			return "just now"
		}
		return "in under a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " " + suffix
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " " + suffix
	}
	return plural(int(d/(24*time.Hour)), "day") + " " + suffix
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
