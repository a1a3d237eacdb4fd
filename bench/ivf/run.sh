#!/usr/bin/env bash
# lance_ivf benchmark: recall@10 / QPS / latency / build time / size per
# quantizer and nprobes (and refine_factor), against an exact scan measured
# in the same run, on a throwaway PostgreSQL 15 cluster.  See README.md.
#
#   bash bench/ivf/run.sh fashion-mnist
#   bash bench/ivf/run.sh aniso --n 1000000
#   bash bench/ivf/run.sh cosine --n 200000
#   bash bench/ivf/run.sh --quick            (aniso 20k, well under a minute)
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
	usage: bash bench/ivf/run.sh {fashion-mnist|aniso|cosine} [options]
	       bash bench/ivf/run.sh --quick
	  --n N                base rows (aniso: 1000000, cosine: 200000, fashion-mnist: 60000)
	  --nq N               queries (1000)
	  --dim D              dimensions of aniso (128) / cosine (768)
	  --lists L            IVF lists (default: round(sqrt(rows)))
	  --quantizers "..."   indexes to build, from flat sq pq rq (default: all four)
	  --nprobes "..."      nprobes sweep (default: 1 2 4 8 16 32 64)
	  --refine "..."       refine_factor sweep for pq (default: 0 5 10)
	  --refine-all "..."   refine_factor sweep for flat, sq and rq (default: 0)
	  --with-QUANT "..."   extra WITH options, e.g. --with-pq "num_sub_vectors = 49"
	                       (defaults: pq num_bits = 8; rq: the extension's default)
	  --baseline-nq N      queries of the exact scan (default: min(nq, 100))
	  --repeat R           timed passes per index series, the fastest counts (1)
	  --warmup N           untimed queries before each index series (default: all)
	  --shared-buffers S   (4GB; 1GB with --quick)
	  --plot PATH          the PNG (default: docs/img/ivf-<data set>.png;
	                       bench/results/ with --quick)
	  --no-install         use the installed extension instead of building it
	  --storage S          column storage of the vectors (plain, main, external,
	                       extended = PostgreSQL's default); plain keeps
	                       high-dimensional vectors out of TOAST (every index,
	                       pgvector's too, uses the same table)
	  --pgvector "EF..."   also measure pgvector's HNSW (m 16, ef_construction 64)
	                       at these ef_search values, in the same run and cluster,
	                       when pgvector is installed (not built by this script)
	  --quick              smoke run: aniso, 20000 rows, 200 queries,
	                       nprobes 1 4 16, refine 0 10
	EOF
	exit 2
}

DATASET='' N='' NQ=1000 DIM='' LISTS='' QUANTIZERS='flat sq pq rq'
NPROBES='1 2 4 8 16 32 64' REFINE_PQ='0 5 10' REFINE_OTHER='0' BASELINE_NQ=''
SHARED_BUFFERS='' PLOT='' INSTALL=1 QUICK=0 REPEAT=1 WARMUP='' PGVECTOR_EF='' STORAGE=''
declare -A WITH=([flat]='' [sq]='' [pq]='num_bits = 8' [rq]='')

while [ $# -gt 0 ]; do
	case $1 in
		fashion-mnist|aniso|cosine) DATASET=$1 ;;
		--n) N=$2; shift ;;
		--nq) NQ=$2; shift ;;
		--dim) DIM=$2; shift ;;
		--lists) LISTS=$2; shift ;;
		--quantizers) QUANTIZERS=$2; shift ;;
		--nprobes) NPROBES=$2; shift ;;
		--refine) REFINE_PQ=$2; shift ;;
		--refine-all) REFINE_OTHER=$2; shift ;;
		--with-flat|--with-sq|--with-pq|--with-rq) WITH[${1#--with-}]=$2; shift ;;
		--baseline-nq) BASELINE_NQ=$2; shift ;;
		--repeat) REPEAT=$2; shift ;;
		--warmup) WARMUP=$2; shift ;;
		--shared-buffers) SHARED_BUFFERS=$2; shift ;;
		--plot) PLOT=$2; shift ;;
		--no-install) INSTALL=0 ;;
		--pgvector) PGVECTOR_EF=$2; shift ;;
		--storage) STORAGE=$2; shift ;;
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
	NPROBES='1 4 16'
	REFINE_PQ='0 10'
	BASELINE_NQ=${BASELINE_NQ:-50}
	SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
fi
[ -n "$DATASET" ] || usage
SHARED_BUFFERS=${SHARED_BUFFERS:-4GB}
for q in $QUANTIZERS; do
	case $q in flat|sq|pq|rq) ;; *) echo "run.sh: unknown quantizer '$q'" >&2; exit 2 ;; esac
done

say() { printf '== %s\n' "$*" >&2; }
BENCH=$HERE/ivfbench
DATA_DIR=$ROOT/bench/data
RESULTS_DIR=$ROOT/bench/results
mkdir -p "$DATA_DIR" "$RESULTS_DIR"

# --- build ------------------------------------------------------------------
make -s -C "$HERE"
if [ "$INSTALL" = 1 ]; then
	say "building and installing the extension"
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi

# Every connection loads lancedb.so afresh, so a `make install` by someone
# else during the run changes what is measured: note it if it happens.
LIBSO=$("${PG_CONFIG:-pg_config}" --pkglibdir)/lancedb.so
lib_sum() { sha1sum "$LIBSO" 2>/dev/null | cut -c1-12; }
LIB_SUM=$(lib_sum)
LIB_SUM_START=$LIB_SUM

# --- data -------------------------------------------------------------------
# The base rows and queries are cached in bench/data (generated from a seed,
# or Debian's Fashion-MNIST); their ground truth is computed below, in every run.
say "data: $DATASET"
data_args=("$DATASET" --dir "$DATA_DIR" --nq "$NQ")
[ -n "$N" ] && data_args+=(--n "$N")
[ -n "$DIM" ] && data_args+=(--dim "$DIM")
data_out=$("$BENCH" data "${data_args[@]}")
eval "$data_out"
# now NAME BASE QUERIES GT_CACHE METRIC DIM ROWS NQ
case $METRIC in
	l2) OPCLASS=vector_l2_ops ;;
	ip) OPCLASS=vector_ip_ops ;;
	cosine) OPCLASS=vector_cosine_ops ;;
esac
[ -n "$LISTS" ] || LISTS=$(awk -v n="$ROWS" 'BEGIN { l = int(sqrt(n) + 0.5); print (l < 1 ? 1 : l) }')
[ -n "$BASELINE_NQ" ] || BASELINE_NQ=$(( NQ < 100 ? NQ : 100 ))
[ "$BASELINE_NQ" -le "$NQ" ] || BASELINE_NQ=$NQ
[ -n "$WARMUP" ] && [ "$WARMUP" -le "$NQ" ] || WARMUP=$NQ

human_rows() {
	awk -v n="$1" 'BEGIN {
		if (n >= 1000000 && n % 1000000 == 0) printf "%dM", n / 1000000;
		else if (n >= 1000 && n % 1000 == 0) printf "%dk", n / 1000;
		else printf "%d", n }'
}
case $DATASET in
	fashion-mnist) LABEL=fashion-mnist ;;
	*) LABEL=$DATASET-$(human_rows "$ROWS") ;;
esac
[ "$QUICK" = 1 ] && LABEL=$LABEL-quick
STAMP=$(date +%Y%m%d-%H%M%S)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RESULT=$RESULTS_DIR/$LABEL-$STAMP.md
WORK=$RESULTS_DIR/.$LABEL-$STAMP
mkdir -p "$WORK"
if [ -z "$PLOT" ]; then
	if [ "$QUICK" = 1 ]; then PLOT=$RESULTS_DIR/ivf-$LABEL.png; else PLOT=$ROOT/docs/img/ivf-$LABEL.png; fi
fi

# --- cluster ----------------------------------------------------------------
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

# --- exact ground truth, computed in this run ---------------------------------
# Never read from the cache: the exact top 10 of every query is computed here,
# before the server starts (sgemm, one thread per CPU), into $WORK; the file an
# earlier run left in bench/data ($GT_CACHE) is only compared against (a
# difference goes into the report as a warning) or, when missing, written.
say "exact ground truth: top 10 of $NQ queries over $ROWS rows"
gt_out=$("$BENCH" gt --base "$BASE" --queries "$QUERIES" --metric "$METRIC" \
	--out "$WORK/gt10.bin" --cache "$GT_CACHE")
eval "$gt_out"
# now GT (this run's) GT_SECONDS GT_THREADS GT_CHECK
say "ground truth in $GT_SECONDS s ($GT_THREADS threads); cached file: $GT_CHECK"

say "starting a throwaway PostgreSQL cluster (shared_buffers $SHARED_BUFFERS)"
cluster_create lancedb-bench
# One client, one process per query: parallel seq scans would make the exact
# baseline use 3 processes against the index scan's one.
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	# --- added by bench/ivf/run.sh ---
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

# --- load -------------------------------------------------------------------
say "loading $ROWS x $DIM rows (binary COPY)"
read -r _ LOAD_S < <("$BENCH" load --file "$BASE")
if [ -n "$STORAGE" ]; then
	# re-insert so every value is stored as the column now says
	cluster_psql -d postgres -q -c "CREATE TABLE items_s (LIKE items INCLUDING ALL)" \
		-c "ALTER TABLE items_s ALTER COLUMN v SET STORAGE $STORAGE" \
		-c "INSERT INTO items_s SELECT * FROM items" -c "DROP TABLE items" \
		-c "ALTER TABLE items_s RENAME TO items"
fi
VACUUM_S=$("$BENCH" exec "VACUUM ANALYZE items")
TABLE_BYTES=$(psql_val "SELECT pg_total_relation_size('items')")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
say "loaded in ${LOAD_S} s, VACUUM ANALYZE ${VACUUM_S} s, table $(mb "$TABLE_BYTES") MB"

# run_series LABEL NQ WARMUP SETTINGS... -> appends one line to $WORK/series.tsv
#   label, recall, qps, p50, p99, mean, nq, short, plan
# and prints it without the label.  An index series whose plan is not an
# index scan (the planner preferred a sequential scan) is rerun with
# enable_seqscan = off, and its label gets "forced:<plan the planner chose>".
run_series() {
	local label=$1 nq=$2 warmup=$3 line rc=0 s
	shift 3
	local args=(--queries "$QUERIES" --gt "$GT" --base "$BASE" --metric "$METRIC"
		--nq "$nq" --warmup "$warmup")
	for s in "$@"; do args+=(--set "$s"); done
	if [ "$label" = exact ]; then
		line=$("$BENCH" query "${args[@]}")
	else
		args+=(--repeat "$REPEAT")
		line=$("$BENCH" query --require-index "${args[@]}") || rc=$?
		if [ "$rc" = 3 ]; then
			say "$label: the planner chose '$line', not the index: rerunning with enable_seqscan = off"
			label="$label forced:$line"
			line=$("$BENCH" query --set enable_seqscan=off "${args[@]}")
		elif [ "$rc" != 0 ]; then
			return "$rc"
		fi
	fi
	printf '%s\t%s\n' "$label" "$line" >>"$WORK/series.tsv"
	printf '%s\n' "$line"
	lib_check "series '$label'"
}

# lib_check WHAT: warn (and note in the report) when lancedb.so changed since
# the last check; the last sum seen is kept in a file, as run_series runs in
# a subshell.
lib_check() {
	local now last
	now=$(lib_sum)
	last=$(cat "$WORK/libsum")
	if [ "$now" != "$last" ]; then
		say "WARNING: $LIBSO was reinstalled (before or during $1)"
		echo "- **WARNING: $LIBSO was reinstalled during the run (before or during $1, $last -> $now): the figures mix two builds**" >>"$WORK/warnings"
		echo "$now" >"$WORK/libsum"
	fi
}

# --- exact baseline ---------------------------------------------------------
say "exact scan baseline ($BASELINE_NQ queries, 3 warm-up)"
: >"$WORK/series.tsv"
: >"$WORK/warnings"
case $GT_CHECK in
	same|saved|none) ;;
	*) echo "- **WARNING: the cached ground truth ${GT_CACHE#"$ROOT"/} is stale: it differs from this run's ($GT_CHECK); recall is against this run's**" >>"$WORK/warnings" ;;
esac
echo "$LIB_SUM" >"$WORK/libsum"
BASE_LINE=$(run_series exact "$BASELINE_NQ" 3 enable_indexscan=off enable_bitmapscan=off)
IFS=$'\t' read -r BASE_RECALL BASE_QPS BASE_P50 BASE_P99 _ _ _ BASE_PLAN BASE_CPU_QPS <<<"$BASE_LINE"
say "exact: recall $BASE_RECALL, $BASE_QPS QPS, p50 $BASE_P50 ms, p99 $BASE_P99 ms ($BASE_PLAN)"

# --- floor: what returning the 10 answer rows costs by itself ----------------
# The same client and prepared-statement path, with the exact top 10 ids of
# each query looked up through a btree on id: "ids" returns them, "dist"
# also computes (and sorts by) their distance to the query, which the
# executor of the k-NN query does for the rows it returns.  An index cannot
# be faster than "ids"; "dist" is the cost of the answer's 10 vector reads.
say "floor: 10 ids by btree lookup (and with their distances)"
psql_val "CREATE INDEX items_id_idx ON items (id)" >/dev/null
for f in ids dist; do
	line=$("$BENCH" query --queries "$QUERIES" --gt "$GT" --base "$BASE" --metric "$METRIC" \
		--nq "$NQ" --warmup "$WARMUP" --repeat "$REPEAT" --floor "$f" \
		--set enable_seqscan=off --set enable_bitmapscan=off)
	printf '%s\t%s\n' "floor-$f" "$line" >>"$WORK/series.tsv"
	IFS=$'\t' read -r r qps p50 p99 _ _ short plan cpuqps <<<"$line"
	say "floor $f: recall $r, $qps QPS ($cpuqps CPU QPS), p50 $p50 ms"
done
psql_val "DROP INDEX items_id_idx" >/dev/null

# --- indexes ----------------------------------------------------------------
: >"$WORK/builds.tsv"
: >"$WORK/stats.txt"
for q in $QUANTIZERS; do
	opts="lists = $LISTS, quantizer = '$q'"
	[ -n "${WITH[$q]}" ] && opts="$opts, ${WITH[$q]}"
	say "CREATE INDEX ... USING lance_ivf (v $OPCLASS) WITH ($opts)"
	psql_val "DROP INDEX IF EXISTS items_v_idx" >/dev/null
	BUILD_S=$("$BENCH" exec "CREATE INDEX items_v_idx ON items USING lance_ivf (v $OPCLASS) WITH ($opts)")
	IDX_BYTES=$(psql_val "SELECT pg_relation_size('items_v_idx')")
	lib_check "the $q build"
	printf '%s\t%s\t%s\t%s\n' "$q" "$BUILD_S" "$IDX_BYTES" "$opts" >>"$WORK/builds.tsv"
	{ echo "$q: WITH ($opts)"; psql_val "SELECT lancedb.index_stats('items_v_idx')"; echo; } >>"$WORK/stats.txt"
	say "built in $BUILD_S s, $(mb "$IDX_BYTES") MB"
	if [ "$q" = pq ]; then refines=$REFINE_PQ; else refines=$REFINE_OTHER; fi
	for rf in $refines; do
		for np in $NPROBES; do
			line=$(run_series "$q rf$rf np$np" "$NQ" "$WARMUP" \
				"lancedb.nprobes=$np" "lancedb.refine_factor=$rf")
			IFS=$'\t' read -r r qps p50 p99 _ _ short plan cpuqps <<<"$line"
			printf '   %-4s nprobes %-4s refine %-3s recall %s  %8s QPS  p50 %s ms  p99 %s ms%s\n' \
				"$q" "$np" "$rf" "$r" "$qps" "$p50" "$p99" \
				"$(tail -n1 "$WORK/series.tsv" | grep -q forced: && echo '  (forced)')" >&2
			[ "$short" = 0 ] || say "WARNING: $short queries returned fewer than 10 rows"
		done
	done
done
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
		say "pgvector: CREATE INDEX ... USING hnsw (v $PGV_OPS) WITH (m = 16, ef_construction = 64)"
		BUILD_S=$(PGDATABASE=pgv "$BENCH" exec "CREATE INDEX items_v_idx ON items USING hnsw (v $PGV_OPS) WITH (m = 16, ef_construction = 64)")
		IDX_BYTES=$(cluster_psql -d pgv -Atq -c "SELECT pg_relation_size('items_v_idx')")
		printf '%s\t%s\t%s\t%s\n' "pgvector-hnsw" "$BUILD_S" "$IDX_BYTES" "pgvector $PGV_VERSION: m = 16, ef_construction = 64" >>"$WORK/builds.tsv"
		say "built in $BUILD_S s, $(mb "$IDX_BYTES") MB"
		for ef in $PGVECTOR_EF; do
			line=$(PGDATABASE=pgv run_series "pgvector-hnsw - ef$ef" "$NQ" "$WARMUP" "hnsw.ef_search=$ef")
			IFS=$'\t' read -r r qps p50 p99 _ _ short plan cpuqps <<<"$line"
			printf '   pgvector hnsw ef_search %-4s recall %s  %8s QPS  p50 %s ms  p99 %s ms\n' \
				"$ef" "$r" "$qps" "$p50" "$p99" >&2
		done
		psql_val "DROP DATABASE pgv" >/dev/null
	else
		say "pgvector is not installed: skipping --pgvector"
		echo "- pgvector was asked for (--pgvector) but is not installed in this server" >>"$WORK/warnings"
	fi
fi

# --- report -----------------------------------------------------------------
PGVER=$(psql_val "SHOW server_version")
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- src sql 2>/dev/null || COMMIT="$COMMIT + uncommitted changes"
CPU=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

report() {
	cat <<-EOF
	# lance_ivf benchmark: $LABEL ($STAMP)

	- data: $NAME, $ROWS x $DIM, metric $METRIC ($OPCLASS), $NQ queries, exact top-10 ground truth
	  computed in this run ($GT_SECONDS s, OpenBLAS sgemm, $GT_THREADS threads; cached copy: $GT_CHECK)
	- table: $(mb "$TABLE_BYTES") MB (binary COPY ${LOAD_S} s, VACUUM ANALYZE ${VACUUM_S} s)${STORAGE:+, vector column storage $STORAGE}
	- server: PostgreSQL $PGVER, shared_buffers $SHARED_BUFFERS, maintenance_work_mem 4GB,
	  max_parallel_maintenance_workers 1, max_parallel_workers_per_gather 0, jit off
	- client: one connection, prepared \`SELECT id FROM items ORDER BY v $(case $METRIC in l2) echo '<->';; ip) echo '<#>';; *) echo '<=>';; esac) \$1 LIMIT 10\`
	  (binary parameter, ids only); per series the first $WARMUP queries untimed, then
	  all timed one at a time (fastest of $REPEAT timed pass(es))
	- exact baseline: same client, enable_indexscan = off (sequential scan + top-N sort,
	  one process), first $BASELINE_NQ queries after 3 warm-up queries
	- lancedb $COMMIT (lancedb.so sha1 $LIB_SUM_START); $CPU, $(nproc) vCPU; load average $LOAD_START at the start,
	  $LOAD_END at the end (anything above ~1 means other work shared the CPUs)
	- ratios: "QPS x" = QPS / exact QPS; "p50 x" and "p99 x" = exact latency / latency
	  (both: how many times faster than the exact scan); "size %" = index / table

	$(cat "$WORK/warnings")

	## Builds

	| quantizer | WITH | build s | index MB | size % |
	|---|---|---:|---:|---:|
	EOF
	while IFS=$'\t' read -r q s b opts; do
		printf '| %s | %s | %s | %s | %s |\n' "$q" "$opts" "$s" "$(mb "$b")" \
			"$(awk -v b="$b" -v t="$TABLE_BYTES" 'BEGIN { printf "%.0f", 100 * b / t }')"
	done <"$WORK/builds.tsv"
	cat <<-EOF

	## Queries

	"CPU QPS" = queries per second of the server backend's CPU time (steadier than
	wall-clock QPS when other work shares the machine).

	| index | nprobes | refine | recall@10 | QPS | CPU QPS | p50 ms | p99 ms | QPS x | p50 x | p99 x |
	|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
	EOF
	awk -F'\t' -v bq="$BASE_QPS" -v b50="$BASE_P50" -v b99="$BASE_P99" '
		{
			split($1, lab, " ")
			if (lab[1] == "exact") { idx = "exact scan (" $7 " queries)"; np = "-"; rf = "-" }
			else if (lab[1] == "floor-ids") { idx = "floor: the 10 true ids by btree"; np = "-"; rf = "-" }
			else if (lab[1] == "floor-dist") { idx = "floor: the 10 true ids by btree, ORDER BY distance"; np = "-"; rf = "-" }
			else if (lab[1] ~ /^pgvector/) { idx = lab[1]; rf = "-"; np = "ef_search " substr(lab[3], 3) }
			else { idx = lab[1]; rf = substr(lab[2], 3); np = substr(lab[3], 3) }
			note = ($9 ~ /^Index_Scan/ || lab[1] == "exact" || lab[1] ~ /^floor/) ? "" : " (plan: " $9 ")"
			if (lab[4] ~ /^forced:/)
				note = note " (planner chose " substr(lab[4], 8) "; forced with enable_seqscan = off)"
			if ($8 > 0) note = note " (" $8 " short answers)"
			printf "| %s%s | %s | %s | %.3f | %.1f | %s | %.2f | %.2f | %.1f | %.1f | %.1f |\n",
				idx, note, np, rf, $2, $3, $10, $4, $5, $3 / bq, b50 / $4, b99 / $5
		}' "$WORK/series.tsv"
	cat <<-EOF

	## Same-run ratios

	Per lance_ivf series, by CPU QPS (wall-clock QPS in brackets): against the
	fastest pgvector HNSW setting whose recall is at least this one's minus
	0.002 (its recall in the cell; "-": none reached it), and against the
	floors (1.00 would be the cost of just returning the 10 rows).

	| index | nprobes | refine | recall@10 | CPU QPS | x pgvector HNSW (setting) | x floor ids | x floor ids + distance |
	|---|---:|---:|---:|---:|---|---:|---:|
	EOF
	awk -F'\t' '
		{ split($1, lab, " "); n++; L[n] = $1; R[n] = $2; Q[n] = $3; C[n] = $10; K[n] = lab[1] }
		K[n] == "floor-ids" { fi_c = $10; fi_q = $3 }
		K[n] == "floor-dist" { fd_c = $10; fd_q = $3 }
		END {
			for (i = 1; i <= n; i++) {
				if (K[i] == "exact" || K[i] ~ /^floor/ || K[i] ~ /^pgvector/) continue
				split(L[i], lab, " ")
				b = 0
				for (j = 1; j <= n; j++)
					if (K[j] ~ /^pgvector/ && R[j] >= R[i] - 0.002 && (b == 0 || C[j] + 0 > C[b] + 0))
						b = j
				pg = "-"
				if (b > 0) {
					split(L[b], pl, " ")
					pg = sprintf("%.2f [%.2f] (ef_search %s, %.3f)", C[i] / C[b], Q[i] / Q[b], substr(pl[3], 3), R[b])
				}
				printf "| %s | %s | %s | %.3f | %s | %s | %s | %s |\n", K[i], substr(lab[3], 3), substr(lab[2], 3), R[i], C[i], pg,
					(fi_c > 0 ? sprintf("%.2f [%.2f]", C[i] / fi_c, Q[i] / fi_q) : "-"),
					(fd_c > 0 ? sprintf("%.2f [%.2f]", C[i] / fd_c, Q[i] / fd_q) : "-")
			}
			for (j = 1; j <= n; j++)
				if (K[j] ~ /^pgvector/ && fi_c > 0) {
					split(L[j], pl, " ")
					printf "| pgvector HNSW | ef_search %s | - | %.3f | %s | - | %.2f [%.2f] | %.2f [%.2f] |\n", substr(pl[3], 3), R[j], C[j],
						C[j] / fi_c, Q[j] / fi_q, C[j] / fd_c, Q[j] / fd_q
				}
		}' "$WORK/series.tsv"
	cat <<-EOF

	## index_stats

	\`\`\`
	$(cat "$WORK/stats.txt")
	\`\`\`
	EOF
}
report >"$RESULT"

# --- plot -------------------------------------------------------------------
if command -v gnuplot >/dev/null 2>&1; then
	mkdir -p "$(dirname "$PLOT")"
	plots=()
	while IFS= read -r series; do
		f=$WORK/plot-${series// /-}.dat
		awk -F'\t' -v s="$series" '{ split($1, lab, " ");
			key = lab[1] (lab[1] == "pq" ? " " lab[2] : "")
			if (key == s) print $2, $3, substr(lab[3], 3) }' "$WORK/series.tsv" >"$f"
		title=${series/ rf/ refine }
		plots+=("'$f' using 1:2 with linespoints title '$title'")
	done < <(awk -F'\t' '{ split($1, lab, " "); if (lab[1] != "exact" && lab[1] !~ /^floor/)
		print lab[1] (lab[1] == "pq" ? " " lab[2] : "") }' "$WORK/series.tsv" | awk '!seen[$0]++')
	printf '%s %s\n' "$BASE_RECALL" "$BASE_QPS" >"$WORK/plot-exact.dat"
	plots+=("'$WORK/plot-exact.dat' using 1:2 with points pt 7 ps 1.5 lc rgb 'black' title 'exact scan'")
	gnuplot <<-EOF
	set terminal pngcairo size 900,600 noenhanced font ',10'
	set output '$PLOT'
	set title 'lance_ivf on $LABEL ($ROWS x $DIM, $METRIC, lists $LISTS): recall@10 vs QPS, 1 client, nprobes $NPROBES'
	set xlabel 'recall@10'
	set ylabel 'queries per second (log)'
	set logscale y
	set xrange [:1.01]
	set grid
	set key outside right
	plot $(IFS=,; echo "${plots[*]}")
	EOF
	echo "- plot: ${PLOT#"$ROOT"/}" >>"$RESULT"
else
	say "gnuplot not found (LANCEDB_BENCH_DEPS=1 bash scripts/install-deps.sh): no plot"
fi

echo
cat "$RESULT"
echo
say "results: ${RESULT#"$ROOT"/}"
