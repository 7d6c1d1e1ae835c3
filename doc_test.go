package sesame_test

import (
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// Every code block of the package documentation is a passage of a compiled
// Example, which the tests also run, so the documentation cannot show
// code that does not build or does not do what it says.
func TestPackageDocCodeIsFromExamples(t *testing.T) {
	fset := token.NewFileSet()
	pkg, err := parser.ParseFile(fset, "sesame.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Doc == nil {
		t.Fatal("sesame.go has no package documentation")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := parser.ParseFile(fset, "example_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]string
	for _, d := range examples.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Example") && fn.Body != nil {
			body := src[fset.Position(fn.Body.Lbrace).Offset:fset.Position(fn.Body.Rbrace).Offset]
			bodies = append(bodies, trimmedLines(string(body)))
		}
	}
	var p comment.Parser
	blocks := 0
	for _, b := range p.Parse(pkg.Doc.Text()).Content {
		code, ok := b.(*comment.Code)
		if !ok {
			continue
		}
		blocks++
		want := trimmedLines(code.Text)
		if !slices.ContainsFunc(bodies, func(body []string) bool { return containsRun(body, want) }) {
			t.Errorf("this code of the package documentation is not part of any Example in example_test.go:\n%s", code.Text)
		}
	}
	if blocks == 0 {
		t.Fatal("the package documentation shows no code")
	}
}

// trimmedLines returns the non-blank lines of s without their indentation.
func trimmedLines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// containsRun reports whether run occurs in lines as consecutive elements.
func containsRun(lines, run []string) bool {
	for i := 0; i+len(run) <= len(lines); i++ {
		if slices.Equal(lines[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
