
# kill -9 of the maintenance worker in the middle of a lance_bm25 merge
# (shared_preload_libraries = 'lancedb'; the merge is slowed down by the
# worker's cost-based delay so that the kill lands inside it).  After the
# crash restart the index is consistent: every row is found exactly once,
# top-k scores equal a brute-force BM25 to 1e-5 (also after a VACUUM, which
# recycles what the abandoned merge wrote once no snapshot can need it), and
# a later round of the worker completes the merges.  Then kill -9 of a
# VACUUM in its index cleanup (before it rewrote the segments it marked
# docs in, so df still counts them): the worker's next round rewrites them
# and scores equal brute force again.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use Bm25Brute;
use LanceWait;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('bm25kill');
$node->init;
# no round until the segments are there (the first one, at start, finds
# no extension); a slow merge: 50 ms of sleep per buffer-cost unit
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance = on
lancedb.maintenance_naptime = 86400
lancedb.maintenance_cost_delay = 50
lancedb.maintenance_cost_limit = 1
autovacuum = off
restart_after_crash = on
jit = off
));
$node->start;
ok(wait_for($node, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lancedb maintenance launcher'",
		'1', 'launcher'), 'the launcher runs');

$node->safe_psql('postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION gen(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'common ' || string_agg((ARRAY['alpha','beta','gamma','delta','epsilon','zeta','eta','theta','iota','kappa','lambda','omega'])
                    [1 + floor(power(((hashint4(i * 97 + j) & 65535) / 65536.0)::float8, 2) * 12)::int], ' ')
    FROM generate_series(1, 3 + i % 11) j $$;
CREATE TABLE d (id int PRIMARY KEY, body text);
INSERT INTO d SELECT i, gen(i) FROM generate_series(1, 2000) i;
CREATE INDEX d_idx ON d USING lance_bm25 (body);
});
$node->safe_psql('postgres', $bm25_bf_sql . $bm25_check_sql);
# bulk inserts with the write path merging nothing: one segment per delta
# flush; deletes vacuumed (exact statistics before the merge)
$node->safe_psql('postgres', q{
SET lancedb.bm25_insert_merge_limit = 1;
DO $$ BEGIN FOR i IN 2001..6000 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
DELETE FROM d WHERE id % 10 = 3;
});
$node->safe_psql('postgres', 'VACUUM d');

my $idx = 'SET enable_seqscan = off; SET enable_bitmapscan = off; ';

sub segments
{
	return $node->safe_psql('postgres', "SELECT (lancedb.index_stats('d_idx')->>'num_segments')::int");
}

sub check_index
{
	my ($label) = @_;
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM d');
	is($node->safe_psql('postgres', $idx . "SELECT count(*) || '/' || count(DISTINCT id) FROM d WHERE body @@@ 'common'"),
		"$rows/$rows", "$label: every row once through the index");
	is($node->safe_psql('postgres', $idx . "SELECT count(*) FROM d WHERE body @@@ 'kappa'"),
		$node->safe_psql('postgres', "SELECT count(*) FROM d WHERE 'kappa' = ANY(lancedb.tokenize(body, 'd_idx'::regclass))"),
		"$label: matches of kappa");
	is($node->safe_psql('postgres', $idx . "SELECT check_q('alpha', 10) || check_q('kappa omega', 30) || check_q('theta', 6000)"),
		'okokok', "$label: top-k scores equal brute force");
}

my $before = segments();
cmp_ok($before, '>=', 25, "bulk inserts left many segments ($before)");

# a round now: the worker starts merging (slowly); kill it inside
$node->append_conf('postgresql.conf', "lancedb.maintenance_naptime = 1\n");
$node->restart;
ok(wait_for($node, "SELECT count(*) FROM lancedb.maintenance_status WHERE relation = 'd_idx' AND status = 'running'",
		'1', 'merge start', 120), 'the worker starts merging');
usleep(1_500_000);
my ($pid, $running) = split /\|/, $node->safe_psql('postgres',
	"SELECT pid, (SELECT count(*) FROM lancedb.maintenance_status WHERE relation = 'd_idx' AND status = 'running') "
	. "FROM pg_stat_activity WHERE backend_type = 'lancedb maintenance worker' LIMIT 1");
ok(defined $pid && $pid =~ /^\d+$/ && $running eq '1', 'the worker is still merging 1.5 s later');
my $merges = $node->safe_psql('postgres', "SELECT (lancedb.index_stats('d_idx')->>'merges')::int");
kill 'KILL', $pid if defined $pid && $pid =~ /^\d+$/;
ok(wait_for($node, 'SELECT 1', '1', 'restart after kill -9', 120), 'server back after kill -9 of the worker');
# what is left of the interrupted run
my $mid = segments();
note("segments: $before before, $mid after the kill; merges done before the kill: $merges");

# consistent right away (the worker may already merge again: both fine)
check_index('after the kill');

# VACUUM after the crash (page recycling); still consistent
$node->safe_psql('postgres', 'VACUUM d');
check_index('after VACUUM');

# a later round completes the merges (quickly now)
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance_cost_delay = 0; SELECT pg_reload_conf()');
ok(wait_for($node, "SELECT count(*) > 0 FROM lancedb.maintenance_status WHERE relation = 'd_idx' AND action = 'merge' AND status = 'done'",
		't', 'merge done', 180), 'a later round completes a merge');
ok(wait_for($node, "SELECT (lancedb.index_stats('d_idx')->>'num_segments')::int <= 3", 't', 'few segments', 180),
	'and the segments are merged');
ok(wait_for($node, "SELECT count(*) FROM lancedb.maintenance_status WHERE relation = 'd_idx' AND status = 'running'",
		'0', 'no running row'), 'no action is left "running"');
like($node->safe_psql('postgres',
		"SELECT string_agg(status, ',' ORDER BY id) FROM lancedb.maintenance_status WHERE relation = 'd_idx'"),
	qr/^failed,.*done/, 'the killed merge is recorded as failed, a later one as done');
check_index('after the later merge');
is($node->safe_psql('postgres', "SELECT (lancedb.index_stats('d_idx')->>'num_docs')::int"),
	$node->safe_psql('postgres', 'SELECT count(*) FROM d'), 'N counts live rows');

# --- kill -9 of a VACUUM before its segment rewrites ------------------------
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = off; SELECT pg_reload_conf()');
$node->safe_psql('postgres', q{
SET lancedb.bm25_insert_merge_limit = 1;
DO $$ BEGIN FOR i IN 6001..7000 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
DELETE FROM d WHERE id % 20 = 7;
});
my $vac = $node->background_psql('postgres', on_error_stop => 0);
$vac->query_until(qr/started/, "SET vacuum_cost_delay = 20; SET vacuum_cost_limit = 1;\n\\echo started\nVACUUM d;\n");
ok(wait_for($node, "SELECT phase FROM pg_stat_progress_vacuum WHERE relid = 'd'::regclass", 'cleaning up indexes',
		'vacuum cleanup', 180), 'VACUUM reaches its index cleanup');
# its deletion marks are in the WAL on disk (a WAL switch flushes; VACUUM
# has no xid, so nothing else would): the crash lands after them
my $vpid = $node->safe_psql('postgres',
	"SELECT pg_switch_wal() IS NOT NULL; SELECT pid FROM pg_stat_progress_vacuum WHERE relid = 'd'::regclass");
$vpid = (split /\n/, $vpid)[-1];
kill 'KILL', $vpid if $vpid =~ /^\d+$/;
eval { $vac->quit; };
ok(wait_for($node, 'SELECT 1', '1', 'restart after kill -9', 120), 'server back after kill -9 of VACUUM');
cmp_ok($node->safe_psql('postgres',
		"SELECT count(*) FROM lancedb.index_stats('d_idx') s, jsonb_array_elements(s->'segments') e WHERE (e->>'deleted')::int > 0"),
	'>', 0, 'the interrupted VACUUM left segments with deleted docs');
is($node->safe_psql('postgres', "SELECT (lancedb.index_stats('d_idx')->>'num_docs')::int"),
	$node->safe_psql('postgres', 'SELECT count(*) FROM d'), 'N counts live rows after the interrupted VACUUM');
note('scores before the repair: ' . $node->safe_psql('postgres', $idx . "SELECT check_q('alpha', 10) || ' ' || check_q('kappa omega', 30)"));
# (5% deleted: fewer than lancedb.bm25_purge_fraction, rewritten anyway)
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = on; SELECT pg_reload_conf()');
ok(wait_for($node,
		"SELECT count(*) FROM lancedb.index_stats('d_idx') s, jsonb_array_elements(s->'segments') e WHERE (e->>'deleted')::int > 0",
		'0', 'rewrites', 180), 'the worker rewrites them');
check_index('after the worker repaired the interrupted VACUUM');

$node->stop;
done_testing();
