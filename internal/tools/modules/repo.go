package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// A Repo is the repository's workspace: go.work and the modules it uses.
type Repo struct {
	Root    string // the directory of go.work
	Work    *modfile.WorkFile
	Modules []*Module // in the order go.work lists them
}

// A Module is one module of the repository.
type Module struct {
	Dir  string // slash-separated, relative to Repo.Root; "." for the root
	Path string // the module path
	Mod  *modfile.File
}

// Load reads root/go.work and the go.mod of every module it uses.
func Load(root string) (*Repo, error) {
	name := filepath.Join(root, "go.work")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	work, err := modfile.ParseWork(name, data, nil)
	if err != nil {
		return nil, err
	}
	r := &Repo{Root: root, Work: work}
	for _, u := range work.Use {
		dir := path.Clean(u.Path)
		if path.IsAbs(dir) || dir == ".." || strings.HasPrefix(dir, "../") {
			return nil, fmt.Errorf("%s: use %s: a module outside the repository", name, u.Path)
		}
		name := filepath.Join(root, filepath.FromSlash(dir), "go.mod")
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := modfile.Parse(name, data, nil)
		if err != nil {
			return nil, err
		}
		if f.Module == nil {
			return nil, fmt.Errorf("%s: no module line", name)
		}
		r.Modules = append(r.Modules, &Module{Dir: dir, Path: f.Module.Mod.Path, Mod: f})
	}
	return r, nil
}

// Published reports whether the module is meant for users: its path has
// no "internal" element.
func (m *Module) Published() bool {
	return !slices.Contains(strings.Split(m.Path, "/"), "internal")
}

// goMod returns the name of the module's go.mod, relative to the root.
func (m *Module) goMod() string { return path.Join(m.Dir, "go.mod") }

// file returns the name of the file base in module m's directory.
func (r *Repo) file(m *Module, base string) string {
	return filepath.Join(r.Root, filepath.FromSlash(m.Dir), base)
}

// module returns the repository's module with the given path, or nil.
func (r *Repo) module(path string) *Module {
	for _, m := range r.Modules {
		if m.Path == path {
			return m
		}
	}
	return nil
}

// owner returns the module of the repository that holds the package with
// import path p (the module with the longest path that p is in), or nil if
// p is not in one of them.
func (r *Repo) owner(p string) *Module {
	var best *Module
	for _, m := range r.Modules {
		if (p == m.Path || strings.HasPrefix(p, m.Path+"/")) && (best == nil || len(m.Path) > len(best.Path)) {
			best = m
		}
	}
	return best
}

// Published returns the published modules, every module after the
// repository's modules it requires, and otherwise in go.work's order.
func (r *Repo) Published() ([]*Module, error) {
	var todo, done []*Module
	for _, m := range r.Modules {
		if m.Published() {
			todo = append(todo, m)
		}
	}
	for len(todo) > 0 {
		i := slices.IndexFunc(todo, func(m *Module) bool {
			for _, req := range m.Mod.Require {
				if dep := r.module(req.Mod.Path); dep != nil && dep != m && !slices.Contains(done, dep) {
					return false
				}
			}
			return true
		})
		if i < 0 {
			return nil, fmt.Errorf("the modules %s require each other in a cycle", paths(todo))
		}
		done = append(done, todo[i])
		todo = slices.Delete(todo, i, i+1)
	}
	return done, nil
}

// paths returns the modules' paths, separated by commas.
func paths(mods []*Module) string {
	var ps []string
	for _, m := range mods {
		ps = append(ps, m.Path)
	}
	return strings.Join(ps, ", ")
}

// SetVersion sets every requirement of one of the repository's modules on
// another to version v, and makes go.work's replaces give the workspace its
// local copy of every module required at v. It writes the go.mod files and
// go.work, and drops the go.sum lines of the repository's modules, which
// hold the hashes of other versions (go mod tidy, run against the modules
// at v, writes them anew).
func (r *Repo) SetVersion(v string) error {
	if err := r.checkVersion(v); err != nil {
		return err
	}
	required := map[*Module]bool{}
	for _, m := range r.Modules {
		changed := false
		for _, req := range m.Mod.Require {
			dep := r.module(req.Mod.Path)
			if dep == nil {
				continue
			}
			required[dep] = true
			if req.Mod.Version != v {
				if err := m.Mod.AddRequire(dep.Path, v); err != nil {
					return err
				}
				changed = true
			}
		}
		if changed {
			m.Mod.Cleanup()
			if err := os.WriteFile(r.file(m, "go.mod"), modfile.Format(m.Mod.Syntax), 0o666); err != nil {
				return err
			}
		}
		sum, err := readGoSum(r.file(m, "go.sum"))
		if err != nil {
			return err
		}
		if ours, others := sum.split(r); len(ours) > 0 {
			if err := others.write(r.file(m, "go.sum")); err != nil {
				return err
			}
		}
	}
	for _, rep := range slices.Clone(r.Work.Replace) {
		if r.module(rep.Old.Path) != nil {
			if err := r.Work.DropReplace(rep.Old.Path, rep.Old.Version); err != nil {
				return err
			}
		}
	}
	for _, m := range r.Modules {
		if required[m] {
			if err := r.Work.AddReplace(m.Path, v, localPath(m.Dir), ""); err != nil {
				return err
			}
		}
	}
	r.Work.Cleanup()
	return os.WriteFile(filepath.Join(r.Root, "go.work"), modfile.Format(r.Work.Syntax), 0o666)
}

// checkVersion reports whether v is a version every published module may
// be released at: a canonical semantic version whose major version the
// module paths allow (v0 or v1, as they have no /vN suffix).
func (r *Repo) checkVersion(v string) error {
	if module.CanonicalVersion(v) != v {
		return fmt.Errorf("version %q is not a canonical semantic version such as v1.2.3", v)
	}
	for _, m := range r.Modules {
		if err := module.Check(m.Path, v); err != nil {
			return err
		}
	}
	return nil
}

// localPath returns dir as go.work spells a directory: "." or "./dir".
func localPath(dir string) string {
	if dir == "." {
		return dir
	}
	return "./" + dir
}
