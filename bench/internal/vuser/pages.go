package vuser

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"time"
)

// What the load test reads in sessiond's pages (cmd/sessiond/templates).
const (
	flashOpen   = `<div class="notice" role="status">`
	whoOpen     = `<dd id="who">`
	handleInput = `name="handle" value="`
	passwordBox = `name="password"`
	idleOpen    = `<dt>Ends if unused</dt><dd>`
	timeLayout  = "2 Jan 2006 15:04:05 MST" // cmd/sessiond's formatTime
	// The flashes sessiond's revocations leave for the next page.
	flashRevoked       = "Session ended."
	flashOthersRevoked = "Your other sessions have ended."
)

// listing is the table of a "your sessions" page.
type listing struct {
	rows    int      // sessions listed
	current int      // rows marked as the requesting session
	handles []string // handles of the other rows (the current row has no Revoke button)
}

// parseSessions reads the table of a "your sessions" page.
func parseSessions(page string) (listing, error) {
	var l listing
	_, rest, ok := strings.Cut(page, `<table id="sessions">`)
	if !ok {
		return l, errors.New("no sessions table")
	}
	_, rest, ok = strings.Cut(rest, "<tbody>")
	if !ok {
		return l, errors.New("no tbody in the sessions table")
	}
	body, _, ok := strings.Cut(rest, "</tbody>")
	if !ok {
		return l, errors.New("sessions table not closed")
	}
	rows := strings.Split(body, "<tr")[1:]
	for _, row := range rows {
		l.rows++
		if strings.HasPrefix(row, ` class="current">`) {
			l.current++
			if strings.Contains(row, handleInput) {
				return l, errors.New("the current session has a Revoke button")
			}
			continue
		}
		_, h, ok := strings.Cut(row, handleInput)
		if !ok {
			return l, errors.New("a session row without a handle")
		}
		h, _, ok = strings.Cut(h, `"`)
		if !ok || h == "" {
			return l, errors.New("a session row with a malformed handle")
		}
		l.handles = append(l.handles, html.UnescapeString(h))
	}
	return l, nil
}

// flashesOf returns the flash messages a page shows, in order: the notices
// the layout puts before the page's heading.
func flashesOf(page string) []string {
	_, main, ok := strings.Cut(page, "<main>")
	if !ok {
		return nil
	}
	main, _, _ = strings.Cut(main, "<h1>")
	var out []string
	for {
		var ok bool
		_, main, ok = strings.Cut(main, flashOpen)
		if !ok {
			return out
		}
		var msg string
		msg, main, _ = strings.Cut(main, "</div>")
		out = append(out, html.UnescapeString(msg))
	}
}

// idleDeadlineOf reads when the session ends if unused from a home page.
// sessiond runs with TZ=UTC, so the time is in UTC.
func idleDeadlineOf(page string) (time.Time, error) {
	_, rest, ok := strings.Cut(page, idleOpen)
	if !ok {
		return time.Time{}, errors.New("no idle deadline on the page")
	}
	s, _, _ := strings.Cut(rest, " <span")
	t, err := time.ParseInLocation(timeLayout, html.UnescapeString(s), time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("idle deadline: %w", err)
	}
	return t, nil
}

// whoOf returns the user the home page says is signed in, or "".
func whoOf(page string) string {
	_, rest, ok := strings.Cut(page, whoOpen)
	if !ok {
		return ""
	}
	who, _, _ := strings.Cut(rest, "</dd>")
	return html.UnescapeString(who)
}
