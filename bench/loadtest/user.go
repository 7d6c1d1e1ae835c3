package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// errBroken stops a user whose model of the server is no longer exact: a
// write failed in a way that leaves its outcome unknown. It has been
// counted as an error already.
var errBroken = errors.New("the outcome of a write is unknown")

// maxDead bounds the ended sessions a user keeps to re-check in the final
// sweep: a uniform sample of all of them (reservoir sampling).
const maxDead = 64

// userAgents are what the devices claim to be, so the sessions page shows
// real device names.
var userAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}

// device is one browser of a virtual user, and what the user knows about
// its session.
type device struct {
	n       int
	ua      string
	cookie  string    // the session cookie the browser holds; "" none
	live    bool      // a logged-in session is behind cookie, by every acknowledged write
	handle  string    // that session's handle, once another device's list showed it
	flashes []string  // flashes written to the session and not shown yet
	served  time.Time // when the last request the live session answered was sent
}

// ended is the cookie of a session that an acknowledged write ended, and
// which write it was.
type ended struct {
	cookie, why string
}

// vuser is one virtual user: an account and its devices, driven by one
// goroutine at a time, so that what it expects of the server is exact.
// Only racing reads (raceRead) run beside it, and they change nothing in
// it.
type vuser struct {
	name, password string
	devs           []*device
	dead           []ended // sample of ended sessions, for the final sweep
	deadSeen       int
	deadHandles    map[string]bool // handles of ended sessions
	reported       map[string]bool // ended sessions already found listed
	rng            *rand.Rand
	t              *target
	tally          *tally
	rec            *recorder // the current phase's latencies
	mix            *mix
	raceProb       float64
	idle           time.Duration
	broken         bool
	sentAt         time.Time // when send sent its last request

	// The final sweep's counts.
	sweptLive, sweptDead, unchecked int
}

func newUser(i int, password string, cfg *config, t *target, tl *tally) *vuser {
	u := &vuser{
		name:        fmt.Sprintf("lt%05d", i),
		password:    password,
		deadHandles: map[string]bool{},
		reported:    map[string]bool{},
		rng:         rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
		t:           t,
		tally:       tl,
		mix:         &cfg.Mix,
		raceProb:    cfg.RaceProb,
		idle:        cfg.IdleTimeout,
	}
	for n := range cfg.Devices {
		u.devs = append(u.devs, &device{n: n, ua: userAgents[(i+n)%len(userAgents)]})
	}
	return u
}

// who names a device in messages; nil names the user.
func (u *vuser) who(d *device) string {
	if d == nil {
		return u.name
	}
	return fmt.Sprintf("%s/device %d", u.name, d.n)
}

// send makes one request of d (nil: a device the user no longer knows,
// for an ended session's cookie). A transport error or timeout is counted; a
// refused budget is not.
func (u *vuser) send(ctx context.Context, d *device, kind, path, cookie string, form url.Values) (*response, error) {
	method := http.MethodGet
	if form != nil {
		method = http.MethodPost
	}
	ua := userAgents[0]
	if d != nil {
		ua = d.ua
	}
	u.sentAt = time.Now()
	res, err := u.t.do(ctx, u.rec, request{kind: kind, method: method, path: path, cookie: cookie, ua: ua, form: form})
	if err != nil && !errors.Is(err, errBudget) {
		u.tally.errorf("%s: %s: %v", u.who(d), kind, err)
	}
	return res, err
}

// write sends a request that changes the server's state. When its outcome
// is unknown (no response), the user stops.
func (u *vuser) write(ctx context.Context, d *device, kind, path string, form url.Values) (*response, error) {
	res, err := u.send(ctx, d, kind, path, d.cookie, form)
	if err != nil && !errors.Is(err, errBudget) {
		u.broken = true
		return nil, errBroken
	}
	return res, err
}

// refused counts a write answered in a way that leaves its effect unknown,
// and stops the user.
func (u *vuser) refused(d *device, kind string, res *response) error {
	u.tally.errorf("%s: %s: unexpected answer %s", u.who(d), kind, summary(res))
	u.broken = true
	return errBroken
}

// summary describes a response for messages.
func summary(res *response) string {
	s := fmt.Sprintf("%d", res.status)
	if res.location != "" {
		s += " to " + res.location
	}
	if len(res.cookies) > 0 {
		s += fmt.Sprintf(", %d Set-Cookie", len(res.cookies))
	}
	if res.status >= 400 {
		body := strings.Join(strings.Fields(res.body), " ")
		if len(body) > 120 {
			body = body[:120] + "..."
		}
		s += ": " + body
	}
	return s
}

// run drives the user until stop is closed, the budget is spent, or the
// user breaks. Requests use ctx, so that the end of the load phase does
// not cut a request short.
func (u *vuser) run(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		err := u.step(ctx)
		if errors.Is(err, errBudget) || errors.Is(err, errBroken) {
			return
		}
	}
}

// step does one operation on a random device: a login if it is logged
// out, else an operation of the mix.
func (u *vuser) step(ctx context.Context) error {
	d := u.devs[u.rng.IntN(len(u.devs))]
	if !d.live {
		return u.login(ctx, d)
	}
	switch u.mix.pick(u.rng) {
	case opHome:
		u.tally.op(opHome)
		return u.home(ctx, d)
	case opAuth:
		u.tally.op(opAuth)
		return u.auth(ctx, d)
	case opSessions:
		u.tally.op(opSessions)
		return u.sessions(ctx, d)
	case opRevoke:
		return u.revoke(ctx, d)
	case opRevokeOthers:
		return u.revokeOthers(ctx, d)
	case opLogout:
		return u.logout(ctx, d)
	default:
		return u.logoutAll(ctx, d)
	}
}

// liveOthers returns the user's live devices other than d.
func (u *vuser) liveOthers(d *device) []*device {
	var out []*device
	for _, x := range u.devs {
		if x != d && x.live {
			out = append(out, x)
		}
	}
	return out
}

// end records that an acknowledged write ended d's session: its cookie
// (which the browser keeps until the server clears it) must never work
// again, and its handle never be listed again.
func (u *vuser) end(d *device, why string) {
	u.deadSeen++
	e := ended{cookie: d.cookie, why: why}
	if len(u.dead) < maxDead {
		u.dead = append(u.dead, e)
	} else if j := u.rng.IntN(u.deadSeen); j < maxDead {
		u.dead[j] = e
	}
	if d.handle != "" {
		u.deadHandles[d.handle] = true
	}
	d.live, d.handle, d.flashes = false, "", nil
}

// forget resets d after a lost write was found on it: the browser drops
// its cookie, and nothing more is expected of that session, so that one
// loss is counted once.
func (u *vuser) forget(d *device) {
	d.live, d.cookie, d.handle, d.flashes = false, "", "", nil
}

// takeCookie applies a read's Set-Cookie to d. A read of a live session
// must not change its cookie; a read with an ended session's cookie may
// clear it.
func (u *vuser) takeCookie(d *device, kind string, res *response) {
	v, ok := res.setCookie()
	switch {
	case !ok:
	case d.live:
		u.tally.errorf("%s: %s of a live session set its cookie (%d Set-Cookie)", u.who(d), kind, len(res.cookies))
	case v != "":
		u.tally.errorf("%s: %s without a live session set a session cookie", u.who(d), kind)
	default:
		d.cookie = ""
	}
}

// login loads the login page and posts the form, then checks the new
// session: it authenticates at once, and the other devices' lists show it.
func (u *vuser) login(ctx context.Context, d *device) error {
	u.tally.op(opLogin)
	res, err := u.send(ctx, d, "GET login", pathLogin, d.cookie, nil)
	if err != nil {
		return err
	}
	if res.status != http.StatusOK || !strings.Contains(res.body, passwordBox) {
		u.tally.errorf("%s: GET login: unexpected answer %s", u.who(d), summary(res))
		return nil
	}
	u.takeCookie(d, "GET login", res)
	res, err = u.write(ctx, d, "POST login", pathLogin, url.Values{"user": {u.name}, "password": {u.password}})
	if err != nil {
		return err
	}
	c, ok := res.setCookie()
	if res.status != http.StatusSeeOther || res.location != pathHome || !ok || c == "" || len(res.cookies) != 1 || c == d.cookie {
		return u.refused(d, "POST login", res)
	}
	d.cookie, d.live, d.handle, d.flashes, d.served = c, true, "", nil, u.sentAt
	if err := u.auth(ctx, d); err != nil || !d.live {
		return err
	}
	return u.learnHandles(ctx, d)
}

// learnHandles finds the handle of d's new session, and of any other
// device whose handle is unknown, from the lists of the other devices: a
// session's own row has no handle, every other row has one. At most two
// lists are needed when, as here, at most one other device's handle is
// unknown; each list is checked in full.
func (u *vuser) learnHandles(ctx context.Context, d *device) error {
	for range 3 {
		var unknown, known []*device
		for _, x := range u.devs {
			switch {
			case !x.live:
			case x.handle == "":
				unknown = append(unknown, x)
			default:
				known = append(known, x)
			}
		}
		if len(unknown) == 0 || len(unknown)+len(known) < 2 {
			return nil
		}
		// A list from viewer shows every live handle but viewer's own: it
		// names the one unknown device left among the others.
		viewer := unknown[0]
		switch {
		case len(unknown) == 1:
			viewer = known[u.rng.IntN(len(known))]
		case unknown[0] == d && len(unknown) > 1:
			viewer = unknown[1]
		}
		if err := u.sessions(ctx, viewer); err != nil {
			return err
		}
	}
	return nil
}

// auth checks that d's live session authenticates as the user.
func (u *vuser) auth(ctx context.Context, d *device) error {
	res, err := u.send(ctx, d, "GET auth", pathAuth, d.cookie, nil)
	if err != nil {
		return err
	}
	switch {
	case res.status == http.StatusOK && res.user == u.name:
		d.served = u.sentAt
		u.takeCookie(d, "GET auth", res)
	case res.status == http.StatusUnauthorized:
		u.tally.lostf("%s: a logged-in session no write ended is gone: GET auth says 401", u.who(d))
		u.forget(d)
	default:
		u.tally.errorf("%s: GET auth: unexpected answer %s (user %q)", u.who(d), summary(res), res.user)
	}
	return nil
}

// checkEnded checks that the cookie of a session an acknowledged write
// ended no longer authenticates. d, if not nil, is the device that holds
// it.
func (u *vuser) checkEnded(ctx context.Context, d *device, e ended) error {
	res, err := u.send(ctx, d, "GET auth", pathAuth, e.cookie, nil)
	if err != nil {
		return err
	}
	switch res.status {
	case http.StatusUnauthorized:
		if d != nil && d.cookie == e.cookie && !d.live {
			u.takeCookie(d, "GET auth", res)
		}
	case http.StatusOK:
		u.tally.lostf("%s: a session ended by an acknowledged %s still authenticates (as %q)", u.who(d), e.why, res.user)
	default:
		u.tally.errorf("%s: GET auth of an ended session: unexpected answer %s", u.who(d), summary(res))
	}
	return nil
}

// gone handles a page that sent a live session's device to log in.
func (u *vuser) gone(d *device, kind string, res *response) {
	if res.status == http.StatusSeeOther && strings.HasPrefix(res.location, pathLogin) {
		u.tally.lostf("%s: a logged-in session no write ended is gone: %s sends it to log in", u.who(d), kind)
		u.forget(d)
		return
	}
	u.tally.errorf("%s: %s: unexpected answer %s", u.who(d), kind, summary(res))
}

// page loads one of d's pages and checks what every page of a live
// session must be: a 200 that keeps the cookie and shows exactly the
// flashes written to the session since the last page. It returns nil when
// the page did not come.
func (u *vuser) page(ctx context.Context, d *device, kind, path string) (*response, error) {
	res, err := u.send(ctx, d, kind, path, d.cookie, nil)
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		u.gone(d, kind, res)
		return nil, nil
	}
	u.takeCookie(d, kind, res)
	u.checkFlashes(d, kind, flashesOf(res.body))
	return res, nil
}

// home checks the home page: it names the user, and shows an idle
// deadline that every earlier request's extension of it (a store write at
// most every idle/20) has reached.
func (u *vuser) home(ctx context.Context, d *device) error {
	res, err := u.page(ctx, d, "GET home", pathHome)
	if res == nil {
		return err
	}
	if who := whoOf(res.body); who != u.name {
		u.tally.errorf("%s: GET home names %q", u.who(d), who)
	}
	u.checkIdleDeadline(d, res.body)
	d.served = u.sentAt
	return nil
}

// checkIdleDeadline checks the idle deadline a home page shows. Every
// request a session answers moves its idle deadline to idle after the
// request, unless the last move was less than idle/20 before, so the
// deadline is never earlier than the previous request's start plus
// idle*19/20 (less a second: the page shows whole seconds). An earlier
// one means that an extension sessiond made was lost.
func (u *vuser) checkIdleDeadline(d *device, page string) {
	shown, err := idleDeadlineOf(page)
	if err != nil {
		u.tally.errorf("%s: GET home: %v", u.who(d), err)
		return
	}
	want := d.served.Add(u.idle - u.idle/20).Add(-time.Second)
	if shown.Before(want) {
		u.tally.lostf("%s: the home page shows the idle deadline %s, %v before the extension of a request at %s",
			u.who(d), shown.Format(time.TimeOnly), want.Sub(shown).Round(time.Millisecond), d.served.UTC().Format("15:04:05.000"))
	}
	if limit := time.Now().Add(u.idle + time.Second); shown.After(limit) {
		u.tally.errorf("%s: the home page shows the idle deadline %s, later than now plus the idle timeout", u.who(d), shown.Format(time.TimeOnly))
	}
}

// checkFlashes compares the flashes a page showed with those written to
// the session: a missing one is a lost write, an extra one an error. Shown
// flashes are gone.
func (u *vuser) checkFlashes(d *device, kind string, got []string) {
	if slices.Equal(got, d.flashes) {
		d.flashes = nil
		return
	}
	extra := slices.Clone(got)
	for _, want := range d.flashes {
		if i := slices.Index(extra, want); i >= 0 {
			extra = slices.Delete(extra, i, i+1)
		} else {
			u.tally.lostf("%s: %s does not show the flash %q written by an acknowledged revocation", u.who(d), kind, want)
		}
	}
	if len(extra) > 0 {
		u.tally.errorf("%s: %s shows flashes nobody wrote: %q", u.who(d), kind, extra)
	}
	d.flashes = nil
}

// sessions checks the "your sessions" page of d: one row is d's own, and
// the others are exactly the user's other live sessions, none of those an
// acknowledged write ended. It learns the handle of the one device whose
// handle was unknown, if the list names it.
func (u *vuser) sessions(ctx context.Context, d *device) error {
	res, err := u.page(ctx, d, "GET sessions", pathSessions)
	if res == nil {
		return err
	}
	d.served = u.sentAt
	l, err := parseSessions(res.body)
	if err != nil {
		u.tally.errorf("%s: GET sessions: %v", u.who(d), err)
		return nil
	}
	u.reconcile(d, l)
	return nil
}

// reconcile compares a list seen from d with the sessions the user knows.
func (u *vuser) reconcile(d *device, l listing) {
	if l.current != 1 {
		u.tally.errorf("%s: the sessions page marks %d rows as this session", u.who(d), l.current)
	}
	listed := map[string]bool{}
	for _, h := range l.handles {
		if listed[h] {
			u.tally.errorf("%s: the sessions page lists a handle twice", u.who(d))
		}
		listed[h] = true
	}
	if d.handle != "" && listed[d.handle] {
		u.tally.errorf("%s: the sessions page lists this session as another", u.who(d))
		delete(listed, d.handle)
	}
	for h := range listed {
		if u.deadHandles[h] {
			if !u.reported[h] { // one loss, however many pages show it
				u.reported[h] = true
				u.tally.lostf("%s: the sessions page lists a session that an acknowledged write ended", u.who(d))
			}
			delete(listed, h)
		}
	}
	var unknown []*device
	for _, x := range u.liveOthers(d) {
		switch {
		case x.handle == "":
			unknown = append(unknown, x)
		case listed[x.handle]:
			delete(listed, x.handle)
		default:
			u.tally.lostf("%s: the sessions page does not list the live session of device %d", u.who(d), x.n)
			u.forget(x)
		}
	}
	switch {
	case len(listed) > len(unknown):
		u.tally.errorf("%s: the sessions page lists %d sessions the user does not have", u.who(d), len(listed)-len(unknown))
	case len(listed) < len(unknown):
		u.tally.lostf("%s: the sessions page lists %d of the %d live sessions whose handles are not known yet", u.who(d), len(listed), len(unknown))
	case len(unknown) == 1:
		for h := range listed {
			unknown[0].handle = h
		}
	}
}

// racingWrite sends a write of d that ends the victims' sessions and,
// with probability raceProb, a read from each victim at the same time.
func (u *vuser) racingWrite(ctx context.Context, d *device, kind, path string, form url.Values, victims []*device) (*response, error) {
	var wg sync.WaitGroup
	if len(victims) > 0 && u.rng.Float64() < u.raceProb {
		for _, v := range victims {
			n, cookie, ua := v.n, v.cookie, v.ua
			wg.Go(func() { u.raceRead(ctx, n, cookie, ua) })
		}
	}
	res, err := u.write(ctx, d, kind, path, form)
	wg.Wait()
	return res, err
}

// raceRead is a victim's read racing the write that ends its session: it
// may see the session (the home page names the user) or be sent to log in;
// either way it must not bring the session back, which the checks after
// the write and the final sweep see. It touches nothing of the user's
// state but the shared, locked counters.
func (u *vuser) raceRead(ctx context.Context, n int, cookie, ua string) {
	const kind = "GET home (racing a revocation)"
	res, err := u.t.do(ctx, u.rec, request{kind: kind, method: http.MethodGet, path: pathHome, cookie: cookie, ua: ua})
	switch {
	case errors.Is(err, errBudget):
	case err != nil:
		u.tally.errorf("%s/device %d: %s: %v", u.name, n, kind, err)
	case res.status == http.StatusOK && whoOf(res.body) == u.name:
		u.tally.raced(true)
	case res.status == http.StatusSeeOther && strings.HasPrefix(res.location, pathLogin):
		u.tally.raced(false)
	default:
		u.tally.errorf("%s/device %d: %s: unexpected answer %s", u.name, n, kind, summary(res))
	}
}

// revoke ends another device's session from d's sessions page, as a
// person would: load the page, press Revoke on a row. The next page shows
// the flash and no longer lists it, and the victim's cookie stops working.
func (u *vuser) revoke(ctx context.Context, d *device) error {
	if err := u.sessions(ctx, d); err != nil || !d.live { // the page the Revoke button is on
		u.tally.op(opSessions)
		return err
	}
	var targets []*device
	for _, x := range u.liveOthers(d) {
		if x.handle != "" {
			targets = append(targets, x)
		}
	}
	if len(targets) == 0 {
		u.tally.op(opSessions) // nothing to revoke: the operation was a read
		return nil
	}
	u.tally.op(opRevoke)
	v := targets[u.rng.IntN(len(targets))]
	res, err := u.racingWrite(ctx, d, "POST revoke", pathRevoke, url.Values{"handle": {v.handle}}, []*device{v})
	if err != nil {
		return err
	}
	if _, ok := res.setCookie(); ok || res.status != http.StatusSeeOther {
		return u.refused(d, "POST revoke", res)
	}
	switch res.location {
	case pathSessions:
	case pathSessions + "?msg=ended":
		u.tally.lostf("%s: revoking the live session of device %d: sessiond says it had ended", u.who(d), v.n)
		u.forget(v)
		return nil
	default:
		return u.refused(d, "POST revoke", res)
	}
	d.flashes = append(d.flashes, flashRevoked)
	victims := []*device{v}
	ends := u.endAll(victims, fmt.Sprintf("revoke from device %d", d.n))
	if err := u.sessions(ctx, d); err != nil {
		return err
	}
	return u.checkAllEnded(ctx, victims, ends)
}

// revokeOthers ends every other session of the user from d.
func (u *vuser) revokeOthers(ctx context.Context, d *device) error {
	u.tally.op(opRevokeOthers)
	victims := u.liveOthers(d)
	res, err := u.racingWrite(ctx, d, "POST revoke-others", pathRevokeOthers, url.Values{}, victims)
	if err != nil {
		return err
	}
	if _, ok := res.setCookie(); ok || res.status != http.StatusSeeOther || res.location != pathSessions {
		return u.refused(d, "POST revoke-others", res)
	}
	d.flashes = append(d.flashes, flashOthersRevoked)
	ends := u.endAll(victims, fmt.Sprintf("revoke-others from device %d", d.n))
	if err := u.sessions(ctx, d); err != nil {
		return err
	}
	return u.checkAllEnded(ctx, victims, ends)
}

// endAll ends the victims' sessions and returns what checkAllEnded needs.
func (u *vuser) endAll(victims []*device, why string) []ended {
	out := make([]ended, len(victims))
	for i, v := range victims {
		out[i] = ended{cookie: v.cookie, why: why}
		u.end(v, why)
	}
	return out
}

func (u *vuser) checkAllEnded(ctx context.Context, victims []*device, ends []ended) error {
	for i, v := range victims {
		if err := u.checkEnded(ctx, v, ends[i]); err != nil {
			return err
		}
	}
	return nil
}

// logout ends d's own session; sessiond clears its cookie.
func (u *vuser) logout(ctx context.Context, d *device) error {
	u.tally.op(opLogout)
	res, err := u.write(ctx, d, "POST logout", pathLogout, url.Values{})
	if err != nil {
		return err
	}
	if c, ok := res.setCookie(); !ok || c != "" || res.status != http.StatusSeeOther || res.location != pathLogin+"?msg=loggedout" {
		return u.refused(d, "POST logout", res)
	}
	ends := u.endAll([]*device{d}, "logout")
	d.cookie = ""
	return u.checkEnded(ctx, d, ends[0])
}

// logoutAll ends every session of the user, d's included.
func (u *vuser) logoutAll(ctx context.Context, d *device) error {
	u.tally.op(opLogoutAll)
	victims := u.liveOthers(d)
	res, err := u.racingWrite(ctx, d, "POST logout-all", pathLogoutAll, url.Values{"confirm": {"yes"}}, victims)
	if err != nil {
		return err
	}
	if c, ok := res.setCookie(); !ok || c != "" || res.status != http.StatusSeeOther || res.location != pathLogin+"?msg=everywhere" {
		return u.refused(d, "POST logout-all", res)
	}
	why := fmt.Sprintf("logout-all from device %d", d.n)
	own := u.endAll([]*device{d}, why)
	d.cookie = ""
	ends := u.endAll(victims, why)
	if err := u.checkEnded(ctx, d, own[0]); err != nil {
		return err
	}
	return u.checkAllEnded(ctx, victims, ends)
}

// sweep is the final check of everything the user believes: each live
// session authenticates and lists exactly the user's live sessions (and
// shows the flashes not seen yet), and each ended session (a sample of at
// most maxDead) stays ended. A session unused for nearly the idle timeout
// may have expired on its own and is left unchecked.
func (u *vuser) sweep(ctx context.Context) error {
	for _, d := range u.devs {
		if !d.live {
			continue
		}
		if time.Since(d.served) > u.idle*9/10 {
			u.unchecked++
			continue
		}
		u.sweptLive++
		if err := u.auth(ctx, d); err != nil {
			return err
		}
		if !d.live {
			continue
		}
		if err := u.sessions(ctx, d); err != nil {
			return err
		}
	}
	for _, e := range u.dead {
		u.sweptDead++
		if err := u.checkEnded(ctx, nil, e); err != nil {
			return err
		}
	}
	return nil
}
