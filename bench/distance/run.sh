#!/bin/bash
# Build and run the distance kernel benchmark.
# Usage: bench/distance/run.sh [ms_per_cell]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
make -s -C "$here"
exec "$here/bench_distance" "$@"
