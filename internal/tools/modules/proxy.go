package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

// WriteProxy writes every published module at version v into dir as a
// file-based module proxy serves it (GOPROXY=file:///dir): for each module,
// dir/<escaped path>/@v/ holds list (naming v alone), v.info (v and the
// time t), v.mod (its go.mod) and v.zip (its files, without those of nested
// modules, as the go command packs a module from a tag). Files of an
// earlier run for the same version are replaced.
//
// The zips hold the files in the module's directory. Give it a tree that
// holds just the files the release commit will hold (scripts/release.sh
// copies the files git tracks or would add), or the hashes in go.sum
// files will not match the zips a module proxy makes from the tags.
func (r *Repo) WriteProxy(dir, v string, t time.Time) error {
	if err := r.checkVersion(v); err != nil {
		return err
	}
	mods, err := r.Published()
	if err != nil {
		return err
	}
	// The go command adds the repository root's LICENSE to the zip of a
	// module in a subdirectory that has none; CreateFromDir does not.
	_, rootLicense := os.Stat(filepath.Join(r.Root, "LICENSE"))
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{v, t})
	if err != nil {
		return err
	}
	for _, m := range mods {
		src := r.file(m, "")
		if _, err := os.Stat(filepath.Join(src, "LICENSE")); rootLicense == nil && m.Dir != "." && err != nil {
			return fmt.Errorf("%s has no LICENSE: copy the root's there, as a module proxy would add it to the module's zip", m.Dir)
		}
		esc, err := module.EscapePath(m.Path)
		if err != nil {
			return err
		}
		at := filepath.Join(dir, filepath.FromSlash(esc), "@v")
		if err := os.MkdirAll(at, 0o777); err != nil {
			return err
		}
		var z bytes.Buffer
		if err := zip.CreateFromDir(&z, module.Version{Path: m.Path, Version: v}, src); err != nil {
			return err
		}
		mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
		if err != nil {
			return err
		}
		for name, data := range map[string][]byte{
			"list":      []byte(v + "\n"),
			v + ".info": info,
			v + ".mod":  mod,
			v + ".zip":  z.Bytes(),
		} {
			if err := os.WriteFile(filepath.Join(at, name), data, 0o666); err != nil {
				return err
			}
		}
	}
	return nil
}
