#!/usr/bin/env bash
# Builds kube-apiserver v1.20.2 (and kubectl when none is on PATH) from Debian bookworm's
# `kubernetes` source package with Debian's Go 1.19, and caches the binaries under
# ${XDG_CACHE_HOME:-~/.cache}/appmod/kube-v1.20.2/ so this runs once per machine.
# Called by .ci/run and by hand; tests/infra/kube.py only looks the binary up.
set -euo pipefail

KUBE_VERSION=v1.20.2
SRC_VERSION=1.20.5+really1.20.2-1.1+deb12u1
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/appmod/kube-$KUBE_VERSION"
WANT=(kube-apiserver)
command -v kubectl >/dev/null || WANT+=(kubectl)

missing=()
for b in "${WANT[@]}"; do [[ -x "$CACHE/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "kube: cached in $CACHE"; exit 0; fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/appmod-kube-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# A private apt configuration that adds deb-src for bookworm main of the archive the machine
# already uses, so the machine's own sources stay untouched.
ARCHIVE="$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null;
  sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; } \
  | tr ' ' '\n' | grep -E '/debian/?$' | head -1 || true)"
ARCHIVE="${ARCHIVE:-http://deb.debian.org/debian}"
mkdir -p apt/lists/partial apt/cache/archives/partial apt/etc/sources.list.d apt/etc/preferences.d
echo "deb-src $ARCHIVE bookworm main" > apt/etc/sources.list
APT=(-o "Dir::Etc::sourcelist=$WORK/apt/etc/sources.list" -o "Dir::Etc::sourceparts=$WORK/apt/etc/sources.list.d"
     -o "Dir::State::lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache" -o "APT::Sandbox::User=root")
apt-get "${APT[@]}" update -qq
apt-get "${APT[@]}" source --download-only "kubernetes=$SRC_VERSION"

# Debian's Go 1.19 and reflect2 1.0.2, unpacked without installing (fresh package lists first).
apt-get update -qq
apt-get download -qq golang-1.19-go golang-1.19-src golang-github-modern-go-reflect2-dev
mkdir go
for deb in golang-1.19-go_*.deb golang-1.19-src_*.deb golang-github-modern-go-reflect2-dev_*.deb; do
  dpkg -x "$deb" go
done
export GOROOT="$WORK/go/usr/lib/go-1.19" PATH="$WORK/go/usr/lib/go-1.19/bin:$PATH"

dpkg-source --no-check -x kubernetes_*.dsc src >/dev/null
cd src
# The vendored reflect2 crashes Go 1.19 ("fatal error: fault") on the first custom resource.
rm -rf vendor/github.com/modern-go/reflect2
cp -r "$WORK/go/usr/share/gocode/src/github.com/modern-go/reflect2" vendor/github.com/modern-go/reflect2
rm -f vendor/github.com/modern-go/reflect2/go.mod

targets=()
for b in "${missing[@]}"; do targets+=("cmd/$b"); done
GOFLAGS=-mod=vendor CGO_ENABLED=0 KUBE_GIT_VERSION="$KUBE_VERSION" KUBE_GIT_TREE_STATE=clean \
  make WHAT="${targets[*]}" >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log"; exit 1; }
mkdir -p "$CACHE"
for b in "${missing[@]}"; do install -m 0755 "_output/local/go/bin/$b" "$CACHE/$b"; done
echo "kube: built ${missing[*]} into $CACHE"
