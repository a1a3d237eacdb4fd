#!/bin/bash
# Build and run the BM25 core benchmark.
# Usage: bench/bm25core/run.sh [ndocs [nqueries]]   (default: 500000 200)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
make -s -C "$here"
exec "$here/bench_bm25core" "$@"
