#!/usr/bin/env bash
# Installs, pinned and idempotently, the comparison registry the benchmark (go run ./bench) runs
# beside Coffer: CNCF Distribution's `registry` binary, into <repo>/.tools/bin/registry.
# Safe to run again: a binary already built at the pinned version is left alone.
#
# Built with `go install pkg@version` outside the module so Distribution's own go.mod/go.sum
# pin its dependencies and none of them enter Coffer's go.mod.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$repo/.tools/bin"
mkdir -p "$bin"

module=github.com/distribution/distribution/v3
pkg=$module/cmd/registry
version=v3.1.2
name=registry

# installed_version BINARY MODULE prints the version of MODULE recorded in BINARY's build info.
installed_version() {
	[ -x "$1" ] || return 0
	go version -m "$1" 2>/dev/null | awk -v m="$2" '$1 == "mod" && $2 == m { print $3; exit }'
}

if [ "$(installed_version "$bin/$name" "$module")" = "$version" ]; then
	echo "install-bench-tools: $name $version already installed"
else
	echo "install-bench-tools: installing $name $version (takes a few minutes the first time)"
	# Outside any module, with GOFLAGS cleared, so the project's go.mod is never read or touched.
	(cd / && GOBIN="$bin" GOFLAGS= GO111MODULE=on CGO_ENABLED=0 go install "$pkg@$version")
fi
echo "install-bench-tools: $bin/$name ready"
