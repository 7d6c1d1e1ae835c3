// Package ops is sessiond's operations side: Prometheus metrics, a store
// wrapper that times every call, and the health, readiness and metrics
// endpoints.
package ops

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sesame-go/sesame"
)

// Metrics are sessiond's Prometheus collectors, on a registry of its own.
type Metrics struct {
	Registry    *prometheus.Registry
	Events      *prometheus.CounterVec // session events by kind
	Logins      *prometheus.CounterVec // login attempts by result: ok, failed, limited
	AuthChecks  *prometheus.CounterVec // forward-auth and proxy checks by result: ok, denied
	storeTime   *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec

	// The series every forward-auth check touches, looked up once rather
	// than by label on every check.
	AuthOK, AuthDenied prometheus.Counter
	storeLoad          prometheus.Observer
}

// NewMetrics makes the collectors and registers them, with Go's runtime
// and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_session_events_total",
			Help: "Session events by kind: created, renewed, destroyed, expired, invalid, conflict.",
		}, []string{"kind"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_logins_total",
			Help: "Login attempts by result: ok, failed, limited (refused by the rate limiter).",
		}, []string{"result"}),
		storeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sessiond_store_duration_seconds",
			Help:    "Latency of session store calls by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_store_errors_total",
			Help: "Session store calls that failed, by operation (not found and conflicts are not failures).",
		}, []string{"op"}),
		AuthChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessiond_auth_checks_total",
			Help: "Forward-auth and reverse-proxy checks by result: ok, denied.",
		}, []string{"result"}),
	}
	m.Registry.MustRegister(m.Events, m.Logins, m.storeTime, m.storeErrors, m.AuthChecks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Show every series from the start, at zero.
	for k := sesame.EventCreated; k <= sesame.EventConflict; k++ {
		m.Events.WithLabelValues(k.String())
	}
	for _, r := range []string{"ok", "failed", "limited"} {
		m.Logins.WithLabelValues(r)
	}
	m.AuthOK = m.AuthChecks.WithLabelValues("ok")
	m.AuthDenied = m.AuthChecks.WithLabelValues("denied")
	m.storeLoad = m.storeTime.WithLabelValues("load")
	return m
}

// OnEvent is the Manager's Config.OnEvent.
func (m *Metrics) OnEvent(_ context.Context, e sesame.Event) {
	m.Events.WithLabelValues(e.Kind.String()).Inc()
}

// Instrument wraps a store so that its calls are timed. The result
// implements sesame.UserIndex and sesame.Renewer when st does.
func Instrument(st sesame.Store, m *Metrics) sesame.Store {
	t := &timedStore{s: st, m: m}
	ui, indexed := st.(sesame.UserIndex)
	r, renews := st.(sesame.Renewer)
	switch {
	case indexed && renews:
		return struct {
			*timedIndexStore
			timedRenewer
		}{&timedIndexStore{timedStore: t, ui: ui}, timedRenewer{t, r}}
	case indexed:
		return &timedIndexStore{timedStore: t, ui: ui}
	case renews:
		return struct {
			*timedStore
			timedRenewer
		}{t, timedRenewer{t, r}}
	}
	return t
}

type timedStore struct {
	s sesame.Store
	m *Metrics
}

func (t *timedStore) observe(op string, start time.Time, err error) {
	t.m.storeTime.WithLabelValues(op).Observe(time.Since(start).Seconds())
	t.countError(op, err)
}

func (t *timedStore) countError(op string, err error) {
	if err != nil && !errors.Is(err, sesame.ErrNotFound) && !errors.Is(err, sesame.ErrConflict) {
		t.m.storeErrors.WithLabelValues(op).Inc()
	}
}

func (t *timedStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	start := time.Now()
	v, ver, err := t.s.Load(ctx, key)
	t.m.storeLoad.Observe(time.Since(start).Seconds()) // every check loads
	t.countError("load", err)
	return v, ver, err
}

func (t *timedStore) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	start := time.Now()
	v, err := t.s.Save(ctx, key, value, version, opts)
	t.observe("save", start, err)
	return v, err
}

func (t *timedStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := t.s.Delete(ctx, key)
	t.observe("delete", start, err)
	return err
}

type timedIndexStore struct {
	*timedStore
	ui sesame.UserIndex
}

func (t *timedIndexStore) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	start := time.Now()
	r, err := t.ui.UserSessions(ctx, user)
	t.observe("user_sessions", start, err)
	return r, err
}

func (t *timedIndexStore) DeleteUser(ctx context.Context, user string) error {
	start := time.Now()
	err := t.ui.DeleteUser(ctx, user)
	t.observe("delete_user", start, err)
	return err
}

// timedRenewer times the Renew of a store that has it.
type timedRenewer struct {
	t *timedStore
	r sesame.Renewer
}

func (t timedRenewer) Renew(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, opts sesame.SaveOptions) (uint64, error) {
	start := time.Now()
	v, err := t.r.Renew(ctx, oldKey, oldVersion, newKey, value, opts)
	t.t.observe("renew", start, err)
	return v, err
}
