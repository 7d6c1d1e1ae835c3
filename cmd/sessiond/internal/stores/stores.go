// Package stores opens the session store a --store URL names, such as
// bolt://sessions.db or redis://127.0.0.1:6379. Builtin is the table of
// every kind this build has.
package stores

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/filestore"
	"github.com/sesame-go/sesame/store/memstore"
)

// URL is a parsed --store value: a scheme and what follows "://".
type URL struct {
	Scheme string
	Rest   string // path, host:port, host list or DSN; scheme-specific
	Raw    string
}

// Kind opens the stores of one URL scheme.
type Kind struct {
	// Check validates the part after "://" without connecting.
	Check func(rest string) error
	// Open connects or opens; the returned closer releases the store.
	Open func(u URL, log *slog.Logger) (sesame.Store, io.Closer, error)
	// Example is shown in --help.
	Example string
	// Path: what follows "://" is a file system path, which, when
	// relative, is taken relative to the data directory.
	Path bool
}

// Registry holds the kinds of store by URL scheme.
type Registry map[string]Kind

// Builtin returns every kind of store this build supports.
func Builtin() Registry {
	postgres := Kind{Check: checkPostgres, Open: openPostgres, Example: "postgres://USER@HOST/DB"}
	return Registry{
		"memory": {
			Example: "memory://",
			Check: func(rest string) error {
				if rest != "" {
					return errors.New("memory:// takes nothing after the scheme")
				}
				return nil
			},
			Open: func(URL, *slog.Logger) (sesame.Store, io.Closer, error) {
				s, err := memstore.New(memstore.Config{})
				if err != nil {
					return nil, nil, err
				}
				return s, s, nil
			},
		},
		"file": {
			Example: "file://DIR",
			Check:   checkPath,
			Path:    true,
			Open: func(u URL, log *slog.Logger) (sesame.Store, io.Closer, error) {
				s, err := filestore.New(filestore.Config{Dir: u.Rest, SweepErrors: func(err error) {
					log.Warn("file store sweep failed", "err", err)
				}})
				if err != nil {
					return nil, nil, err
				}
				return s, s, nil
			},
		},
		"bolt":          {Check: checkPath, Open: openBolt, Example: "bolt://FILE", Path: true},
		"redis":         {Check: checkRedis, Open: openRedis, Example: "redis://HOST:PORT"},
		"redis-cluster": {Check: checkRedis, Open: openRedis, Example: "redis-cluster://H1:P1,H2:P2,..."},
		"postgres":      postgres,
		"postgresql":    postgres,
		"mysql":         {Check: checkMySQL, Open: openMySQL, Example: "mysql://USER@HOST:PORT/DB"},
		"memcache":      {Check: checkMemcache, Open: openMemcache, Example: "memcache://HOST:PORT"},
	}
}

// checkPath accepts a non-empty file system path.
func checkPath(rest string) error {
	if rest == "" {
		return errors.New("needs a path after the scheme, as in file:///var/lib/sessiond/sessions")
	}
	if strings.ContainsRune(rest, 0) {
		return errors.New("path contains a NUL byte")
	}
	return nil
}

// Help lists the supported schemes for --help.
func (r Registry) Help() string {
	var ex []string
	for _, k := range r {
		ex = append(ex, k.Example)
	}
	slices.Sort(ex)
	return strings.Join(slices.Compact(ex), ", ")
}

// Parse splits and checks a --store value. Everything after "://" is kept
// verbatim (file://relative/dir and file:///abs/dir both work; see In for
// where a relative one is), and the whole URL in Raw for drivers that
// want it.
func (r Registry) Parse(s string) (URL, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return URL{}, fmt.Errorf("--store %q: want SCHEME://..., one of %s", s, r.Help())
	}
	scheme = strings.ToLower(scheme)
	k, ok := r[scheme]
	if !ok {
		return URL{}, fmt.Errorf("--store %q: unknown scheme %q, want one of %s", s, scheme, r.Help())
	}
	if err := k.Check(rest); err != nil {
		return URL{}, fmt.Errorf("--store %s://: %v", scheme, err)
	}
	return URL{Scheme: scheme, Rest: rest, Raw: s}, nil
}

// In returns u with a relative path (bolt://sessions.db,
// file://sessions) made relative to dataDir instead of the working
// directory.
func (r Registry) In(u URL, dataDir string) URL {
	if r[u.Scheme].Path && !filepath.IsAbs(u.Rest) {
		u.Rest = filepath.Join(dataDir, u.Rest)
		u.Raw = u.Scheme + "://" + u.Rest
	}
	return u
}

// Open opens the store a URL from Parse names.
func (r Registry) Open(u URL, log *slog.Logger) (sesame.Store, io.Closer, error) {
	return r[u.Scheme].Open(u, log)
}

// Default picks the store for a data directory when --store is not given:
// the embedded bolt file, unless the directory already holds a file store
// from an earlier version, whose sessions are kept by going on with it.
func Default(dataDir string) URL {
	fileDir := filepath.Join(dataDir, "sessions")
	boltPath := filepath.Join(dataDir, "sessions.db")
	_, errBolt := os.Stat(boltPath)
	if st, err := os.Stat(fileDir); errors.Is(errBolt, os.ErrNotExist) && err == nil && st.IsDir() {
		return URL{Scheme: "file", Rest: fileDir, Raw: "file://" + fileDir}
	}
	return URL{Scheme: "bolt", Rest: boltPath, Raw: "bolt://" + boltPath}
}

// Redact hides a password in a store URL for logs.
func Redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return s
	}
	cred := rest[:at]
	if user, _, hasPw := strings.Cut(cred, ":"); hasPw {
		cred = user + ":xxxxx"
	}
	return scheme + "://" + cred + rest[at:]
}
