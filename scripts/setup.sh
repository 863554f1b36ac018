#!/usr/bin/env bash
# Installs everything the operator and its tests need on a Debian bookworm machine (as root):
# the real parts of the test environment (etcd, docker-registry, dockerd, PostgreSQL, debootstrap for the
# images built here, Debian's chromium for the seed demo's screenshot), the
# kube-apiserver v1.20.2 build (cached per machine), and this package with its test extras.
# Used by .ci/run and by a new developer; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
APT_PACKAGES=(rsync dpkg-dev openssl ca-certificates etcd-server docker-registry docker.io postgresql debootstrap
  chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packaged services must not run on their own; the tests start their own copies on loopback.
for service in docker containerd postgresql etcd docker-registry; do
  service "$service" stop >/dev/null 2>&1 || true
done

bash tests/infra/build-kube.sh
python3 -m pip install -q --disable-pip-version-check -e '.[test,demo]'
