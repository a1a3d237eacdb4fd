
# Re-ranking reads exact vectors from the table under the scan's snapshot
# (src/am/heapdist.c, src/am/toastfetch.c read heap and toast pages
# directly).  A REPEATABLE READ transaction opened before another session
# updates, HOT-updates and deletes rows (and moves one row onto the query)
# must keep getting, through lance_ivf and lance_hnsw, the answer it got
# before, equal to its own exact scan; once it commits, the next queries
# see the changes, again equal to exact search.  In-line and TOASTed
# (600-dimension, two-chunk) vectors.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rerank_snap');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
));
$node->start;

# table => [dimensions, index definition]
my %cfg = (
	s_ivf  => [ 16,  q{lance_ivf (v vector_l2_ops) WITH (lists = 8, quantizer = 'rq')} ],
	s_hnsw => [ 16,  q{lance_hnsw (v vector_l2_ops) WITH (quantizer = 'sq', m = 8, ef_construction = 64)} ],
	s_toast => [ 600, q{lance_ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'sq')} ],);
my @tables = sort keys %cfg;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int, d int) RETURNS vector IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg(sin(i * 0.71 + j * 1.3 + (i % 7) * j * 0.2)::real ORDER BY j)::vector
    FROM generate_series(1, d) j
$$;
-- top k ids:distances, through the index or by an exact scan
CREATE FUNCTION topk(tbl text, d int, qi int, k int, use_index bool) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  SET LOCAL lancedb.nprobes = 64;
  SET LOCAL lancedb.refine_factor = 100;
  SET LOCAL lancedb.ef_search = 400;
  SET LOCAL lancedb.iterative_scan = off;
  SET LOCAL enable_bitmapscan = off;
  IF use_index THEN
    SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = on;
  ELSE
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
  END IF;
  EXECUTE format('SELECT string_agg(id || '':'' || dist, '','' ORDER BY dist, id) FROM '
                 '(SELECT id, v <-> $1 AS dist FROM %I ORDER BY v <-> $1 LIMIT %s) s', tbl, k)
    INTO r USING vec(qi, d);
  RETURN r;
END $$;
});
for my $t (@tables)
{
	my ($d, $idx) = @{ $cfg{$t} };
	$node->safe_psql(
		'postgres', qq{
CREATE TABLE $t (id int, pad int, v vector($d)) WITH (fillfactor = 50);
ALTER TABLE $t ALTER v SET STORAGE EXTERNAL;
INSERT INTO $t SELECT i, 0, vec(i, $d) FROM generate_series(1, 400) i;
CREATE INDEX ${t}_idx ON $t USING $idx;
});
	like($node->safe_psql('postgres', qq{SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM $t ORDER BY v <-> vec(1, $d) LIMIT 5}),
		qr/Index Scan using ${t}_idx/, "$t: the query uses the index");
}
is( $node->safe_psql('postgres', q{SELECT count(DISTINCT chunk_id) FROM pg_toast.pg_toast_} .
		$node->safe_psql('postgres', q{SELECT 's_toast'::regclass::oid})),
	'400', 's_toast: every vector stored out of line');

my $bg = $node->background_psql('postgres', on_error_stop => 1);
$bg->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
my %before;
for my $t (@tables)
{
	my $d = $cfg{$t}[0];
	for my $qi (1001 .. 1004)
	{
		my $ix = $bg->query_safe(qq{SELECT topk('$t', $d, $qi, 10, true)});
		my $ex = $bg->query_safe(qq{SELECT topk('$t', $d, $qi, 10, false)});
		is($ix, $ex, "$t q$qi: index = exact before the changes");
		$before{"$t/$qi"} = $ix;
	}
}

# another session changes the rows nearest to each query: new vectors
# (one moved onto the query itself), HOT updates, deletes; a row near two
# queries is changed for the first one only
my %moved;
for my $t (@tables)
{
	my $d = $cfg{$t}[0];
	my %touched;
	for my $qi (1001 .. 1004)
	{
		my @ids = grep { !$touched{$_}++ } map { (split /:/)[0] } split /,/, $before{"$t/$qi"};
		next if @ids < 7;
		$moved{"$t/$qi"} = $ids[0];
		$node->safe_psql(
			'postgres', qq{
UPDATE $t SET v = vec($qi, $d) WHERE id = $ids[0];
UPDATE $t SET v = vec(id + 7000, $d) WHERE id IN ($ids[1], $ids[2]);
UPDATE $t SET pad = pad + 1 WHERE id IN ($ids[3], $ids[4]);
UPDATE $t SET pad = pad + 1 WHERE id IN ($ids[3], $ids[4]);
DELETE FROM $t WHERE id IN ($ids[5], $ids[6]);
});
	}
}

for my $t (@tables)
{
	my $d = $cfg{$t}[0];
	for my $qi (1001 .. 1004)
	{
		is($bg->query_safe(qq{SELECT topk('$t', $d, $qi, 10, true)}),
			$before{"$t/$qi"}, "$t q$qi: the repeatable read snapshot still sees the old rows");
	}
}
$bg->query_safe('COMMIT');

for my $t (@tables)
{
	my $d = $cfg{$t}[0];
	for my $qi (1001 .. 1004)
	{
		my $ix = $bg->query_safe(qq{SELECT topk('$t', $d, $qi, 10, true)});
		my $ex = $bg->query_safe(qq{SELECT topk('$t', $d, $qi, 10, false)});
		is($ix, $ex, "$t q$qi: index = exact after the changes");
		my $m = $moved{"$t/$qi"};
		like($ix, qr/^$m:0(,|$)/, "$t q$qi: the row moved onto the query comes first")
		  if defined $m;
	}
}
$bg->quit;
ok(scalar(keys %moved) >= 6, 'most queries had rows of their own to change');

done_testing();
