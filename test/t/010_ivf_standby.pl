
# lance_ivf on a streaming standby: the index pages reach the standby only
# through WAL (log_newpage_range after the build, GenericXLog records for
# inserts and VACUUM), so the standby must answer every index query exactly
# like the primary, and with all lists probed exactly like a seq scan.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $N_BUILD = 3000;    # rows present when the indexes are built
my $N_AFTER = 1000;    # rows inserted afterwards (aminsert)
my $LISTS   = 20;
my $K       = 10;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq(
autovacuum = off
max_wal_size = 1GB
));
$primary->start;
$primary->backup('bk');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

# Deterministic 16-dim vectors: no random(), the same on every run.  The
# norm varies with id (so inner product differs from cosine); no two ids
# share a vector.
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

# table => [opclass, quantizer, distance op, range op, column type]
my %cfg = (
	t_flat => [ 'vector_l2_ops',      'flat', '<->', '<<->>', 'vector(16)' ],
	t_sq   => [ 'vector_l2_ops',      'sq',   '<->', '<<->>', 'vector(16)' ],
	t_pq   => [ 'vector_l2_ops',      'pq',   '<->', '<<->>', 'vector(16)' ],
	t_rq   => [ 'vector_l2_ops',      'rq',   '<->', '<<->>', 'vector(16)' ],
	t_cos  => [ 'vector_cosine_ops',  'rq',   '<=>', '<<=>>', 'vector(16)' ],
	t_ip   => [ 'vector_ip_ops',      'sq',   '<#>', '<<#>>', 'vector(16)' ],
	t_hcos => [ 'halfvec_cosine_ops', 'pq',   '<=>', '<<=>>', 'halfvec(16)' ],);
my @tables = sort keys %cfg;

for my $t (@tables)
{
	my ($opc, $q, undef, undef, $type) = @{ $cfg{$t} };
	my $cast = $type =~ /^halfvec/ ? "::$type" : '';
	$primary->safe_psql(
		'postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, v $type);
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series(1, $N_BUILD) AS i;
CREATE INDEX ${t}_idx ON $t USING lance_ivf (v $opc) WITH (lists = $LISTS, quantizer = '$q');
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series($N_BUILD + 1, $N_BUILD + $N_AFTER) AS i;
DELETE FROM $t WHERE id % 10 = 3 OR id BETWEEN 3500 AND 3600;
-- FREEZE makes VACUUM wait for a page another backend (the background
-- writer, with this cluster's tiny shared_buffers) has pinned, instead of
-- leaving its dead rows, and their index entries, for next time
VACUUM (FREEZE) $t;
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series(5001, 5200) AS i;
});
}

# Every table holds the same ids.
# (5001..5200 come after the DELETE, so none of them is deleted.)
my $expected_rows = 200;
for my $i (1 .. $N_BUILD + $N_AFTER)
{
	$expected_rows++ unless $i % 10 == 3 || ($i >= 3500 && $i <= 3600);
}
is($expected_rows, 3709, 'expected row count computed in Perl');

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

# Index scans probe every list.  PQ has no lower bound on its estimates
# (src/index/quantizer.h: "callers re-rank refine_factor x k"), so a PQ
# ORDER BY is only exact when every candidate is re-ranked: refine_factor
# x k >= rows.  The other quantizers must be exact with the defaults.
sub idx_settings
{
	my ($t) = @_;
	my $s = "SET enable_seqscan = off; SET enable_bitmapscan = off; SET lancedb.nprobes = $LISTS; ";
	$s .= "SET lancedb.refine_factor = 10000; " if $cfg{$t}[1] eq 'pq';
	return $s;
}
my $seq_settings = "SET enable_indexscan = off; SET enable_bitmapscan = off; "
  . "SET enable_indexonlyscan = off; ";

# Query vectors that are not rows (ids outside the table), and one that is.
my @queries = (100001, 100777, 123456, 42);

# k nearest as "id:distance" in the scan's order; distances rounded so that
# the text is stable, ties (none expected) broken by id.
sub knn_sql
{
	my ($t, $op, $qid, $k) = @_;
	my $cast = $cfg{$t}[4] =~ /^halfvec/ ? '::halfvec(16)' : '';
	return qq{SELECT string_agg(id || ':' || round(d::numeric, 5), ',' ORDER BY d, id)
FROM (SELECT id, v $op vec($qid)$cast AS d FROM $t ORDER BY v $op vec($qid)$cast LIMIT $k) s};
}

sub range_sql
{
	my ($t, $rop, $qid, $r) = @_;
	# the sphere's center is a vector: for halfvec columns, one with
	# halfvec-exact values
	my $cast = $cfg{$t}[4] =~ /^halfvec/ ? '::halfvec(16)::vector(16)' : '';
	return qq{SELECT count(*) || '/' || coalesce(sum(id), 0) || '/' || coalesce(md5(string_agg(id::text, ',' ORDER BY id)), '-')
FROM $t WHERE v $rop lancedb.sphere(vec($qid)$cast, $r)};
}

for my $t (@tables)
{
	my ($opc, $q, $op, $rop, $type) = @{ $cfg{$t} };

	is($primary->safe_psql('postgres', "SELECT count(*) FROM $t"),
		$expected_rows, "$t: primary row count");
	is($standby->safe_psql('postgres', "SELECT count(*) FROM $t"),
		$expected_rows, "$t: standby row count");

	like(
		$standby->safe_psql('postgres', idx_settings($t) . "EXPLAIN (COSTS OFF) " . knn_sql($t, $op, 100001, $K)),
		qr/Index Scan using ${t}_idx/,
		"$t: standby plans an index scan for ORDER BY $op LIMIT");

	# index_stats: same on both sides, and the counts are real.
	my $stats_sql = "SELECT lancedb.index_stats('${t}_idx')";
	my $pstats = $primary->safe_psql('postgres', $stats_sql);
	my $sstats = $standby->safe_psql('postgres', $stats_sql);
	is($sstats, $pstats, "$t: index_stats identical on standby");
	is( $standby->safe_psql(
			'postgres',
			"SELECT (s->>'num_indexed_rows')::int, s->>'lists', s->>'trained', s->>'quantizer', s->>'dimensions' "
			  . "FROM lancedb.index_stats('${t}_idx') AS s"),
		"$expected_rows|$LISTS|true|$q|16",
		"$t: standby index_stats: rows, lists, trained, quantizer, dim");

	for my $qid (@queries)
	{
		my $knn = knn_sql($t, $op, $qid, $K);
		my $p_idx = $primary->safe_psql('postgres', idx_settings($t) . $knn);
		my $s_idx = $standby->safe_psql('postgres', idx_settings($t) . $knn);
		my $s_seq = $standby->safe_psql('postgres', $seq_settings . $knn);
		my $n = () = $s_idx =~ /:/g;
		is($n, $K, "$t q=$qid: standby index scan returns $K rows");
		is($s_idx, $p_idx, "$t q=$qid: standby index scan = primary index scan");
		is($s_idx, $s_seq, "$t q=$qid: standby index scan (nprobes = lists) = exact search");

		# With few probes the answer is approximate, but still determined
		# by the index contents: both sides must agree.
		my $few = "SET enable_seqscan = off; SET lancedb.nprobes = 2; SET lancedb.iterative_scan = off; " . $knn;
		is($standby->safe_psql('postgres', $few),
			$primary->safe_psql('postgres', $few),
			"$t q=$qid: nprobes = 2 gives the same rows on both sides");
	}

	# Range search: radius = distance of the 40th nearest row (exact), so the
	# half-open range [-inf, r) holds exactly 39 rows.  v <<op>> sphere is a
	# WHERE predicate, so its result must not depend on the plan, for every
	# quantizer (refine_factor does not apply to range scans).
	my $qid = 100001;
	my $cast = $type =~ /^halfvec/ ? '::halfvec(16)' : '';
	my $r = $primary->safe_psql('postgres',
		$seq_settings . "SELECT (v $op vec($qid)$cast)::float8 FROM $t ORDER BY 1 OFFSET 39 LIMIT 1");
	my $range = range_sql($t, $rop, $qid, $r);
	like(
		$standby->safe_psql('postgres', idx_settings($t) . "EXPLAIN (COSTS OFF) " . $range),
		qr/Index Scan using ${t}_idx/,
		"$t: standby plans an index scan for the range query");
	my $s_range = $standby->safe_psql('postgres', idx_settings($t) . $range);
	like($s_range, qr{^39/}, "$t: standby range query finds the 39 rows closer than the 40th");
	is($s_range, $primary->safe_psql('postgres', idx_settings($t) . $range),
		"$t: range query: standby = primary");
	is($s_range, $standby->safe_psql('postgres', $seq_settings . $range),
		"$t: range query: standby index = exact");

	# ORDER BY over the whole table (no LIMIT) with every list probed and
	# the default refine_factor: no row may be repeated, and with a
	# guaranteed bound (flat, sq, pq) none may be missing.  RaBitQ's bound
	# holds with high probability only: a row it misranks would come out of
	# order, so the scan drops it; allow 3%.
	my $all = "SELECT count(*) || '/' || count(DISTINCT id) FROM (SELECT id FROM $t ORDER BY v $op vec(100001)$cast) s";
	my $got = $standby->safe_psql('postgres',
		"SET enable_seqscan = off; SET enable_bitmapscan = off; SET lancedb.nprobes = $LISTS; " . $all);
	if ($q eq 'rq')
	{
		my ($n, $d) = split m{/}, $got;
		ok($n == $d && $n >= 0.97 * $expected_rows && $n <= $expected_rows,
			"$t: ORDER BY over the whole table through the rq index returns >= 97% of rows, none twice ($got of $expected_rows)");
	}
	else
	{
		is($got, "$expected_rows/$expected_rows",
			"$t: ORDER BY over the whole table through the index (nprobes = lists, default refine_factor) returns every row once");
	}
}

# Changes after the standby is running stream over too: more inserts,
# deletes and a VACUUM, then compare again for one table per quantizer.
for my $t (@tables)
{
	my $cast = $cfg{$t}[4] =~ /^halfvec/ ? "::$cfg{$t}[4]" : '';
	$primary->safe_psql(
		'postgres', qq{
DELETE FROM $t WHERE id % 10 = 7;
VACUUM $t;
INSERT INTO $t SELECT i, vec(i)$cast FROM generate_series(7001, 7300) AS i;
});
}
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
for my $t (@tables)
{
	my ($opc, $q, $op) = @{ $cfg{$t} };
	is( $standby->safe_psql('postgres', "SELECT lancedb.index_stats('${t}_idx')"),
		$primary->safe_psql('postgres', "SELECT lancedb.index_stats('${t}_idx')"),
		"$t round 2: index_stats identical on standby");
	is( $standby->safe_psql('postgres', "SELECT (lancedb.index_stats('${t}_idx')->>'num_indexed_rows')::int = count(*) FROM $t"),
		't', "$t round 2: num_indexed_rows = rows in the table");
	for my $qid (7150, 100777)
	{
		my $knn = knn_sql($t, $op, $qid, 25);
		my $s_idx = $standby->safe_psql('postgres', idx_settings($t) . $knn);
		is($s_idx, $primary->safe_psql('postgres', idx_settings($t) . $knn),
			"$t round 2 q=$qid: standby = primary");
		is($s_idx, $standby->safe_psql('postgres', $seq_settings . $knn),
			"$t round 2 q=$qid: standby = exact");
	}
}

# The query vector of row 7150 is in the table: its nearest row is itself.
like(
	$standby->safe_psql('postgres', idx_settings('t_flat') . knn_sql('t_flat', '<->', 7150, 1)),
	qr/^7150:0\.00000$/,
	'flat: a row inserted after the build is its own nearest neighbour on the standby');

$standby->stop;
$primary->stop;
done_testing();
