package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/dbsc"
)

// dbscFeatures turns on Device Bound Session Credentials in Chromium 156
// with software keys (no TPM here), without origin-trial tokens or the
// refresh quota, which bound cookies of a few seconds would exhaust.
const dbscFeatures = "DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false/CheckSubdomainRegistration/false/OriginTrialFeedback/true/SchemaVersion/2," +
	"EnableBoundSessionCredentialsSoftwareKeysForManualTesting"

// dbscLog collects a tab's DBSC DevTools events.
type dbscLog struct {
	mu     sync.Mutex
	events []*network.EventDeviceBoundSessionEventOccurred
	added  int
	usages []string // deviceBoundSessionUsages of requests, "usage url"
}

// listen starts collecting ctx's tab's DBSC events.
func (l *dbscLog) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventDeviceBoundSessionEventOccurred:
			l.events = append(l.events, ev)
		case *network.EventDeviceBoundSessionsAdded:
			l.added += len(ev.Sessions)
		case *network.EventRequestWillBeSentExtraInfo:
			for _, u := range ev.DeviceBoundSessionUsages {
				l.usages = append(l.usages, string(u.Usage))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.EnableDeviceBoundSessions, network.EnableDeviceBoundSessionsParams{Enable: true}); err != nil {
		t.Fatalf("Network.enableDeviceBoundSessions: %v", err)
	}
}

// find returns the first event, from index from on, that match accepts.
func (l *dbscLog) find(from int, match func(*network.EventDeviceBoundSessionEventOccurred) bool) (*network.EventDeviceBoundSessionEventOccurred, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; i < len(l.events); i++ {
		if match(l.events[i]) {
			return l.events[i], i
		}
	}
	return nil, len(l.events)
}

// wait waits up to d for an event that match accepts.
func (l *dbscLog) wait(t *testing.T, what string, from int, d time.Duration, match func(*network.EventDeviceBoundSessionEventOccurred) bool) *network.EventDeviceBoundSessionEventOccurred {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if ev, _ := l.find(from, match); ev != nil {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DevTools event: %s; events:\n%s", what, l)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *dbscLog) usageList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.usages)
}

func (l *dbscLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// String lists the events, for failures.
func (l *dbscLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ev := range l.events {
		fmt.Fprintf(&b, "  succeeded=%v session=%s", ev.Succeeded, ev.SessionID)
		switch {
		case ev.CreationEventDetails != nil:
			fmt.Fprintf(&b, " creation %s", ev.CreationEventDetails.FetchResult)
			if f := ev.CreationEventDetails.FailedRequest; f != nil {
				fmt.Fprintf(&b, " (%s %d %s %q)", f.RequestURL, f.ResponseError, f.NetError, f.ResponseErrorBody)
			}
		case ev.RefreshEventDetails != nil:
			fmt.Fprintf(&b, " refresh %s/%s proactive=%v", ev.RefreshEventDetails.RefreshResult, ev.RefreshEventDetails.FetchResult, ev.RefreshEventDetails.WasFullyProactiveRefresh)
		case ev.ChallengeEventDetails != nil:
			fmt.Fprintf(&b, " challenge %s", ev.ChallengeEventDetails.ChallengeResult)
		case ev.TerminationEventDetails != nil:
			fmt.Fprintf(&b, " termination %s", ev.TerminationEventDetails.DeletionReason)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "  usages: %q\n", l.usages)
	return b.String()
}

// spkiPin is what --ignore-certificate-errors-spki-list takes: the base64
// SHA-256 of the certificate's public key.
func spkiPin(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// metric returns the value of sessiond_dbsc_events_total{kind} from base.
func metric(t *testing.T, c *http.Client, base, kind string) int {
	t.Helper()
	res, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`(?m)^sessiond_dbsc_events_total\{kind="` + kind + `"\} (\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no sessiond_dbsc_events_total for %q in /metrics", kind)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestBrowserDeviceBoundSession is DBSC end to end in real headless
// Chromium 156 against sessiond over HTTPS: the login registers a bound
// session (DevTools reports its creation; the sessions page marks it
// device-bound); once the bound cookie has expired the next navigation is
// held back while Chromium refreshes, and arrives logged in; a second
// browser context given a copy of every cookie (and no key) is logged out
// once its copy of the bound cookie has expired, while the first goes on;
// the logout ends the bound session in Chromium too.
func TestBrowserDeviceBoundSession(t *testing.T) {
	const lifetime = 3 * time.Second // the bound cookie's: short, so the test waits little
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	ctx1, cancel := newBrowser(t,
		chromedp.Flag("enable-features", dbscFeatures),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiPin(t, certFile)))
	defer cancel()
	ops := freePort(t) // /metrics is served off the public listener
	base, out, _ := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--ops-listen", ops,
		"--tls-cert", certFile, "--tls-key", keyFile, "--dbsc-cookie-lifetime", lifetime.String())
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]
	// DBSC is for sites, and a certificate's name, not addresses.
	base = strings.Replace(base, "127.0.0.1", "localhost", 1)
	count := func(kind string) int { return metric(t, http.DefaultClient, "http://"+ops, kind) }

	var log1 dbscLog
	log1.listen(t, ctx1)
	if err := browserLogin(ctx1, base, "admin", pw); err != nil {
		t.Fatalf("login: %v", err)
	}
	created := log1.wait(t, "the bound session's creation", 0, 30*time.Second, func(ev *network.EventDeviceBoundSessionEventOccurred) bool {
		return ev.CreationEventDetails != nil
	})
	if !created.Succeeded || created.CreationEventDetails.FetchResult != network.DeviceBoundSessionFetchResultSuccess {
		t.Fatalf("registration failed in Chromium:\n%s", &log1)
	}
	s := created.CreationEventDetails.NewSession
	if s == nil || !strings.HasSuffix(s.RefreshURL, pathDBSC+"refresh") || len(s.CookieCravings) != 1 ||
		s.CookieCravings[0].Name != dbsc.DefaultCookieName || !s.CookieCravings[0].Secure || !s.CookieCravings[0].HTTPOnly {
		t.Fatalf("the bound session as Chromium keeps it: %+v", s)
	}
	if got := count("registered"); got != 1 {
		t.Errorf("server: %d registrations", got)
	}

	// The sessions page, rendered from the record, marks it device-bound.
	if err := chromedp.Do(ctx1, chromedp.Navigate(base+pages.PathSessions), chromedp.WaitVisible("#sessions")); err != nil {
		t.Fatal(err)
	}
	if row, err := chromedp.Run(ctx1, chromedp.Text("#sessions tbody tr.current")); err != nil || !strings.Contains(row, "Device-bound") {
		t.Errorf("the current session's row: %q, %v", row, err)
	}

	// A thief's copy of every cookie, in a second context without the key.
	jar, err := chromedp.Call(ctx1, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var copies []*network.CookieParam
	var boundExpires time.Time
	for _, c := range jar.Cookies {
		p := &network.CookieParam{Name: c.Name, Value: c.Value, URL: base + "/", Path: c.Path, Secure: c.Secure, HTTPOnly: c.HTTPOnly, SameSite: c.SameSite}
		if !c.Session {
			p.Expires = cdp.TimeSinceEpoch(c.Expires)
		}
		if c.Name == dbsc.DefaultCookieName {
			boundExpires = time.Unix(0, int64(c.Expires*float64(time.Second)))
		}
		copies = append(copies, p)
	}
	if boundExpires.IsZero() || len(copies) != 2 {
		t.Fatalf("cookies in the first context: %+v", jar.Cookies)
	}
	ctx2, cancel2 := chromedp.NewContext(ctx1, chromedp.WithNewBrowserContext())
	defer cancel2()
	var log2 dbscLog
	log2.listen(t, ctx2)
	if _, err := chromedp.Call(ctx2, network.SetCookies, network.SetCookiesParams{Cookies: copies}); err != nil {
		t.Fatal(err)
	}

	// Let the bound cookie expire in both contexts.
	time.Sleep(time.Until(boundExpires) + time.Second)
	withheld := count("withheld")
	from := log1.len()
	start := time.Now()
	if err := chromedp.Do(ctx1, chromedp.Navigate(base+pages.PathHome), chromedp.WaitVisible("#who")); err != nil {
		t.Fatalf("the owner after the bound cookie expired: %v\n%s", err, &log1)
	}
	t.Logf("navigation held back for a refresh: %v", time.Since(start))
	refreshed := log1.wait(t, "a refresh", from, 10*time.Second, func(ev *network.EventDeviceBoundSessionEventOccurred) bool {
		return ev.RefreshEventDetails != nil && ev.RefreshEventDetails.RefreshResult == network.RefreshEventDetailsRefreshResultRefreshed
	})
	if !refreshed.Succeeded || refreshed.RefreshEventDetails.FetchResult != network.DeviceBoundSessionFetchResultSuccess {
		t.Errorf("refresh: %+v", refreshed.RefreshEventDetails)
	}
	// Every refresh signed a challenge the server handed out, which
	// Chromium reports it took.
	if ev, _ := log1.find(0, func(ev *network.EventDeviceBoundSessionEventOccurred) bool {
		return ev.ChallengeEventDetails != nil && ev.ChallengeEventDetails.ChallengeResult == network.ChallengeEventDetailsChallengeResultSuccess
	}); ev == nil || ev.ChallengeEventDetails.Challenge == "" {
		t.Errorf("no challenge taken:\n%s", &log1)
	}
	if got := count("refreshed"); got < 1 {
		t.Errorf("server: %d refreshes", got)
	}

	// The thief's copy no longer works: the login page.
	if err := chromedp.Do(ctx2, chromedp.Navigate(base+pages.PathHome), chromedp.WaitVisible("#password")); err != nil {
		t.Fatalf("the copied cookies after the bound cookie expired: %v", err)
	}
	if got := count("withheld"); got <= withheld {
		t.Errorf("server: no request withheld (%d before, %d after)", withheld, got)
	}
	if ev, _ := log2.find(0, func(*network.EventDeviceBoundSessionEventOccurred) bool { return true }); ev != nil {
		t.Errorf("the second context has DBSC events of its own:\n%s", &log2)
	}

	// A link followed from another site (127.0.0.1 is another site than
	// localhost) after the bound cookie expired: Chromium does not refresh
	// for it, sessiond answers with a reload of its own, and that one
	// arrives refreshed: the owner is still logged in.
	other := strings.Replace(base, "localhost", "127.0.0.1", 1)
	if err := chromedp.Do(ctx1, chromedp.Navigate(other+pages.PathLogin), chromedp.WaitVisible("#password")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lifetime + time.Second)
	if _, err := chromedp.Run(ctx1, chromedp.Evaluate[string]("location.href = "+strconv.Quote(base+pages.PathHome))); err != nil {
		t.Fatal(err)
	}
	wait, cancelWait := context.WithTimeout(ctx1, 30*time.Second)
	defer cancelWait()
	if err := chromedp.Do(wait, chromedp.WaitVisible("#who")); err != nil {
		loc, _ := chromedp.Run(ctx1, chromedp.Location())
		t.Fatalf("the owner, following a link from another site, is at %s: %v\n%s", loc, err, &log1)
	}
	if loc, err := chromedp.Run(ctx1, chromedp.Location()); err != nil || loc != base+pages.PathHome {
		t.Errorf("the owner, following a link from another site, is at %q, %v", loc, err)
	}
	if !slices.Contains(log1.usageList(), string(network.DeviceBoundSessionWithUsageUsageInScopeRefreshNotAllowed)) {
		t.Errorf("Chromium did not report the link as not allowed to refresh:\n%s", &log1)
	}

	// The owner still works, several cookie lifetimes on; the time a
	// navigation takes with a refresh first, and right after without.
	time.Sleep(lifetime + time.Second)
	for _, what := range []string{"held back for a refresh", "with a fresh bound cookie"} {
		start := time.Now()
		if err := chromedp.Do(ctx1, chromedp.Navigate(base+pages.PathHome), chromedp.WaitVisible("#who")); err != nil {
			t.Fatalf("the owner, later: %v\n%s", err, &log1)
		}
		t.Logf("navigation %s: %v", what, time.Since(start))
	}

	// Logging out ends the bound session in Chromium too.
	from = log1.len()
	if err := chromedp.Do(ctx1, chromedp.Click(`form[action="`+pages.PathLogout+`"] button`), chromedp.WaitVisible("#password")); err != nil {
		t.Fatalf("logout: %v", err)
	}
	log1.wait(t, "the bound session's end", from, 15*time.Second, func(ev *network.EventDeviceBoundSessionEventOccurred) bool {
		return ev.TerminationEventDetails != nil || (ev.RefreshEventDetails != nil &&
			ev.RefreshEventDetails.FetchResult == network.DeviceBoundSessionFetchResultServerRequestedTermination)
	})
	if got := count("terminated"); got < 1 {
		t.Errorf("server: %d terminations", got)
	}
	t.Logf("DevTools DBSC events of the owner's tab:\n%s", &log1)
}
