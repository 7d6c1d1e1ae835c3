#!/usr/bin/env bash
# Tidies the go.mod and go.sum files of every module, as .ci/modules.sh
# wants them.
#
# Inside the workspace, `go mod tidy` in a module that requires another of
# this repository fails while the version it requires is not published, and
# gives that version's published hashes when it is, not the code beside
# it. So this script lets scripts/release.sh -n prepare the next release in
# a scratch copy, where go mod tidy runs in every published module against
# the release, and takes each tidied go.mod and go.sum from there, keeping
# the lines about this repository's own modules as they are: only a release
# changes those. The tool module, internal/tools, is tidied in place.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! scripts/release.sh -n -o "$work/release" next > "$work/release.log" 2>&1; then
  cat "$work/release.log"
  echo "tidy: scripts/release.sh -n next failed" >&2
  exit 1
fi
go run ./internal/tools/modules tidyfrom -tree "$work/release/tree"
(cd internal/tools && GOWORK=off go mod tidy)
git status --short -- go.work '*go.mod' '*go.sum'
