#!/bin/bash
# Build and run the k-means benchmark.
# Usage: bench/kmeans/run.sh [threads...]   (default: 1 2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
make -s -C "$here"
exec "$here/bench_kmeans" "$@"
