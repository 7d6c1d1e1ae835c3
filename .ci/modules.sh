#!/usr/bin/env bash
# The modules as a user gets them. In a scratch copy of the repository,
# scripts/release.sh -n prepares the next release (every module requiring
# the others at it), packs the published modules into a file-based module
# proxy, and builds each module on its own, outside the workspace; in a
# clone of HEAD, scripts/release.sh makes that release, commit and tags,
# and checks the go.sum files against the tags. Then this script checks
# that
#
#   - every go.mod and go.sum is tidy, apart from the lines of this
#     repository's own modules, which only a release sets;
#   - README.md has an install line `go get MODULE@latest` for the core
#     module and for every store module;
#   - a new module outside the workspace can run those lines against the
#     proxy (the checksum database is not asked about this repository's
#     modules, which it has never seen), get the release, build every
#     package of it, and run a program (.ci/consumer) that keeps a session
#     in memstore and in boltstore.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! scripts/release.sh -n -o "$work/release" next > "$work/release.log" 2>&1; then
  cat "$work/release.log"
  echo "modules: scripts/release.sh -n next failed" >&2
  exit 1
fi
tree=$work/release/tree proxy=$work/release/proxy
published=$(go run ./internal/tools/modules list)
own=$(head -n 1 <<< "$published" | cut -d ' ' -f 2)
version=$(cat "$proxy/$own/@v/list")

# The release itself, in a throwaway clone of HEAD: the commit, the tags,
# and the go command's own hashes of the modules at the tags, which must
# be those the release recorded in the go.sum files.
git clone -q "$PWD" "$work/clone"
if ! (cd "$work/clone" &&
  git config user.name "release check" && git config user.email "release-check@localhost" &&
  scripts/release.sh "$version") > "$work/clone.log" 2>&1; then
  cat "$work/clone.log"
  echo "modules: scripts/release.sh $version failed in a clone of HEAD" >&2
  exit 1
fi

# Tidy: the release ran `go mod tidy` in every published module; apart from
# this repository's own requirements and checksums, nothing may change.
# The tool module is not published, so it is tidied here.
ours="^(require )?[[:space:]]*${own//./\\.}(/[^ ]*)? v"
untidy=false
while read -r dir path; do
  for f in go.mod go.sum; do
    [ "$dir" = . ] || f=$dir/$f
    if ! diff -u --label "$f" --label "$f (tidy)" \
      <(grep -Ev "$ours" "$f" 2> /dev/null || true) \
      <(grep -Ev "$ours" "$tree/$f" 2> /dev/null || true); then
      untidy=true
    fi
  done
done <<< "$published"
if ! (cd internal/tools && GOWORK=off \
  GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)" go mod tidy -diff); then
  untidy=true
fi
if $untidy; then
  echo "modules: go.mod or go.sum files are not tidy (above: what go mod tidy changes); scripts/tidy.sh tidies them" >&2
  exit 1
fi

# The README's install lines: one for the core module and one for each
# store module, each run as it stands.
libraries=$(awk '$1 == "." || $1 ~ /^store\// { print $2 }' <<< "$published")
mapfile -t install < <(grep -E "^go get ${own//./\\.}(/[^ ]*)?@latest\$" README.md)
want=$(sed 's/.*/go get &@latest/' <<< "$libraries" | sort)
got=$(printf '%s\n' "${install[@]}" | sort)
if [ "$want" != "$got" ]; then
  { echo "modules: README.md's install lines are"; echo "$got"; echo "want"; echo "$want"; } >&2
  exit 1
fi

# A user's module, outside the workspace: the release comes from the file
# proxy, third-party modules from the local module cache or the usual proxy.
consumer=$work/consumer
mkdir "$consumer"
cp .ci/consumer/main.go "$consumer/"
export GOPROXY="file://$proxy,file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)"
export GOWORK=off GOFLAGS="-mod=mod -modcacherw" GOMODCACHE=$work/modcache GONOSUMDB=$own
(
  cd "$consumer"
  go mod init example.com/consumer 2> /dev/null
  for line in "${install[@]}"; do
    echo "+ $line"
    bash -c "$line"
  done
  for mod in $libraries; do
    have=$(go list -m -f '{{.Version}}' "$mod")
    [ "$have" = "$version" ] || { echo "modules: go get gave $mod $have, not $version" >&2; exit 1; }
  done
  go build -trimpath "$own/..."
  go build -trimpath -o consumer .
  out=$(./consumer "$consumer")
  want=$'memstore: visit 3\nboltstore: visit 3'
  if [ "$out" != "$want" ]; then
    printf 'modules: the consumer printed\n%s\nwant\n%s\n' "$out" "$want" >&2
    exit 1
  fi
  echo "$out"
) > "$work/consumer.log" 2>&1 || { cat "$work/consumer.log"; exit 1; }
echo "modules: $version of every published module releases, builds on its own, and works with go get"
