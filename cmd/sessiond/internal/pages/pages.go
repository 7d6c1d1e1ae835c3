package pages

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/clientip"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/limit"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
)

// pageData is what every template gets.
type pageData struct {
	Title    string
	User     string
	Message  string // an error or notice for this page
	Error    bool   // Message is an error
	Flashes  []string
	Back     string
	LoginAs  string
	Created  time.Time
	Deadline time.Time
	Idle     time.Time
	Sessions []sessionRow
	Current  string
	Proxy    bool
	Unlisted bool // other sessions cannot be listed
	Sealed   bool // sealed-cookie sessions: others can still be revoked
	// PlainHTTP is the host the browser shows over plain HTTP, where it
	// drops the session cookie (see plainHTTPHost).
	PlainHTTP string
}

// sessionRow is one line of the "your sessions" table.
type sessionRow struct {
	Handle   string
	Device   string
	IP       string
	Created  time.Time
	LastSeen time.Time
	Current  bool
	Bound    bool // bound to the browser's key (DBSC)
}

// notices are messages that a redirect names by code, so that pages after
// logout need no session to carry them.
var notices = map[string]string{
	"loggedout":     "You are logged out.",
	"everywhere":    "You are logged out everywhere: every session of yours has ended.",
	"ended":         "That session had ended.",
	"session-ended": "Your session was ended: logged out from another device, revoked, or unused for too long. Log in again to go on.",
}

// ToLogin is the login page with a return address, and, when the request
// carried a session cookie but is not logged in, the notice that its
// session has ended, so that a revoked or timed-out user learns why they
// see the form.
func (s *Server) ToLogin(r *http.Request, back string) string {
	u := loginURL(back)
	if c, err := r.Cookie(s.cookieName); err != nil || c.Value == "" {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&msg=session-ended"
	}
	return u + "?msg=session-ended"
}

// render executes a template into a buffer first, so that a template
// error yields a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		s.log.Error("template", "name", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// requireUser returns the logged-in user, or sends the visitor to log in
// and returns "".
func (s *Server) requireUser(w http.ResponseWriter, r *http.Request) (string, *sesame.Session) {
	user, sess, err := s.currentUser(r)
	if err != nil {
		s.log.Error("session", "err", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return "", nil
	}
	if user == "" {
		back := ""
		if r.Method == http.MethodGet {
			back = r.URL.RequestURI()
		}
		http.Redirect(w, r, s.ToLogin(r, back), http.StatusSeeOther)
		return "", nil
	}
	return user, sess
}

func (s *Server) flashes(sess *sesame.Session) []string {
	f, err := sess.Flashes()
	if err != nil {
		s.log.Warn("flashes", "err", err)
	}
	return f
}

// home shows who you are and when your session ends.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	user, sess := s.requireUser(w, r)
	if user == "" {
		return
	}
	info := sess.Info()
	s.render(w, r, http.StatusOK, "home.html", pageData{
		Title:    "Signed in",
		User:     user,
		Flashes:  s.flashes(sess),
		Created:  info.Created,
		Deadline: info.Deadline,
		Idle:     info.IdleDeadline,
		Proxy:    s.opt.Proxy,
	})
}

// defaultBack is where login leads without a return address.
func (s *Server) defaultBack() string {
	if s.opt.Proxy {
		return "/"
	}
	return PathHome
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	user, _, err := s.currentUser(r)
	if err != nil {
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return
	}
	back := safeBack(r.URL.Query().Get("back"), s.defaultBack())
	if user != "" {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	plain := s.plainHTTPHost(r)
	if plain != "" {
		s.warnPlainHTTP(plain)
	}
	s.render(w, r, http.StatusOK, "login.html", pageData{
		Title:     "Log in",
		Back:      back,
		Message:   notices[r.URL.Query().Get("msg")],
		PlainHTTP: plain,
	})
}

// login checks a password and logs the session in. Each attempt takes a
// token from the user's and the client address's buckets before its
// password is checked, and a success gives them back: an empty bucket
// refuses the attempt before any password is checked, however many
// attempts arrive at once.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, "message.html", pageData{Title: "Bad request", Message: "The form could not be read."})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("user"))
	password := r.PostForm.Get("password")
	back := safeBack(r.PostForm.Get("back"), s.defaultBack())
	ip := clientip.String(r, s.opt.TrustedProxies)
	ipKey := limit.AddrKey(clientip.Addr(r, s.opt.TrustedProxies))
	userKey := name
	if len(userKey) > users.MaxNameLen {
		userKey = userKey[:users.MaxNameLen]
	}
	userLimit := s.userLimit
	if _, exists := s.users.Stamp(name); !users.ValidName(name) || !exists {
		// A name that is no user gets no bucket among the users', which
		// a flood of made-up names could fill, but a stand-in that
		// answers alike, so that a 429 does not tell which names exist.
		userLimit = s.nameLimit
	}
	fail := func(status int, msg string) {
		s.render(w, r, status, "login.html", pageData{Title: "Log in", Back: back, LoginAs: name, Message: msg, Error: true})
	}
	wait, err := s.ipLimit.Reserve(ipKey)
	if err == nil {
		if wait, err = userLimit.Reserve(userKey); err != nil {
			s.ipLimit.Refund(ipKey) // refused: no attempt was made
		}
	}
	if err != nil {
		wait = wait.Round(time.Second) + time.Second
		s.metrics.Logins.WithLabelValues("limited").Inc()
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
		if errors.Is(err, limit.ErrFull) {
			// Too many clients or users are being limited at once to keep
			// track of another: refuse rather than forget one of them.
			s.log.Warn("login refused: the login limiter is full", "user", userKey, "ip", ip)
			fail(http.StatusServiceUnavailable, fmt.Sprintf("Too many failed logins are being held back at the moment. Try again in %v.", wait))
			return
		}
		s.log.Warn("login rate limited", "user", userKey, "ip", ip)
		fail(http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Try again in %v.", wait))
		return
	}
	valid, stamp := false, ""
	if users.ValidName(name) {
		var err error
		if stamp, valid, err = s.users.Verify(r.Context(), name, password); err != nil {
			// The client left (or the server is stopping) while the login
			// waited for a free hashing slot: nothing was checked.
			s.ipLimit.Refund(ipKey)
			userLimit.Refund(userKey)
			s.log.Info("login abandoned while waiting to check the password", "user", userKey, "ip", ip)
			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
			return
		}
	}
	if !valid {
		s.metrics.Logins.WithLabelValues("failed").Inc()
		s.log.Warn("login failed", "user", userKey, "ip", ip)
		fail(http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	s.ipLimit.Refund(ipKey)
	userLimit.Reset(userKey)
	sess, err := sesame.FromContext(r.Context())
	if err == nil {
		err = users.LogIn(sess, name, stamp)
	}
	if err != nil {
		s.log.Error("login", "err", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return
	}
	s.metrics.Logins.WithLabelValues("ok").Inc()
	s.log.Info("login", "user", name, "ip", ip)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// logout ends this session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess, err := sesame.FromContext(r.Context())
	if err == nil {
		user := sess.User()
		err = sess.Destroy()
		if user != "" {
			s.log.Info("logout", "user", user)
		}
	}
	if err != nil {
		s.log.Error("logout", "err", err)
	}
	http.Redirect(w, r, PathLogin+"?msg=loggedout", http.StatusSeeOther)
}

// logoutAllPage asks whether to log out everywhere.
func (s *Server) logoutAllPage(w http.ResponseWriter, r *http.Request) {
	user, _ := s.requireUser(w, r)
	if user == "" {
		return
	}
	s.render(w, r, http.StatusOK, "logout-all.html", pageData{Title: "Log out everywhere?", User: user})
}

// logoutAll ends every session of the user, this one included, once the
// form says confirm=yes; without it, it shows the question first.
func (s *Server) logoutAll(w http.ResponseWriter, r *http.Request) {
	user, sess := s.requireUser(w, r)
	if user == "" {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if r.PostFormValue("confirm") != "yes" {
		http.Redirect(w, r, PathLogoutAll, http.StatusSeeOther)
		return
	}
	if err := s.mgr.RevokeAll(r.Context(), user); err != nil {
		s.log.Error("log out everywhere", "user", user, "err", err)
		http.Error(w, "could not end the sessions", http.StatusServiceUnavailable)
		return
	}
	_ = sess.Destroy()
	s.log.Info("logged out everywhere", "user", user)
	http.Redirect(w, r, PathLogin+"?msg=everywhere", http.StatusSeeOther)
}

// sessions lists the user's sessions.
func (s *Server) sessions(w http.ResponseWriter, r *http.Request) {
	user, sess := s.requireUser(w, r)
	if user == "" {
		return
	}
	infos, err := s.mgr.Sessions(r.Context(), user)
	unlisted := errors.Is(err, sesame.ErrNoUserIndex)
	if unlisted {
		// Sealed cookies, and stores without a user index (memcached),
		// list nothing: show this session alone.
		infos, err = []sesame.SessionInfo{sess.Info()}, nil
	}
	if err != nil {
		s.log.Error("sessions", "user", user, "err", err)
		msg := "The session list is unavailable."
		if errors.Is(err, sesame.ErrNoUserIndex) {
			msg = "This store cannot list sessions."
		}
		s.render(w, r, http.StatusServiceUnavailable, "message.html", pageData{Title: "Your sessions", User: user, Message: msg})
		return
	}
	rows := make([]sessionRow, 0, len(infos))
	for _, in := range infos {
		rows = append(rows, sessionRow{
			Handle: in.Handle, Device: device(in.UserAgent), IP: in.IP,
			Created: in.Created, LastSeen: in.LastSeen, Current: in.Current, Bound: in.Bound,
		})
	}
	s.render(w, r, http.StatusOK, "sessions.html", pageData{
		Title:    "Your sessions",
		User:     user,
		Flashes:  s.flashes(sess),
		Sessions: rows,
		Current:  sess.Info().Handle,
		Message:  notices[r.URL.Query().Get("msg")],
		Unlisted: unlisted,
		Sealed:   s.opt.Sealed,
	})
}

// revoke ends one of the user's sessions, named by its handle.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	user, sess := s.requireUser(w, r)
	if user == "" {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	h := r.PostForm.Get("handle")
	if h != "" && h == sess.Info().Handle {
		s.logout(w, r)
		return
	}
	err := s.mgr.Revoke(r.Context(), user, h)
	switch {
	case errors.Is(err, sesame.ErrNotFound) || h == "":
		http.Redirect(w, r, PathSessions+"?msg=ended", http.StatusSeeOther)
		return
	case err != nil:
		s.log.Error("revoke", "user", user, "err", err)
		http.Error(w, "could not end the session", http.StatusServiceUnavailable)
		return
	}
	s.log.Info("session revoked", "user", user)
	_ = sess.Flash("Session ended.")
	http.Redirect(w, r, PathSessions, http.StatusSeeOther)
}

// revokeOthers ends every session of the user but this one.
func (s *Server) revokeOthers(w http.ResponseWriter, r *http.Request) {
	user, sess := s.requireUser(w, r)
	if user == "" {
		return
	}
	if err := s.mgr.RevokeOthers(r.Context()); err != nil {
		s.log.Error("revoke others", "user", user, "err", err)
		http.Error(w, "could not end the sessions", http.StatusServiceUnavailable)
		return
	}
	s.log.Info("other sessions revoked", "user", user)
	_ = sess.Flash("Your other sessions have ended.")
	http.Redirect(w, r, PathSessions, http.StatusSeeOther)
}
