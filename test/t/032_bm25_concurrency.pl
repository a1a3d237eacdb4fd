
# lance_bm25 under concurrency: pgbench clients insert, update and delete
# rows and run ranked and boolean queries while another pgbench runs VACUUM
# in a loop (deletion bitmaps, segment rewrites, page recycling beside
# delta flushes and merges) and a third runs lancedb.optimize() in a loop
# (the background worker's in-place merges and purges).  Queries must never
# fail nor see a half-merged index (every row once in each snapshot), and
# afterwards the index must return every row once and scores equal to
# brute force.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use Bm25Brute;
use PgbenchLoop;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $N       = 2000;
my $CLIENTS = 4;
my $TX      = 250;

my $node = PostgreSQL::Test::Cluster->new('bm25conc');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\njit = off\nmax_connections = 20\n");
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION lancedb;
CREATE FUNCTION gen(i int) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$
  SELECT 'common ' || string_agg((ARRAY['alpha','beta','gamma','delta','epsilon','zeta','eta','theta','iota','kappa','lambda','omega'])
                    [1 + floor(power(((hashint4(i * 97 + j) & 65535) / 65536.0)::float8, 2) * 12)::int], ' ')
    FROM generate_series(1, 3 + i % 11) j \$\$;
CREATE SEQUENCE ids START 100001;
CREATE TABLE d (id int PRIMARY KEY, body text);
INSERT INTO d SELECT i, gen(i) FROM generate_series(1, $N) i;
CREATE INDEX d_idx ON d USING lance_bm25 (body) WITH (with_position = true);
});

my $tx = "\\set d random(1, $N)\n"
  . "\\set w random(1, 12)\n"
  . "SELECT nextval('ids') AS a, nextval('ids') AS b \\gset\n"
  . "BEGIN;\n"
  . "INSERT INTO d VALUES (:a, gen(:a)), (:b, gen(:b));\n"
  . "UPDATE d SET body = gen(:d + 500000) WHERE id = (:d + 7) % $N + 1;\n"
  . "DELETE FROM d WHERE id = :d OR id = :b;\n"
  . "COMMIT;\n"
  . "SET enable_seqscan = off;\n"
  . "SELECT id FROM d ORDER BY body <&> gen(:w) LIMIT 10;\n"
  . "SELECT id FROM d ORDER BY body <&> '{\"phrase\": {\"terms\": \"alpha beta\"}}'::jsonb LIMIT 5;\n"
  . "SELECT count(*) FROM d WHERE body @@@ '{\"match\": {\"terms\": \"kapa\", \"fuzziness\": 1}}'::jsonb;\n"
  # every row once, in one snapshot; a mismatch divides by zero
  . "\\if :d % 5 = 0\n"
  . "SELECT 1 / (SELECT (count(*) = (SELECT count(*) FROM d) AND count(*) = count(DISTINCT id))::int FROM d WHERE body @@@ 'common');\n"
  . "\\endif\n";

my $vac = start_loop($node, 'vacuum', "VACUUM d;\n");
my $opt = start_loop($node, 'optimize', "SELECT lancedb.optimize('d_idx');\n");

$node->pgbench(
	"--no-vacuum -c $CLIENTS -j 2 -t $TX --random-seed=20240601 --max-tries=10",
	0,
	[qr{processed: @{[ $CLIENTS * $TX ]}/@{[ $CLIENTS * $TX ]}}],
	[qr{^(pgbench: setting random seed to \d+\n)?$}],
	'pgbench: concurrent inserts, updates, deletes and BM25 queries',
	{ '032_bm25_work' => $tx });

my $vacuums = $node->safe_psql('postgres', "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'd'");
my $verr = stop_loop($vac);
my $oerr = stop_loop($opt);
cmp_ok($vacuums, '>=', 3, "VACUUM ran concurrently ($vacuums times)");
is($oerr, '', 'the optimize loop had no errors');
my $maint = $node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE status = 'done') || '/' || count(*) FILTER (WHERE status = 'failed') FROM lancedb.maintenance_log WHERE action = 'merge'");
like($maint, qr{^[1-9]\d*/0$}, "maintenance merged during the workload, none failed (done/failed $maint)");
is($verr, '', 'the VACUUM loop had no errors');
is($node->safe_psql('postgres', "SELECT (lancedb.index_stats('d_idx')->>'merges')::int > 0"), 't',
	'segments were merged during the workload');

# the loops' backends may outlive their clients for a moment (an optimize
# still merging holds a snapshot): wait, so the VACUUM removes every dead row
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
  or die 'backends of the loops did not exit';
$node->safe_psql('postgres', 'VACUUM d');
$node->safe_psql('postgres', $bm25_bf_sql);
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM d');
is($node->safe_psql('postgres', "SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) || '/' || count(DISTINCT id) FROM d WHERE body @@@ 'common'"),
	"$rows/$rows", 'after the workload: every row once');
is($node->safe_psql('postgres', "SELECT (lancedb.index_stats('d_idx')->>'num_docs')"), $rows,
	'after the final VACUUM: N = live rows');
for my $q ('alpha', 'kappa omega', 'theta beta gamma')
{
	my $ix = $node->safe_psql('postgres', "SET enable_seqscan = off; SELECT string_agg(round((-(body <&> '$q'))::numeric, 5)::text, ',') FROM (SELECT body FROM d ORDER BY body <&> '$q' LIMIT 15) s");
	my $bf = $node->safe_psql('postgres', "SELECT string_agg(round(score::numeric, 5)::text, ',') FROM (SELECT score FROM bf('$q') ORDER BY score DESC LIMIT 15) s");
	is($ix, $bf, "top-15 scores of '$q' equal brute force");
}

$node->stop;
done_testing();
