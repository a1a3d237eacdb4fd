
# lance_ivf crash recovery.  The server is killed (immediate stop: shared
# buffers are lost, only WAL survives) right after CREATE INDEX (the build's
# pages come back from log_newpage_range), while a session keeps inserting
# rows (GenericXLog records of aminsert), and right after DELETE + VACUUM
# (GenericXLog records of ambulkdelete).  After every restart the index must
# find every committed row, agree with exact search, and count at least as
# many entries as there are rows.  A last crash with wal_level = minimal
# covers an index built in the transaction that created its table.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $N     = 3000;
my $LISTS = 16;

my $node = PostgreSQL::Test::Cluster->new('ivfcrash');
$node->init(allows_streaming => 1);    # wal_level = replica: the build is WAL-logged
$node->append_conf('postgresql.conf', qq(
autovacuum = off
checkpoint_timeout = 1h
max_wal_size = 4GB
));
$node->start;

# table => [opclass, quantizer, distance op, range op, column type]
# (PQ is left out: its estimates are no bounds, see 010_ivf_standby.pl.)
my %cfg = (
	c_flat => [ 'vector_l2_ops',     'flat', '<->', '<<->>', 'vector(16)' ],
	c_sq   => [ 'vector_l2_ops',     'sq',   '<->', '<<->>', 'vector(16)' ],
	c_rq   => [ 'vector_cosine_ops', 'rq',   '<=>', '<<=>>', 'vector(16)' ],
	c_ip   => [ 'vector_ip_ops',     'rq',   '<#>', '<<#>>', 'vector(16)' ],
	c_half => [ 'halfvec_l2_ops',    'sq',   '<->', '<<->>', 'halfvec(16)' ],);
my @tables = sort keys %cfg;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int) RETURNS vector(16) IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $$
  SELECT array_agg(((1 + (i % 7) * 0.15)
                    * sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071)))::real
                   ORDER BY j)::vector(16)
  FROM generate_series(0, 15) AS j
$$;
CREATE SEQUENCE ids START 100001;
});
for my $t (@tables)
{
	$node->safe_psql('postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, v $cfg{$t}[4]);
INSERT INTO $t SELECT i, vec(i) FROM generate_series(1, $N) AS i;
});
}
$node->safe_psql('postgres', 'CHECKPOINT');

# Only WAL has the index pages when the server dies.
my $build_start = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
for my $t (@tables)
{
	my ($opc, $q) = @{ $cfg{$t} };
	$node->safe_psql('postgres',
		"CREATE INDEX ${t}_idx ON $t USING lance_ivf (v $opc) WITH (lists = $LISTS, quantizer = '$q')");
}
my $build_end = $node->safe_psql('postgres', 'SELECT pg_current_wal_flush_lsn()');

# The build WAL-logs every page of every index as a full page image
# (log_newpage_range): pg_waldump must show each block of the main fork.
for my $t (@tables)
{
	my ($relpath, $pages) = split /\|/, $node->safe_psql('postgres',
		"SELECT pg_relation_filepath('${t}_idx'), pg_relation_size('${t}_idx') / current_setting('block_size')::int");
	my ($db, $rel) = $relpath =~ m{^base/(\d+)/(\d+)$} or die "unexpected path $relpath";
	my $spc = $node->safe_psql('postgres', "SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default'");
	my ($out, $err) = run_command(
		[ 'pg_waldump', '-p', $node->data_dir . '/pg_wal', '-s', $build_start, '-e', $build_end,
		  '--relation', "$spc/$db/$rel", '--fork', 'main', '--fullpage' ]);
	my %blocks;
	$blocks{$1} = 1 while $out =~ m{rel $spc/$db/$rel(?: fork main)? blk (\d+) FPW}g;
	cmp_ok($pages, '>', 3, "$t: the index has several pages ($pages)");
	is(scalar(keys %blocks), $pages, "$t: the build's WAL has a full page image of each of its $pages pages");
}
$node->stop('immediate');
$node->start;

my $idx = "SET enable_seqscan = off; SET enable_bitmapscan = off; SET lancedb.nprobes = $LISTS; ";
my $seq = "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; ";

# All checks of one table after a restart.  $exact_count: whether the index
# must hold exactly one entry per row (true after a VACUUM with no crash
# victims left), else at least one.
sub check_table
{
	my ($label, $t, $exact_count) = @_;
	my ($opc, $q, $op, $rop) = @{ $cfg{$t} };
	my $rows = $node->safe_psql('postgres', "SELECT count(*) FROM $t");
	# RQ's lower bounds are only probabilistic, and an ordered scan drops a
	# row that comes out closer than one already returned, so RQ ORDER BY
	# results are exact only when every candidate is re-ranked
	# (refine_factor x k >= rows).  The row counts here depend on timing, so
	# re-rank everything: this test is about what survives a crash, not
	# about RQ's bounds (flat and SQ bounds are exact; no refine for them).
	my $idx = $idx;
	$idx .= 'SET lancedb.refine_factor = 10000; ' if $q eq 'rq';

	like($node->safe_psql('postgres', $idx . "EXPLAIN (COSTS OFF) SELECT id FROM $t ORDER BY v $op vec(0) LIMIT 5"),
		qr/Index Scan using ${t}_idx/, "$label $t: the index is used");

	# Every row through the index: a range covering everything, and an
	# ORDER BY over the whole table (no LIMIT).  Same ids, no duplicates.
	my $agg = "count(*) || '/' || count(DISTINCT id) || '/' || sum(id::int8)";
	my $expect = $node->safe_psql('postgres', $seq . "SELECT $agg FROM $t");
	is($expect, "$rows/$rows/" . $node->safe_psql('postgres', "SELECT sum(id::int8) FROM $t"),
		"$label $t: seq scan sanity");
	is($node->safe_psql('postgres', $idx . "SELECT $agg FROM $t WHERE v $rop lancedb.sphere(vec(0), 1e9)"),
		$expect, "$label $t: range scan through the index returns every row once");
	is( $node->safe_psql('postgres',
			$idx . "SELECT $agg FROM (SELECT id FROM $t ORDER BY v $op vec(0)) s"),
		$expect, "$label $t: ORDER BY over the whole index returns every row once");

	# A sample of rows (every 37th), each the nearest neighbour of its own
	# vector (not meaningful for inner product, where it need not be).
	if ($op ne '<#>')
	{
		is( $node->safe_psql('postgres', $idx . qq{
SELECT count(*) || '/' || count(*) FILTER (WHERE (SELECT t2.id FROM $t t2 ORDER BY t2.v $op s.v LIMIT 1) = s.id)
FROM $t s WHERE s.id % 37 = 0}),
			do { my $n = $node->safe_psql('postgres', "SELECT count(*) FROM $t WHERE id % 37 = 0"); "$n/$n" },
			"$label $t: every sampled row is its own nearest neighbour through the index");
	}

	# k-NN equal to exact search, for query vectors that are not rows.
	for my $qid (200001, 200333)
	{
		my $knn = qq{SELECT string_agg(id || ':' || round(d::numeric, 5), ',' ORDER BY d, id)
FROM (SELECT id, v $op vec($qid) AS d FROM $t ORDER BY v $op vec($qid) LIMIT 15) s};
		my $got = $node->safe_psql('postgres', $idx . $knn);
		is($got, $node->safe_psql('postgres', $seq . $knn), "$label $t q=$qid: index k-NN = exact");
	}

	my $st = $node->safe_psql('postgres',
		"SELECT (s->>'num_indexed_rows') || '/' || (s->>'lists') || '/' || (s->>'trained') FROM lancedb.index_stats('${t}_idx') s");
	my ($nidx, $nl, $tr) = split m{/}, $st;
	is("$nl/$tr", "$LISTS/true", "$label $t: index_stats lists and trained");
	if ($exact_count)
	{
		is($nidx, $rows, "$label $t: num_indexed_rows = $rows rows");
	}
	else
	{
		cmp_ok($nidx, '>=', $rows, "$label $t: num_indexed_rows >= $rows rows");
	}
	return $rows;
}

# 1. crash right after CREATE INDEX
for my $t (@tables)
{
	is($node->safe_psql('postgres', "SELECT count(*) FROM $t"), $N, "after build crash $t: $N rows");
	check_table('after build crash', $t, 1);
}

# 2. crash while a session keeps inserting (one row per table and commit),
# and a DELETE + VACUUM runs beside it.
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $loop = 'DO $$ DECLARE i int; BEGIN LOOP i := nextval(\'ids\'); '
  . join(' ', map { "INSERT INTO $_ VALUES (i, vec(i));" } @tables)
  . ' COMMIT; END LOOP; END $$;';
$bg->query_until(qr/started/, "\\echo started\n$loop\n");
$node->poll_query_until('postgres', 'SELECT count(*) >= 800 FROM c_flat WHERE id > 100000')
  or die 'the inserting session made no progress';
for my $t (@tables)
{
	$node->safe_psql('postgres', "DELETE FROM $t WHERE id <= $N AND id % 5 = 1; VACUUM $t;");
}
$node->poll_query_until('postgres', 'SELECT count(*) >= 1500 FROM c_flat WHERE id > 100000')
  or die 'the inserting session made no progress';
my %before;
$before{$_} = $node->safe_psql('postgres', "SELECT count(*) FROM $_ WHERE id > 100000") for @tables;
$node->stop('immediate');
eval { $bg->quit; };    # its server is gone
$node->start;

my $deleted = int(($N + 4) / 5);    # ids 1, 6, 11, ... <= $N
my %after;
for my $t (@tables)
{
	my ($n, $lo, $hi) = split /\|/,
	  $node->safe_psql('postgres', "SELECT count(*), min(id), max(id) FROM $t WHERE id > 100000");
	cmp_ok($n, '>=', $before{$t}, "insert crash $t: all $before{$t} rows committed before the crash survive ($n)");
	is($hi - $lo + 1, $n, "insert crash $t: the surviving inserted ids are contiguous");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $t WHERE id <= $N"),
		$N - $deleted, "insert crash $t: the VACUUMed deletes stay deleted");
	$after{$t} = $n;
	check_table('insert crash', $t, 0);
}
# Each commit covered all four tables.
my @a = map { $after{$_} } @tables;
is(scalar(grep { $_ == $a[0] } @a), scalar(@a), 'insert crash: every table has the same number of committed inserts');

# 3. DELETE + VACUUM, crash.  The VACUUM also removes the entries of the
# insert that the crash aborted, so afterwards the index holds exactly one
# entry per row.
for my $t (@tables)
{
	$node->safe_psql('postgres', "DELETE FROM $t WHERE id % 3 = 0; VACUUM $t;");
}
my %rows_before;
$rows_before{$_} = $node->safe_psql('postgres', "SELECT count(*) FROM $_") for @tables;
$node->stop('immediate');
$node->start;
for my $t (@tables)
{
	is(check_table('vacuum crash', $t, 1), $rows_before{$t}, "vacuum crash $t: row count unchanged");
	is($node->safe_psql('postgres', $idx . "SELECT count(*) FROM $t WHERE id % 3 = 0 AND v $cfg{$t}[3] lancedb.sphere(vec(0), 1e9)"),
		'0', "vacuum crash $t: no deleted row comes back through the index");
}

# The recovered index keeps taking inserts (into room VACUUM freed).
for my $t (@tables)
{
	$node->safe_psql('postgres', "INSERT INTO $t SELECT i, vec(i) FROM generate_series(300001, 300500) i");
	check_table('after recovery', $t, 1);
}

# 4. wal_level = minimal: table, rows and index in one transaction (no WAL
# for the new relfilenodes, synced at commit), then a crash.
$node->append_conf('postgresql.conf', "wal_level = minimal\nmax_wal_senders = 0\n");
$node->restart;
$node->safe_psql('postgres', qq{
BEGIN;
CREATE TABLE m (id int PRIMARY KEY, v vector(16));
INSERT INTO m SELECT i, vec(i) FROM generate_series(1, 2000) i;
CREATE INDEX m_idx ON m USING lance_ivf (v vector_l2_ops) WITH (lists = 10, quantizer = 'sq');
INSERT INTO m SELECT i, vec(i) FROM generate_series(2001, 2200) i;
COMMIT;
INSERT INTO m SELECT i, vec(i) FROM generate_series(2201, 2300) i;
});
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM m'), '2300', 'wal_level=minimal: 2300 rows after the crash');
is( $node->safe_psql('postgres',
		"SET enable_seqscan = off; SET lancedb.nprobes = 10; SELECT count(*) || '/' || count(DISTINCT id) FROM m WHERE v <<->> lancedb.sphere(vec(0), 1e9)"),
	'2300/2300', 'wal_level=minimal: the index returns every row once');
is( $node->safe_psql('postgres', "SELECT lancedb.index_stats('m_idx')->>'num_indexed_rows'"),
	'2300', 'wal_level=minimal: num_indexed_rows');
my $mknn = q{SELECT string_agg(id::text, ',' ORDER BY d, id) FROM (SELECT id, v <-> vec(4242) AS d FROM m ORDER BY v <-> vec(4242) LIMIT 10) s};
is( $node->safe_psql('postgres', "SET enable_seqscan = off; SET lancedb.nprobes = 10; $mknn"),
	$node->safe_psql('postgres', "SET enable_indexscan = off; $mknn"),
	'wal_level=minimal: index k-NN = exact');

$node->stop;
done_testing();
