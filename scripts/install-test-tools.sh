#!/usr/bin/env bash
# Installs, pinned and idempotently, the programs the test suite drives into <repo>/.tools/bin:
# crane, regctl, oras, the OCI conformance suite, docker-credential-ecr-login (Go, built with
# `go install pkg@version`), and skopeo and the aws CLI (Debian packages, installed when
# missing). Safe to run again: a tool already built at its pinned version is left alone.
#
# Why `go install pkg@version` and not `tool` lines in a go.mod: each tool is then built with the
# exact dependency versions its own go.mod/go.sum pin (verified by the checksum database), and
# none of their dependency trees (docker/cli, oras-go, regclient, ...) enters Coffer's go.mod or is
# merged with the others by minimal version selection. The versions below are the pins.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$repo/.tools/bin"
mkdir -p "$bin"

# module path | package to install | version | binary name
go_tools=(
	"github.com/google/go-containerregistry|github.com/google/go-containerregistry/cmd/crane|v0.22.1|crane"
	"github.com/regclient/regclient|github.com/regclient/regclient/cmd/regctl|v0.11.7|regctl"
	"oras.land/oras|oras.land/oras/cmd/oras|v1.3.6|oras"
	"github.com/opencontainers/distribution-spec/conformance|github.com/opencontainers/distribution-spec/conformance|v0.0.0-20260831232431-97274622c111|conformance"
	"github.com/awslabs/amazon-ecr-credential-helper/ecr-login|github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login|v0.12.0|docker-credential-ecr-login"
)

# installed_version BINARY MODULE prints the version of MODULE recorded in BINARY's build info.
installed_version() {
	[ -x "$1" ] || return 0
	go version -m "$1" 2>/dev/null | awk -v m="$2" '($1 == "mod" || $1 == "dep") && $2 == m { print $3; exit }'
}

for entry in "${go_tools[@]}"; do
	IFS='|' read -r module pkg version name <<<"$entry"
	if [ "$(installed_version "$bin/$name" "$module")" = "$version" ]; then
		echo "install-test-tools: $name $version already installed"
		continue
	fi
	echo "install-test-tools: installing $name $version"
	# Outside any module, with GOFLAGS cleared, so the project's go.mod is never read or touched.
	(cd / && GOBIN="$bin" GOFLAGS= GO111MODULE=on CGO_ENABLED=0 go install "$pkg@$version")
done

# Debian packages, installed only when their command is missing: skopeo, and the aws CLI
# (the end-to-end tests of the AWS APIs drive it; images of this machine kind ship it).
apt_packages=()
command -v skopeo >/dev/null 2>&1 || apt_packages+=(skopeo)
command -v aws >/dev/null 2>&1 || apt_packages+=(awscli)
if [ ${#apt_packages[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-test-tools: missing ${apt_packages[*]}; run 'apt-get install -y ${apt_packages[*]}' as root" >&2
		exit 1
	fi
	echo "install-test-tools: installing ${apt_packages[*]} (apt)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
echo "install-test-tools: skopeo $(skopeo --version | awk '{print $3}') ready"
echo "install-test-tools: $(aws --version 2>&1 | awk '{print $1}') ready"
echo "install-test-tools: tools in $bin"
