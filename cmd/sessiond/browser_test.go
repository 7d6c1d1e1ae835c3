package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

// chromium is where Debian's chromium package puts the browser.
const chromium = "/usr/bin/chromium"

// newBrowser starts headless Chromium with a temporary profile and returns
// a context for its first tab. extra adds to its command line.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	t.Helper()
	exe := needBinary(t, chromium)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 640),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// browserLogin fills in and submits the login form.
func browserLogin(ctx context.Context, base, user, password string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(base+pages.PathLogin),
		chromedp.WaitVisible("#user"),
		chromedp.SendKeys("#user", user),
		chromedp.SendKeys("#password", password),
		chromedp.Submit("#password"),
		chromedp.WaitVisible("#who"),
	)
}

// TestBrowserLoginSessionsRevoke is the person's way through, in real
// headless Chromium: log in, see the session listed, log in again from a
// second, separate browser context, revoke the first from there, and find
// the first logged out on its next request. It checks the cookie's flags as
// the browser stored them and saves a screenshot of the sessions page.
func TestBrowserLoginSessionsRevoke(t *testing.T) {
	ctx1, cancel := newBrowser(t)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "data")
	base, out, _ := startServe(t, "--data-dir", dir)
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]

	// First browser context: log in, see who we are.
	if err := browserLogin(ctx1, base, "admin", pw); err != nil {
		t.Fatalf("login in browser 1: %v", err)
	}
	who, err := chromedp.Run(ctx1, chromedp.Text("#who"))
	if err != nil || who != "admin" {
		t.Fatalf("home shows %q, %v", who, err)
	}

	// The cookie as Chromium stored it.
	res, err := chromedp.Call(ctx1, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range res.Cookies {
		if c.Name != "__Host-session" {
			continue
		}
		found = true
		if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Domain != "127.0.0.1" || !c.Session {
			t.Errorf("cookie flags: HttpOnly=%v Secure=%v SameSite=%q Path=%q Domain=%q Session=%v",
				c.HTTPOnly, c.Secure, c.SameSite, c.Path, c.Domain, c.Session)
		}
	}
	if !found {
		t.Fatalf("no __Host-session cookie stored; cookies: %+v", res.Cookies)
	}
	if got, err := chromedp.Run(ctx1, chromedp.Evaluate[string]("document.cookie")); err != nil || got != "" {
		t.Errorf("document.cookie = %q (%v): the session cookie must be HttpOnly", got, err)
	}

	// The sessions page lists this session as the current one.
	if err := chromedp.Do(ctx1, chromedp.Navigate(base+pages.PathSessions), chromedp.WaitVisible("#sessions")); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx1, chromedp.Text("#sessions tbody"))
	if err != nil || !strings.Contains(rows, "This session") || !strings.Contains(rows, "127.0.0.1") || !strings.Contains(rows, "Chrome") {
		t.Fatalf("sessions table: %q, %v", rows, err)
	}

	// Second, separate browser context (its own cookies): same user.
	ctx2, cancel2 := chromedp.NewContext(ctx1, chromedp.WithNewBrowserContext())
	defer cancel2()
	if err := browserLogin(ctx2, base, "admin", pw); err != nil {
		t.Fatalf("login in browser 2: %v", err)
	}
	if err := chromedp.Do(ctx2, chromedp.Navigate(base+pages.PathSessions), chromedp.WaitVisible("#sessions")); err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(ctx2, chromedp.Evaluate[int]("document.querySelectorAll('#sessions tbody tr').length"))
	if err != nil || n != 2 {
		t.Fatalf("browser 2 sees %d sessions (%v), want 2", n, err)
	}

	shot, err := chromedp.Run(ctx2, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveScreenshot(t, shot)

	// Revoke the other (first) session from the second context.
	if _, err := chromedp.Run(ctx2, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click("#sessions tbody tr:not(.current) button"))); err != nil {
		t.Fatal(err)
	}
	if notice, err := chromedp.Run(ctx2, chromedp.Text(".notice")); err != nil || notice != "Session ended." {
		t.Errorf("after revoking: notice %q, %v", notice, err)
	}
	n, err = chromedp.Run(ctx2, chromedp.Evaluate[int]("document.querySelectorAll('#sessions tbody tr').length"))
	if err != nil || n != 1 {
		t.Errorf("after revoking, browser 2 sees %d sessions (%v), want 1", n, err)
	}

	// The first context's next request finds it logged out.
	if err := chromedp.Do(ctx1, chromedp.Navigate(base+pages.PathHome), chromedp.WaitVisible("#password")); err != nil {
		t.Fatalf("browser 1 after revocation: %v", err)
	}
	loc, err := chromedp.Run(ctx1, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, base+pages.PathLogin) {
		t.Errorf("browser 1 is at %q (%v), want the login page", loc, err)
	}
	// The second context is still logged in.
	if err := chromedp.Do(ctx2, chromedp.Navigate(base+pages.PathHome), chromedp.WaitVisible("#who")); err != nil {
		t.Errorf("browser 2 lost its session: %v", err)
	}
}

// saveScreenshot keeps the sessions page picture with the test's files,
// and writes docs/sessions-page.png when SESSIOND_UPDATE_SCREENSHOT=1.
func saveScreenshot(t *testing.T, png []byte) {
	t.Helper()
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG")
	}
	if os.Getenv("SESSIOND_UPDATE_SCREENSHOT") != "1" {
		return
	}
	p := filepath.Join("..", "..", "docs", "sessions-page.png")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", p)
}

// TestBrowserPagesFitAPhone opens every page in headless Chromium 390 px
// wide, a phone's width, with two sessions listed: nothing may be wider
// than the screen (no sideways scrolling).
func TestBrowserPagesFitAPhone(t *testing.T) {
	ctx, cancel := newBrowser(t)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	base, out, _ := startServe(t, "--data-dir", t.TempDir(), "--store", "memory://")
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]
	loginHTTP(t, base, "admin", pw) // a second session, from another device
	fits := func(what string) {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth == 390 ? document.documentElement.scrollWidth - 390 : 1e6"))
		if err != nil || w > 0 {
			shot, _ := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			p := filepath.Join(t.TempDir(), "page.png")
			os.WriteFile(p, shot, 0o644)
			t.Errorf("%s is %d px wider than a 390 px screen (%v); screenshot %s", what, w, err, p)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+pages.PathLogin), chromedp.WaitVisible("#user")); err != nil {
		t.Fatal(err)
	}
	fits("the login page")
	if err := browserLogin(ctx, base, "admin", pw); err != nil {
		t.Fatal(err)
	}
	fits("the home page")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+pages.PathSessions), chromedp.WaitVisible("#sessions")); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#sessions tbody tr').length")); err != nil || n != 2 {
		t.Fatalf("%d sessions listed (%v), want 2", n, err)
	}
	fits("the sessions page")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+pages.PathLogoutAll), chromedp.WaitVisible("#confirm")); err != nil {
		t.Fatal(err)
	}
	fits("the log-out-everywhere question")
}
