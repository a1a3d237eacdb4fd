
# Crash recovery: rows with vector/halfvec columns and a btree index on the
# vector column are written after a checkpoint (so recovery must replay their
# WAL), a transaction is left open, the server is killed (immediate stop),
# and after restart the data, the index and amcheck must all agree.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $N = 10000;

# Expected contents, computed independently of the server.
# v = [id % 100, id % 7, (id % 4) * 0.25], h = [id % 10, (id % 5) * 0.5, -(id % 3)]
my @sum = (0, 0, 0);
my $probe_rows = 0;    # rows with v = '[42,0,0.5]'
for my $id (1 .. $N)
{
	my @v = ($id % 100, $id % 7, ($id % 4) * 0.25);
	$sum[$_] += $v[$_] for 0 .. 2;
	$probe_rows++ if $v[0] == 42 && $v[1] == 0 && $v[2] == 0.5;
}
my $expected_sum = '[' . join(',', @sum) . ']';
is($expected_sum, '[495000,29998,3750]', 'expected sum computed in Perl');
is($probe_rows,   15,                    'expected probe matches computed in Perl');

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq(
checkpoint_timeout = 1h
max_wal_size = 4GB
autovacuum = off
));
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');
$node->safe_psql(
	'postgres', q{
CREATE TABLE t (id int PRIMARY KEY, v vector(3), h halfvec(3));
CREATE INDEX t_v_idx ON t (v);
CHECKPOINT;
});

# Everything below is only in WAL when the server dies.
$node->safe_psql(
	'postgres', qq{
INSERT INTO t
SELECT id,
       format('[%s,%s,%s]', id % 100, id % 7, (id % 4) * 0.25)::vector(3),
       format('[%s,%s,%s]', id % 10, (id % 5) * 0.5, -(id % 3))::halfvec(3)
FROM generate_series(1, $N) AS id;
});

# A few more committed changes: an update (moves index entries) and a
# delete + reinsert of the same keys.
$node->safe_psql(
	'postgres', q{
UPDATE t SET v = v WHERE id % 1000 = 0;
DELETE FROM t WHERE id BETWEEN 5001 AND 5010;
INSERT INTO t
SELECT id,
       format('[%s,%s,%s]', id % 100, id % 7, (id % 4) * 0.25)::vector(3),
       format('[%s,%s,%s]', id % 10, (id % 5) * 0.5, -(id % 3))::halfvec(3)
FROM generate_series(5001, 5010) AS id;
});

# An open transaction at crash time: its rows must not survive.
my $bg = $node->background_psql('postgres', on_error_stop => 1);
$bg->query_safe(
	q{BEGIN;
INSERT INTO t
SELECT 100000 + g, '[-1,-1,-1]', '[-1,-1,-1]' FROM generate_series(1, 500) AS g;
UPDATE t SET v = '[-2,-2,-2]' WHERE id <= 100;});
is($node->safe_psql('postgres', q{SELECT count(*) FROM t WHERE v = '[-1,-1,-1]'}),
	'0', 'uncommitted rows are invisible before the crash');

$node->stop('immediate');
eval { $bg->quit; };    # its server is gone; ignore how psql reports that
$node->start;

is($node->safe_psql('postgres', 'SELECT count(*) FROM t'),
	$N, "all $N committed rows survive the crash");
is($node->safe_psql('postgres', 'SELECT sum(v) FROM t'),
	$expected_sum, 'sum(v) after recovery');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM t
WHERE NOT (v = format('[%s,%s,%s]', id % 100, id % 7, (id % 4) * 0.25)::vector(3))
   OR NOT (h = format('[%s,%s,%s]', id % 10, (id % 5) * 0.5, -(id % 3))::halfvec(3))
   OR v IS NULL OR h IS NULL}),
	'0',
	'every row has exactly the vector and halfvec it was given');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE id > 100000'),
	'0', 'rows of the open transaction are gone');
is( $node->safe_psql('postgres', q{SELECT string_agg(h::text, ' ' ORDER BY id) FROM t WHERE id IN (1, 2, 3, 10000)}),
	'[1,0.5,-1] [2,1,-2] [3,1.5,0] [0,0,-1]',
	'halfvec text after recovery');

# The index (rebuilt from WAL only) must find the rows.
my $probe = q{SET enable_seqscan = off; SET enable_bitmapscan = off;};
like(
	$node->safe_psql('postgres', $probe . q{EXPLAIN (COSTS OFF) SELECT id FROM t WHERE v = '[42,0,0.5]'}),
	qr/Index (Only )?Scan using t_v_idx/,
	'planner uses the btree index on v');
is( $node->safe_psql('postgres', $probe . q{SELECT count(*), min(id), max(id) FROM t WHERE v = '[42,0,0.5]'}),
	"$probe_rows|42|9842",
	'index scan finds the rows with v = [42,0,0.5]');
is( $node->safe_psql('postgres', $probe . q{SELECT count(*) FROM t WHERE v = '[-1,-1,-1]' OR v = '[-2,-2,-2]'}),
	'0', 'index has no entries visible from the aborted transaction');
is($node->safe_psql('postgres', q{SELECT bt_index_check('t_v_idx', true)}),
	'', 'amcheck bt_index_check(heapallindexed) passes on t_v_idx');
is($node->safe_psql('postgres', q{SELECT bt_index_parent_check('t_v_idx', true)}),
	'', 'amcheck bt_index_parent_check passes on t_v_idx');

# The recovered index keeps working for new writes.
$node->safe_psql('postgres', q{INSERT INTO t VALUES (20001, '[42,0,0.5]', '[1,1,1]')});
is($node->safe_psql('postgres', $probe . q{SELECT count(*) FROM t WHERE v = '[42,0,0.5]'}),
	$probe_rows + 1, 'index finds a row inserted after recovery');

# A second crash right after a CHECKPOINT-less VACUUM, then recheck.
$node->safe_psql('postgres', q{DELETE FROM t WHERE id % 2 = 0; VACUUM t;});
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'),
	$N / 2 + 1, 'row count after delete + vacuum + second crash');
is($node->safe_psql('postgres', q{SELECT bt_index_check('t_v_idx', true)}),
	'', 'amcheck passes after the second crash');
is( $node->safe_psql('postgres', $probe . q{SELECT count(*) FROM t WHERE v = '[42,0,0.5]'}),
	'1', 'only the odd-id probe row (20001) remains; even ids were deleted');

$node->stop;
done_testing();
