// Package storetest is the conformance suite that every sesame.Store must
// pass. It turns the contract written in the Store and UserIndex doc
// comments into tests, so that the memory, file, bbolt, Redis, PostgreSQL,
// MySQL and memcached stores all mean the same thing by "version",
// "conflict" and "expired".
//
// A store's own tests call Run with a function that returns a fresh, empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) sesame.Store {
//			s, err := mystore.New(mystore.Config{Dir: t.TempDir()})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls newStore once for each of its subtests. The subtests run one
// after another, never in parallel, so a newStore for a shared server may
// empty it (FLUSHDB, TRUNCATE) or hand out a fresh key prefix or database;
// it must report setup failures with t.Fatal and release the store with
// t.Cleanup. Keys are random 43-character base64url strings, as the
// Manager makes them.
//
// The suite checks expiry on the wall clock, to the millisecond: a record
// saved to expire 1 s ahead must load until its ExpiresAt and be gone
// right after, even on a server whose own expiry has 1-second resolution
// (such a store must check the deadline itself on Load). The whole suite
// takes a little over that second, plus the Manager load below.
//
// Besides the store's own methods, the suite drives a real sesame.Manager
// over the store through HTTP, 16 requests at once on one session, and
// checks that none fails and that the Manager's saves conflict at most
// once per request.
//
// Stores that also implement sesame.UserIndex or sesame.Renewer get their
// subtests too; for other stores those are skipped with a note in the log.
//
// Run an individual property with the usual filter, e.g.
//
//	go test -run 'TestConformance/SaveWithWrongVersionConflicts'
//
// Stores that talk to a server over the network can also check how they
// behave when it becomes unreachable: RunNetworkFaults puts a Proxy (a
// loopback TCP proxy a test can cut or make hang) between the store and
// its server and checks that calls fail fast with clear errors, that
// nothing leaks and that no record is lost; NetworkFaults.RunTraffic runs
// the same traffic checks around a fault of the store's own making, such
// as a real restart of the server.
package storetest

import (
	"testing"

	"github.com/sesame-go/sesame"
)

// Run checks that the stores newStore makes keep the sesame.Store contract
// (and the sesame.UserIndex and sesame.Renewer contracts, when they
// implement them). Each subtest
// gets its own store from newStore, which must be empty.
func Run(t *testing.T, newStore func(t *testing.T) sesame.Store) {
	t.Helper()
	for _, p := range suite() {
		t.Run(p.name, func(t *testing.T) { p.run(t, fresh(t, newStore)) })
	}
	runExtension(t, "UserIndex", newStore, userIndexSuite())
	runExtension(t, "Renewer", newStore, renewerSuite())
}

// extension is one subtest for stores that implement an optional
// interface I besides sesame.Store: a name that says what it proves and
// the test itself, run on a fresh store.
type extension[I any] struct {
	name string
	run  func(t *testing.T, s sesame.Store, i I)
}

// runExtension runs the subtests of the optional interface I, named
// sesame.<name>, or skips them with a note when the store does not
// implement it.
func runExtension[I any](t *testing.T, name string, newStore func(t *testing.T) sesame.Store, suite []extension[I]) {
	t.Run(name, func(t *testing.T) {
		if _, ok := fresh(t, newStore).(I); !ok {
			t.Skipf("the store does not implement sesame.%s; its checks are skipped", name)
		}
		for _, p := range suite {
			t.Run(p.name, func(t *testing.T) {
				s := fresh(t, newStore)
				i, ok := s.(I)
				if !ok {
					t.Fatalf("newStore returned a store without sesame.%s after one with it", name)
				}
				p.run(t, s, i)
			})
		}
	})
}

// fresh returns a new store from newStore, failing the test on nil.
func fresh(t *testing.T, newStore func(t *testing.T) sesame.Store) sesame.Store {
	t.Helper()
	s := newStore(t)
	if s == nil {
		t.Fatal("newStore returned a nil Store")
	}
	return s
}

// property is one subtest of the suite: a name that says what it proves
// and the test itself, run on a fresh store.
type property struct {
	name string
	run  func(t *testing.T, s sesame.Store)
}

// suite lists every property, in the order Run checks them.
func suite() []property {
	return []property{
		{"LoadOfMissingKeyIsNotFound", testLoadMissing},
		{"SaveNewThenLoadReturnsSameBytesAndVersion", testSaveNewThenLoad},
		{"SaveNewOnExistingKeyConflictsAndChangesNothing", testSaveNewOnExisting},
		{"SaveWithCurrentVersionReplacesValueAndChangesVersion", testSaveWithCurrentVersion},
		{"SaveWithWrongVersionConflictsAndChangesNothing", testSaveWithWrongVersion},
		{"SaveWithVersionOnMissingKeyConflicts", testSaveWithVersionOnMissing},
		{"DeleteRemovesRecord", testDelete},
		{"DeleteOfMissingKeyIsNotAnError", testDeleteMissing},
		{"SaveAfterDeleteDoesNotResurrect", testNoResurrection},
		{"KeyNeverGetsAVersionItHadBefore", testVersionsNeverRepeat},
		{"SaveCopiesValue", testSaveCopiesValue},
		{"EmptyValueIsStoredNotMissing", testEmptyValue},
		{"ValuesRoundTripExactly", testValuesRoundTrip},
		{"InvalidKeysAreRejected", testInvalidKeys},
		{"LongestValidKeyIsAccepted", testLongestKey},
		{"KeysDifferingOnlyInCaseAreDistinct", testCaseDistinctKeys},
		{"ConcurrentIncrementsLoseNoUpdates", testConcurrentIncrements},
		{"ConcurrentCreatesHaveExactlyOneWinner", testConcurrentCreates},
		{"ManagerServesConcurrentWritersOfOneSession", testManagerContention},
		{"DoneContextFailsWithoutChanges", testDoneContext},
		{"ExpiredRecordIsGone", testExpiry},
	}
}
