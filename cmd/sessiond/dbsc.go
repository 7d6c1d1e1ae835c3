package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/datadir"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/ops"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/seal"
)

// pathDBSC is where the DBSC registration and refresh endpoints live.
const pathDBSC = pages.Prefix + "dbsc/"

// Values of --dbsc.
const (
	dbscAuto = "auto" // on when sessiond serves HTTPS itself
	dbscOn   = "on"   // also behind a proxy that terminates HTTPS
	dbscOff  = "off"
)

// dbscEnabled reports whether sessions are offered device binding.
func (o *options) dbscEnabled() bool {
	return o.DBSC == dbscOn || (o.DBSC == dbscAuto && o.TLSCert != "")
}

// checkDBSC reports inconsistent DBSC options.
func (o *options) checkDBSC() error {
	switch {
	case o.DBSC != dbscAuto && o.DBSC != dbscOn && o.DBSC != dbscOff:
		return fmt.Errorf("--dbsc %q: want auto, on or off", o.DBSC)
	case o.DBSC == dbscOn && o.InsecurePlainHTTP:
		return fmt.Errorf("--dbsc on needs HTTPS, which --insecure-plain-http says the browser does not use")
	case o.DBSCCookieLifetime < time.Second:
		return fmt.Errorf("--dbsc-cookie-lifetime %v is under a second", o.DBSCCookieLifetime)
	}
	return nil
}

// newBinder builds the DBSC Binder: its registration challenges are
// sealed with a key kept in the data directory, so that a restart, or
// another sessiond sharing the directory's key, accepts them; its events
// are counted.
func newBinder(opt *options, log *slog.Logger, m *ops.Metrics) (*dbsc.Binder, error) {
	p := filepath.Join(opt.DataDir, "dbsc-key")
	text, created, err := datadir.LoadOrCreateSecret(p, seal.GenerateKey)
	if err != nil {
		return nil, fmt.Errorf("dbsc key: %w", err)
	}
	if created {
		log.Info("generated a key for DBSC registration challenges", "file", p)
	}
	ring, err := seal.ParseKeyRing(text)
	if err != nil {
		return nil, fmt.Errorf("dbsc key %s: %w", p, err)
	}
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessiond_dbsc_events_total",
		Help: "Device-bound session (DBSC) events by kind: offered, registered, refreshed, challenged, refused, terminated, withheld.",
	}, []string{"kind"})
	m.Registry.MustRegister(events)
	for k := dbsc.EventOffered; k <= dbsc.EventWithheld; k++ {
		events.WithLabelValues(k.String())
	}
	return dbsc.New(dbsc.Config{
		Path:           pathDBSC,
		CookieLifetime: min(opt.DBSCCookieLifetime, opt.IdleTimeout),
		Keys:           ring,
		Logger:         log,
		OnEvent: func(_ context.Context, e dbsc.Event) {
			events.WithLabelValues(e.Kind.String()).Inc()
		},
	})
}

// boundCookieName is the name of the bound cookie of b's sessions, which
// the reverse proxy strips like the session cookie; "" without DBSC.
func boundCookieName(b *dbsc.Binder) string {
	if b == nil {
		return ""
	}
	return b.CookieName()
}
