package ops

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

// cancelled returns a context that has ended: memstore then fails every
// call, as a store that cannot be reached does.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

func TestReady(t *testing.T) {
	st, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ready := Ready(st, slog.New(slog.DiscardHandler))
	tests := []struct {
		name string
		ctx  context.Context
		want int
	}{
		{"the store answers", t.Context(), http.StatusOK},
		{"the store fails", cancelled(t), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		ready(w, httptest.NewRequestWithContext(tt.ctx, "GET", "/readyz", nil))
		if w.Code != tt.want || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, Cache-Control %q; want %d, no-store", tt.name, w.Code, w.Header().Get("Cache-Control"), tt.want)
		}
	}
}

// storeOnly hides a store's user index.
type storeOnly struct{ sesame.Store }

func TestInstrument(t *testing.T) {
	st, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := NewMetrics()
	timed := Instrument(st, m)
	if _, ok := timed.(sesame.UserIndex); !ok {
		t.Error("the timed store lost memstore's user index")
	}
	if _, ok := timed.(sesame.Renewer); !ok {
		t.Error("the timed store lost memstore's Renew")
	}
	if _, ok := Instrument(storeOnly{st}, m).(sesame.UserIndex); ok {
		t.Error("the timed store claims a user index its store lacks")
	}
	if _, ok := Instrument(storeOnly{st}, m).(sesame.Renewer); ok {
		t.Error("the timed store claims a Renew its store lacks")
	}
	renewing := Instrument(struct {
		sesame.Store
		sesame.Renewer
	}{st, st}, m)
	if _, ok := renewing.(sesame.Renewer); !ok {
		t.Error("the timed store lost the Renew of a store without a user index")
	}
	if _, ok := renewing.(sesame.UserIndex); ok {
		t.Error("the timed store claims a user index its store lacks")
	}

	if _, _, err := timed.Load(t.Context(), "no-such-key"); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("Load of a missing key: %v", err)
	}
	if _, _, err := timed.Load(cancelled(t), "no-such-key"); err == nil {
		t.Fatal("Load with an ended context succeeded")
	}
	var calls, failures dto.Metric
	if err := m.storeTime.WithLabelValues("load").(interface{ Write(*dto.Metric) error }).Write(&calls); err != nil {
		t.Fatal(err)
	}
	if err := m.storeErrors.WithLabelValues("load").Write(&failures); err != nil {
		t.Fatal(err)
	}
	if n := calls.GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("%d loads timed, want 2", n)
	}
	if n := failures.GetCounter().GetValue(); n != 1 {
		t.Errorf("%v loads counted as failed, want 1 (not found is no failure)", n)
	}
}
