#!/usr/bin/env bash
# Releases every module of this repository at one version.
#
#   scripts/release.sh [-n] [-o DIR] vX.Y.Z
#   scripts/release.sh -n [-o DIR] next
#
# The modules require each other at the version being released, and each
# go.sum holds the hashes of the others at that version, which a module
# proxy will compute from the tags: so they must be computed from exactly
# what the release commit holds. The script copies the files git tracks or
# would add into a scratch tree, sets the requirements there (and go.work's
# replaces) to the version, packs the published modules into a file-based
# module proxy (internal/tools/modules), runs `go mod tidy` in each module
# against it, dependencies first, and then builds each module on its own,
# outside the workspace, as a user gets it.
#
# Then it copies go.work and the go.mod and go.sum files back, commits
# "Release vX.Y.Z" and tags every published module at it: vX.Y.Z for the
# root module, store/redisstore/vX.Y.Z for store/redisstore, and so on.
# Last, the go command fetches the modules from the new tags of this
# repository, as a module proxy will from the public one, and must find
# the hashes the go.sum files record; if not, the tags and the commit are
# undone. It pushes nothing; it prints the command that does.
#
#   -n      dry run: prepare and check the release in the scratch tree, print
#           what it changes, and the commit and tags it would make; the
#           repository is left as it is (uncommitted changes included)
#   -o DIR  with -n: keep the scratch tree in DIR/tree and the release's
#           module proxy in DIR/proxy (DIR must be empty or not exist)
#   next    with -n: the patch after the newest release (pre-releases
#           aside), or v0.1.0 before the first
set -euo pipefail

usage() { echo "usage: $0 [-n] [-o DIR] vX.Y.Z | $0 -n [-o DIR] next" >&2; exit 2; }
die() { echo "release: $*" >&2; exit 1; }

dry=false keep=
while getopts no: opt; do
  case $opt in
    n) dry=true ;;
    o) keep=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
version=$1
[ -z "$keep" ] || $dry || die "-o goes with -n"

cd "$(dirname "$0")/.."
repo=$PWD

if ! $dry && [ -n "$(git status --porcelain)" ]; then
  die "the working tree has changes; commit or stash them first"
fi
newest=$(git tag -l 'v[0-9]*' | grep -v -- - | sort -V | tail -n 1 || true)
if [ "$version" = next ]; then
  $dry || die "a release names its version; next goes with -n"
  if [ -z "$newest" ]; then
    version=v0.1.0
  else
    IFS=. read -r major minor patch <<< "${newest#v}"
    version=v$major.$minor.$((patch + 1))
  fi
fi
[[ $version =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
  die "$version is not a version vX.Y.Z (or vX.Y.Z-pre)"
# The newest release (pre-releases aside) must come before the version,
# and before its pre-releases.
if [ -n "$newest" ] && [ "$(printf '%s\n' "${version%%-*}" "$newest" | sort -V | tail -n 1)" = "$newest" ]; then
  die "$version does not come after the newest release, $newest"
fi

if [ -n "$keep" ]; then
  mkdir -p "$keep"
  [ -z "$(ls -A "$keep")" ] || die "$keep is not empty"
  work=$(cd "$keep" && pwd)
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
tree=$work/tree proxy=$work/proxy
mkdir "$tree"

modules=$work/modules-tool
go build -o "$modules" ./internal/tools/modules

# The scratch tree: what `git add -A` would commit.
git ls-files -z -co --exclude-standard |
  while IFS= read -r -d '' f; do
    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
  done |
  tar --null -T - -cf - | tar -xf - -C "$tree"

"$modules" check -root "$tree"
"$modules" setversion -root "$tree" -version "$version"
published=$("$modules" list -root "$tree")
own=$(head -n 1 <<< "$published" | cut -d ' ' -f 2)

tags=()
while read -r dir path; do
  if [ "$dir" = . ]; then tags+=("$version"); else tags+=("$dir/$version"); fi
done <<< "$published"
for tag in "${tags[@]}"; do
  if git rev-parse -q --verify "refs/tags/$tag" > /dev/null; then die "tag $tag exists"; fi
done

# gomod DIR ARGS... runs the go command in module DIR of the scratch tree as
# a user's go command would see the module: outside the workspace, with the
# release's modules coming from its proxy. Third-party modules come from the
# local module cache, or else from the usual proxy; the checksum database is
# not asked about this repository's modules, which are not published yet.
# The scratch module cache keeps release versions out of the real one.
default_proxy=$(go env GOPROXY)
local_cache=$(go env GOMODCACHE)/cache/download
gomod() {
  (cd "$tree/$1" && shift &&
    GOWORK=off GOFLAGS=-modcacherw GOMODCACHE="$work/modcache" \
      GOPROXY="file://$proxy,file://$local_cache,$default_proxy" \
      GONOSUMDB="$own" go "$@")
}

# Dependencies first: a module's zip holds its go.sum, and the go.sum of a
# module that requires it holds the zip's hash.
while read -r dir path; do
  "$modules" proxy -root "$tree" -version "$version" -o "$proxy"
  echo "go mod tidy: $path" >&2
  gomod "$dir" mod tidy
done <<< "$published"
"$modules" proxy -root "$tree" -version "$version" -o "$proxy"

while read -r dir path; do
  echo "go build ./... (on its own): $path" >&2
  gomod "$dir" build -trimpath ./...
done <<< "$published"

changed=(go.work)
while read -r dir path; do
  for f in go.mod go.sum; do
    if [ "$dir" != . ]; then f=$dir/$f; fi
    if [ -e "$tree/$f" ]; then changed+=("$f"); fi
  done
done <<< "$published"

if $dry; then
  for f in "${changed[@]}"; do
    old=$repo/$f
    [ -e "$old" ] || old=/dev/null
    diff -u --label "a/$f" --label "b/$f" "$old" "$tree/$f" || true
  done
  echo "dry run: would commit \"Release $version\" and tag: ${tags[*]}"
  exit 0
fi

for f in "${changed[@]}"; do
  cp "$tree/$f" "$repo/$f"
done
git add -- "${changed[@]}"
git commit -q -m "Release $version" -m "Every module requires the others at $version."
for tag in "${tags[@]}"; do
  git tag -a -m "Release $version" "$tag"
done

# The go command, fetching the new tags straight from this repository as a
# module proxy fetches them from the public one, must compute the hashes
# that the go.sum files record.
printf '[url "%s"]\n\tinsteadOf = https://%s\n' "$repo" "$own" > "$work/gitconfig"
while read -r dir path; do
  if ! (cd "$repo/$dir" &&
    GIT_CONFIG_GLOBAL=$work/gitconfig GOWORK=off GOFLAGS=-modcacherw \
      GOMODCACHE="$work/verify-modcache" GOPROXY="file://$local_cache,$default_proxy" \
      GONOPROXY="$own" GONOSUMDB="$own" go mod download); then
    git tag -d "${tags[@]}" > /dev/null
    git reset -q --keep HEAD^
    die "$path: the tags give other hashes than go.sum records (above); the tags and the commit are undone"
  fi
done <<< "$published"
echo "Committed \"Release $version\" and tagged: ${tags[*]}"
echo "Push with: git push origin HEAD ${tags[*]}"
