package main

import (
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
BenchmarkReadOnly/kind=mem/lib=sesame-2   1000   1000 ns/op   58.00 cookie-bytes   896 B/op   4 allocs/op
BenchmarkReadOnly/kind=mem/lib=sesame-2   1000   1200 ns/op   58.00 cookie-bytes   896 B/op   4 allocs/op
BenchmarkReadOnly/kind=mem/lib=sesame-2   1000   5000 ns/op   58.00 cookie-bytes   896 B/op   4 allocs/op
BenchmarkReadOnly/kind=mem/lib=scs-2      1000  12000 ns/op   51.00 cookie-bytes 10656 B/op 240 allocs/op
BenchmarkReadOnly/kind=cookie/lib=sesame-2 1000  2000 ns/op  390.0 cookie-bytes  1088 B/op   4 allocs/op
BenchmarkReadOnly/kind=cookie/lib=gorilla-2 1000 15000 ns/op 600.0 cookie-bytes 12752 B/op 241 allocs/op
BenchmarkWrite/kind=redis/lib=sesame-2    1000 100000 ns/op
BenchmarkWrite/kind=redis/lib=scs-2       1000 130000 ns/op
BenchmarkWrite/kind=redis/lib=floor-2     1000 100000 ns/op
BenchmarkOther-2                          1000    100 ns/op
`

func parse(t *testing.T, text string) map[key]sample {
	t.Helper()
	results := map[key]sample{}
	if err := readFrom(strings.NewReader(text), "sample", results); err != nil {
		t.Fatal(err)
	}
	return results
}

func TestTargets(t *testing.T) {
	results := parse(t, sampleOutput)
	if len(results) != 7 {
		t.Fatalf("parsed %d benchmarks of the comparison, want 7: %v", len(results), results)
	}
	tests := []struct {
		target target
		want   string
	}{
		// Sesame's median is 1.2 µs (not the mean): 12/1.2 = 10×.
		{targets[0], "10.0× (met)"},
		// 15/2 = 7.5×, short of 10× by a quarter.
		{targets[1], "7.5× (**missed** by 25%)"},
		{targets[4], "60.0× (met)"},
		{targets[2], "not measured"},
		// Where the floor ran, the bound it sets is stated.
		{targets[6], "1.3× (**missed** by 13%); the floor, no library at all, is 1.3×"},
	}
	for _, tt := range tests {
		if got := tt.target.check(results); !strings.Contains(got, tt.want) {
			t.Errorf("%s: got %q, want it to contain %q", tt.target.what, got, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	write(&b, parse(t, sampleOutput))
	for _, want := range []string{
		"| ReadOnly | memory | 1.20 µs | 4 | 58 B | scs | 12.00 µs | 240 | 51 B | **10.0×** |",
		"| ReadOnly | cookie | 2.00 µs | 4 | 390 B | gorilla/sessions | 15.00 µs | 241 | 600 B | **7.5×** |",
		"| Write | Redis | 100.00 µs | 0 | – | floor (no library) | 100.00 µs | 0 | – | **1.0×** |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
