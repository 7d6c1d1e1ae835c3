package main

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/mod/modfile"
)

// TakeTidy writes into the repository r the go.mod and go.sum of every
// published module as tree has them, apart from what concerns the
// repository's own modules: r keeps the version at which they require each
// other and its go.sum lines for them, which only a release changes. tree
// is the scratch tree of `scripts/release.sh -n`, where go mod tidy ran in
// every published module against the release.
func (r *Repo) TakeTidy(tree *Repo) error {
	v, err := r.requiredVersion()
	if err != nil {
		return err
	}
	mods, err := r.Published()
	if err != nil {
		return err
	}
	for _, m := range mods {
		t := tree.module(m.Path)
		if t == nil || t.Dir != m.Dir {
			return fmt.Errorf("%s: no module %s in %s", m.Dir, m.Path, tree.Root)
		}
		f := t.Mod
		for _, req := range slices.Clone(f.Require) {
			if r.module(req.Mod.Path) != nil {
				if err := f.AddRequire(req.Mod.Path, v); err != nil {
					return err
				}
			}
		}
		f.Cleanup()
		if err := os.WriteFile(r.file(m, "go.mod"), modfile.Format(f.Syntax), 0o666); err != nil {
			return err
		}

		tidy, err := readGoSum(tree.file(t, "go.sum"))
		if err != nil {
			return err
		}
		have, err := readGoSum(r.file(m, "go.sum"))
		if err != nil {
			return err
		}
		_, sum := tidy.split(r)
		ours, _ := have.split(r)
		for mv, h := range ours {
			sum[mv] = h
		}
		if err := sum.write(r.file(m, "go.sum")); err != nil {
			return err
		}
	}
	return nil
}

// requiredVersion returns the version at which the repository's modules
// require each other, or an error if they do not agree on one or none
// requires another.
func (r *Repo) requiredVersion() (string, error) {
	var v string
	for _, m := range r.Modules {
		for _, req := range m.Mod.Require {
			if r.module(req.Mod.Path) == nil {
				continue
			}
			if v != "" && req.Mod.Version != v {
				return "", fmt.Errorf("the modules require each other at %s and at %s (see the check subcommand)", v, req.Mod.Version)
			}
			v = req.Mod.Version
		}
	}
	if v == "" {
		return "", fmt.Errorf("no module of %s requires another", r.Root)
	}
	return v, nil
}
