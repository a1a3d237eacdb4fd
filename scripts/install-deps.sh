#!/usr/bin/env bash
# Installs everything lancedb needs to build, test and benchmark on Debian 12.
# Used by README's commands and by .ci/run; safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (it calls apt-get)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
PKGS=(
	build-essential pkg-config
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libipc-run-perl                      # PostgreSQL's TAP framework
	clang-14 libclang-rt-14-dev          # libFuzzer targets (test/fuzz)
	libzstd-dev liblz4-dev libopenblas-dev libroaring-dev
	libprotobuf-c-dev protobuf-c-compiler libstemmer-dev libicu-dev
)
if [ "${LANCEDB_BENCH_DEPS:-0}" = 1 ]; then
	PKGS+=(dataset-fashion-mnist gnuplot-nox libpq-dev zlib1g-dev)   # bench/ivf
	PKGS+=(lz4 python3)                  # bench/fts, bench/search/hybrid.sh (apt Translation-en)
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The server binaries must match the headers we build against.
if [ "$(dpkg-query -W -f='${Version}' postgresql-15)" != "$(dpkg-query -W -f='${Version}' postgresql-server-dev-15)" ]; then
	apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-server-dev-15
fi

# Node packages for the client and interop tests (pinned in test/node/package.json).
for d in test/node test/lance; do
	if [ -f "$(dirname "$0")/../$d/package.json" ]; then
		(cd "$(dirname "$0")/../$d" && npm install --no-audit --no-fund --loglevel=error)
	fi
done
