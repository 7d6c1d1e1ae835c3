package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/stores"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/seal"
)

// options is sessiond's whole configuration, from flags and environment.
type options struct {
	Listen            string
	DataDir           string
	Store             string
	UsersFile         string
	Upstream          string
	UserHeader        string
	StripHeaders      []string
	IdleTimeout       time.Duration
	Lifetime          time.Duration
	MaxSessions       int
	InsecurePlainHTTP bool
	TLSCert, TLSKey   string
	TrustedProxies    []netip.Prefix
	LogJSON           bool
	LogLevel          string
	OpsListen         string
	ShutdownTimeout   time.Duration
	DrainTimeout      time.Duration
	BodyTimeout       time.Duration
	UpstreamBodyRate  int

	Sealed   bool
	SealKeys string

	CacheFlag bool

	Ticket         bool
	TicketSecret   string
	TicketDigest   string
	TicketIgnoreIP bool
	TicketTimeout  time.Duration
	TicketDomain   string

	DBSC               string
	DBSCCookieLifetime time.Duration
}

// envPrefix starts the name of every environment variable sessiond reads.
const envPrefix = "SESSIOND_"

// envName is the environment variable that stands for a flag:
// --idle-timeout is SESSIOND_IDLE_TIMEOUT.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// defaultDataDir is $XDG_DATA_HOME/sessiond, else ~/.local/share/sessiond,
// else ./sessiond-data when there is no home directory.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sessiond")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "sessiond")
	}
	return "sessiond-data"
}

// prefixList is a flag.Value holding comma-separated CIDR prefixes or
// addresses.
type prefixList struct{ p *[]netip.Prefix }

func (l prefixList) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, p := range *l.p {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l prefixList) Set(v string) error {
	var out []netip.Prefix
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return fmt.Errorf("%q is neither an address nor a CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	*l.p = out
	return nil
}

// headerList is a flag.Value holding comma-separated header names.
type headerList struct{ p *[]string }

func (l headerList) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l headerList) Set(v string) error {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !validHeaderName(f) {
			return fmt.Errorf("%q is not a header name", f)
		}
		out = append(out, f)
	}
	*l.p = out
	return nil
}

// newFlagSet declares every serve flag on a FlagSet bound to o.
func newFlagSet(o *options, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("sessiond", flag.ContinueOnError)
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address to listen on (host:port)")
	fs.StringVar(&o.DataDir, "data-dir", defaultDataDir(getenv), "directory for the store, the users file and generated keys (created 0700)")
	fs.StringVar(&o.Store, "store", "", "session store URL: "+stores.Builtin().Help()+" (default: the embedded store in --data-dir)")
	fs.StringVar(&o.UsersFile, "users-file", "", "users file of name:argon2id-hash lines (default <data-dir>/users)")
	fs.StringVar(&o.Upstream, "upstream", "", "reverse proxy mode: protect this http(s) URL, passing the user in --user-header")
	fs.StringVar(&o.UserHeader, "user-header", "X-Auth-User", "header naming the logged-in user, for forward auth and the upstream; client copies are removed")
	fs.Var(headerList{&o.StripHeaders}, "strip-headers", "comma-separated request headers to remove before proxying to --upstream, besides --user-header and the built-in list of identity headers (see the README)")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", 30*time.Minute, "end a session unused for this long")
	fs.DurationVar(&o.Lifetime, "lifetime", 12*time.Hour, "end a session this long after login, however active")
	fs.IntVar(&o.MaxSessions, "max-sessions-per-user", 0, "evict a user's oldest sessions beyond this many (0: no cap)")
	fs.BoolVar(&o.InsecurePlainHTTP, "insecure-plain-http", false, "DEVELOPMENT ONLY: cookies without Secure, for plain-HTTP hosts other than localhost/127.0.0.1")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (needs --tls-key)")
	fs.StringVar(&o.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	fs.Var(prefixList{&o.TrustedProxies}, "trusted-proxies", "comma-separated addresses/CIDRs of proxies whose X-Forwarded-For is believed for the client IP")
	fs.BoolVar(&o.LogJSON, "log-json", false, "write logs as JSON lines instead of text")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.OpsListen, "ops-listen", "", "serve /healthz, /readyz and /metrics on this separate address, such as 127.0.0.1:9100 (default: no metrics; health checks only under /_sessiond/)")
	fs.StringVar(&o.OpsListen, "metrics-listen", "", "former name of --ops-listen")
	fs.DurationVar(&o.BodyTimeout, "body-timeout", 10*time.Second, "time a client has to send a request body once its headers are in (proxied uploads earn more: --upstream-body-rate)")
	fs.IntVar(&o.UpstreamBodyRate, "upstream-body-rate", 500, "a body proxied to --upstream may take --body-timeout plus one second per this many bytes received, so uploads go on while they keep this pace (bytes/s); 0: no time limit for them")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM/SIGINT, wait this long for in-flight requests")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 5*time.Second, "on SIGTERM/SIGINT, refuse new connections but answer requests on open ones (with Connection: close) for up to this long, within --shutdown-timeout, so a proxy's kept-alive connections close after a response rather than under a request")
	fs.BoolVar(&o.Sealed, "sealed", false, "sealed-cookie sessions: the encrypted record travels in the cookie; --store then keeps only per-user revocations")
	fs.StringVar(&o.SealKeys, "seal-keys", "", "sealing keys for --sealed, base64, comma-separated, primary first (default: generated in <data-dir>/seal-keys)")
	fs.BoolVar(&o.CacheFlag, "cache-flag", false, "set a non-secret flag cookie (sesame_auth) while logged in, so that a shared cache in front (nginx proxy_cache, Varnish) passes logged-in requests through")
	fs.BoolVar(&o.Ticket, "ticket", false, "also issue a mod_auth_tkt cookie (auth_tkt) at login and clear it at logout")
	fs.StringVar(&o.TicketSecret, "ticket-secret", "", "mod_auth_tkt secret (TKTAuthSecret, >= 16 bytes; implies --ticket; default: generated in <data-dir>/ticket-secret)")
	fs.StringVar(&o.TicketDigest, "ticket-digest", "sha256", "ticket digest (TKTAuthDigestType): sha256, sha512 or md5")
	fs.BoolVar(&o.TicketIgnoreIP, "ticket-ignore-ip", true, "sign tickets for 0.0.0.0 instead of the client's IPv4 address (TKTAuthIgnoreIP on)")
	fs.DurationVar(&o.TicketTimeout, "ticket-timeout", 0, "ticket validity (TKTAuthTimeout); at most --idle-timeout, which is the default")
	fs.StringVar(&o.TicketDomain, "ticket-domain", "", "ticket cookie Domain (TKTAuthDomain; default host-only)")
	fs.StringVar(&o.DBSC, "dbsc", dbscAuto, "device-bound sessions (DBSC): auto (on when serving HTTPS with --tls-cert), on (also behind a proxy that terminates HTTPS), off")
	fs.DurationVar(&o.DBSCCookieLifetime, "dbsc-cookie-lifetime", dbsc.DefaultCookieLifetime, "how long a device-bound session's short-lived cookie works before the browser must prove it holds its key again (at most --idle-timeout)")
	return fs
}

// errHelp reports that --help was asked for and printed.
var errHelp = flag.ErrHelp

// parseOptions reads flags from args with defaults taken from the
// environment: each flag's SESSIOND_* variable is used when the flag is not
// given. It checks the result. Asked for --help, it prints the help to out
// and returns errHelp.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o, getenv)
	quiet(fs)
	// Environment first, so that flags override it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := lookup(getenv, envName(f.Name)); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %v", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := parseFlags(fs, args, out, usage); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if o.TicketSecret != "" {
		o.Ticket = true
	}
	if o.SealKeys != "" {
		o.Sealed = true
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// check reports inconsistent options.
func (o *options) check() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if o.IdleTimeout <= 0 || o.Lifetime <= 0 {
		errs = append(errs, errors.New("--idle-timeout and --lifetime must be positive"))
	} else if o.Lifetime < o.IdleTimeout {
		errs = append(errs, errors.New("--lifetime must not be shorter than --idle-timeout"))
	}
	if o.TicketTimeout < 0 || o.TicketTimeout > o.IdleTimeout {
		errs = append(errs, errors.New("--ticket-timeout must be between 0 (meaning --idle-timeout) and --idle-timeout: a ticket cannot be revoked"))
	}
	if o.BodyTimeout <= 0 {
		errs = append(errs, errors.New("--body-timeout must be positive"))
	}
	if o.ShutdownTimeout < 0 || o.DrainTimeout < 0 {
		errs = append(errs, errors.New("--shutdown-timeout and --drain-timeout must not be negative"))
	}
	if o.UpstreamBodyRate < 0 {
		errs = append(errs, errors.New("--upstream-body-rate must not be negative"))
	}
	if o.MaxSessions < 0 {
		errs = append(errs, errors.New("--max-sessions-per-user must not be negative"))
	}
	if o.Upstream != "" {
		u, err := url.Parse(o.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--upstream %q: want an http:// or https:// URL", o.Upstream))
		}
	}
	if !validHeaderName(o.UserHeader) {
		errs = append(errs, fmt.Errorf("--user-header %q is not a header name", o.UserHeader))
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if o.SealKeys != "" {
		if _, err := seal.ParseKeyRing(o.SealKeys); err != nil {
			errs = append(errs, fmt.Errorf("--seal-keys: %v", err))
		}
	}
	if _, err := parseDigest(o.TicketDigest); err != nil {
		errs = append(errs, err)
	}
	if o.Store != "" {
		if _, err := stores.Builtin().Parse(o.Store); err != nil {
			errs = append(errs, err)
		}
	}
	if err := o.checkDBSC(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validHeaderName accepts RFC 9110 tokens, which is what a header name is.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// quiet makes fs print nothing itself: parseFlags reports its errors and
// prints help where it belongs.
func quiet(fs *flag.FlagSet) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
}

// flagNameInError is how package flag names a flag in its errors: with one
// dash, after one of a few fixed phrases.
var flagNameInError = regexp.MustCompile(`(defined: |argument: |for flag |for )-([^\s:=]+)`)

// parseFlags parses args with fs (made quiet). On -h or --help it prints
// help(fs, out) and returns errHelp; its other errors name flags with two
// dashes, as they are written on the command line.
func parseFlags(fs *flag.FlagSet, args []string, out io.Writer, help func(*flag.FlagSet, io.Writer)) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		help(fs, out)
		return errHelp
	case err != nil:
		return errors.New(flagNameInError.ReplaceAllString(err.Error(), "${1}--${2}"))
	}
	return nil
}

// userCommandsHelp is the part of the help about the user commands.
const userCommandsHelp = `  sessiond user add NAME [flags]        add a user or set a password (read from stdin
                                        when it is not a terminal, else prompted;
                                        --generate prints a random one); setting a
                                        password ends the user's sessions
  sessiond user remove NAME [flags]     remove a user (their sessions end)
  sessiond user list [flags]            list user names
`

// usage prints the help text: commands, then every flag with its variable.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `sessiond: login pages, "your sessions", forward auth and a reverse proxy, on Sesame sessions.

Usage:
  sessiond [flags]                      serve (the default command)
`+userCommandsHelp+`  sessiond help [user]                  this help, or the user commands' help
  sessiond --version                    print the version and exit

Every flag can also be set by the environment variable shown after it; a flag
given on the command line wins.

Flags:
`)
	printFlags(fs, w)
}

// userUsage prints the user commands' help and their flags.
func userUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `sessiond user: manage the users file.

Usage:
`+userCommandsHelp+`
Flags (those with a [VARIABLE] can also be set by that environment variable):
`)
	printFlags(fs, w)
}

// printFlags lists the flags of fs with their variables and defaults.
// Every server flag has a variable; of the user commands' flags, those in
// userEnvFlags.
func printFlags(fs *flag.FlagSet, w io.Writer) {
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = " (default " + strconv.Quote(f.DefValue) + ")"
		}
		env := ""
		if fs.Name() == "sessiond" || slices.Contains(userEnvFlags, f.Name) {
			env = "  [" + envName(f.Name) + "]"
		}
		fmt.Fprintf(w, "  --%s%s\n      %s%s\n", f.Name, env, f.Usage, def)
	})
}

// userEnvFlags are the user commands' flags that, like the server's, are
// also read from the environment.
var userEnvFlags = []string{"data-dir", "users-file"}

// userFlags are the flags of the user subcommands.
type userFlags struct {
	DataDir   string
	UsersFile string
	Generate  bool
}

func parseUserFlags(args []string, getenv func(string) string, out io.Writer) (*userFlags, []string, error) {
	u := &userFlags{}
	fs := flag.NewFlagSet("sessiond user", flag.ContinueOnError)
	quiet(fs)
	fs.StringVar(&u.DataDir, "data-dir", defaultDataDir(getenv), "data directory, as the server's --data-dir")
	fs.StringVar(&u.UsersFile, "users-file", "", "users file (default <data-dir>/users)")
	fs.BoolVar(&u.Generate, "generate", false, "user add: generate a random password and print it")
	for _, name := range userEnvFlags {
		if v, ok := lookup(getenv, envName(name)); ok {
			_ = fs.Set(name, v)
		}
	}
	// Allow flags after the positional arguments: user add NAME --generate.
	var pos []string
	for {
		if err := parseFlags(fs, args, out, userUsage); err != nil {
			return nil, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return u, pos, nil
}

func (u *userFlags) usersPath() string {
	if u.UsersFile != "" {
		return u.UsersFile
	}
	return filepath.Join(u.DataDir, "users")
}

func (o *options) usersPath() string {
	if o.UsersFile != "" {
		return o.UsersFile
	}
	return filepath.Join(o.DataDir, "users")
}

// getenvOS is os.Getenv, named for symmetry with test fakes.
var getenvOS = os.Getenv
