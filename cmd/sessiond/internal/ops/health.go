package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sesame-go/sesame"
)

// Handler serves the operations endpoints for --ops-listen: /healthz,
// /readyz (ready) and /metrics. They are never on the main listener, where
// they would be public and, in proxy mode, hide the application's own
// paths of those names.
func Handler(m *Metrics, ready http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", Healthz)
	mux.HandleFunc("GET /readyz", ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	return mux
}

// Healthz answers 200 while the process serves.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}

// Ready returns the readiness probe: 200 when the store answers a real
// Load, 503 (logged) when it fails.
func Ready(store sesame.Store, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Cache-Control", "no-store")
		_, _, err := store.Load(ctx, "sessiond-readiness-probe")
		if err != nil && !errors.Is(err, sesame.ErrNotFound) {
			log.Warn("readiness: store failed", "err", err)
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}
