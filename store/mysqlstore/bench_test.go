package mysqlstore

import (
	"testing"

	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
)

// The benchmarks compare each Store call with the same prepared statement
// run by the Store's table without it, through database/sql on the same
// pool (see sqlstoretest.BenchmarkLoad): the difference is the store's own
// cost.
//
//	go test -run '^$' -bench . -benchtime 2000x

func BenchmarkLoad(b *testing.B)  { _, srv := testStore(b); sqlstoretest.BenchmarkLoad(b, srv) }
func BenchmarkSave(b *testing.B)  { _, srv := testStore(b); sqlstoretest.BenchmarkSave(b, srv) }
func BenchmarkRenew(b *testing.B) { _, srv := testStore(b); sqlstoretest.BenchmarkRenew(b, srv) }
