
# The background worker (shared_preload_libraries = 'lancedb') on lance_hnsw:
# after many deletes (spread out, then whole neighbourhoods) it repairs the
# graph on its own (the neighbours of dead elements are rewired while
# queries run), recall stays that of a fresh build, and the following
# VACUUM only frees what was repaired.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use LanceWait;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('worker_hnsw');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance_naptime = 1
autovacuum = off
));
$node->start;


$node->safe_psql('postgres', q{
CREATE EXTENSION lancedb;
CREATE TABLE h (id int PRIMARY KEY, v vector(16));
INSERT INTO h SELECT i, (SELECT array_agg(sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071))::real ORDER BY j)
                           FROM generate_series(0, 15) j)::vector
  FROM generate_series(1, 6000) i;
CREATE INDEX h_idx ON h USING lance_hnsw (v vector_l2_ops);
-- recall@10 of 40 queries through an index against exact search
CREATE FUNCTION recall(tbl regclass) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE q int; hits int := 0; a int[]; e int[]; qv vector;
BEGIN
  FOR q IN SELECT g * 149 FROM generate_series(1, 40) g LOOP
    SELECT (SELECT array_agg(sin(q * 0.0137 * (j + 1) + j * 0.9 + cos(q * 0.071) + 0.01)::real ORDER BY j)
              FROM generate_series(0, 15) j)::vector INTO qv;
    SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> $1 LIMIT 10) s', tbl) INTO a USING qv;
    SET LOCAL enable_seqscan = on; SET LOCAL enable_indexscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %s ORDER BY v <-> $1 LIMIT 10) s', tbl) INTO e USING qv;
    RESET enable_indexscan;
    SELECT hits + count(*) INTO hits FROM unnest(a) x WHERE x = ANY (e);
  END LOOP;
  RETURN round(hits / 400.0, 3);
END $$;
});

# the worker's repair, then recall against a fresh build of the same rows
my $round = 0;
sub repaired_recall
{
	my ($what) = @_;
	$round++;
	$node->safe_psql('postgres', q{SELECT pg_stat_force_next_flush()});
	ok(wait_for($node, q{SELECT count(*) FROM lancedb.maintenance_status WHERE am = 'lance_hnsw' AND action = 'repair' AND status = 'done'},
			$round, "hnsw repair $round"),
		"$what: the worker repairs the graph");
	my $maintained = $node->safe_psql('postgres', q{SELECT recall('h')});
	$node->safe_psql('postgres', q{DROP TABLE IF EXISTS h2; CREATE TABLE h2 AS SELECT * FROM h;
		CREATE INDEX ON h2 USING lance_hnsw (v vector_l2_ops)});
	my $fresh = $node->safe_psql('postgres', q{SELECT recall('h2')});
	diag("recall@10 $what: repaired $maintained, fresh build $fresh");
	return ($maintained, $fresh);
}

# 30% deleted all over the table
$node->safe_psql('postgres', q{DELETE FROM h WHERE id % 10 < 3});
my ($maintained, $fresh) = repaired_recall('after deleting 30% spread out');
cmp_ok($maintained, '>=', $fresh - 0.02, 'recall of the repaired graph within 0.02 of a fresh build');
like($node->safe_psql('postgres',
		q{SELECT detail FROM lancedb.maintenance_status WHERE am = 'lance_hnsw' AND action = 'repair'}),
	qr/\d/, 'the repair says what it did');

# another 30% in runs of consecutive ids: whole neighbourhoods die
$node->safe_psql('postgres', q{DELETE FROM h WHERE (id / 50) % 10 < 3});
($maintained, $fresh) = repaired_recall('after deleting whole neighbourhoods');
cmp_ok($maintained, '>=', $fresh - 0.02, 'recall within 0.02 of a fresh build after clustered deletes');

# nothing left for the worker; VACUUM frees the repaired elements
is($node->safe_psql('postgres', q{SELECT lancedb.index_stats('h_idx')->'health'->>'needs'}),
	'none', 'index_stats: nothing more to repair');
$node->safe_psql('postgres', 'VACUUM h');
is($node->safe_psql('postgres',
		q{SELECT (lancedb.index_stats('h_idx')->>'num_indexed_rows')::int = count(*) FROM h}),
	't', 'after VACUUM the index holds exactly the live rows');
is($node->safe_psql('postgres', q{
SET enable_seqscan = off; SET lancedb.ef_search = 400;
SELECT count(*) FROM (SELECT id FROM h ORDER BY v <-> (SELECT v FROM h WHERE id = 4321) LIMIT 100) s
 WHERE id IN (SELECT id FROM h)}),
	'100', 'every row returned is live');

$node->stop;
done_testing();
