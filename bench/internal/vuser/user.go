// Package vuser drives sessiond with virtual users, each with its own
// account and several devices (cookie jars), and checks that nothing an
// acknowledged write did was lost. Each user acts sequentially, so what it
// expects of the server is exact; the users run concurrently.
//
// A user logs its devices in through sessiond's login page, reads (the
// home page, forward auth, the sessions page), revokes other devices,
// revokes all but the current one, logs out, and logs out everywhere, and
// checks every answer against what it knows: a live session authenticates
// and is listed, an ended one never works again, flashes appear once, idle
// deadlines only move forward. Sweep checks everything once more.
//
// Strict users (the load test) count every failed request as an error and
// stop when the outcome of a write is unknown. Tolerant users (the fleet
// under faults) count failed requests apart, and after a write whose
// outcome is unknown they log out everywhere (Resync) until that is
// acknowledged, which makes their state exact again.
package vuser

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

// errBroken stops a strict user whose model of the server is no longer
// exact: a write failed in a way that leaves its outcome unknown. It has
// been counted as an error already.
var errBroken = errors.New("the outcome of a write is unknown")

// errFailed is a request of a tolerant user that failed (transport error,
// timeout, 5xx). It has been counted as a failed request already.
var errFailed = errors.New("the request failed")

// MaxDead bounds the ended sessions a user keeps for the next sweep: all
// those ended since the last sweep, up to MaxDead, and a uniform sample of
// up to MaxDead of all of them (reservoir sampling).
const MaxDead = 64

// SweepRequests bounds the requests one user's Sweep sends.
func SweepRequests(devices int) int64 { return int64(2*devices + 2*MaxDead) }

// userAgents are what the devices claim to be, so the sessions page shows
// real device names.
var userAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}

// Config is what the users of a run share.
type Config struct {
	Seed     uint64        // seeds every user's choices
	Devices  int           // sessions (cookie jars) per user
	Mix      Mix           // weights of the operations on a live device
	RaceProb float64       // chance that the victims of a revocation read at the same time
	Idle     time.Duration // sessiond's --idle-timeout
	// AuthPath is where a user checks that a session authenticates.
	// Empty means sessiond's own forward-auth endpoint, which answers 200
	// with X-Auth-User or 401. Otherwise it is a path of an application
	// behind a proxy's forward auth (nginx auth_request), which answers a
	// logged-in user with 200 and X-Auth-User, and anyone else with a
	// redirect to sessiond's /_sessiond/from/.
	AuthPath string
	// Tolerant users count failed requests apart and resynchronise after
	// a write whose outcome is unknown, instead of stopping.
	Tolerant bool
	// Think is a pause between two operations of a user.
	Think time.Duration
	// ForwardedFor makes each user send X-Forwarded-For with an address of
	// its own (10.0.0.0/8), as users behind a proxy that trusts it come
	// from many addresses; else all come from the harness's.
	ForwardedFor bool
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
	unsure  bool      // a failed request may have shown (and so removed) the flashes
	served  time.Time // when the last request the live session answered was sent
}

// ended is the cookie of a session that an acknowledged write ended, and
// which write it was.
type ended struct {
	cookie, why string
}

// User is one virtual user: an account and its devices, driven by one
// goroutine at a time, so that what it expects of the server is exact.
// Only racing reads (raceRead) run beside it, and they change nothing in
// it.
type User struct {
	name, password string
	devs           []*device
	recent         []ended // sessions ended since the last sweep (up to MaxDead)
	dead           []ended // sample of all ended sessions
	deadSeen       int
	deadHandles    map[string]string // handles of ended sessions, and their cookies
	reported       map[string]bool   // ended sessions already found working or listed (see undone)
	everywhere     bool              // an acknowledged log out everywhere ended every session made before it
	rng            *rand.Rand
	t              *Target
	tally          *Tally
	rec            *Recorder // the current phase's latencies
	cfg            *Config
	authPath       string
	from           string // X-Forwarded-For of its requests; "" none
	unsure         bool   // a write's outcome is unknown: Resync before anything else
	resyncing      bool   // Resync has begun: pending holds what it must end
	pending        []ended
	pendingHandles map[string]string
	sentAt         time.Time

	// Broken is set when a strict user stopped because the outcome of a
	// write was unknown, or a tolerant one met an answer it cannot
	// explain; its state is no longer checked.
	Broken bool
	// SweptLive and SweptDead count the live and ended sessions the
	// sweeps checked; Unchecked the live ones they skipped because they
	// may have expired by themselves.
	SweptLive, SweptDead, Unchecked int
}

// New returns user number i, with the given name and password, whose
// requests go to t and whose problems are counted in tl.
func New(i int, name, password string, cfg *Config, t *Target, tl *Tally) *User {
	u := &User{
		name:        name,
		password:    password,
		deadHandles: map[string]string{},
		reported:    map[string]bool{},
		rng:         rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
		t:           t,
		tally:       tl,
		cfg:         cfg,
		authPath:    cfg.AuthPath,
		rec:         NewRecorder(),
	}
	if u.authPath == "" {
		u.authPath = pathAuth
	}
	if cfg.ForwardedFor {
		u.from = fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
	}
	for n := range cfg.Devices {
		u.devs = append(u.devs, &device{n: n, ua: userAgents[(i+n)%len(userAgents)]})
	}
	return u
}

// Name is the user's account name.
func (u *User) Name() string { return u.name }

// Unsure reports whether the outcome of one of the user's writes is
// unknown, so that what it knows is not exact until Resync.
func (u *User) Unsure() bool { return u.unsure }

// SetRecorder makes the user record its requests' latencies in rec.
func (u *User) SetRecorder(rec *Recorder) { u.rec = rec }

// who names a device in messages; nil names the user.
func (u *User) who(d *device) string {
	if d == nil {
		return u.name
	}
	return fmt.Sprintf("%s/device %d", u.name, d.n)
}

// send makes one request of d (nil: a device the user no longer knows,
// for an ended session's cookie). A strict user counts a transport error
// or timeout as an error and returns it; a tolerant one counts it, and any
// 5xx answer, as a failed request and returns errFailed. A refused budget
// is not counted.
func (u *User) send(ctx context.Context, d *device, kind, path, cookie string, form url.Values) (*response, error) {
	method := http.MethodGet
	if form != nil {
		method = http.MethodPost
	}
	ua := userAgents[0]
	if d != nil {
		ua = d.ua
	}
	u.sentAt = time.Now()
	res, err := u.t.do(ctx, u.rec, request{kind: kind, method: method, path: path, cookie: cookie, ua: ua, from: u.from, form: form})
	switch {
	case errors.Is(err, ErrBudget):
		return nil, err
	case !u.cfg.Tolerant:
		if err != nil {
			u.tally.Errorf("%s: %s: %v", u.who(d), kind, err)
		}
		return res, err
	case err != nil:
		u.tally.failf("%s: %s: %v", u.who(d), kind, err)
	case res.status >= 500:
		u.tally.failf("%s: %s: %s", u.who(d), kind, summary(res))
	default:
		return res, nil
	}
	if d != nil {
		d.unsure = true
	}
	return nil, errFailed
}

// write sends a request that changes the server's state. When its outcome
// is unknown (no answer), a strict user stops and a tolerant one
// resynchronises before its next operation.
func (u *User) write(ctx context.Context, d *device, kind, path string, form url.Values) (*response, error) {
	res, err := u.send(ctx, d, kind, path, d.cookie, form)
	switch {
	case errors.Is(err, errFailed):
		u.unsure = true
		return nil, err
	case err != nil && !errors.Is(err, ErrBudget):
		u.Broken = true
		return nil, errBroken
	}
	return res, err
}

// sentToLogIn reports whether loc is where sessiond sends a request whose
// session is gone: the login page, saying that the session has ended.
func sentToLogIn(loc string) bool {
	return loc == pathLogin || loc == pathLogin+"?msg=session-ended"
}

// refused counts a write answered in a way that leaves its effect unknown,
// and stops the user. A write that needs a logged-in session, answered by
// the redirect to log in (no message), did nothing: the session it was
// sent with, believed live, was gone, which is a lost session.
func (u *User) refused(d *device, kind string, res *response) error {
	if d.live && res.status == http.StatusSeeOther && sentToLogIn(res.location) {
		u.gone(d, kind, res)
		return nil
	}
	u.tally.Errorf("%s: %s: unexpected answer %s", u.who(d), kind, summary(res))
	u.Broken = true
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

// LoginAll logs every device in, one after the other, as the setup of a
// run does.
func (u *User) LoginAll(ctx context.Context) error {
	for _, d := range u.devs {
		if err := u.login(ctx, d); err != nil && !errors.Is(err, errFailed) {
			return err
		}
	}
	return nil
}

// Run drives the user until stop is closed, the budget is spent, or the
// user breaks. Requests use ctx, so that the end of a phase does not cut a
// request short.
func (u *User) Run(ctx context.Context, stop <-chan struct{}) {
	for !u.Broken {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		err := u.step(ctx)
		switch {
		case errors.Is(err, ErrBudget) || errors.Is(err, errBroken):
			return
		case errors.Is(err, errFailed):
			u.pause(ctx, 20*time.Millisecond+u.cfg.Think)
		case u.cfg.Think > 0:
			u.pause(ctx, u.cfg.Think)
		}
	}
}

// pause waits about d (±50%), or until ctx ends.
func (u *User) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d/2 + time.Duration(u.rng.Int64N(int64(d)+1)))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// step does one operation on a random device: a login if it is logged
// out, else an operation of the mix. A user whose last write's outcome is
// unknown resynchronises first.
func (u *User) step(ctx context.Context) error {
	if u.unsure {
		return u.resyncOnce(ctx)
	}
	d := u.devs[u.rng.IntN(len(u.devs))]
	if !d.live {
		return u.login(ctx, d)
	}
	switch u.cfg.Mix.pick(u.rng) {
	case OpHome:
		u.tally.op(OpHome)
		return u.home(ctx, d)
	case OpAuth:
		u.tally.op(OpAuth)
		return u.auth(ctx, d)
	case OpSessions:
		u.tally.op(OpSessions)
		return u.sessions(ctx, d)
	case OpRevoke:
		return u.revoke(ctx, d)
	case OpRevokeOthers:
		return u.revokeOthers(ctx, d)
	case OpLogout:
		return u.logout(ctx, d)
	default:
		return u.logoutAll(ctx, d)
	}
}

// liveOthers returns the user's live devices other than d.
func (u *User) liveOthers(d *device) []*device {
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
func (u *User) end(d *device, why string) {
	u.remember(ended{cookie: d.cookie, why: why})
	if d.handle != "" {
		u.deadHandles[d.handle] = d.cookie
	}
	d.live, d.handle, d.flashes, d.unsure = false, "", nil, false
}

// remember keeps an ended session for the sweeps: in the list of those
// ended since the last sweep while it has room, and in the sample of all.
func (u *User) remember(e ended) {
	if len(u.recent) < MaxDead {
		u.recent = append(u.recent, e)
	}
	u.deadSeen++
	if len(u.dead) < MaxDead {
		u.dead = append(u.dead, e)
	} else if j := u.rng.IntN(u.deadSeen); j < MaxDead {
		u.dead[j] = e
	}
}

// forget resets d after a lost write was found on it: the browser drops
// its cookie, and nothing more is expected of that session, so that one
// loss is counted once.
func (u *User) forget(d *device) {
	d.live, d.cookie, d.handle, d.flashes, d.unsure = false, "", "", nil, false
}

// takeCookie applies a read's Set-Cookie to d. A read of a live session
// must not change its cookie, and clears it only when the session ended
// under the request: its record was gone when the request saved (the
// page had come), which no acknowledged write of the user did, since a
// user's requests run one at a time. A read with an ended session's
// cookie may clear it. It reports whether it found d's session lost.
func (u *User) takeCookie(d *device, kind string, res *response) (lost bool) {
	v, ok := res.setCookie()
	switch {
	case !ok:
	case d.live && v == "":
		u.tally.lostf(LostSession, "%s: a logged-in session no write ended is gone: %s cleared its cookie", u.who(d), kind)
		u.forget(d)
		return true
	case d.live:
		u.tally.Errorf("%s: %s of a live session set its cookie (%d Set-Cookie)", u.who(d), kind, len(res.cookies))
	case v != "":
		u.tally.Errorf("%s: %s without a live session set a session cookie", u.who(d), kind)
	default:
		d.cookie = ""
	}
	return false
}

// postLogin loads the login page and posts the form. It reports whether
// the login was acknowledged, after which d holds the new session's
// cookie.
func (u *User) postLogin(ctx context.Context, d *device) (bool, error) {
	res, err := u.send(ctx, d, "GET login", pathLogin, d.cookie, nil)
	if err != nil {
		return false, err
	}
	if res.status == http.StatusSeeOther && res.location == pathHome && d.cookie != "" {
		// The login page sends a logged-in session home: the session an
		// acknowledged write ended is back.
		if u.undone("cookie " + d.cookie) {
			u.tally.lostf(Undone, "%s: a session an acknowledged write ended is logged in again: GET login sends it home", u.who(d))
		}
		d.cookie = ""
		return false, nil
	}
	if res.status != http.StatusOK || !strings.Contains(res.body, passwordBox) {
		u.tally.Errorf("%s: GET login: unexpected answer %s", u.who(d), summary(res))
		return false, nil
	}
	u.takeCookie(d, "GET login", res)
	res, err = u.write(ctx, d, "POST login", pathLogin, url.Values{"user": {u.name}, "password": {u.password}})
	if err != nil {
		return false, err
	}
	c, ok := res.setCookie()
	if res.status != http.StatusSeeOther || res.location != pathHome || !ok || c == "" || len(res.cookies) != 1 || c == d.cookie {
		return false, u.refused(d, "POST login", res)
	}
	d.cookie, d.live, d.handle, d.flashes, d.unsure, d.served = c, true, "", nil, false, u.sentAt
	return true, nil
}

// login logs d in, then checks the new session: it authenticates at
// once, and the other devices' lists show it.
func (u *User) login(ctx context.Context, d *device) error {
	u.tally.op(OpLogin)
	if ok, err := u.postLogin(ctx, d); !ok {
		return err
	}
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
func (u *User) learnHandles(ctx context.Context, d *device) error {
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

// authResult is what an authentication check found.
type authResult int

const (
	authOther   authResult = iota // an answer it should not be
	authServed                    // the session authenticates as the user
	authEnded                     // the session does not authenticate
	authAsOther                   // the session authenticates as someone else
)

// checkAuth sends an authentication check with cookie and classifies the
// answer.
func (u *User) checkAuth(ctx context.Context, d *device, cookie string) (*response, authResult, error) {
	res, err := u.send(ctx, d, "GET auth", u.authPath, cookie, nil)
	if err != nil {
		return nil, authOther, err
	}
	switch {
	case res.status == http.StatusOK && res.user == u.name:
		return res, authServed, nil
	case res.status == http.StatusOK:
		return res, authAsOther, nil
	case u.authPath == pathAuth && res.status == http.StatusUnauthorized,
		u.authPath != pathAuth && res.status == http.StatusFound && strings.HasPrefix(res.location, pathFrom):
		return res, authEnded, nil
	}
	return res, authOther, nil
}

// auth checks that d's live session authenticates as the user.
func (u *User) auth(ctx context.Context, d *device) error {
	res, r, err := u.checkAuth(ctx, d, d.cookie)
	if err != nil {
		return skip(err)
	}
	switch r {
	case authServed:
		d.served = u.sentAt
		u.takeCookie(d, "GET auth", res)
	case authEnded:
		u.tally.lostf(LostSession, "%s: a logged-in session no write ended is gone: GET auth says %s", u.who(d), summary(res))
		u.forget(d)
	default:
		u.tally.Errorf("%s: GET auth: unexpected answer %s (user %q)", u.who(d), summary(res), res.user)
	}
	return nil
}

// skip turns a failed request of a tolerant user into no error, so that
// the user goes on with its next operation.
func skip(err error) error {
	if errors.Is(err, errFailed) {
		return nil
	}
	return err
}

// checkEnded checks that the cookie of a session an acknowledged write
// ended no longer authenticates. d, if not nil, is the device that holds
// it.
func (u *User) checkEnded(ctx context.Context, d *device, e ended) error {
	res, r, err := u.checkAuth(ctx, d, e.cookie)
	if err != nil {
		return skip(err)
	}
	switch r {
	case authEnded:
		if d != nil && d.cookie == e.cookie && !d.live {
			u.takeCookie(d, "GET auth", res)
		}
	case authServed, authAsOther:
		if u.undone("cookie " + e.cookie) {
			u.tally.lostf(Undone, "%s: a session ended by an acknowledged %s still authenticates (as %q)", u.who(d), e.why, res.user)
		}
	default:
		u.tally.Errorf("%s: GET auth of an ended session: unexpected answer %s", u.who(d), summary(res))
	}
	return nil
}

// undone reports whether a session ended by an acknowledged write, named
// by "cookie C" or, when its cookie is unknown, "handle H", is found
// working or listed for the first time, so that each such session counts
// once however many checks find it.
func (u *User) undone(session string) bool {
	if u.reported[session] {
		return false
	}
	u.reported[session] = true
	return true
}

// gone handles a page that sent a live session's device to log in.
func (u *User) gone(d *device, kind string, res *response) {
	if res.status == http.StatusSeeOther && strings.HasPrefix(res.location, pathLogin) {
		u.tally.lostf(LostSession, "%s: a logged-in session no write ended is gone: %s sends it to log in", u.who(d), kind)
		u.forget(d)
		return
	}
	u.tally.Errorf("%s: %s: unexpected answer %s", u.who(d), kind, summary(res))
}

// page loads one of d's pages and checks what every page of a live
// session must be: a 200 that keeps the cookie and shows exactly the
// flashes written to the session since the last page. It returns nil when
// the page did not come.
func (u *User) page(ctx context.Context, d *device, kind, path string) (*response, error) {
	res, err := u.send(ctx, d, kind, path, d.cookie, nil)
	if err != nil {
		return nil, skip(err)
	}
	if res.status != http.StatusOK {
		u.gone(d, kind, res)
		return nil, nil
	}
	if u.takeCookie(d, kind, res) {
		return nil, nil
	}
	if res.retried {
		// A server that died answering may have shown the flashes.
		d.unsure = true
	}
	u.checkFlashes(d, kind, flashesOf(res.body))
	return res, nil
}

// home checks the home page: it names the user, and shows an idle
// deadline that every earlier request's extension of it (a store write at
// most every idle/20) has reached.
func (u *User) home(ctx context.Context, d *device) error {
	res, err := u.page(ctx, d, "GET home", pathHome)
	if res == nil {
		return err
	}
	if who := whoOf(res.body); who != u.name {
		u.tally.Errorf("%s: GET home names %q", u.who(d), who)
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
func (u *User) checkIdleDeadline(d *device, page string) {
	shown, err := idleDeadlineOf(page)
	if err != nil {
		u.tally.Errorf("%s: GET home: %v", u.who(d), err)
		return
	}
	idle := u.cfg.Idle
	want := d.served.Add(idle - idle/20).Add(-time.Second)
	if shown.Before(want) {
		u.tally.lostf(LostExtension, "%s: the home page shows the idle deadline %s, %v before the extension of a request at %s",
			u.who(d), shown.Format(time.TimeOnly), want.Sub(shown).Round(time.Millisecond), d.served.UTC().Format("15:04:05.000"))
	}
	if limit := time.Now().Add(idle + time.Second); shown.After(limit) {
		u.tally.Errorf("%s: the home page shows the idle deadline %s, later than now plus the idle timeout", u.who(d), shown.Format(time.TimeOnly))
	}
}

// checkFlashes compares the flashes a page showed with those written to
// the session: a missing one is a lost write, an extra one an error. Shown
// flashes are gone. After a failed request of the session, which may have
// shown them, each may be missing.
func (u *User) checkFlashes(d *device, kind string, got []string) {
	defer func() { d.flashes, d.unsure = nil, false }()
	if slices.Equal(got, d.flashes) {
		return
	}
	extra := slices.Clone(got)
	for _, want := range d.flashes {
		if i := slices.Index(extra, want); i >= 0 {
			extra = slices.Delete(extra, i, i+1)
		} else if !d.unsure {
			u.tally.lostf(LostFlash, "%s: %s does not show the flash %q written by an acknowledged revocation", u.who(d), kind, want)
		}
	}
	if len(extra) > 0 {
		u.tally.Errorf("%s: %s shows flashes nobody wrote: %q", u.who(d), kind, extra)
	}
}

// sessions checks the "your sessions" page of d: one row is d's own, and
// the others are exactly the user's other live sessions, none of those an
// acknowledged write ended. It learns the handle of the one device whose
// handle was unknown, if the list names it.
func (u *User) sessions(ctx context.Context, d *device) error {
	res, err := u.page(ctx, d, "GET sessions", pathSessions)
	if res == nil {
		return err
	}
	d.served = u.sentAt
	l, err := parseSessions(res.body)
	if err != nil {
		u.tally.Errorf("%s: GET sessions: %v", u.who(d), err)
		return nil
	}
	u.reconcile(d, l)
	return nil
}

// reconcile compares a list seen from d with the sessions the user knows.
func (u *User) reconcile(d *device, l listing) {
	switch {
	case l.current == 0:
		// The page came, so the session is there; its user index lost it.
		u.tally.lostf(LostSession, "%s: the sessions page does not list this session", u.who(d))
	case l.current > 1:
		u.tally.Errorf("%s: the sessions page marks %d rows as this session", u.who(d), l.current)
	}
	listed := map[string]bool{}
	for _, h := range l.handles {
		if listed[h] {
			u.tally.Errorf("%s: the sessions page lists a handle twice", u.who(d))
		}
		listed[h] = true
	}
	if d.handle != "" && listed[d.handle] {
		u.tally.Errorf("%s: the sessions page lists this session as another", u.who(d))
		delete(listed, d.handle)
	}
	for h := range listed {
		if cookie, dead := u.deadHandles[h]; dead {
			if u.undone("cookie " + cookie) {
				u.tally.lostf(Undone, "%s: the sessions page lists a session that an acknowledged write ended", u.who(d))
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
			u.tally.lostf(LostSession, "%s: the sessions page does not list the live session of device %d", u.who(d), x.n)
			u.forget(x)
		}
	}
	switch {
	case len(listed) > len(unknown) && u.everywhere:
		// Every session the user made since it last logged out
		// everywhere is one of its devices': the others were ended by
		// that log out. Which of the listed ones they are is plain when
		// every device's handle is known; else the page counts one, once.
		fresh := 0
		for h := range listed {
			if !u.reported["handle "+h] {
				fresh++
			}
			if len(unknown) > 0 {
				u.reported["handle "+h] = true
			} else if u.undone("handle " + h) {
				u.tally.lostf(Undone, "%s: the sessions page lists a session that an acknowledged log out everywhere ended", u.who(d))
			}
		}
		if len(unknown) > 0 && fresh == len(listed) {
			u.tally.lostf(Undone, "%s: the sessions page lists %d sessions more than the user has: an acknowledged log out everywhere ended them", u.who(d), len(listed)-len(unknown))
		}
	case len(listed) > len(unknown):
		u.tally.Errorf("%s: the sessions page lists %d sessions the user does not have", u.who(d), len(listed)-len(unknown))
	case len(listed) < len(unknown):
		u.tally.lostf(LostSession, "%s: the sessions page lists %d of the %d live sessions whose handles are not known yet", u.who(d), len(listed), len(unknown))
	case len(unknown) == 1:
		for h := range listed {
			unknown[0].handle = h
		}
	}
}

// racingWrite sends a write of d that ends the victims' sessions and,
// with probability RaceProb, a read from each victim at the same time.
func (u *User) racingWrite(ctx context.Context, d *device, kind, path string, form url.Values, victims []*device) (*response, error) {
	var wg sync.WaitGroup
	if len(victims) > 0 && u.rng.Float64() < u.cfg.RaceProb {
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
func (u *User) raceRead(ctx context.Context, n int, cookie, ua string) {
	const kind = "GET home (racing a revocation)"
	res, err := u.t.do(ctx, u.rec, request{kind: kind, method: http.MethodGet, path: pathHome, cookie: cookie, ua: ua, from: u.from})
	switch {
	case errors.Is(err, ErrBudget):
	case u.cfg.Tolerant && (err != nil || res.status >= 500):
		if err == nil {
			err = errors.New(summary(res))
		}
		u.tally.failf("%s/device %d: %s: %v", u.name, n, kind, err)
	case err != nil:
		u.tally.Errorf("%s/device %d: %s: %v", u.name, n, kind, err)
	case res.status == http.StatusOK && whoOf(res.body) == u.name:
		u.tally.raced(true)
	case res.status == http.StatusSeeOther && strings.HasPrefix(res.location, pathLogin):
		u.tally.raced(false)
	default:
		u.tally.Errorf("%s/device %d: %s: unexpected answer %s", u.name, n, kind, summary(res))
	}
}

// revoke ends another device's session from d's sessions page, as a
// person would: load the page, press Revoke on a row. The next page shows
// the flash and no longer lists it, and the victim's cookie stops working.
func (u *User) revoke(ctx context.Context, d *device) error {
	if err := u.sessions(ctx, d); err != nil || !d.live { // the page the Revoke button is on
		u.tally.op(OpSessions)
		return err
	}
	var targets []*device
	for _, x := range u.liveOthers(d) {
		if x.handle != "" {
			targets = append(targets, x)
		}
	}
	if len(targets) == 0 {
		u.tally.op(OpSessions) // nothing to revoke: the operation was a read
		return nil
	}
	u.tally.op(OpRevoke)
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
		u.tally.lostf(LostSession, "%s: revoking the live session of device %d: sessiond says it had ended", u.who(d), v.n)
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
func (u *User) revokeOthers(ctx context.Context, d *device) error {
	u.tally.op(OpRevokeOthers)
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
func (u *User) endAll(victims []*device, why string) []ended {
	out := make([]ended, len(victims))
	for i, v := range victims {
		out[i] = ended{cookie: v.cookie, why: why}
		u.end(v, why)
	}
	return out
}

func (u *User) checkAllEnded(ctx context.Context, victims []*device, ends []ended) error {
	for i, v := range victims {
		if err := u.checkEnded(ctx, v, ends[i]); err != nil {
			return err
		}
	}
	return nil
}

// logout ends d's own session; sessiond clears its cookie.
func (u *User) logout(ctx context.Context, d *device) error {
	u.tally.op(OpLogout)
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
func (u *User) logoutAll(ctx context.Context, d *device) error {
	u.tally.op(OpLogoutAll)
	victims := u.liveOthers(d)
	res, err := u.racingWrite(ctx, d, "POST logout-all", pathLogoutAll, url.Values{"confirm": {"yes"}}, victims)
	if err != nil {
		return err
	}
	if c, ok := res.setCookie(); !ok || c != "" || res.status != http.StatusSeeOther || res.location != pathLogin+"?msg=everywhere" {
		return u.refused(d, "POST logout-all", res)
	}
	u.everywhere = true
	why := fmt.Sprintf("logout-all from device %d", d.n)
	own := u.endAll([]*device{d}, why)
	d.cookie = ""
	ends := u.endAll(victims, why)
	if err := u.checkEnded(ctx, d, own[0]); err != nil {
		return err
	}
	return u.checkAllEnded(ctx, victims, ends)
}

// Sweep checks everything the user believes: each live session
// authenticates and lists exactly the user's live sessions (and shows the
// flashes not seen yet), and each session ended since the last sweep (up
// to MaxDead), and a sample of up to MaxDead of all ended sessions, stays
// ended. A session unused for nearly the idle timeout may have expired on
// its own and is left unchecked.
func (u *User) Sweep(ctx context.Context) error {
	for _, d := range u.devs {
		if !d.live {
			continue
		}
		if time.Since(d.served) > u.cfg.Idle*9/10 {
			u.Unchecked++
			continue
		}
		u.SweptLive++
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
	checked := map[string]bool{}
	for _, e := range append(u.recent, u.dead...) {
		if checked[e.cookie] {
			continue
		}
		checked[e.cookie] = true
		u.SweptDead++
		if err := u.checkEnded(ctx, nil, e); err != nil {
			return err
		}
	}
	u.recent = nil
	return nil
}
