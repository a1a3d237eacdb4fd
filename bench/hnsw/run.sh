#!/usr/bin/env bash
# lance_hnsw benchmark: recall@10 / QPS / latency over ef_search per
# quantizer (none, sq, pq), build time, index size and insert throughput,
# against an exact scan measured in the same run, on a throwaway
# PostgreSQL 15 cluster.  Data sets, ground truth and the query client are
# bench/ivf's (ivfbench); see bench/hnsw/README.md.
#
#   bash bench/hnsw/run.sh --quick                    (aniso 20k)
#   bash bench/hnsw/run.sh aniso --n 100000
#   bash bench/hnsw/run.sh fashion-mnist
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi

usage() {
	cat >&2 <<-EOF
	usage: bash bench/hnsw/run.sh {fashion-mnist|aniso|cosine} [options]
	       bash bench/hnsw/run.sh --quick
	  --n N                base rows (aniso: 100000, cosine: 200000, fashion-mnist: 60000)
	  --nq N               queries (1000)
	  --dim D              dimensions of aniso (128) / cosine (768)
	  --centres C / --spread S / --alpha A   aniso generator's cluster count (1024),
	                       spread (1) and spectrum decay (1.5): e.g. --centres 100 for the
	                       notes' "clustered" kind
	  --quantizers "..."   indexes to build, from none sq pq (default: all three)
	  --m M                (20)
	  --efc E              ef_construction (64)
	  --ef "..."           ef_search sweep (default: 10 20 40 80 160 320)
	  --inserts N          rows inserted into each built index, timed (2000; 0 = skip)
	  --baseline-nq N      queries of the exact scan (default: min(nq, 100))
	  --repeat R           timed passes per series, the fastest counts (1)
	  --shared-buffers S   (4GB; 1GB with --quick)
	  --pgvector "EF..."   also pgvector's HNSW (m 16, ef_construction 64) in the same
	                       cluster, ef_search sweep EF (needs pgvector installed in
	                       the same PostgreSQL; not built by this script)
	  --pgv-m M / --pgv-efc E   pgvector's m / ef_construction (16 / 64)
	  --delete-pct P       at the end, delete P% of the rows and time VACUUM on the last
	                       lance_hnsw index (and on pgvector's)
	  --no-install         use the installed extension instead of building it
	  --quick              aniso 20000 rows, 200 queries, ef 10 40 160
	EOF
	exit 2
}

DATASET='' N='' NQ=1000 DIM='' QUANTIZERS='none sq pq' M=20 EFC=64
EFS='10 20 40 80 160 320' INSERTS=2000 BASELINE_NQ='' REPEAT=1
SHARED_BUFFERS='' INSTALL=1 QUICK=0 PGVECTOR_EF='' PGV_M=16 PGV_EFC=64 DELETE_PCT=0
CENTRES='' SPREAD='' ALPHA=''
while [ $# -gt 0 ]; do
	case $1 in
		fashion-mnist|aniso|cosine) DATASET=$1 ;;
		--n) N=$2; shift ;;
		--nq) NQ=$2; shift ;;
		--dim) DIM=$2; shift ;;
		--centres) CENTRES=$2; shift ;;
		--spread) SPREAD=$2; shift ;;
		--alpha) ALPHA=$2; shift ;;
		--quantizers) QUANTIZERS=$2; shift ;;
		--m) M=$2; shift ;;
		--efc) EFC=$2; shift ;;
		--ef) EFS=$2; shift ;;
		--inserts) INSERTS=$2; shift ;;
		--baseline-nq) BASELINE_NQ=$2; shift ;;
		--repeat) REPEAT=$2; shift ;;
		--shared-buffers) SHARED_BUFFERS=$2; shift ;;
		--pgvector) PGVECTOR_EF=$2; shift ;;
		--pgv-m) PGV_M=$2; shift ;;
		--pgv-efc) PGV_EFC=$2; shift ;;
		--delete-pct) DELETE_PCT=$2; shift ;;
		--no-install) INSTALL=0 ;;
		--quick) QUICK=1 ;;
		-h|--help) usage ;;
		*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then
	DATASET=${DATASET:-aniso}
	N=${N:-20000}
	NQ=200
	EFS='10 40 160'
	BASELINE_NQ=${BASELINE_NQ:-50}
	SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
fi
[ -n "$DATASET" ] || usage
[ "$DATASET" != aniso ] || N=${N:-100000}
SHARED_BUFFERS=${SHARED_BUFFERS:-4GB}

say() { printf '== %s\n' "$*" >&2; }
BENCH=$ROOT/bench/ivf/ivfbench
DATA_DIR=$ROOT/bench/data
RESULTS_DIR=$ROOT/bench/results
mkdir -p "$DATA_DIR" "$RESULTS_DIR"

make -s -C "$ROOT/bench/ivf"
if [ "$INSTALL" = 1 ]; then
	say "building and installing the extension"
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi

say "data: $DATASET"
data_args=("$DATASET" --dir "$DATA_DIR" --nq "$NQ")
[ -n "$N" ] && data_args+=(--n "$N")
[ -n "$DIM" ] && data_args+=(--dim "$DIM")
[ -n "$CENTRES" ] && data_args+=(--centres "$CENTRES")
[ -n "$SPREAD" ] && data_args+=(--spread "$SPREAD")
[ -n "$ALPHA" ] && data_args+=(--alpha "$ALPHA")
data_out=$("$BENCH" data "${data_args[@]}")
eval "$data_out"
# now NAME BASE QUERIES GT_CACHE METRIC DIM ROWS NQ: base and queries are
# cached, their ground truth is computed below, in every run
case $METRIC in
	l2) OPCLASS=vector_l2_ops; OP='<->' ;;
	ip) OPCLASS=vector_ip_ops; OP='<#>' ;;
	cosine) OPCLASS=vector_cosine_ops; OP='<=>' ;;
esac
[ -n "$BASELINE_NQ" ] || BASELINE_NQ=$(( NQ < 100 ? NQ : 100 ))
LABEL=$DATASET-$ROWS
[ -n "$CENTRES" ] && LABEL=$LABEL-c$CENTRES
[ "$QUICK" = 1 ] && LABEL=$LABEL-quick
STAMP=$(date +%Y%m%d-%H%M%S)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RESULT=$RESULTS_DIR/hnsw-$LABEL-$STAMP.md
WORK=$RESULTS_DIR/.hnsw-$LABEL-$STAMP
mkdir -p "$WORK"

cleanup() {
	local rc=$?
	[ "$rc" -ne 0 ] && cluster_log_tail 30 >&2
	cluster_destroy
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Exact ground truth, computed in this run before the server starts (never
# read from the cache: the file an earlier run left there, $GT_CACHE, is only
# compared against, or written when missing).  See bench/ivf/README.md.
say "exact ground truth: top 10 of $NQ queries over $ROWS rows"
gt_out=$("$BENCH" gt --base "$BASE" --queries "$QUERIES" --metric "$METRIC" \
	--out "$WORK/gt10.bin" --cache "$GT_CACHE")
eval "$gt_out"
# now GT (this run's) GT_SECONDS GT_THREADS GT_CHECK
say "ground truth in $GT_SECONDS s ($GT_THREADS threads); cached file: $GT_CHECK"
GT_WARNING=''
case $GT_CHECK in
	same|saved|none) ;;
	*) GT_WARNING="- **WARNING: the cached ground truth ${GT_CACHE#"$ROOT"/} is stale: it differs from this run's ($GT_CHECK); recall is against this run's**" ;;
esac

say "starting a throwaway PostgreSQL cluster (shared_buffers $SHARED_BUFFERS)"
cluster_create lancedb-hnsw-bench
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	# --- added by bench/hnsw/run.sh ---
	shared_buffers = $SHARED_BUFFERS
	maintenance_work_mem = 4GB
	max_parallel_maintenance_workers = 1
	max_parallel_workers_per_gather = 0
	work_mem = 64MB
	jit = off
	autovacuum = off
	max_wal_size = 8GB
CONF
cluster_start
cluster_env
export PGOPTIONS='-c client_min_messages=warning'
psql_val() { cluster_psql -d postgres -Atq -c "$1"; }
psql_val "CREATE EXTENSION lancedb" >/dev/null

say "loading $ROWS x $DIM rows (binary COPY)"
read -r _ LOAD_S < <("$BENCH" load --file "$BASE")
"$BENCH" exec "VACUUM ANALYZE items" >/dev/null
TABLE_BYTES=$(psql_val "SELECT pg_total_relation_size('items')")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# run_series LABEL NQ SETTINGS... -> one line of ivfbench query output
#   recall, qps, p50, p99, mean, nq, short, plan
run_series() {
	local label=$1 nq=$2 s line
	shift 2
	local args=(--queries "$QUERIES" --gt "$GT" --base "$BASE" --metric "$METRIC" --nq "$nq")
	for s in "$@"; do args+=(--set "$s"); done
	local rc=0
	if [ "$label" = exact ]; then
		line=$("$BENCH" query --warmup 3 "${args[@]}")
	else
		line=$("$BENCH" query --require-index --warmup "$nq" --repeat "$REPEAT" "${args[@]}") || rc=$?
		if [ "$rc" = 3 ]; then
			say "$label: the planner chose '$line', not the index: rerunning with enable_seqscan = off"
			label="$label forced"
			line=$("$BENCH" query --set enable_seqscan=off --warmup "$nq" --repeat "$REPEAT" "${args[@]}")
		elif [ "$rc" != 0 ]; then
			return "$rc"
		fi
	fi
	printf '%s\t%s\n' "$label" "$line" >>"$WORK/series.tsv"
	printf '%s\n' "$line"
}

: >"$WORK/series.tsv"
# prepare_inserts [DB]: table new_rows, $INSERTS rows to insert, made before the
# timing: existing rows with every component scaled by a factor in
# [0.95, 1.05) (the same in every database: one seed).  Exact copies would
# time pgvector's duplicate path (it adds the row to the existing element
# and links nothing) instead of an insert.
prepare_inserts() {
	env ${1:+PGDATABASE=$1} "$BENCH" exec "DROP TABLE IF EXISTS new_rows" "SELECT setseed(0.5)" \
		"CREATE TABLE new_rows AS SELECT id + 100000000 AS id, (SELECT array_agg(x * (0.95 + 0.1 * random()) ORDER BY o) FROM unnest(v::real[]) WITH ORDINALITY AS u(x, o))::vector($DIM) AS v FROM (SELECT id, v FROM items WHERE id < $INSERTS ORDER BY id) s" >/dev/null
}
: >"$WORK/builds.tsv"
: >"$WORK/stats.txt"
say "exact scan baseline ($BASELINE_NQ queries)"
BASE_LINE=$(run_series exact "$BASELINE_NQ" enable_indexscan=off enable_bitmapscan=off)
IFS=$'\t' read -r BASE_RECALL BASE_QPS BASE_P50 BASE_P99 _ _ _ _ BASE_CPU_QPS <<<"$BASE_LINE"
say "exact: recall $BASE_RECALL, $BASE_QPS QPS, p50 $BASE_P50 ms"

for q in $QUANTIZERS; do
	opts="m = $M, ef_construction = $EFC, quantizer = '$q'"
	say "CREATE INDEX ... USING lance_hnsw (v $OPCLASS) WITH ($opts)"
	psql_val "DROP INDEX IF EXISTS items_v_idx" >/dev/null
	BUILD_S=$("$BENCH" exec "CREATE INDEX items_v_idx ON items USING lance_hnsw (v $OPCLASS) WITH ($opts)")
	IDX_BYTES=$(psql_val "SELECT pg_relation_size('items_v_idx')")
	{ echo "$q: WITH ($opts)"; psql_val "SELECT lancedb.index_stats('items_v_idx')"; echo; } >>"$WORK/stats.txt"
	say "built in $BUILD_S s, $(mb "$IDX_BYTES") MB"
	for ef in $EFS; do
		line=$(run_series "$q ef$ef" "$NQ" "lancedb.ef_search=$ef")
		IFS=$'\t' read -r r qps p50 p99 _ <<<"$line"
		printf '   %-4s ef_search %-4s recall %s  %8s QPS  p50 %s ms  p99 %s ms\n' "$q" "$ef" "$r" "$qps" "$p50" "$p99" >&2
	done
	INS_S=- INS_C=-
	if [ "$INSERTS" -gt 0 ]; then
		# new rows near existing ones, one statement (aminsert per row)
		prepare_inserts
		read -r INS_S INS_C < <("$BENCH" exec --cpu "INSERT INTO items SELECT id, v FROM new_rows ORDER BY id")
		psql_val "DELETE FROM items WHERE id >= 100000000" >/dev/null
		"$BENCH" exec "VACUUM items" >/dev/null
		say "inserted $INSERTS rows in $INS_S s ($INS_C s of backend CPU)"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$q" "$BUILD_S" "$IDX_BYTES" "$opts" "$INS_S" "$INS_C" >>"$WORK/builds.tsv"
done
: >"$WORK/vacuum.tsv"
# vacuum_test DB LABEL: delete DELETE_PCT% of the rows, time VACUUM
vacuum_test() {
	local db=$1 label=$2 del vac
	del=$(PGDATABASE=$db "$BENCH" exec "DELETE FROM items WHERE id % 100 < $DELETE_PCT")
	vac=$(PGDATABASE=$db "$BENCH" exec "VACUUM items")
	say "$label: deleted $DELETE_PCT% in $del s, VACUUM $vac s"
	printf '%s\t%s\n' "$label" "$vac" >>"$WORK/vacuum.tsv"
}
if [ "$DELETE_PCT" -gt 0 ]; then
	vacuum_test postgres "lance_hnsw $q"
fi
psql_val "DROP INDEX IF EXISTS items_v_idx" >/dev/null

# --- pgvector HNSW, same data, same cluster and settings --------------------
# pgvector's type is also called "vector", so it gets a database of its own.
if [ -n "$PGVECTOR_EF" ]; then
	if [ "$(psql_val "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")" = 1 ]; then
		psql_val "CREATE DATABASE pgv" >/dev/null
		PGDATABASE=pgv "$BENCH" exec "CREATE EXTENSION vector" >/dev/null
		PGV_VERSION=$(cluster_psql -d pgv -Atq -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
		case $METRIC in l2) PGV_OPS=vector_l2_ops ;; ip) PGV_OPS=vector_ip_ops ;; *) PGV_OPS=vector_cosine_ops ;; esac
		say "pgvector $PGV_VERSION: loading the same rows into database pgv"
		PGDATABASE=pgv "$BENCH" load --file "$BASE" >/dev/null
		PGDATABASE=pgv "$BENCH" exec "VACUUM ANALYZE items" >/dev/null
		pgv_opts="m = $PGV_M, ef_construction = $PGV_EFC"
		say "pgvector: CREATE INDEX ... USING hnsw (v $PGV_OPS) WITH ($pgv_opts)"
		BUILD_S=$(PGDATABASE=pgv "$BENCH" exec "CREATE INDEX items_v_idx ON items USING hnsw (v $PGV_OPS) WITH ($pgv_opts)")
		IDX_BYTES=$(cluster_psql -d pgv -Atq -c "SELECT pg_relation_size('items_v_idx')")
		say "built in $BUILD_S s, $(mb "$IDX_BYTES") MB"
		for ef in $PGVECTOR_EF; do
			line=$(PGDATABASE=pgv run_series "pgvector ef$ef" "$NQ" "hnsw.ef_search=$ef")
			IFS=$'\t' read -r r qps p50 p99 _ <<<"$line"
			printf '   pgvector ef_search %-4s recall %s  %8s QPS  p50 %s ms  p99 %s ms\n' "$ef" "$r" "$qps" "$p50" "$p99" >&2
		done
		INS_S=- INS_C=-
		if [ "$INSERTS" -gt 0 ]; then
			prepare_inserts pgv
			read -r INS_S INS_C < <(PGDATABASE=pgv "$BENCH" exec --cpu "INSERT INTO items SELECT id, v FROM new_rows ORDER BY id")
			say "pgvector: inserted $INSERTS rows in $INS_S s ($INS_C s of backend CPU)"
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "pgvector" "$BUILD_S" "$IDX_BYTES" "pgvector $PGV_VERSION: $pgv_opts" "$INS_S" "$INS_C" >>"$WORK/builds.tsv"
		[ "$DELETE_PCT" -gt 0 ] && vacuum_test pgv "pgvector"
		psql_val "DROP DATABASE pgv" >/dev/null
	else
		say "pgvector is not installed in this PostgreSQL: skipping --pgvector"
	fi
fi

PGVER=$(psql_val "SHOW server_version")
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src sql 2>/dev/null || COMMIT="$COMMIT + uncommitted changes"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
{
	cat <<-EOF
	# lance_hnsw benchmark: $LABEL ($STAMP)

	- data: $NAME, $ROWS x $DIM, metric $METRIC ($OPCLASS), $NQ queries, exact top-10 ground truth
	  computed in this run ($GT_SECONDS s, OpenBLAS sgemm, $GT_THREADS threads; cached copy: $GT_CHECK)${GT_WARNING:+
	$GT_WARNING}
	- server: PostgreSQL $PGVER, shared_buffers $SHARED_BUFFERS, maintenance_work_mem 4GB, one backend per query
	- client: one connection, prepared \`SELECT id FROM items ORDER BY v $OP \$1 LIMIT 10\`, each series warmed up once
	- exact baseline: enable_indexscan = off, first $BASELINE_NQ queries
	- lancedb $COMMIT; $(nproc) vCPU; load average $LOAD_START at the start, $LOAD_END at the end
	- "QPS x" = QPS / exact QPS of this run; "CPU QPS" = queries per second of the server backend's CPU time
	  (steadier than wall-clock QPS when other work shares the CPUs); inserts: $INSERTS new rows (existing ones, each component scaled by 0.95-1.05) in one INSERT ... SELECT into the built index, per wall-clock and per backend CPU second

	## Builds

	| quantizer | WITH | build s | index MB | size % of table | insert rows/s | insert rows/CPU s |
	|---|---|---:|---:|---:|---:|---:|
	EOF
	while IFS=$'\t' read -r q s b opts ins insc; do
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$q" "$opts" "$s" "$(mb "$b")" \
			"$(awk -v b="$b" -v t="$TABLE_BYTES" 'BEGIN { printf "%.0f", 100 * b / t }')" \
			"$(awk -v n="$INSERTS" -v s="$ins" 'BEGIN { if (s == "-" || s <= 0) print "-"; else printf "%.0f", n / s }')" \
			"$(awk -v n="$INSERTS" -v s="$insc" 'BEGIN { if (s == "-" || s <= 0) print "-"; else printf "%.0f", n / s }')"
	done <"$WORK/builds.tsv"
	cat <<-EOF

	## Queries

	| index | ef_search | recall@10 | QPS | CPU QPS | p50 ms | p99 ms | QPS x | CPU QPS x |
	|---|---:|---:|---:|---:|---:|---:|---:|---:|
	EOF
	awk -F'\t' -v bq="$BASE_QPS" -v bc="$BASE_CPU_QPS" '{
		split($1, lab, " ")
		if (lab[1] == "exact") { idx = "exact scan (" $7 " queries)"; ef = "-" }
		else { idx = lab[1]; ef = substr(lab[2], 3) }
		if ($8 > 0) idx = idx " (" $8 " short answers)"
		if (lab[3] == "forced") idx = idx " (planner chose a seq scan; forced)"
		printf "| %s | %s | %.3f | %.1f | %.1f | %.2f | %.2f | %.1f | %.1f |\n", idx, ef, $2, $3, $10, $4, $5, $3 / bq, (bc > 0 ? $10 / bc : 0)
	}' "$WORK/series.tsv"
	if [ -s "$WORK/vacuum.tsv" ]; then
		printf '\n## VACUUM after deleting %s%% of the rows\n\n| index | VACUUM s |\n|---|---:|\n' "$DELETE_PCT"
		awk -F'\t' '{ printf "| %s | %s |\n", $1, $2 }' "$WORK/vacuum.tsv"
	fi
	printf '\n## index_stats\n\n```\n%s\n```\n' "$(cat "$WORK/stats.txt")"
} >"$RESULT"
echo
cat "$RESULT"
say "results: ${RESULT#"$ROOT"/}"
