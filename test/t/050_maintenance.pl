
# lancedb background maintenance (shared_preload_libraries = 'lancedb'):
# an index built on an empty table is trained once rows arrive; skewed
# inserts make the worker rebuild (REINDEX CONCURRENTLY) while a pgbench
# client keeps querying, and recall comes back to that of a fresh build;
# kill -9 of the worker mid-rebuild leaves the index usable and exact, the
# next round drops the leftover half-built index and marks the interrupted
# action failed.  lancedb.optimize() does a round on demand.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use LanceWait;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('maint');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance_naptime = 1
lancedb.ivf_train_min_rows = 500
autovacuum = off
max_worker_processes = 16
restart_after_crash = on
));
$node->start;


$node->safe_psql(
	'postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int, shift real DEFAULT 0) RETURNS vector(16) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg((shift + sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071)))::real ORDER BY j)::vector(16)
    FROM generate_series(0, 15) AS j
$$;
-- recall@10 of 30 queries through the index against exact search
CREATE FUNCTION recall(tbl regclass, shift real) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE q int; hits int := 0; a int[]; e int[];
BEGIN
  FOR q IN SELECT g * 97 FROM generate_series(1, 30) g LOOP
    SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> vec($1, $2) LIMIT 10) s', tbl)
      INTO a USING q + 500000, shift;
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> vec($1, $2) LIMIT 10) s', tbl)
      INTO e USING q + 500000, shift;
    SET LOCAL enable_indexscan = on;
    hits := hits + cardinality(ARRAY(SELECT unnest(a) INTERSECT SELECT unnest(e)));
  END LOOP;
  RETURN round(hits / 300.0, 3);
END $$;
});

# --- an index built on an empty table gets trained -------------------------
$node->safe_psql('postgres', q{
CREATE TABLE empty_t (id int PRIMARY KEY, v vector(16));
CREATE INDEX empty_idx ON empty_t USING lance_ivf (v vector_l2_ops);
});
is($node->safe_psql('postgres', "SELECT lancedb.index_stats('empty_idx')->>'trained'"),
	'false', 'index on an empty table starts untrained');
$node->safe_psql('postgres',
	'INSERT INTO empty_t SELECT i, vec(i) FROM generate_series(1, 3000) i');
ok(wait_for($node, "SELECT lancedb.index_stats('empty_idx')->>'trained'", 'true', 'training'),
	'the worker trains it once the table has rows');
is($node->safe_psql('postgres',
		"SELECT action || ' ' || status FROM lancedb.maintenance_status WHERE relation = 'empty_idx'"),
	'train done', 'maintenance_status records the training');
cmp_ok($node->safe_psql('postgres', "SELECT (lancedb.index_stats('empty_idx')->>'lists')::int"),
	'>', 1, 'trained index has lists');
is($node->safe_psql('postgres', "SET lancedb.nprobes = 1000; SELECT recall('empty_t', 0)"),
	'1.000', 'all lists probed: exact answers');

# --- skewed inserts: rebuilt while queries run, recall restored -----------
$node->safe_psql('postgres', q{
ALTER SYSTEM SET lancedb.maintenance = off; SELECT pg_reload_conf();
CREATE TABLE skew (id int PRIMARY KEY, v vector(16));
INSERT INTO skew SELECT i, vec(i) FROM generate_series(1, 6000) i;
CREATE INDEX skew_idx ON skew USING lance_ivf (v vector_l2_ops);
-- every new row lands near one place: one list swallows them
INSERT INTO skew SELECT 100000 + i, vec(i, 3) FROM generate_series(1, 9000) i;
});
is($node->safe_psql('postgres', "SELECT lancedb.optimize('skew_idx')->>'action'"),
	'retrain', 'optimize() finds the skewed index needs a rebuild');
my $after_optimize = $node->safe_psql('postgres',
	"SELECT action FROM lancedb.maintenance_status WHERE relation = 'skew_idx' ORDER BY id DESC LIMIT 1");
is($after_optimize, 'retrain', 'optimize() retrains the skewed index itself');

# skew again, and this time let the worker do it with queries running (the
# stale lists make queries into the new region scan one huge list: recall
# stays, speed goes; the rebuild must restore a fresh build's recall)
$node->safe_psql('postgres', q{
INSERT INTO skew SELECT 200000 + i, vec(i, -3) FROM generate_series(1, 16000) i;
});
my $skewed = $node->safe_psql('postgres', "SET lancedb.nprobes = 8; SELECT recall('skew', -3)");
my $bench_sql = $node->basedir . '/queries.sql';
open(my $fh, '>', $bench_sql) or die;
print $fh "\\set q random(1, 20000)\nSELECT id FROM skew ORDER BY v <-> vec(:q + 700000, -3) LIMIT 10;\n";
close $fh;
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '25', '-f', $bench_sql,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = on; SELECT pg_reload_conf()');
ok(wait_for($node, "SELECT count(*) FROM lancedb.maintenance_status WHERE relation = 'skew_idx' AND status = 'done'",
		'2', 'worker rebuild'), 'the worker rebuilds the skewed index');
$pgbench->finish;
is($? >> 8, 0, 'queries kept running during the rebuild (pgbench succeeded)')
  or diag($err);
like($out, qr/number of failed transactions: 0/, 'no query failed');
my $maintained = $node->safe_psql('postgres', "SET lancedb.nprobes = 8; SELECT recall('skew', -3)");
$node->safe_psql('postgres', 'REINDEX INDEX skew_idx');
my $fresh = $node->safe_psql('postgres', "SET lancedb.nprobes = 8; SELECT recall('skew', -3)");
note("recall@10 at nprobes 8: skewed $skewed, maintained $maintained, fresh build $fresh");
cmp_ok($maintained, '>=', $fresh - 0.01, 'maintained recall within 0.01 of a fresh build');
cmp_ok($node->safe_psql('postgres',
		"SELECT (lancedb.index_stats('skew_idx')->>'num_indexed_rows')::int"), '==', 31000,
	'every row indexed after the rebuild');

# --- kill -9 of the worker in the middle of a rebuild ----------------------
$node->safe_psql('postgres', q{
ALTER SYSTEM SET lancedb.maintenance = off; SELECT pg_reload_conf();
CREATE TABLE big (id int PRIMARY KEY, v vector(16));
INSERT INTO big SELECT i, vec(i) FROM generate_series(1, 20000) i;
CREATE INDEX big_idx ON big USING lance_ivf (v vector_l2_ops) WITH (max_iterations = 50);
INSERT INTO big SELECT 300000 + i, vec(i, 2) FROM generate_series(1, 200000) i;
ALTER SYSTEM SET lancedb.maintenance = on; SELECT pg_reload_conf();
});
ok(wait_for($node, "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'lancedb maintenance worker' "
		. "AND query LIKE 'REINDEX INDEX CONCURRENTLY public.big_idx%'", 't', 'rebuild start', 120),
	'the worker starts rebuilding big_idx');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'lancedb maintenance worker' LIMIT 1");
kill 'KILL', $pid if $pid;
ok(wait_for($node, 'SELECT 1', '1', 'restart after kill -9', 120), 'server back after kill -9 of the worker');
is($node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_idx'::regclass"), 't',
	'the original index is still valid');
is($node->safe_psql('postgres', "SET lancedb.nprobes = 1000; SELECT recall('big', 2)"), '1.000',
	'and exact with all lists probed');
ok(wait_for($node, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
		. "WHERE c.relname LIKE 'big_idx_cc%'", '0', 'cleanup', 180),
	'the leftover half-built index is dropped by a later round');
ok(wait_for($node, "SELECT count(*) FROM lancedb.maintenance_status WHERE relation = 'big_idx' AND status = 'running'",
		'0', 'stale running rows'), 'no action is left "running"');
like($node->safe_psql('postgres',
		"SELECT string_agg(status, ',' ORDER BY id) FROM lancedb.maintenance_status WHERE relation = 'big_idx'"),
	qr/failed/, 'the interrupted rebuild is recorded as failed');

$node->stop;
done_testing();
