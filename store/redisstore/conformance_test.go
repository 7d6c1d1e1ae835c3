package redisstore

import (
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestConformance runs the sesame.Store conformance suite against a real
// standalone Redis and a real Redis Cluster, with and without the
// client-side cache.
func TestConformance(t *testing.T) {
	tests := []struct {
		name  string
		what  string
		addrs func() []string
		cache time.Duration
	}{
		{"Standalone", "Redis", standaloneAddrs, 0},
		{"StandaloneClientSideCache", "Redis", standaloneAddrs, 2 * time.Second},
		{"Cluster", "Redis Cluster", clusterAddrs, 0},
		{"ClusterClientSideCache", "Redis Cluster", clusterAddrs, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addrs := tc.addrs()
			needServer(t, tc.what, addrs)
			storetest.Run(t, func(t *testing.T) sesame.Store {
				return openStore(t, addrs, tc.cache)
			})
		})
	}
}
