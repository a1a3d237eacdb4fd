
# lance_ivf in-place rebalancing (shared_preload_libraries = 'lancedb'):
# skewed inserts swell one list; the background worker splits it in place
# (no rebuild) within a bounded time while pgbench clients keep querying
# and inserting into the region being split, and recall@10 comes back to
# within 0.01 of a fresh build.  kill -9 of a backend in the middle of a
# rebalancing run leaves the index consistent: every row found exactly
# once, and search with every list probed equals an exact scan.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use LanceWait;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('rebalance');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance = off
lancedb.maintenance_naptime = 1
# this test is about splits: keep drift-triggered rebuilds out of it
lancedb.ivf_retrain_drift = 3
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
-- recall@10 of 40 queries through the index against exact search
CREATE FUNCTION recall(tbl regclass, shift real) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE q int; hits int := 0; a bigint[]; e bigint[];
BEGIN
  FOR q IN SELECT g * 97 FROM generate_series(1, 40) g LOOP
    SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> vec($1, $2) LIMIT 10) s', tbl)
      INTO a USING q + 500000, shift;
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> vec($1, $2) LIMIT 10) s', tbl)
      INTO e USING q + 500000, shift;
    SET LOCAL enable_indexscan = on;
    hits := hits + cardinality(ARRAY(SELECT unnest(a) INTERSECT SELECT unnest(e)));
  END LOOP;
  RETURN round(hits / 400.0, 3);
END $$;
-- rows returned through the index (every list probed), and distinct ids
CREATE FUNCTION index_rows(tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  SET LOCAL lancedb.nprobes = 100000; SET LOCAL enable_seqscan = off;
  EXECUTE format('SELECT count(*) || '' '' || count(DISTINCT id) FROM (SELECT id FROM %s ORDER BY v <-> vec(1) LIMIT 10000000) s', tbl)
    INTO r;
  RETURN r;
END $$;
});

# --- the worker splits a swollen list while queries and inserts run --------
$node->safe_psql('postgres', q{
CREATE SEQUENCE skew_ids START 1000000;
CREATE SEQUENCE new_vecs START 800000;
CREATE TABLE skew (id bigint PRIMARY KEY DEFAULT nextval('skew_ids'), v vector(16));
INSERT INTO skew SELECT i, vec(i) FROM generate_series(1, 8000) i;
CREATE INDEX skew_idx ON skew USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'rq');
-- growth stays below lancedb.ivf_retrain_growth: no rebuild, a rebalance
INSERT INTO skew SELECT 100000 + i, vec(i, 3) FROM generate_series(1, 5000) i;
});
my $lists_before = $node->safe_psql('postgres', "SELECT lancedb.index_stats('skew_idx')->>'lists'");
my $skewed = $node->safe_psql('postgres', "SET lancedb.nprobes = 2; SELECT recall('skew', 3)");

my $bench_sql = $node->basedir . '/queries.sql';
open(my $fh, '>', $bench_sql) or die;
# distinct vectors (no ties in the recall checks); about 1500 rows in all,
# so growth stays below lancedb.ivf_retrain_growth
print $fh "\\set q random(1, 20000)\n"
  . "SELECT id FROM skew ORDER BY v <-> vec(:q + 700000, 3) LIMIT 10;\n"
  . "INSERT INTO skew (v) VALUES (vec(nextval('new_vecs')::int, 3.02));\n"
  . "\\sleep 20 ms\n";
close $fh;
my ($out, $err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '2', '-T', '20', '-f', $bench_sql,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$out, '2>', \$err);
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = on; SELECT pg_reload_conf()');
ok(wait_for($node, "SELECT count(*) > 0 FROM lancedb.maintenance_status WHERE relation = 'skew_idx' "
		. "AND action = 'split' AND status = 'done'", 't', 'worker split', 60),
	'the worker splits the swollen list within 60 s');
ok(wait_for($node, "SELECT (lancedb.index_stats('skew_idx')->'list_size'->>'max')::float8 <= "
		. "3 * (lancedb.index_stats('skew_idx')->'list_size'->>'mean')::float8", 't', 'balanced', 60),
	'no list is left above lancedb.ivf_split_ratio x the mean');
$pgbench->finish;
is($? >> 8, 0, 'queries and inserts kept running during the splits (pgbench succeeded)')
  or diag($err);
like($out, qr/number of failed transactions: 0/, 'no query or insert failed');
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = off; SELECT pg_reload_conf()');
# a round that started before the reload finishes its current operation
ok(wait_for($node, "SELECT count(*) FROM lancedb.maintenance_status WHERE relation = 'skew_idx' AND status = 'running'",
		'0', 'round over', 120),
	'the worker finishes the operation it had started');
note($node->safe_psql('postgres',
		"SELECT string_agg(action || ' ' || status || ': ' || coalesce(detail, ''), E'\n' ORDER BY id) FROM lancedb.maintenance_status WHERE relation = 'skew_idx'"));
like($node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT action || ' ' || status, ',') FROM lancedb.maintenance_status WHERE relation = 'skew_idx'"),
	qr/^(merge done,)?split done$/, 'rebalanced in place: splits (and merges), all done, no rebuild');
my $lists_after = $node->safe_psql('postgres', "SELECT lancedb.index_stats('skew_idx')->>'lists'");
cmp_ok($lists_after, '>', $lists_before, "list count grew ($lists_before -> $lists_after)");
my $n = $node->safe_psql('postgres', 'SELECT count(*) FROM skew');
is($node->safe_psql('postgres', "SELECT index_rows('skew')"), "$n $n",
	'every row (also those inserted during the splits) found once through the index');
is($node->safe_psql('postgres', "SET lancedb.nprobes = 100000; SET lancedb.refine_factor = 10000; SELECT recall('skew', 3)"),
	'1.000', 'all lists probed: exact answers');
my $maintained = $node->safe_psql('postgres', "SET lancedb.nprobes = 2; SELECT recall('skew', 3)");
my $maintained0 = $node->safe_psql('postgres', "SET lancedb.nprobes = 2; SELECT recall('skew', 0)");
$node->safe_psql('postgres', 'REINDEX INDEX skew_idx');
my $fresh = $node->safe_psql('postgres', "SET lancedb.nprobes = 2; SELECT recall('skew', 3)");
my $fresh0 = $node->safe_psql('postgres', "SET lancedb.nprobes = 2; SELECT recall('skew', 0)");
note("recall@10 at nprobes 2, skewed region: skewed $skewed, maintained $maintained, fresh build $fresh; "
	. "original region: maintained $maintained0, fresh $fresh0");
cmp_ok($maintained, '>=', $fresh - 0.01, 'maintained recall (skewed region) within 0.01 of a fresh build');
cmp_ok($maintained0, '>=', $fresh0 - 0.01, 'maintained recall (original region) within 0.01 of a fresh build');

# --- kill -9 in the middle of a rebalancing run -----------------------------
$node->safe_psql('postgres', q{
CREATE TABLE big (id bigint PRIMARY KEY, v vector(16));
INSERT INTO big SELECT i, vec(i) FROM generate_series(1, 20000) i;
CREATE INDEX big_idx ON big USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'sq');
INSERT INTO big SELECT 300000 + i, vec(i, 2) FROM generate_series(1, 12000) i;
});
my $big_lists = $node->safe_psql('postgres', "SELECT lancedb.index_stats('big_idx')->>'lists'");
my @seen;
for my $delay_ms (150, 400, 800)
{
	my ($o, $e) = ('', '');
	my $opt = IPC::Run::start(
		[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		  '-c', "SELECT lancedb.optimize('big_idx')" ],
		'>', \$o, '2>', \$e);
	usleep($delay_ms * 1000);
	my $pid = $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT lancedb.optimize(%' AND pid <> pg_backend_pid()");
	kill 'KILL', $pid if $pid;
	$opt->finish;
	ok(wait_for($node, 'SELECT 1', '1', 'restart after kill -9', 120), "server back after kill -9 at ${delay_ms} ms");
	push @seen, $node->safe_psql('postgres', "SELECT lancedb.index_stats('big_idx')->>'lists'");
	my $bn = $node->safe_psql('postgres', 'SELECT count(*) FROM big');
	is($node->safe_psql('postgres', "SELECT index_rows('big')"), "$bn $bn",
		"after kill -9 at ${delay_ms} ms: every row found once");
	is($node->safe_psql('postgres',
			"SET lancedb.nprobes = 100000; SET lancedb.refine_factor = 10000; SELECT recall('big', 2)"),
		'1.000', "after kill -9 at ${delay_ms} ms: exact with all lists probed");
}
note("lists of big_idx: $big_lists at build, after each kill: @seen");
# a run to the end after the crashes
like($node->safe_psql('postgres', "SELECT lancedb.optimize('big_idx')->>'action'"),
	qr/^(split|none)$/, 'a later run completes');
is($node->safe_psql('postgres',
		"SET lancedb.nprobes = 100000; SET lancedb.refine_factor = 10000; SELECT recall('big', 2)"),
	'1.000', 'and the index is exact with all lists probed');
$node->safe_psql('postgres', 'INSERT INTO big SELECT 900000 + i, vec(i, 2.1) FROM generate_series(1, 500) i');
my $bn = $node->safe_psql('postgres', 'SELECT count(*) FROM big');
is($node->safe_psql('postgres', "SELECT index_rows('big')"), "$bn $bn",
	'inserts after recovery land in scanned lists');

# --- retired pages are recycled --------------------------------------------
$node->safe_psql('postgres', 'CREATE EXTENSION pg_freespacemap');
$node->safe_psql('postgres', 'VACUUM big');
my $free_before = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_freespace('big_idx') WHERE avail > 0");
cmp_ok($free_before, '>', 0, "VACUUM puts pages retired by rebalancing in the free space map ($free_before)");
my $size_before = $node->safe_psql('postgres', "SELECT pg_relation_size('big_idx')");
$node->safe_psql('postgres', 'INSERT INTO big SELECT 950000 + i, vec(i, -2) FROM generate_series(1, 6000) i');
$node->safe_psql('postgres', "SELECT lancedb.optimize('big_idx')");
my $free_after = $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_freespace('big_idx') WHERE avail > 0");
my $size_after = $node->safe_psql('postgres', "SELECT pg_relation_size('big_idx')");
note("free pages $free_before -> $free_after, index size $size_before -> $size_after");
cmp_ok($free_after, '<', $free_before, 'the next rebalancing writes into recycled pages');
$bn = $node->safe_psql('postgres', 'SELECT count(*) FROM big');
is($node->safe_psql('postgres', "SELECT index_rows('big')"), "$bn $bn",
	'every row found once after rebalancing into recycled pages');
is($node->safe_psql('postgres',
		"SET lancedb.nprobes = 100000; SET lancedb.refine_factor = 10000; SELECT recall('big', -2)"),
	'1.000', 'and exact with all lists probed');

$node->stop;
done_testing();
