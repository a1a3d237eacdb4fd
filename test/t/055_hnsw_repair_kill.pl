
# kill -9 of the maintenance worker in the middle of a lance_hnsw repair
# (slowed down with lancedb.maintenance_cost_delay): after crash recovery
# the index holds some tombstones that were never rewired around (or
# flagged REPAIRED); searches must still give exact results with a wide
# ef_search, no row may be lost, a later repair must finish, and VACUUM
# must leave exactly the live rows.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use LanceWait;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('hnsw_repair_kill');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance = off
lancedb.maintenance_naptime = 1
autovacuum = off
restart_after_crash = on
));
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int) RETURNS vector(16) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg(sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071))::real ORDER BY j)::vector(16)
  FROM generate_series(0, 15) j $$;
CREATE TABLE h (id int PRIMARY KEY, v vector(16));
INSERT INTO h SELECT i, vec(i) FROM generate_series(1, 6000) i;
CREATE INDEX h_idx ON h USING lance_hnsw (v vector_l2_ops) WITH (m = 12, quantizer = 'sq');
});

# exact search with a wide ef: k-NN through the index against a seq scan
my $idx = 'SET enable_seqscan = off; SET enable_bitmapscan = off; SET lancedb.ef_search = 400; ';
my $seq = 'SET enable_indexscan = off; SET enable_bitmapscan = off; ';
sub check_exact
{
	my ($label) = @_;
	my ($same, $total) = (0, 0);
	for my $q (7, 3333, 4567, 5999, 777777)
	{
		my $knn = "SELECT string_agg(id::text, ',' ORDER BY d, id) FROM "
		  . "(SELECT id, v <-> vec($q) AS d FROM h ORDER BY v <-> vec($q) LIMIT 10) s";
		$same++ if $node->safe_psql('postgres', $idx . $knn) eq $node->safe_psql('postgres', $seq . $knn);
		$total++;
	}
	is($same, $total, "$label: k-NN with ef_search 400 equals exact search ($same/$total queries)");

	# every live row once through the index (the sweep of an iterative scan included)
	is($node->safe_psql('postgres', $idx . q{SET lancedb.max_scan_tuples = 1000000;
SELECT count(*) = (SELECT count(*) FROM h) AND count(DISTINCT id) = count(*)
  FROM (SELECT id FROM h ORDER BY v <-> vec(4321)) s}),
		't', "$label: ORDER BY over everything returns every live row once");
}

# 40% dead, spread out and in runs, so the repair has a lot to do
$node->safe_psql('postgres', q{DELETE FROM h WHERE id % 5 < 1 OR (id / 100) % 5 = 2});
$node->safe_psql('postgres', q{SELECT pg_stat_force_next_flush()});
my $live = $node->safe_psql('postgres', 'SELECT count(*) FROM h');

my $dead = 6000 - $live;
# a slow repair: the worker sleeps 20 ms every 200 buffer accesses (the
# rewiring reads a few elements per list: minutes for all of them)
$node->safe_psql('postgres', q{
ALTER SYSTEM SET lancedb.maintenance_cost_delay = 20;
ALTER SYSTEM SET lancedb.maintenance_cost_limit = 200;
ALTER SYSTEM SET lancedb.maintenance = on;
SELECT pg_reload_conf();
});

# wait until the repair has marked every dead element (its first pass)
# and is rewiring lists, then kill it in the middle of that
ok(wait_for($node, qq{SELECT (lancedb.index_stats('h_idx')->>'deleted_nodes')::int = $dead
		AND EXISTS (SELECT FROM lancedb.maintenance_status WHERE relation = 'h_idx' AND action = 'repair' AND status = 'running')},
		't', 'repair under way', 120),
	'the worker is rewiring h_idx (every dead element marked)');
usleep(3_000_000);
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'lancedb maintenance worker' LIMIT 1});
ok($pid, "found the worker ($pid)");
is($node->safe_psql('postgres',
		q{SELECT status FROM lancedb.maintenance_status WHERE relation = 'h_idx' AND action = 'repair' ORDER BY id DESC LIMIT 1}),
	'running', 'killed while the repair is running');
kill 'KILL', $pid if $pid;
ok(wait_for($node, 'SELECT 1', '1', 'restart after kill -9', 120), 'server back after kill -9 of the worker');
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = off; SELECT pg_reload_conf()');

my $stats = $node->safe_psql('postgres',
	q{SELECT (s->>'deleted_nodes') || '/' || (s->>'repaired_nodes') FROM lancedb.index_stats('h_idx') s});
note("after the crash: deleted/repaired nodes $stats");
my ($tomb, $repaired) = split m{/}, $stats;
cmp_ok($tomb, '>', $repaired, 'the crash left tombstones that were not flagged repaired');
check_exact('after kill -9 mid-repair');
is($node->safe_psql('postgres', 'SELECT count(*) FROM h'), $live, 'no row lost');

# a second repair takes up the tombstones the first one left (ANALYZE: the
# crash reset the statistics the worker reads the dead rows from)
$node->safe_psql('postgres', q{
ANALYZE h;
ALTER SYSTEM SET lancedb.maintenance_cost_delay = 0;
ALTER SYSTEM SET lancedb.maintenance = on;
SELECT pg_reload_conf();
});
ok(wait_for($node, q{SELECT count(*) > 0 FROM lancedb.maintenance_status WHERE relation = 'h_idx' AND action = 'repair' AND status = 'done'},
		't', 'second repair', 180),
	'a later repair of h_idx completes');
like($node->safe_psql('postgres',
		q{SELECT string_agg(status, ',' ORDER BY id) FROM lancedb.maintenance_status WHERE relation = 'h_idx' AND action = 'repair'}),
	qr/failed/, 'the interrupted repair is recorded as failed');
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = off; SELECT pg_reload_conf()');
is($node->safe_psql('postgres',
		q{SELECT (s->>'deleted_nodes') || '/' || (s->>'repaired_nodes') FROM lancedb.index_stats('h_idx') s}),
	"$dead/$dead", 'every dead element repaired, those of the killed repair included');
check_exact('after the second repair');

# VACUUM repairs what the crash left and frees every dead element
$node->safe_psql('postgres', 'VACUUM h');
is($node->safe_psql('postgres',
		q{SELECT (s->>'num_indexed_rows')::int || '/' || (s->>'deleted_nodes') FROM lancedb.index_stats('h_idx') s}),
	"$live/0", 'after VACUUM: exactly the live rows, no tombstone left');
check_exact('after VACUUM');

# and inserts reuse the freed elements without losing anything
$node->safe_psql('postgres', q{INSERT INTO h SELECT 100000 + i, vec(100000 + i) FROM generate_series(1, 2000) i});
check_exact('after inserts into freed elements');

$node->stop;
done_testing();
