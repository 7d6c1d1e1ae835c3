package sqltable

import "testing"

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		max  int
		want bool
	}{
		{"sessions", 8, true},
		{"sessions", 7, false},
		{"_s1", 3, true},
		{"", 3, false},
		{"1s", 3, false},
		{"Sessions", 10, false},
		{"a-b", 10, false},
		{"a b", 10, false},
		{`a"b`, 10, false},
		{"a`b", 10, false},
		{"é", 10, false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.name, tt.max); got != tt.want {
			t.Errorf("ValidName(%q, %d) = %v; want %v", tt.name, tt.max, got, tt.want)
		}
	}
}
