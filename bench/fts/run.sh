#!/usr/bin/env bash
# lance_bm25 benchmark on Debian package descriptions: known-item search
# quality (MRR@10, recall@10) and latency of lance_bm25 against GIN +
# ts_rank_cd (OR and AND tsqueries) and brute-force BM25 measured in the same
# run; build time and size against GIN; 10k single-row inserts then queries;
# the corpus duplicated for scale.  See README.md.
#
#   bash bench/fts/run.sh                 (500 queries, 8 copies for scale)
#   bash bench/fts/run.sh --quick         (100 queries, 2 copies, 2000 inserts)
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi

NQ=500 NQ_BIG=100 DUP=8 NINSERT=10000 PASSES=3 INSTALL=1 SHARED_BUFFERS=2GB
TRANSLATION=''
while [ $# -gt 0 ]; do
	case $1 in
		--nq) NQ=$2; shift ;;
		--nq-big) NQ_BIG=$2; shift ;;
		--dup) DUP=$2; shift ;;
		--inserts) NINSERT=$2; shift ;;
		--passes) PASSES=$2; shift ;;
		--shared-buffers) SHARED_BUFFERS=$2; shift ;;
		--translation) TRANSLATION=$2; shift ;;
		--no-install) INSTALL=0 ;;
		--quick) NQ=100 NQ_BIG=30 DUP=2 NINSERT=2000 ;;
		*) echo "usage: bash bench/fts/run.sh [--nq N] [--nq-big N] [--dup K] [--inserts N] [--passes N] [--shared-buffers S] [--translation FILE.lz4] [--no-install] [--quick]" >&2; exit 2 ;;
	esac
	shift
done
say() { printf '== %s\n' "$*" >&2; }

# --- corpus: apt's English long descriptions --------------------------------
if [ -z "$TRANSLATION" ]; then
	TRANSLATION=$(ls /var/lib/apt/lists/*debian_dists_*_main_i18n_Translation-en.lz4 2>/dev/null | grep -v -- '-updates\|-security' | head -n 1 || true)
fi
if [ -z "$TRANSLATION" ] || [ ! -f "$TRANSLATION" ]; then
	echo "no Translation-en file: run 'apt-get update -o Acquire::Languages=en' first" >&2
	exit 1
fi

if [ "$INSTALL" = 1 ]; then
	say "building and installing the extension"
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi

cleanup() {
	local rc=$?
	[ "$rc" -ne 0 ] && cluster_log_tail 30 >&2
	cluster_destroy
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cluster_create lancedb-fts
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	# --- added by bench/fts/run.sh ---
	shared_buffers = $SHARED_BUFFERS
	max_parallel_workers_per_gather = 0
	max_parallel_maintenance_workers = 0
	work_mem = 64MB
	jit = off
	autovacuum = off
	max_wal_size = 8GB
CONF
say "corpus: $TRANSLATION"
python3 "$HERE/prepare.py" "$TRANSLATION" "$CLUSTER_DIR/docs.tsv"
chown "$CLUSTER_USER" "$CLUSTER_DIR/docs.tsv" 2>/dev/null || true
cluster_start
cluster_env
say "running (queries $NQ, scale x$DUP with $NQ_BIG queries, $NINSERT single-row inserts)"
cat "$HERE/bench.sql" | cluster_psql -d postgres -q -v docs="$CLUSTER_DIR/docs.tsv" -v nq="$NQ" \
	-v nq_big="$NQ_BIG" -v dup="$DUP" -v ninsert="$NINSERT" -v passes="$PASSES"
