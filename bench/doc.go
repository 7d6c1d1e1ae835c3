// Package bench compares Sesame with other Go session libraries, request
// for request, in the same run. It is its own module so that the core
// module never depends on the libraries it is measured against.
//
// Run everything with run.sh; README.md in this directory has the
// results and how each was measured.
package bench
