package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Check returns the rules the repository breaks, one sentence each:
//
//   - a published go.mod has a replace directive (a user's go command
//     ignores it, so the module would build differently for them);
//   - a module requires an unpublished module of the repository;
//   - the requirements on the repository's own modules name more than one
//     version (a release sets them all to one);
//   - go.work does not replace exactly the required versions of the
//     repository's modules with their directories (without that, the
//     workspace would download versions that may not exist yet);
//   - a .go file imports an internal package of another module (internal
//     packages are no API, so another module's release may drop them).
func (r *Repo) Check() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	versions := map[string][]string{}  // version -> "dir/go.mod requires path"
	wantReplace := map[string]string{} // "path version" -> directory
	for _, m := range r.Modules {
		if m.Published() {
			for _, rep := range m.Mod.Replace {
				add("%s: replace %s: a published go.mod has no replace (go.work gives the workspace its local copies)", m.goMod(), rep.Old.Path)
			}
		}
		for _, req := range m.Mod.Require {
			dep := r.module(req.Mod.Path)
			if dep == nil {
				continue
			}
			if !dep.Published() {
				add("%s requires %s, which is not published", m.goMod(), dep.Path)
			}
			versions[req.Mod.Version] = append(versions[req.Mod.Version], fmt.Sprintf("%s requires %s", m.goMod(), dep.Path))
			wantReplace[dep.Path+" "+req.Mod.Version] = dep.Dir
		}
	}
	if len(versions) > 1 {
		var vs []string
		for v, reqs := range versions {
			vs = append(vs, fmt.Sprintf("%s (%s)", v, strings.Join(reqs, ", ")))
		}
		sort.Strings(vs)
		add("the modules require each other at more than one version: %s", strings.Join(vs, "; "))
	}

	for _, rep := range r.Work.Replace {
		if r.module(rep.Old.Path) == nil {
			continue
		}
		key := rep.Old.Path + " " + rep.Old.Version
		dir, ok := wantReplace[key]
		switch {
		case rep.Old.Version == "":
			add("go.work: replace %s: replace only the version the modules require, as in `replace %s V => DIR`", rep.Old.Path, rep.Old.Path)
		case !ok:
			add("go.work: replace %s %s: no module requires that version", rep.Old.Path, rep.Old.Version)
		case rep.New.Version != "" || path.Clean(rep.New.Path) != dir:
			add("go.work: replace %s %s => %s: want => %s", rep.Old.Path, rep.Old.Version, rep.New.Path, localPath(dir))
		}
		delete(wantReplace, key)
	}
	var missing []string
	for key, dir := range wantReplace {
		p, v, _ := strings.Cut(key, " ")
		missing = append(missing, fmt.Sprintf("go.work lacks `replace %s %s => %s`: the workspace would download that version instead of using its local copy", p, v, localPath(dir)))
	}
	sort.Strings(missing)
	problems = append(problems, missing...)

	for _, m := range r.Modules {
		ps, err := r.foreignInternalImports(m)
		if err != nil {
			add("%s: %v", m.Dir, err)
		}
		problems = append(problems, ps...)
	}
	return problems
}

// foreignInternalImports returns a sentence for every import, in a .go file
// of module m, of an internal package of another module. It reads every
// .go file whatever its build constraints, and skips what the go command
// skips: testdata, directories whose names begin with "." or "_", and the
// directories of nested modules.
func (r *Repo) foreignInternalImports(m *Module) ([]string, error) {
	var problems []string
	root := r.file(m, "")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name == root {
				return nil
			}
			base := d.Name()
			if base == "testdata" || base == "vendor" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(name, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module checks its own files
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			owner := r.owner(p)
			if owner == nil || owner == m {
				continue
			}
			if slices.Contains(strings.Split(strings.TrimPrefix(p, owner.Path), "/"), "internal") {
				rel, _ := filepath.Rel(r.Root, name)
				problems = append(problems, fmt.Sprintf("%s imports %s, an internal package of module %s", filepath.ToSlash(rel), p, owner.Path))
			}
		}
		return nil
	})
	return problems, err
}
