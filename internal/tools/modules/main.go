// Command modules knows the Go modules of this repository, as go.work lists
// them. It lists the published ones in the order they depend on each other,
// checks the rules a published module keeps, sets the version the modules
// require of each other, and packs the published modules into a file-based
// module proxy, the way a module proxy serves them from a tag. The release
// script, scripts/release.sh, and CI's module check, .ci/modules.sh, run it:
//
//	go run ./internal/tools/modules list [-root DIR]
//	go run ./internal/tools/modules check [-root DIR]
//	go run ./internal/tools/modules setversion -version V [-root DIR]
//	go run ./internal/tools/modules proxy -version V -o DIR [-root DIR]
//	go run ./internal/tools/modules tidyfrom -tree DIR [-root DIR]
//
// list prints "DIR PATH" for every published module, a module's
// dependencies in this repository before it. check reports every broken
// rule and exits with status 1 if there is one. setversion rewrites each
// go.mod's requirements on the repository's own modules, and the versioned
// replaces of go.work that give the workspace its local copies, to version
// V. proxy writes DIR/<module>/@v/{list,V.info,V.mod,V.zip} for every
// published module. tidyfrom takes the go.mod and go.sum files of the
// published modules from the scratch tree DIR of `scripts/release.sh -n`,
// where go mod tidy ran, keeping the lines about the repository's own
// modules as they are (scripts/tidy.sh runs it).
//
// A module is published unless its path has an "internal" element (such as
// this tool's module): nothing outside the repository can import it anyway.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "modules:", err)
		os.Exit(1)
	}
}

const usage = `usage:
	modules list [-root DIR]
	modules check [-root DIR]
	modules setversion -version V [-root DIR]
	modules proxy -version V -o DIR [-root DIR]
	modules tidyfrom -tree DIR [-root DIR]`

// run runs the subcommand args[0] with the flags that follow it.
func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no subcommand\n%s", usage)
	}
	switch args[0] {
	case "list", "check", "setversion", "proxy", "tidyfrom":
	default:
		return fmt.Errorf("unknown subcommand %q\n%s", args[0], usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	root := fs.String("root", ".", "the repository's root `directory`, where go.work is")
	var version, out, tree *string
	switch args[0] {
	case "setversion", "proxy":
		version = fs.String("version", "", "the `version` to set, or to pack the modules at")
	case "tidyfrom":
		tree = fs.String("tree", "", "the scratch tree's `directory`")
	}
	if args[0] == "proxy" {
		out = fs.String("o", "", "the proxy's `directory`")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q\n%s", args[0], fs.Args(), usage)
	}
	if version != nil && *version == "" {
		return fmt.Errorf("%s: -version is required", args[0])
	}
	if out != nil && *out == "" {
		return fmt.Errorf("proxy: -o is required")
	}
	if tree != nil && *tree == "" {
		return fmt.Errorf("tidyfrom: -tree is required")
	}

	r, err := Load(*root)
	if err != nil {
		return err
	}
	switch args[0] {
	case "list":
		mods, err := r.Published()
		if err != nil {
			return err
		}
		for _, m := range mods {
			fmt.Fprintln(stdout, m.Dir, m.Path)
		}
		return nil
	case "check":
		problems := r.Check()
		for _, p := range problems {
			fmt.Fprintln(stdout, p)
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s breaks the rules above", r.Root)
		}
		return nil
	case "setversion":
		return r.SetVersion(*version)
	case "tidyfrom":
		t, err := Load(*tree)
		if err != nil {
			return err
		}
		return r.TakeTidy(t)
	default: // "proxy"
		return r.WriteProxy(*out, *version, time.Now().UTC().Truncate(time.Second))
	}
}
