#!/usr/bin/env bash
# Hybrid search benchmark: lancedb.hybrid_search (one call: lance_ivf leg +
# lance_bm25 leg fused by RRF) against running the two legs as separate
# statements and fusing on the client, in the same run, on the Debian
# package descriptions of bench/fts with a deterministic vector per
# document (a hashed bag-of-words embedding computed in SQL).
#
#   bash bench/search/hybrid.sh [--nq N] [--no-install]
#
# Latency is measured by pgbench (one client, prepared statements, -T 20 s
# each): the hybrid call as one transaction, and the vector query plus the
# text query as one transaction of two statements; both return whole rows
# (the client-side fusion itself, a few microseconds, is not counted, which
# favours the baseline).  Server CPU per query (the backend's own CPU time,
# insensitive to other load) runs both inside one PL/pgSQL loop, without
# client round trips, which favours the baseline again; each returned row
# is converted to text as it would be for a client.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/cluster.sh
. "$ROOT/scripts/lib/cluster.sh"
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
	export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
NQ=200 INSTALL=1 SECONDS_EACH=20
while [ $# -gt 0 ]; do
	case $1 in
		--nq) NQ=$2; shift ;;
		--seconds) SECONDS_EACH=$2; shift ;;
		--no-install) INSTALL=0 ;;
		*) echo "usage: $0 [--nq N] [--seconds S] [--no-install]" >&2; exit 2 ;;
	esac
	shift
done
say() { printf '== %s\n' "$*" >&2; }
TRANSLATION=$(ls /var/lib/apt/lists/*debian_dists_*_main_i18n_Translation-en.lz4 2>/dev/null | grep -v -- '-updates\|-security' | head -n 1 || true)
[ -n "$TRANSLATION" ] || { echo "no Translation-en file: run 'apt-get update -o Acquire::Languages=en' first" >&2; exit 1; }
if [ "$INSTALL" = 1 ]; then
	flock /tmp/lancedb-build.lock make -s -C "$ROOT" -j2 install >/dev/null
fi
WORK=$(mktemp -d)
trap 'cluster_destroy; rm -rf "$WORK"' EXIT
python3 "$ROOT/bench/fts/prepare.py" "$TRANSLATION" "$WORK/docs.tsv" >&2
chmod -R a+rX "$WORK"
cluster_create lancedb-hybrid
cluster_as tee -a "$CLUSTER_DATA/postgresql.conf" >/dev/null <<-CONF
	shared_buffers = 1GB
	max_parallel_workers_per_gather = 0
	jit = off
	autovacuum = off
CONF
cluster_start
cluster_env
export PGOPTIONS='-c client_min_messages=warning'
q() { cluster_psql -d postgres -Atq -c "$1"; }
q "CREATE EXTENSION lancedb" >/dev/null
say "loading the corpus and embedding it"
cluster_psql -d postgres -q <<-SQL
	CREATE TABLE docs (id int PRIMARY KEY, package text, synopsis text, body text, v vector(64));
	\copy docs (id, package, synopsis, body) FROM '$WORK/docs.tsv'
	-- hashed bag of words: each analyzed token adds +-1 to one of 64 dimensions
	CREATE FUNCTION embed(t text) RETURNS vector(64) IMMUTABLE LANGUAGE sql AS \$\$
	  SELECT array_agg(coalesce(s, 0) + 0.001 ORDER BY d)::vector(64)
	    FROM generate_series(0, 63) d
	    LEFT JOIN (SELECT abs(hashtext(tok)) % 64 AS d,
	                      sum(CASE WHEN hashtext(tok || '#') % 2 = 0 THEN 1 ELSE -1 END) AS s
	                 FROM unnest(lancedb.tokenize(t)) tok GROUP BY 1) x USING (d)
	\$\$;
	UPDATE docs SET v = embed(body);
	VACUUM ANALYZE docs;
	CREATE INDEX docs_v ON docs USING lance_ivf (v vector_cosine_ops);
	CREATE INDEX docs_body ON docs USING lance_bm25 (body);
	CREATE TABLE queries AS
	  SELECT row_number() OVER () AS qid, synopsis AS q, embed(synopsis) AS qv
	    FROM (SELECT synopsis FROM docs ORDER BY hashtext(package) LIMIT $NQ) s;
SQL
ROWS=$(q "SELECT count(*) FROM docs")
cat >"$WORK/hybrid.sql" <<-'EOF'
	\set n random(1, :nq)
	SELECT (item).*, _relevance_score FROM lancedb.hybrid_search(NULL::docs, 'v', (SELECT qv FROM queries WHERE qid = :n), 'body', (SELECT q FROM queries WHERE qid = :n), k => 10, options => '{"metric": "<=>"}');
EOF
cat >"$WORK/legs.sql" <<-'EOF'
	\set n random(1, :nq)
	SELECT *, v <=> (SELECT qv FROM queries WHERE qid = :n) FROM docs ORDER BY v <=> (SELECT qv FROM queries WHERE qid = :n) LIMIT 10;
	SELECT *, body <&> (SELECT q FROM queries WHERE qid = :n) FROM docs WHERE body @@@ (SELECT q FROM queries WHERE qid = :n) ORDER BY body <&> (SELECT q FROM queries WHERE qid = :n) LIMIT 10;
EOF
chmod a+r "$WORK"/*.sql
bench() {
	cluster_bindir; cluster_as "$CLUSTER_BINDIR/pgbench" -n -M prepared -c 1 -T "$SECONDS_EACH" -D nq="$NQ" \
		-h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -f "$1" postgres 2>"$WORK/pgbench.err" |
		awk '/latency average/ { print $4 } '
}
# Server CPU per query (utime + stime of the backend from /proc, so other
# load on the machine does not count): every query through both methods in
# one session, REPS passes, interleaved.
cluster_psql -d postgres -q <<-'SQL'
	CREATE FUNCTION cpu_ms() RETURNS float8 LANGUAGE sql AS $$
	  SELECT (f[12]::bigint + f[13]::bigint) * 1000.0 / 100
	    FROM (SELECT string_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') f) s
	$$;
	CREATE FUNCTION cpu_per_query(method text, reps int) RETURNS float8 LANGUAGE plpgsql AS $$
	DECLARE t0 float8 := cpu_ms(); qq record; r record; n int := 0;
	BEGIN
	  FOR i IN 1..reps LOOP
	    FOR qq IN SELECT q, qv FROM queries LOOP
	      IF method = 'legs' THEN
	        FOR r IN SELECT d::text, v <=> qq.qv FROM docs d ORDER BY v <=> qq.qv LIMIT 10 LOOP END LOOP;
	        FOR r IN SELECT d::text, body <&> qq.q FROM docs d WHERE body @@@ qq.q ORDER BY body <&> qq.q LIMIT 10 LOOP END LOOP;
	      ELSE
	        FOR r IN SELECT item::text, _relevance_score FROM lancedb.hybrid_search(NULL::docs, 'v', qq.qv, 'body', qq.q, k => 10, options => '{"metric": "<=>"}') LOOP END LOOP;
	      END IF;
	      n := n + 1;
	    END LOOP;
	  END LOOP;
	  RETURN (cpu_ms() - t0) / n;
	END $$;
SQL
say "server CPU per query (5 interleaved passes of $NQ queries each)"
CPU=$(q "SELECT cpu_per_query('legs', 2), cpu_per_query('hybrid', 2); SELECT cpu_per_query('legs', 5), cpu_per_query('hybrid', 5), cpu_per_query('legs', 5), cpu_per_query('hybrid', 5)" | tail -n 1)
CPU_LEGS=$(echo "$CPU" | cut -d'|' -f1,3 | awk -F'|' '{ printf "%.3f", ($1 + $2) / 2 }')
CPU_HYB=$(echo "$CPU" | cut -d'|' -f2,4 | awk -F'|' '{ printf "%.3f", ($1 + $2) / 2 }')
say "timing the two legs (2 statements) and the hybrid call, ${SECONDS_EACH} s each"
LEGS=$(bench "$WORK/legs.sql") || { cat "$WORK/pgbench.err" >&2; exit 1; }
HYB=$(bench "$WORK/hybrid.sql")
LEGS2=$(bench "$WORK/legs.sql")
HYB2=$(bench "$WORK/hybrid.sql")
cat <<-EOF
	# Hybrid search benchmark ($(date +%Y-%m-%d), lancedb $(git -C "$ROOT" rev-parse --short HEAD))

	- corpus: $ROWS Debian package descriptions, vector(64) hashed bag-of-words embedding, lance_ivf (cosine, rq) + lance_bm25
	- $NQ known-item queries (package synopses), pgbench 1 client, prepared, ${SECONDS_EACH} s per run, two runs each (interleaved)
	- load average $(cut -d' ' -f1-3 /proc/loadavg)

	| method | mean latency ms (run 1) | (run 2) | server CPU ms per query |
	|---|---:|---:|---:|
	| vector leg + text leg, two statements returning whole rows (client-side fusion not counted) | $LEGS | $LEGS2 | $CPU_LEGS |
	| lancedb.hybrid_search (RRF), one call | $HYB | $HYB2 | $CPU_HYB |

	hybrid / legs: latency $(awk -v a="$HYB" -v b="$HYB2" -v c="$LEGS" -v d="$LEGS2" 'BEGIN { printf "%.2f", (a + b) / (c + d) }'), server CPU $(awk -v a="$CPU_HYB" -v b="$CPU_LEGS" 'BEGIN { printf "%.2f", a / b }')
EOF
