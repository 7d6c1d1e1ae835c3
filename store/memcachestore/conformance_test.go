package memcachestore

import (
	"testing"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestConformance runs the suite every sesame.Store must pass against the
// real memcached at SESAME_MEMCACHE_ADDR (its 1 MiB value needs -I 2m).
func TestConformance(t *testing.T) {
	c := testClient(t)
	storetest.Run(t, func(t *testing.T) sesame.Store {
		return newTestStore(t, c, Config{})
	})
}

// TestConformanceWithoutCASCache runs the suite with the CAS id cache off,
// so that every versioned Save takes the gets-then-cas path.
func TestConformanceWithoutCASCache(t *testing.T) {
	c := testClient(t)
	storetest.Run(t, func(t *testing.T) sesame.Store {
		return newTestStore(t, c, Config{CASCacheSize: -1})
	})
}
