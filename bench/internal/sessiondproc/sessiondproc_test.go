package sessiondproc

import "testing"

func TestMetricByLabel(t *testing.T) {
	text := `# HELP sessiond_store_errors_total x
sessiond_store_errors_total{op="load"} 2
sessiond_store_errors_total{op="save"} 1.5
sessiond_session_events_total{kind="conflict"} 3
`
	got := MetricByLabel(text, "sessiond_store_errors_total", "op")
	if len(got) != 2 || got["load"] != 2 || got["save"] != 1.5 {
		t.Errorf("MetricByLabel = %v", got)
	}
}
