# lance_bm25 with the maintenance worker loaded (shared_preload_libraries):
# inserts merge segments on the write path only within
# lancedb.bm25_insert_merge_limit docs and leave larger merges to
# maintenance, which then merges them in place (here on demand through
# lancedb.optimize, the worker's own round); scores stay equal to brute
# force throughout.  Last, bulk inserts leave many segments and the worker
# itself merges them: the segment count falls and a query gets cheaper,
# counted in buffer accesses (EXPLAIN (ANALYZE, BUFFERS)) and in segment
# searches of the top-k scan, not in time.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::Bin;
use Bm25Brute;
use LanceWait;

my $node = PostgreSQL::Test::Cluster->new('bm25wm');
$node->init;
# a long naptime: the launcher's first round (at start, before the
# extension exists) finds nothing, and no round runs during the test
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance = on
lancedb.maintenance_naptime = 86400
autovacuum = off
jit = off
));
$node->start;
for (my $i = 0; $i < 300; $i++)
{
	last if $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lancedb maintenance launcher'") eq '1';
	usleep(100_000);
}
sleep 1;

$node->safe_psql('postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION gen(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg((ARRAY['alpha','beta','gamma','delta','epsilon','zeta','eta','theta','iota','kappa','lambda','omega'])
                    [1 + floor(power(((hashint4(i * 97 + j) & 65535) / 65536.0)::float8, 2) * 12)::int], ' ')
    FROM generate_series(1, 3 + i % 11) j $$;
CREATE TABLE d (id int PRIMARY KEY, body text);
INSERT INTO d SELECT i, gen(i) FROM generate_series(1, 3000) i;
CREATE INDEX d_idx ON d USING lance_bm25 (body);
});
$node->safe_psql('postgres', $bm25_bf_sql);
$node->safe_psql('postgres', q{
-- what one top-10 query costs once the session's caches are warm: shared
-- buffer accesses (hits + reads) and segment searches of the top-k scan
CREATE FUNCTION qcost(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE p json;
BEGIN
  SET LOCAL enable_seqscan = off;
  PERFORM count(*) FROM (SELECT id FROM d ORDER BY body <&> q LIMIT 10) s;
  EXECUTE format('EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM d ORDER BY body <&> %L LIMIT 10', q) INTO p;
  RETURN ((p->0->'Plan'->>'Shared Hit Blocks')::int + (p->0->'Plan'->>'Shared Read Blocks')::int)
         || ' ' || (p->1->'Lancedb Scans'->0->>'segment searches');
END $$;
});

sub scores_ok
{
	my ($label) = @_;
	for my $q ('alpha', 'kappa omega')
	{
		my $ix = $node->safe_psql('postgres', "SET enable_seqscan = off; SELECT string_agg(round((-(body <&> '$q'))::numeric, 5)::text, ',') FROM (SELECT body FROM d ORDER BY body <&> '$q' LIMIT 15) s");
		my $bf = $node->safe_psql('postgres', "SELECT string_agg(round(score::numeric, 5)::text, ',') FROM (SELECT score FROM bf('$q') ORDER BY score DESC LIMIT 15) s");
		is($ix, $bf, "$label: top-15 scores of '$q' equal brute force");
	}
}

sub stats
{
	return $node->safe_psql('postgres',
		"SELECT (s->>'num_segments') || ' ' || (s->>'merges') FROM lancedb.index_stats('d_idx') s");
}

# write path bounded at 600 docs: tier-0 merges (4 x 128) run, tier-1 ones (4 x 512) wait
$node->safe_psql('postgres', q{
SET lancedb.bm25_insert_merge_limit = 600;
DO $$ BEGIN FOR i IN 3001..7200 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
});
my ($segs, $merges) = split / /, stats();
cmp_ok($merges, '>', 0, "small merges ran on the write path ($merges)");
cmp_ok($segs, '>=', 1 + 4, "tier-1 segments waited for maintenance ($segs segments)");
my $t1 = $node->safe_psql('postgres',
	"SELECT count(*) FROM lancedb.index_stats('d_idx') s, jsonb_array_elements(s->'segments') e WHERE (e->>'tier')::int = 1");
cmp_ok($t1, '>=', 4, "a full tier was left unmerged ($t1 tier-1 segments)");
scores_ok('bounded write path');

# maintenance merges them in place
my $adv = $node->safe_psql('postgres', "SELECT o->>'action' FROM lancedb.optimize('d_idx') o");
is($adv, 'merge', 'maintenance merged');
my ($segs2) = split / /, stats();
cmp_ok($segs2, '<', $segs, "fewer segments after maintenance ($segs -> $segs2)");
cmp_ok($segs2, '<=', 3, 'a large segment and at most two smaller ones');
scores_ok('after maintenance');

# without the bound the write path merges as before preload
$node->safe_psql('postgres', q{
SET lancedb.bm25_insert_merge_limit = -1;
DO $$ BEGIN FOR i IN 7201..9400 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
});
my $t1b = $node->safe_psql('postgres',
	"SELECT count(*) FROM lancedb.index_stats('d_idx') s, jsonb_array_elements(s->'segments') e GROUP BY e->>'tier' ORDER BY 1 DESC LIMIT 1");
cmp_ok($t1b, '<', 4, 'no limit: no tier holds 4 segments');
scores_ok('unbounded write path');

# --- the worker merges what bulk inserts left ------------------------------
# with the write path merging nothing (limit 1 doc), every delta flush
# stays a segment
$node->safe_psql('postgres', q{
SET lancedb.bm25_insert_merge_limit = 1;
DO $$ BEGIN FOR i IN 9401..13000 LOOP INSERT INTO d VALUES (i, gen(i)); END LOOP; END $$;
});
my ($many) = split / /, stats();
cmp_ok($many, '>=', 25, "bulk inserts left many segments ($many)");
my %before = map { $_ => [ split / /, $node->safe_psql('postgres', "SELECT qcost('$_')") ] } ('alpha', 'kappa omega');
scores_ok('many segments');

# the worker's first round after a restart with a short naptime
$node->append_conf('postgresql.conf', "lancedb.maintenance_naptime = 1\n");
$node->restart;
ok(wait_for($node, "SELECT (lancedb.index_stats('d_idx')->>'num_segments')::int <= 3", 't', 'worker merges', 120),
	'the worker merges the segments');
is($node->safe_psql('postgres', "SELECT count(*) > 0 FROM lancedb.maintenance_status WHERE relation = 'd_idx' AND action = 'merge' AND status = 'done' AND started > pg_postmaster_start_time()"),
	't', 'maintenance_status records the worker\'s merge');
my ($few) = split / /, stats();
cmp_ok($few, '<', $many, "segment count falls ($many -> $few)");
for my $q ('alpha', 'kappa omega')
{
	my ($bufs, $searches) = split / /, $node->safe_psql('postgres', "SELECT qcost('$q')");
	note("'$q': buffers $before{$q}[0] -> $bufs, segment searches $before{$q}[1] -> $searches");
	cmp_ok($searches, '<', $before{$q}[1], "'$q': fewer segment searches ($before{$q}[1] -> $searches)");
	cmp_ok($bufs * 3, '<=', $before{$q}[0] * 2, "'$q': a third fewer buffer accesses at least ($before{$q}[0] -> $bufs)");
}
scores_ok('after the worker merged');

$node->stop;
done_testing();
