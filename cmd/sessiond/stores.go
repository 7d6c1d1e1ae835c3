package main

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

// storeURL is a parsed --store value: a scheme and what follows "://".
type storeURL struct {
	Scheme string
	Rest   string // path, host:port, host list or DSN; scheme-specific
	Raw    string
}

// storeKind opens the stores of one URL scheme.
type storeKind struct {
	// check validates the part after "://" without connecting.
	check func(rest string) error
	// open connects or opens; the returned closer releases the store.
	open func(u storeURL, log *slog.Logger) (sesame.Store, io.Closer, error)
	// example is shown in --help.
	example string
	// path: what follows "://" is a file system path, which, when
	// relative, is taken relative to the data directory.
	path bool
}

// storeKinds holds every scheme this build supports. Files named
// store_*.go add theirs in init.
var storeKinds = map[string]storeKind{
	"memory": {
		example: "memory://",
		check: func(rest string) error {
			if rest != "" {
				return errors.New("memory:// takes nothing after the scheme")
			}
			return nil
		},
		open: func(storeURL, *slog.Logger) (sesame.Store, io.Closer, error) {
			s, err := memstore.New(memstore.Config{})
			if err != nil {
				return nil, nil, err
			}
			return s, s, nil
		},
	},
	"file": {
		example: "file://DIR",
		check:   checkPath,
		path:    true,
		open: func(u storeURL, log *slog.Logger) (sesame.Store, io.Closer, error) {
			s, err := filestore.New(filestore.Config{Dir: u.Rest, SweepErrors: func(err error) {
				log.Warn("file store sweep failed", "err", err)
			}})
			if err != nil {
				return nil, nil, err
			}
			return s, s, nil
		},
	},
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

// storeSchemesHelp lists the supported schemes for --help.
func storeSchemesHelp() string {
	var ex []string
	for _, k := range storeKinds {
		ex = append(ex, k.example)
	}
	slices.Sort(ex)
	return strings.Join(slices.Compact(ex), ", ")
}

// parseStoreURL splits and checks a --store value. Everything after "://"
// is kept verbatim (file://relative/dir and file:///abs/dir both work; see
// in for where a relative one is), and the whole URL in Raw for drivers
// that want it.
func parseStoreURL(s string) (storeURL, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return storeURL{}, fmt.Errorf("--store %q: want SCHEME://..., one of %s", s, storeSchemesHelp())
	}
	scheme = strings.ToLower(scheme)
	k, ok := storeKinds[scheme]
	if !ok {
		if note, later := plannedStores[scheme]; later {
			return storeURL{}, fmt.Errorf("--store %s://: %s", scheme, note)
		}
		return storeURL{}, fmt.Errorf("--store %q: unknown scheme %q, want one of %s", s, scheme, storeSchemesHelp())
	}
	if err := k.check(rest); err != nil {
		return storeURL{}, fmt.Errorf("--store %s://: %v", scheme, err)
	}
	return storeURL{Scheme: scheme, Rest: rest, Raw: s}, nil
}

// in returns u with a relative path (bolt://sessions.db,
// file://sessions) made relative to dataDir instead of the working
// directory.
func (u storeURL) in(dataDir string) storeURL {
	if storeKinds[u.Scheme].path && !filepath.IsAbs(u.Rest) {
		u.Rest = filepath.Join(dataDir, u.Rest)
		u.Raw = u.Scheme + "://" + u.Rest
	}
	return u
}

// plannedStores names schemes whose store module is not in this build yet.
var plannedStores = map[string]string{
	"bolt":          "the embedded bolt store is not in this build yet",
	"redis":         "the Redis store is not in this build yet",
	"redis-cluster": "the Redis store is not in this build yet",
	"postgres":      "the PostgreSQL store is not in this build yet",
	"postgresql":    "the PostgreSQL store is not in this build yet",
	"mysql":         "the MySQL store is not in this build yet",
	"memcache":      "the memcached store is not in this build yet",
}

// openStore opens the store a URL names.
func openStore(u storeURL, log *slog.Logger) (sesame.Store, io.Closer, error) {
	return storeKinds[u.Scheme].open(u, log)
}

// defaultStore picks the store for a data directory when --store is not
// given: the embedded bolt file when this build has it, unless the
// directory already holds a file store from an earlier version, whose
// sessions are kept by going on with it.
func defaultStore(dataDir string) storeURL {
	fileDir := filepath.Join(dataDir, "sessions")
	if _, ok := storeKinds["bolt"]; ok {
		boltPath := filepath.Join(dataDir, "sessions.db")
		_, errBolt := os.Stat(boltPath)
		if st, err := os.Stat(fileDir); errors.Is(errBolt, os.ErrNotExist) && err == nil && st.IsDir() {
			return storeURL{Scheme: "file", Rest: fileDir, Raw: "file://" + fileDir}
		}
		return storeURL{Scheme: "bolt", Rest: boltPath, Raw: "bolt://" + boltPath}
	}
	return storeURL{Scheme: "file", Rest: fileDir, Raw: "file://" + fileDir}
}
