package vuser

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// whyResync is how the sessions a Resync ends are named in messages.
const whyResync = "logout-all (resync)"

// Resync ends every session of the user, acknowledged, and so makes what
// the user knows exact again however uncertain it was: it logs a device in
// and logs out everywhere from it, retrying both until the log out is
// acknowledged, then checks that every session the devices held is ended.
// A tolerant user resynchronises by itself after a write whose outcome is
// unknown; a harness calls Resync to log a user out everywhere after a
// fault, which proves that a log out acknowledged then ends every session,
// those made before the fault included. It gives up when ctx ends or the
// user breaks.
func (u *User) Resync(ctx context.Context) error {
	u.unsure = true
	for backoff := 20 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		err := u.resyncOnce(ctx)
		switch {
		case !u.unsure:
			return nil
		case err != nil && !errors.Is(err, errFailed):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		u.pause(ctx, backoff)
	}
}

// resyncOnce makes one attempt of Resync. The user stays unsure until an
// attempt succeeds.
func (u *User) resyncOnce(ctx context.Context) error {
	if !u.resyncing {
		// Every cookie the devices hold must be ended by the log out.
		u.resyncing = true
		for _, d := range u.devs {
			if d.cookie != "" {
				u.pending = append(u.pending, ended{cookie: d.cookie, why: whyResync})
			}
			if d.handle != "" {
				if u.pendingHandles == nil {
					u.pendingHandles = map[string]string{}
				}
				u.pendingHandles[d.handle] = d.cookie
			}
			d.live, d.cookie, d.handle, d.flashes, d.unsure = false, "", "", nil, false
		}
	}
	d := u.devs[0]
	if d.cookie == "" {
		if ok, err := u.postLogin(ctx, d); !ok {
			return err
		}
	}
	res, err := u.send(ctx, d, "POST logout-all", pathLogoutAll, d.cookie, url.Values{"confirm": {"yes"}})
	if err != nil {
		// The session may have ended or not: the next attempt tells.
		return err
	}
	u.pending = append(u.pending, ended{cookie: d.cookie, why: whyResync})
	d.live, d.cookie = false, ""
	switch {
	case res.status == http.StatusSeeOther && res.location == pathLogin+"?msg=everywhere":
	case res.status == http.StatusSeeOther && sentToLogIn(res.location):
		// The session had ended: an earlier attempt whose answer was lost
		// logged out everywhere. Log in and do it again, to know.
		return nil
	default:
		return u.refused(d, "POST logout-all (resync)", res)
	}
	u.tally.op(OpResync)
	u.everywhere = true
	pending := u.pending
	for h, cookie := range u.pendingHandles {
		u.deadHandles[h] = cookie
	}
	for _, e := range pending {
		u.remember(e)
	}
	u.pending, u.pendingHandles, u.resyncing, u.unsure = nil, nil, false, false
	for _, e := range pending {
		if err := u.checkEnded(ctx, nil, e); err != nil {
			return err
		}
	}
	return nil
}
