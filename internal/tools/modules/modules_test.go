package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tree is a repository in the shape of this one: a root module, two store
// modules that require it, one that requires a store, and a tool module.
var tree = map[string]string{
	"go.work": `go 1.26.0

use (
	.
	./cmd/app
	./store/a
	./store/b
	./internal/tools
)

replace example.com/m v0.1.0 => .

replace example.com/m/store/a v0.1.0 => ./store/a
`,
	"go.mod":           "module example.com/m\n\ngo 1.26.0\n",
	"m.go":             "package m\n\nimport _ \"example.com/m/internal/x\"\n",
	"internal/x/x.go":  "package x\n",
	"store/mem/mem.go": "package mem\n",
	"store/a/go.mod": `module example.com/m/store/a

go 1.26.0

require example.com/m v0.1.0
`,
	"store/a/a.go":              "package a\n\nimport (\n\t_ \"example.com/m\"\n\t_ \"example.com/m/store/a/internal/y\"\n)\n",
	"store/a/internal/y/y.go":   "package y\n",
	"store/a/testdata/t.go":     "package t\n\nimport _ \"example.com/m/internal/x\"\n",
	"store/b/go.mod":            "module example.com/m/store/b\n\ngo 1.26.0\n\nrequire example.com/m v0.1.0\n",
	"store/b/b.go":              "package b\n",
	"cmd/app/go.mod":            "module example.com/m/cmd/app\n\ngo 1.26.0\n\nrequire (\n\texample.com/m v0.1.0\n\texample.com/m/store/a v0.1.0\n)\n",
	"cmd/app/main.go":           "package main\n",
	"internal/tools/go.mod":     "module example.com/m/internal/tools\n\ngo 1.26.0\n",
	"internal/tools/t/t.go":     "package main\n",
	".ci/consumer/main.go":      "package main\n\nimport _ \"example.com/m/internal/x\"\n",
	"store/a/_old/old.go":       "package old\n\nimport _ \"example.com/m/internal/x\"\n",
	"store/a/internal/y/y_test": "not Go\n",
}

// writeTree writes tree, with the files of change put over it (an empty
// content deletes a file), into a new directory, and returns it.
func writeTree(t *testing.T, change map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for name, data := range tree {
		files[name] = data
	}
	for name, data := range change {
		files[name] = data
	}
	for name, data := range files {
		if data == "" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, dir string) *Repo {
	t.Helper()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPublishedListsDependenciesFirstAndLeavesOutInternalModules(t *testing.T) {
	mods, err := load(t, writeTree(t, nil)).Published()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mods {
		got = append(got, m.Dir+" "+m.Path)
	}
	want := []string{
		". example.com/m",
		"store/a example.com/m/store/a",
		"cmd/app example.com/m/cmd/app",
		"store/b example.com/m/store/b",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Published() = %q; want %q", got, want)
	}
}

func TestPublishedRefusesACycle(t *testing.T) {
	r := load(t, writeTree(t, map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.26.0\n\nrequire example.com/m/store/a v0.1.0\n",
	}))
	if _, err := r.Published(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("Published() error = %v; want one about a cycle", err)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]string
		want   []string // one substring per problem, in order
	}{
		{"the layout of this repository", nil, nil},
		{
			"replace in a published go.mod",
			map[string]string{"store/b/go.mod": tree["store/b/go.mod"] + "\nreplace example.com/m => ../..\n"},
			[]string{"store/b/go.mod: replace example.com/m: a published go.mod has no replace"},
		},
		{
			"replace in an unpublished go.mod",
			map[string]string{"internal/tools/go.mod": tree["internal/tools/go.mod"] + "\nreplace example.com/other => ../other\n"},
			nil,
		},
		{
			"two versions",
			map[string]string{"store/b/go.mod": strings.Replace(tree["store/b/go.mod"], "v0.1.0", "v0.2.0", 1)},
			[]string{
				"more than one version: v0.1.0 (cmd/app/go.mod requires example.com/m, ",
				"go.work lacks `replace example.com/m v0.2.0 => .`",
			},
		},
		{
			"a requirement on an unpublished module",
			map[string]string{"store/b/go.mod": tree["store/b/go.mod"] + "\nrequire example.com/m/internal/tools v0.1.0\n"},
			[]string{
				"store/b/go.mod requires example.com/m/internal/tools, which is not published",
				"go.work lacks `replace example.com/m/internal/tools v0.1.0 => ./internal/tools`",
			},
		},
		{
			"go.work without a replace",
			map[string]string{"go.work": strings.Replace(tree["go.work"], "replace example.com/m/store/a v0.1.0 => ./store/a\n", "", 1)},
			[]string{"go.work lacks `replace example.com/m/store/a v0.1.0 => ./store/a`"},
		},
		{
			"go.work replaces every version",
			map[string]string{"go.work": strings.Replace(tree["go.work"], "example.com/m v0.1.0 => .", "example.com/m => .", 1)},
			[]string{
				"go.work: replace example.com/m: replace only the version",
				"go.work lacks `replace example.com/m v0.1.0 => .`",
			},
		},
		{
			"go.work replaces a version nobody requires",
			map[string]string{"go.work": tree["go.work"] + "\nreplace example.com/m/store/b v0.1.0 => ./store/b\n"},
			[]string{"go.work: replace example.com/m/store/b v0.1.0: no module requires that version"},
		},
		{
			"go.work replaces with the wrong directory",
			map[string]string{"go.work": strings.Replace(tree["go.work"], "=> ./store/a", "=> ./store/b", 1)},
			[]string{"go.work: replace example.com/m/store/a v0.1.0 => ./store/b: want => ./store/a"},
		},
		{
			"a store imports the root module's internal package",
			map[string]string{"store/b/b.go": "package b\n\nimport \"example.com/m/internal/x\"\n\nvar _ = x.X\n"},
			[]string{"store/b/b.go imports example.com/m/internal/x, an internal package of module example.com/m"},
		},
		{
			"in a test file with a build constraint",
			map[string]string{"store/b/b_windows_test.go": "//go:build windows\n\npackage b_test\n\nimport _ \"example.com/m/internal/x\"\n"},
			[]string{"store/b/b_windows_test.go imports example.com/m/internal/x"},
		},
		{
			"the root module imports a store's internal package",
			map[string]string{"m.go": "package m\n\nimport _ \"example.com/m/store/a/internal/y\"\n"},
			[]string{"m.go imports example.com/m/store/a/internal/y, an internal package of module example.com/m/store/a"},
		},
		{
			"an unpublished module imports the root module's internal package",
			map[string]string{"internal/tools/t/t.go": "package main\n\nimport _ \"example.com/m/internal/x\"\n"},
			[]string{"internal/tools/t/t.go imports example.com/m/internal/x"},
		},
		{
			"a file that does not parse",
			map[string]string{"store/b/b.go": "package b\n\nimport (\n"},
			[]string{"store/b/b.go:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := load(t, writeTree(t, tt.change)).Check()
			if len(got) != len(tt.want) {
				t.Fatalf("Check() = %q; want %d problems: %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q; want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSetVersion(t *testing.T) {
	dir := writeTree(t, map[string]string{
		// A module that requires nothing of the repository yet, and a
		// go.work that replaces every version: SetVersion mends both.
		"store/b/go.mod": "module example.com/m/store/b\n\ngo 1.26.0\n",
		"go.work":        strings.Replace(tree["go.work"], "example.com/m v0.1.0 => .", "example.com/m => .", 1),
	})
	if err := load(t, dir).SetVersion("v0.2.0"); err != nil {
		t.Fatal(err)
	}
	r := load(t, dir)
	if problems := r.Check(); len(problems) > 0 {
		t.Errorf("Check() after SetVersion = %q", problems)
	}
	app, err := os.ReadFile(filepath.Join(dir, "cmd", "app", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "require (\n\texample.com/m v0.2.0\n\texample.com/m/store/a v0.2.0\n)\n"; !strings.Contains(string(app), want) {
		t.Errorf("cmd/app/go.mod =\n%s\nwant it to contain\n%s", app, want)
	}
	work, err := os.ReadFile(filepath.Join(dir, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"example.com/m v0.2.0 => .\n",
		"example.com/m/store/a v0.2.0 => ./store/a\n",
	} {
		if !strings.Contains(string(work), want) {
			t.Errorf("go.work =\n%s\nwant it to contain %q", work, want)
		}
	}
	if strings.Contains(string(work), "v0.1.0") {
		t.Errorf("go.work =\n%s\nstill replaces v0.1.0", work)
	}
}

func TestSetVersionDropsTheChecksumsOfTheRepositorysModules(t *testing.T) {
	const others = "golang.org/x/crypto v0.1.0 h1:c=\ngolang.org/x/crypto v0.1.0/go.mod h1:cm=\n"
	dir := writeTree(t, map[string]string{
		"store/a/go.sum": "example.com/m v0.1.0 h1:m=\nexample.com/m v0.1.0/go.mod h1:mm=\n" + others,
		"cmd/app/go.sum": "example.com/m/store/a v0.1.0 h1:a=\n",
		"store/b/go.sum": others,
	})
	if err := load(t, dir).SetVersion("v0.2.0"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"store/a/go.sum": others,
		"store/b/go.sum": others,
		"cmd/app/go.sum": "", // no line left: no file, as the go command leaves it
	} {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if want == "" {
			if !os.IsNotExist(err) {
				t.Errorf("%s: %q, %v; want no file", name, got, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s =\n%s\nwant\n%s", name, got, want)
		}
	}
}

func TestSetVersionRefusesVersionsTheModulesCannotHave(t *testing.T) {
	for _, v := range []string{"", "0.2.0", "v0.2", "v2.0.0", "v0.2.0+meta"} {
		if err := load(t, writeTree(t, nil)).SetVersion(v); err == nil {
			t.Errorf("SetVersion(%q) = nil; want an error", v)
		}
	}
}

func TestWriteProxy(t *testing.T) {
	r := load(t, writeTree(t, nil))
	out := t.TempDir()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := r.WriteProxy(out, "v0.3.0", at); err != nil {
		t.Fatal(err)
	}
	zipFiles := map[string][]string{
		"example.com/m": {
			".ci/consumer/main.go", "go.mod", "go.work", "internal/x/x.go", "m.go", "store/mem/mem.go",
		},
		"example.com/m/store/a": {
			"_old/old.go", "a.go", "go.mod", "internal/y/y.go", "internal/y/y_test", "testdata/t.go",
		},
		"example.com/m/store/b": {"b.go", "go.mod"},
		"example.com/m/cmd/app": {"go.mod", "main.go"},
	}
	for path, want := range zipFiles {
		at := filepath.Join(out, filepath.FromSlash(path), "@v")
		read := func(name string) []byte {
			t.Helper()
			data, err := os.ReadFile(filepath.Join(at, name))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
		if got := string(read("list")); got != "v0.3.0\n" {
			t.Errorf("%s: list = %q", path, got)
		}
		if got, want := string(read("v0.3.0.info")), `{"Version":"v0.3.0","Time":"2030-01-02T03:04:05Z"}`; got != want {
			t.Errorf("%s: info = %s; want %s", path, got, want)
		}
		dir := r.module(path).Dir
		if got, want := string(read("v0.3.0.mod")), tree[strings.TrimPrefix(dir+"/go.mod", "./")]; got != want {
			t.Errorf("%s: mod = %q; want %q", path, got, want)
		}
		z := read("v0.3.0.zip")
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range zr.File {
			got = append(got, strings.TrimPrefix(f.Name, path+"@v0.3.0/"))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: zip holds %q; want %q", path, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "example.com", "m", "internal")); !os.IsNotExist(err) {
		t.Errorf("the proxy holds the unpublished tools module (Stat: %v)", err)
	}
}

func TestWriteProxyWantsTheRootLicenseInEveryModule(t *testing.T) {
	r := load(t, writeTree(t, map[string]string{"LICENSE": "license\n"}))
	err := r.WriteProxy(t.TempDir(), "v0.3.0", time.Now())
	if err == nil || !strings.Contains(err.Error(), "has no LICENSE") {
		t.Errorf("WriteProxy with a LICENSE in the root alone: %v; want an error about LICENSE", err)
	}
}

func TestRun(t *testing.T) {
	dir := writeTree(t, nil)
	broken := writeTree(t, map[string]string{"store/b/b.go": "package b\n\nimport _ \"example.com/m/internal/x\"\n"})
	tests := []struct {
		args    []string
		wantOut string
		wantErr string // "" for none
	}{
		{nil, "", "no subcommand"},
		{[]string{"frob"}, "", `unknown subcommand "frob"`},
		{[]string{"setversion", "-root", dir}, "", "setversion: -version is required"},
		{[]string{"proxy", "-root", dir, "-version", "v0.1.0"}, "", "proxy: -o is required"},
		{[]string{"tidyfrom", "-root", dir}, "", "tidyfrom: -tree is required"},
		{[]string{"list", "-root", dir, "extra"}, "", `list: unexpected arguments ["extra"]`},
		{[]string{"list", "-root", filepath.Join(dir, "store")}, "", "go.work"},
		{
			[]string{"list", "-root", dir},
			". example.com/m\nstore/a example.com/m/store/a\ncmd/app example.com/m/cmd/app\nstore/b example.com/m/store/b\n",
			"",
		},
		{[]string{"check", "-root", dir}, "", ""},
		{
			[]string{"check", "-root", broken},
			"store/b/b.go imports example.com/m/internal/x, an internal package of module example.com/m\n",
			"breaks the rules above",
		},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("run(%q) error = %v; want one containing %q", tt.args, err, tt.wantErr)
			}
			if out.String() != tt.wantOut {
				t.Errorf("run(%q) printed %q; want %q", tt.args, out.String(), tt.wantOut)
			}
		})
	}
}

func TestTakeTidy(t *testing.T) {
	// The repository: store/a's go.sum has the hashes of the released
	// v0.1.0 of the root module, and a line tidy drops.
	repo := writeTree(t, map[string]string{
		"store/a/go.sum": "example.com/m v0.1.0 h1:released=\nexample.com/m v0.1.0/go.mod h1:releasedmod=\n" +
			"example.com/gone v1.0.0/go.mod h1:gone=\n",
	})
	// The scratch tree of a release of v0.2.0 whose go mod tidy added a
	// requirement and its checksums, and the hashes of the root at v0.2.0.
	scratch := writeTree(t, map[string]string{
		"store/a/go.mod": strings.Replace(tree["store/a/go.mod"], "require example.com/m v0.1.0\n",
			"require (\n\texample.com/m v0.2.0\n\tgolang.org/x/crypto v0.10.0\n)\n", 1),
		"store/a/go.sum": "example.com/m v0.2.0 h1:new=\nexample.com/m v0.2.0/go.mod h1:newmod=\n" +
			"golang.org/x/crypto v0.10.0/go.mod h1:cm=\ngolang.org/x/crypto v0.10.0 h1:c=\ngolang.org/x/crypto v0.9.0/go.mod h1:old=\n",
	})
	if err := load(t, scratch).SetVersion("v0.2.0"); err != nil {
		t.Fatal(err)
	}
	if err := load(t, repo).TakeTidy(load(t, scratch)); err != nil {
		t.Fatal(err)
	}

	mod, err := os.ReadFile(filepath.Join(repo, "store", "a", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "require (\n\texample.com/m v0.1.0\n\tgolang.org/x/crypto v0.10.0\n)\n"; !strings.Contains(string(mod), want) {
		t.Errorf("store/a/go.mod =\n%s\nwant it to contain\n%s", mod, want)
	}
	sum, err := os.ReadFile(filepath.Join(repo, "store", "a", "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	// Sorted as the go command sorts: by path, then by semantic version
	// (v0.9.0 before v0.10.0), the go.mod line after the module's.
	want := "example.com/m v0.1.0 h1:released=\nexample.com/m v0.1.0/go.mod h1:releasedmod=\n" +
		"golang.org/x/crypto v0.9.0/go.mod h1:old=\ngolang.org/x/crypto v0.10.0 h1:c=\ngolang.org/x/crypto v0.10.0/go.mod h1:cm=\n"
	if string(sum) != want {
		t.Errorf("store/a/go.sum =\n%s\nwant\n%s", sum, want)
	}
	if problems := load(t, repo).Check(); len(problems) > 0 {
		t.Errorf("Check() after TakeTidy = %q", problems)
	}
}

func TestTakeTidyRefusesAMalformedGoSum(t *testing.T) {
	repo := writeTree(t, nil)
	scratch := writeTree(t, map[string]string{"store/b/go.sum": "example.com/x v1.0.0\n"})
	err := load(t, repo).TakeTidy(load(t, scratch))
	if err == nil || !strings.Contains(err.Error(), "go.sum:1: not a go.sum line") {
		t.Errorf("TakeTidy with a two-field go.sum line: %v; want an error naming the line", err)
	}
}
