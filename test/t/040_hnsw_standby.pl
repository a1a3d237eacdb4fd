
# lance_hnsw on a streaming standby: the graph reaches the standby only
# through WAL (log_newpage_range after the build, GenericXLog records for
# aminsert, tombstones and neighbour repairs of VACUUM), so the standby
# must hold the same graph and answer every index query exactly like the
# primary; with quantizer none the answers also match exact search closely.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('hprimary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq(
autovacuum = off
max_wal_size = 1GB
));
$primary->start;
$primary->backup('bk');

my $standby = PostgreSQL::Test::Cluster->new('hstandby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int) RETURNS vector(16) IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $$
  SELECT array_agg(((1 + (i % 7) * 0.15)
                    * sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071)))::real
                   ORDER BY j)::vector(16)
  FROM generate_series(0, 15) AS j
$$;
});

# table => [opclass, quantizer, distance op, column type]
my %cfg = (
	h_none => [ 'vector_l2_ops',      'none', '<->', 'vector(16)' ],
	h_sq   => [ 'vector_l2_ops',      'sq',   '<->', 'vector(16)' ],
	h_pq   => [ 'vector_ip_ops',      'pq',   '<#>', 'vector(16)' ],
	h_hcos => [ 'halfvec_cosine_ops', 'sq',   '<=>', 'halfvec(16)' ],);
my @tables = sort keys %cfg;

for my $t (@tables)
{
	my ($opc, $q, undef, $type) = @{ $cfg{$t} };
	my $cast = $type =~ /^halfvec/ ? "::$type" : '';
	$primary->safe_psql(
		'postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, v $type);
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series(1, 2000) AS i;
CREATE INDEX ${t}_idx ON $t USING lance_hnsw (v $opc) WITH (m = 10, ef_construction = 40, quantizer = '$q');
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series(2001, 2600) AS i;
DELETE FROM $t WHERE id % 10 = 3 OR id BETWEEN 2100 AND 2200;
VACUUM $t;
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series(5001, 5200) AS i;
});
}
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my $idx = "SET enable_seqscan = off; SET enable_bitmapscan = off; SET lancedb.ef_search = 64; ";
my $seq = "SET enable_indexscan = off; SET enable_bitmapscan = off; ";

sub knn_sql
{
	my ($t, $op, $qid, $k) = @_;
	my $cast = $cfg{$t}[3] =~ /^halfvec/ ? '::halfvec(16)' : '';
	return qq{SELECT string_agg(id::text, ',' ORDER BY rn)
FROM (SELECT id, row_number() OVER () AS rn FROM
  (SELECT id FROM $t ORDER BY v $op vec($qid)$cast LIMIT $k) s) r};
}

for my $round (1, 2)
{
	for my $t (@tables)
	{
		my ($opc, $q, $op) = @{ $cfg{$t} };
		# health and maintenance are each node's own (statistics, log)
		my $stats = "SELECT lancedb.index_stats('${t}_idx') - 'health' - 'maintenance'";
		is($standby->safe_psql('postgres', $stats), $primary->safe_psql('postgres', $stats),
			"$t round $round: index_stats identical on standby");
		is( $standby->safe_psql('postgres',
				"SELECT (lancedb.index_stats('${t}_idx')->>'num_indexed_rows')::int = count(*) FROM $t"),
			't', "$t round $round: live nodes = rows in the table");
		like($standby->safe_psql('postgres', $idx . "EXPLAIN (COSTS OFF) " . knn_sql($t, $op, 100001, 10)),
			qr/Index Scan using ${t}_idx/, "$t round $round: standby plans the index");
		my ($hits, $total) = (0, 0);
		# a dozen queries: on these points along a curve (cosine: a 1-D
		# curve on the sphere) a query now and then lands in a sparse region
		# of a graph rewired after deletes; the mean is the recall figure
		for my $qid (100001, 100777, 123456, 42, 2050, 5100, 7150, 3333, 999, 250000, 1500, 7777)
		{
			my $knn = knn_sql($t, $op, $qid, 10);
			my $s_idx = $standby->safe_psql('postgres', $idx . $knn);
			is($s_idx, $primary->safe_psql('postgres', $idx . $knn),
				"$t round $round q=$qid: standby index scan = primary index scan");
			my %exact = map { $_ => 1 } split /,/, $standby->safe_psql('postgres', $seq . $knn);
			$hits += grep { $exact{$_} } split /,/, $s_idx;
			$total += 10;
		}
		cmp_ok($hits / $total, '>=', 0.9, "$t round $round: standby recall\@10 vs exact >= 0.9 ($hits/$total)");
	}
	last if $round == 2;

	# more changes while the standby runs: deletes (tombstones, repairs), a
	# dead entry point possibly, inserts
	for my $t (@tables)
	{
		my $cast = $cfg{$t}[3] =~ /^halfvec/ ? "::$cfg{$t}[3]" : '';
		$primary->safe_psql(
			'postgres', qq{
DELETE FROM $t WHERE id % 10 = 7 OR id < 300;
VACUUM $t;
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series(7001, 7300) AS i;
});
	}
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
}

# a row inserted after the build is its own nearest neighbour on the standby
is($standby->safe_psql('postgres', $idx . knn_sql('h_none', '<->', 7150, 1)),
	'7150', 'none: a row inserted after the build is found first on the standby');

$standby->stop;
$primary->stop;
done_testing();
