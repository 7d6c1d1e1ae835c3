package pgstore

import (
	"testing"

	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
)

// The benchmarks compare each Store call with the same statement run by
// the Store's table without it, through pgx on the same pool (see
// sqlstoretest.BenchmarkLoad): the difference is the store's own cost.
//
//	go test -run '^$' -bench . -benchtime 2000x

func BenchmarkLoad(b *testing.B)  { sqlstoretest.BenchmarkLoad(b, testServer(open(b, testConfig(b)))) }
func BenchmarkSave(b *testing.B)  { sqlstoretest.BenchmarkSave(b, testServer(open(b, testConfig(b)))) }
func BenchmarkRenew(b *testing.B) { sqlstoretest.BenchmarkRenew(b, testServer(open(b, testConfig(b)))) }
