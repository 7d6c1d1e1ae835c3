package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/module"
)

// A goSum holds the lines of a go.sum file: the hash of each module
// version, where a version ending in "/go.mod" stands for its go.mod alone.
type goSum map[module.Version]string

// readGoSum reads the go.sum file name; a missing file is an empty goSum.
func readGoSum(name string) (goSum, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return goSum{}, nil
	}
	if err != nil {
		return nil, err
	}
	sum := goSum{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: not a go.sum line: %q", name, n, sc.Text())
		}
		sum[module.Version{Path: f[0], Version: f[1]}] = f[2]
	}
	return sum, sc.Err()
}

// write writes sum into the file name in the order the go command keeps,
// or removes the file if sum is empty, as the go command does.
func (sum goSum) write(name string) error {
	if len(sum) == 0 {
		if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	mods := make([]module.Version, 0, len(sum))
	for m := range sum {
		mods = append(mods, m)
	}
	module.Sort(mods)
	var b bytes.Buffer
	for _, m := range mods {
		fmt.Fprintf(&b, "%s %s %s\n", m.Path, m.Version, sum[m])
	}
	return os.WriteFile(name, b.Bytes(), 0o666)
}

// split returns the lines of sum about the repository's own modules, and
// the others.
func (sum goSum) split(r *Repo) (ours, others goSum) {
	ours, others = goSum{}, goSum{}
	for m, h := range sum {
		if r.module(m.Path) != nil {
			ours[m] = h
		} else {
			others[m] = h
		}
	}
	return ours, others
}
