#!/usr/bin/env bash
# Background maintenance after drift (issue 9): build a lance_ivf index, insert
# 50% more rows drawn from a drifted distribution, then measure recall@10 and
# QPS of
#   (a) the index as it is (no maintenance),
#   (b) the index after lancedb.optimize() rounds until it asks for nothing
#       (in-place split/merge, or a retrain, as its advice decides),
#   (c) a fresh REINDEX (the baseline of the ratios),
# in one run, on one throwaway cluster, with exact ground truth.
#
#   bash bench/maint/drift.sh                       # aniso 100k + 50k drifted, 128 dims
#   bash bench/maint/drift.sh --n 200000 --nprobes "4 8 16"
#   bash bench/maint/drift.sh --split-ratio 2      (lancedb.ivf_split_ratio for (b))
#
# Data: bench/ivf's anisotropic generator (bench/ivf/README.md); the base is
# seed 0, the inserted rows are seed 1 (other centres and rotation: clusters
# where the index has none), the queries half from each.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi

N=100000 NQ=500 DIM=128 NPROBES="4 8 16" QUANT=rq INSTALL=1 MAX_ROUNDS=20 SPREAD=1 SPLIT_RATIO=
while [ $# -gt 0 ]; do
	case $1 in
		--n) N=$2; shift ;;
		--nq) NQ=$2; shift ;;
		--dim) DIM=$2; shift ;;
		--nprobes) NPROBES=$2; shift ;;
		--quantizer) QUANT=$2; shift ;;
		--max-rounds) MAX_ROUNDS=$2; shift ;;
		--split-ratio) SPLIT_RATIO=$2; shift ;;
		--no-install) INSTALL=0 ;;
		-h|--help) sed -n '2,18p' "$0"; exit 0 ;;
		*) echo "unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
NADD=$(( N / 2 ))
say() { printf '== %s\n' "$*" >&2; }
BENCH=$ROOT/bench/ivf/ivfbench
DATA_DIR=$ROOT/bench/data
mkdir -p "$DATA_DIR"

make -s -C "$ROOT/bench/ivf"
if [ "$INSTALL" = 1 ]; then
	say "building and installing the extension"
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi

# --- data: base (seed 0), drifted inserts (seed 1), mixed queries, truth ----
gen() { "$BENCH" data aniso --dir "$DATA_DIR" --n "$1" --nq "$NQ" --dim "$DIM" --seed "$2" --spread "$SPREAD"; }
eval "$(gen "$N" 0 | sed 's/^/A_/')"
eval "$(gen "$NADD" 1 | sed 's/^/B_/')"
# The generated sets are cached; everything made from them (the rows the
# table ends up with, the mixed queries, and their exact ground truth) is
# made again in every run, in $WORK.  The ground truth a run leaves in the
# cache ($GT_CACHE) is only compared against, never used.
WORK=$(mktemp -d)
cleanup() {
	local rc=$?
	[ "$rc" -ne 0 ] && cluster_log_tail 30 >&2
	cluster_destroy
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
MIX=$WORK/mix
GT_CACHE=$DATA_DIR/drift-n$N-add$NADD-d$DIM-q$NQ.gt10.bin
"$BENCH" concat --out "$MIX.queries.f32" --take $(( NQ / 2 )) "$A_QUERIES" --take $(( NQ - NQ / 2 )) "$B_QUERIES" >/dev/null
"$BENCH" concat --out "$MIX.base.f32" "$A_BASE" "$B_BASE" >/dev/null
say "exact ground truth over $((N + NADD)) rows"
gt_out=$("$BENCH" gt --base "$MIX.base.f32" --queries "$MIX.queries.f32" --out "$MIX.gt10.bin" --cache "$GT_CACHE")
eval "$gt_out"
# now GT (this run's) GT_SECONDS GT_THREADS GT_CHECK
say "ground truth in $GT_SECONDS s ($GT_THREADS threads); cached file: $GT_CHECK"

# --- cluster ----------------------------------------------------------------
cluster_create lancedb-drift
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	shared_buffers = 1GB
	maintenance_work_mem = 1GB
	max_parallel_maintenance_workers = 1
	max_parallel_workers_per_gather = 0
	jit = off
	autovacuum = off
	max_wal_size = 8GB
CONF
cluster_start
cluster_env
export PGOPTIONS='-c client_min_messages=warning'
sql() { cluster_psql -d postgres -Atq -c "$1"; }
sql "CREATE EXTENSION lancedb" >/dev/null

say "loading $N rows, building lance_ivf ($QUANT)"
"$BENCH" load --file "$A_BASE" >/dev/null
BUILD_S=$("$BENCH" exec "CREATE INDEX items_idx ON items USING lance_ivf (v vector_l2_ops) WITH (quantizer = '$QUANT')")
LISTS0=$(sql "SELECT lancedb.index_stats('items_idx')->>'lists'")
say "inserting $NADD drifted rows through the index"
"$BENCH" load --file "$B_BASE" --table items_new >/dev/null
INSERT_S=$("$BENCH" exec "INSERT INTO items SELECT id + $N, v FROM items_new" "VACUUM ANALYZE items")
INSERT_S=${INSERT_S%%$'\n'*}

# series LABEL -> one table row per nprobes: label nprobes recall qps
OUT=$(mktemp)
series() {
	local np line
	for np in $NPROBES; do
		line=$("$BENCH" query --queries "$MIX.queries.f32" --gt "$GT" --base "$MIX.base.f32" \
			--require-index --set "lancedb.nprobes=$np")
		printf '%s\t%s\t%s\n' "$1" "$np" "$line" >>"$OUT"
	done
}
stats() { sql "SELECT (s->>'lists') || ' lists, list size max/mean ' || round((s->'list_size'->>'max')::numeric / (s->'list_size'->>'mean')::numeric, 1) || ', ' || pg_size_pretty(pg_relation_size('items_idx')) FROM lancedb.index_stats('items_idx') s"; }

say "(a) no maintenance"
STATS_A=$(stats)
series none

say "(b) lancedb.optimize() until it has nothing to do"
ACTIONS=()
T0=$(date +%s.%N)
for _ in $(seq 1 "$MAX_ROUNDS"); do
	r=$(PGOPTIONS="$PGOPTIONS${SPLIT_RATIO:+ -c lancedb.ivf_split_ratio=$SPLIT_RATIO}" sql "SELECT lancedb.optimize('items_idx')")
	a=$(sql "SELECT '$r'::jsonb->>'action'")
	[ "$a" = none ] && { LAST_ADVICE=$r; break; }
	ACTIONS+=("$a")
	[ "$a" = retrain ] && break
done
MAINT_S=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
DETAILS=$(sql "SELECT string_agg(action || ': ' || coalesce(detail, reason, ''), E'\n' ORDER BY id) FROM lancedb.maintenance_status WHERE relation = 'items_idx'")
STATS_B=$(stats)
series maintained

say "(c) fresh REINDEX"
REINDEX_S=$("$BENCH" exec "REINDEX INDEX items_idx")
STATS_C=$(stats)
series fresh

# --- report (also saved in bench/results/, git-ignored) ---------------------
mkdir -p "$ROOT/bench/results"
RESULT=$ROOT/bench/results/drift-$(date +%Y%m%d-%H%M%S).md
{
echo
echo "## lance_ivf after drift: $N x $DIM rows (seed 0) + $NADD drifted rows (seed 1), $QUANT, $NQ queries (half from each), recall@10 vs exact"
echo
echo "- build ${BUILD_S} s ($LISTS0 lists); inserting $NADD rows ${INSERT_S} s"
echo "- (a) no maintenance: $STATS_A"
echo "- (b) maintained (lancedb.ivf_split_ratio ${SPLIT_RATIO:-default}): ${ACTIONS[*]:-nothing} in ${MAINT_S} s -> $STATS_B"
echo "- (c) fresh REINDEX ${REINDEX_S%%$'\n'*} s -> $STATS_C"
echo "- last advice: ${LAST_ADVICE:-(stopped after a retrain or $MAX_ROUNDS rounds)}"
echo "- exact ground truth computed in this run ($GT_SECONDS s, $GT_THREADS threads; cached copy: $GT_CHECK)"
case $GT_CHECK in
	same|saved|none) ;;
	*) echo "- **WARNING: the cached ground truth ${GT_CACHE#"$ROOT"/} is stale: it differs from this run's ($GT_CHECK); recall is against this run's**" ;;
esac
echo "- load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "maintenance log:"
echo '```'
echo "$DETAILS"
echo '```'
echo
echo "| nprobes | index | recall@10 | QPS | recall - fresh | QPS / fresh |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '
	{ key = $2; rec[$1, key] = $3; qps[$1, key] = $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
	END {
		split("none maintained fresh", labels, " ")
		for (i = 1; i <= n; i++) {
			k = order[i]
			for (j = 1; j <= 3; j++) {
				l = labels[j]
				printf "| %s | %s | %.3f | %.0f | %+.3f | %.2f |\n", k, (l == "none" ? "(a) no maintenance" : l == "maintained" ? "(b) maintained" : "(c) fresh REINDEX"),
					rec[l, k], qps[l, k], rec[l, k] - rec["fresh", k], qps[l, k] / qps["fresh", k]
			}
		}
	}' "$OUT"
} | tee "$RESULT"
rm -f "$OUT"
say "report: $RESULT"
