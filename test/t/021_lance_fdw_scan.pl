
# lance_fdw scans over datasets written by the real LanceDB (LANCE_TEST_DATA,
# test/lance/gen_datasets.mjs): parallel foreign scans return exactly the
# rows of a serial scan, top-k vector search pushdown returns exactly what
# an exact ORDER BY ... LIMIT over the same rows returns, and ANALYZE
# samples rows into planner statistics.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $data = $ENV{LANCE_TEST_DATA};
if (!defined $data || !-d $data)
{
	plan skip_all =>
	  'LANCE_TEST_DATA is not set: generate the datasets with test/lance/gen_datasets.mjs (test/run does)';
}

my $node = PostgreSQL::Test::Cluster->new('lance_fdw_scan');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf',
	"max_worker_processes = 8\nmax_parallel_workers = 4\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');

my @libs = grep { -d "$data/$_" } qw(v37 v39);
for my $lib (@libs)
{
	$node->safe_psql(
		'postgres', qq{
CREATE SERVER lance_$lib FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$data/$lib');
CREATE SCHEMA $lib;
IMPORT FOREIGN SCHEMA lance FROM SERVER lance_$lib INTO $lib OPTIONS (hidden_columns 'true');
});
}

my $force_parallel = q{
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 4;
};
my $serial = 'SET max_parallel_workers_per_gather = 0;';

# ---- parallel scans: the same rows as a serial scan ----

for my $lib (@libs)
{
	for my $table (qw(alltypes alltypes_v20 alltypes_v21 alltypes_v22 stable v1names))
	{
		my $rel = "$lib.$table";
		# every row as text, order-independent
		my $q =
		  "SELECT count(*) || ':' || md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM $rel t";
		my $want = $node->safe_psql('postgres', "$serial $q");
		my $plan = $node->safe_psql('postgres',
			"$force_parallel EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $q");
		like($plan, qr/Parallel Foreign Scan on \Q$table\E/, "$rel: parallel plan");
		like($plan, qr/Workers Launched: [1-9]/, "$rel: workers launched");
		is($node->safe_psql('postgres', "$force_parallel $q"),
			$want, "$rel: parallel scan returns the serial scan's rows");
	}
}

# ---- batches: a few rows decoded at a time give the same rows ----

for my $lib (@libs)
{
	for my $table (qw(alltypes alltypes_v20 alltypes_v21 alltypes_v22 bigdel stable vec768))
	{
		my $rel = "$lib.$table";
		my $q =
		  "SELECT count(*) || ':' || md5(string_agg(t::text, E'\\n' ORDER BY t::text)) FROM $rel t";
		is( $node->safe_psql('postgres', "$serial SET lancedb.lance_fdw_batch_rows = 7; $q"),
			$node->safe_psql('postgres', "$serial $q"),
			"$rel: 7-row batches return the rows of whole-fragment batches");
	}
}

# a single-fragment dataset gets no parallel path (nothing to share)
like(
	$node->safe_psql('postgres',
		"$force_parallel EXPLAIN (COSTS OFF) SELECT count(*) FROM $libs[0].bigdel"),
	qr/Foreign Scan on bigdel/,
	'one fragment: a serial foreign scan');

# ---- top-k vector search pushdown: equal to an exact ORDER BY ----

# deterministic query vectors of a given dimension
sub qvec
{
	my ($dim, $seed) = @_;
	my @x = map { sprintf('%.4f', sin($seed * 7.1 + $_ * 1.3)) } 1 .. $dim;
	return '[' . join(',', @x) . ']';
}

my %ops = ('<->' => 'l2', '<#>' => 'negative inner product', '<=>' => 'cosine', '<+>' => 'l1');
for my $lib (@libs)
{
	for my $table (qw(alltypes alltypes_v20 alltypes_v22 vec768))
	{
		my $rel = "$lib.$table";
		$node->safe_psql('postgres',
			"DROP TABLE IF EXISTS loc; CREATE TABLE loc AS SELECT * FROM $rel");
		my @cols =
		  $table eq 'vec768'
		  ? ([ 'vector', 768, 'vector' ])
		  : ([ 'vec8', 8, 'vector' ], [ 'vec128', 128, 'vector' ], [ 'h16', 8, 'halfvec' ]);
		for my $c (@cols)
		{
			my ($col, $dim, $type) = @$c;
			for my $op (sort keys %ops)
			{
				for my $k (1, 10, 100)
				{
					my $q = qvec($dim, $k + length($op) + ord(substr($op, 1, 1)));
					my $sel = sub {
						my $from = shift;
						return
						  "SELECT string_agg(id || ':' || d, ',' ORDER BY n) FROM "
						  . "(SELECT row_number() OVER () AS n, * FROM (SELECT id, $col $op '$q'::$type AS d "
						  . "FROM $from ORDER BY $col $op '$q'::$type LIMIT $k) s) t";
					};
					my $plan = $node->safe_psql('postgres',
						"EXPLAIN (COSTS OFF) SELECT id FROM $rel ORDER BY $col $op '$q'::$type LIMIT $k");
					my $name = "$rel: ORDER BY $col $op q LIMIT $k";
					like($plan, qr/Lance Top-K: \Q$ops{$op}\E distance on $col, k = $k/,
						"$name: pushed down");
					unlike($plan, qr/Sort/, "$name: no Sort");
					is($node->safe_psql('postgres', $sel->($rel)),
						$node->safe_psql('postgres', $sel->('loc')),
						"$name: same rows and distances as an exact ORDER BY");
				}
			}
		}
	}
}

# vectors with NULL items read as NULL (docs): top-k ranks the others, in
# mini-block (v8) and full-zip (v128) pages of every file format
for my $lib (@libs)
{
	for my $table (qw(vecnull_v20 vecnull_v21 vecnull_v22))
	{
		my $rel = "$lib.$table";
		$node->safe_psql('postgres',
			"DROP TABLE IF EXISTS loc; CREATE TABLE loc AS SELECT * FROM $rel");
		for my $c ([ 'v8', 8 ], [ 'v128', 128 ])
		{
			my ($col, $dim) = @$c;
			my $q = qvec($dim, 5);
			my $sel = sub {
				my $from = shift;
				return "SELECT string_agg(id || ':' || d, ',' ORDER BY n) FROM "
				  . "(SELECT row_number() OVER () AS n, * FROM (SELECT id, $col <-> '$q' AS d "
				  . "FROM $from ORDER BY $col <-> '$q' LIMIT 50) s) t";
			};
			like(
				$node->safe_psql('postgres',
					"EXPLAIN (COSTS OFF) SELECT id FROM $rel ORDER BY $col <-> '$q' LIMIT 50"),
				qr/Lance Top-K: l2 distance on $col, k = 50/,
				"$rel: ORDER BY $col <-> q LIMIT 50: pushed down");
			is($node->safe_psql('postgres', $sel->($rel)),
				$node->safe_psql('postgres', $sel->('loc')),
				"$rel: ORDER BY $col <-> q LIMIT 50: same rows and distances as an exact ORDER BY");
		}
		# the NULL vectors: NULL rows and vectors with a NULL item
		is( $node->safe_psql('postgres', "SELECT count(*) - count(v8), count(*) - count(v128) FROM $rel"),
			$node->safe_psql('postgres',
				"SELECT count(*) FILTER (WHERE id % 9 = 4 OR id % 6 = 1), "
				  . "count(*) FILTER (WHERE id % 9 = 4 OR id % 6 = 1) FROM $rel"),
			"$rel: NULL vectors are the NULL rows and those with a NULL item");
	}
}

{
	my $rel = "$libs[0].alltypes";
	my $q = qvec(8, 3);
	$node->safe_psql('postgres', "DROP TABLE IF EXISTS loc; CREATE TABLE loc AS SELECT * FROM $rel");

	# more rows than exist: every row, the NULL vectors last
	is( $node->safe_psql('postgres',
			"SELECT count(*), count(d), bool_and(d IS NULL) FILTER (WHERE n > (SELECT count(vec8) FROM loc)) FROM "
			  . "(SELECT row_number() OVER () AS n, vec8 <-> '$q' AS d FROM "
			  . "(SELECT vec8 FROM $rel ORDER BY vec8 <-> '$q' LIMIT 100000) s) t"),
		$node->safe_psql('postgres', 'SELECT count(*), count(vec8), true FROM loc'),
		'top-k with k above the row count: every row, NULL vectors last');

	# LIMIT with OFFSET, every column, hidden ones included
	my $cols = "id, s, li, st, _rowid, vec8 <-> '$q' AS d";
	is( $node->safe_psql('postgres',
			"SELECT * FROM $rel ORDER BY vec8 <-> '$q' LIMIT 7 OFFSET 5"),
		$node->safe_psql('postgres',
			"SELECT * FROM (SELECT f.* FROM $rel f, LATERAL (SELECT 1) x ORDER BY vec8 <-> '$q' LIMIT 7 OFFSET 5) s"),
		'top-k with OFFSET returns whole rows as the sorted scan');

	# a prepared generic plan: the query vector is a parameter
	my $out = $node->safe_psql(
		'postgres', qq{
SET plan_cache_mode = force_generic_plan;
PREPARE p(vector) AS SELECT string_agg(id::text, ',') FROM (SELECT id FROM $rel ORDER BY vec8 <-> \$1 LIMIT 4) s;
EXPLAIN (COSTS OFF) EXECUTE p('$q');
EXECUTE p('$q');
EXECUTE p('@{[qvec(8, 4)]}');
});
	my @o = split /\n/, $out;
	like($out, qr/Lance Top-K/, 'generic plan: pushed down');
	is( $o[-2],
		$node->safe_psql('postgres',
			"SELECT string_agg(id::text, ',') FROM (SELECT id FROM loc ORDER BY vec8 <-> '$q' LIMIT 4) s"),
		'generic plan: first parameter');
	is( $o[-1],
		$node->safe_psql('postgres',
			"SELECT string_agg(id::text, ',') FROM (SELECT id FROM loc ORDER BY vec8 <-> '@{[qvec(8, 4)]}' LIMIT 4) s"),
		'generic plan: second parameter');

	# with quals: the k nearest rows that pass, as a filtered scan + Sort
	# (quals on scalars, strings, lists, structs, the vector itself, hidden
	# columns; selective or not; fewer passing rows than k)
	for my $w (
		"i32 > 1000", "s LIKE 'a%' AND flag", "i8 IS NULL",
		"st->>'b' = 'b7'", "cardinality(li) > 2", "vec8 <-> '$q' > 1.5",
		"_rowid % 3 = 1", "id < 12", "id = -1", "ts > '2023-11-15'")
	{
		for my $k (1, 10, 100)
		{
			my $sel = sub {
				my $from = shift;
				return
				  # which rows with a NULL vector fill the tail is arbitrary
				  "SELECT string_agg(id || ':' || d, ',' ORDER BY d, id), count(*) FROM "
				  . "(SELECT id, vec8 <-> '$q' AS d FROM $from WHERE $w ORDER BY vec8 <-> '$q' LIMIT $k) s";
			};
			my $name = "top-k WHERE $w LIMIT $k";
			like( $node->safe_psql('postgres',
					"EXPLAIN (COSTS OFF) SELECT id FROM $rel WHERE $w ORDER BY vec8 <-> '$q' LIMIT $k"),
				qr/Lance Top-K/, "$name: pushed down");
			is($node->safe_psql('postgres', $sel->($rel)),
				$node->safe_psql('postgres', $sel->('loc')),
				"$name: same rows as a filtered exact ORDER BY");
		}
	}
	# a query vector computed when the scan starts (a stable function:
	# per-tuple memory, which checking quals resets)
	is( $node->safe_psql('postgres',
			"SET fdwtest.q = '$q'; SELECT string_agg(id::text, ',') FROM (SELECT id FROM $rel WHERE i32 > 1000 "
			  . "ORDER BY vec8 <-> current_setting('fdwtest.q')::vector LIMIT 10) s"),
		$node->safe_psql('postgres',
			"SELECT string_agg(id::text, ',') FROM (SELECT id FROM loc WHERE i32 > 1000 ORDER BY vec8 <-> '$q' LIMIT 10) s"),
		'top-k with a qual and a query computed at run time');
	my $an = $node->safe_psql('postgres',
		"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM $rel WHERE i8 > 0 ORDER BY vec8 <-> '$q' LIMIT 10");
	my ($ranked) = $an =~ /Lance Rows Ranked: (\d+)/;
	my ($checked) = $an =~ /Lance Filter Checks: (\d+)/;
	# (i8 is random: about half the rows pass, in no particular order)
	cmp_ok($checked, '<', $ranked / 5, "top-k with a qual checks only candidates ($checked of $ranked rows)");

	# not pushed down: a volatile qual, a join, descending order
	unlike($node->safe_psql('postgres',
			"EXPLAIN (COSTS OFF) SELECT id FROM $rel WHERE random() < 2 ORDER BY vec8 <-> '$q' LIMIT 3"),
		qr/Top-K/, 'a volatile qual keeps the Sort');
	unlike($node->safe_psql('postgres',
			"EXPLAIN (COSTS OFF) SELECT id FROM $rel ORDER BY vec8 <-> '$q' DESC LIMIT 3"),
		qr/Top-K/, 'descending order keeps the Sort');
	my ($rc, $o2, $err) = $node->psql('postgres',
		"SELECT id FROM $rel ORDER BY vec8 <-> '[1,2,3]' LIMIT 3");
	like($err, qr/different vector dimensions/, 'top-k: a query of the wrong dimension is an error');
}

# ---- ANALYZE ----

for my $lib (@libs)
{
	my $rel = "$lib.alltypes_v20";
	$node->safe_psql('postgres', "ANALYZE $rel");
	is( $node->safe_psql('postgres',
			"SELECT string_agg(attname || ':' || null_frac || ':' || n_distinct, ' ' ORDER BY attname) "
			  . "FROM pg_stats WHERE schemaname = '$lib' AND tablename = 'alltypes_v20' "
			  . "AND attname IN ('snull', 'scat', 'sconst', 'flag', 'id')"),
		$node->safe_psql('postgres', qq{
CREATE TEMP TABLE a AS SELECT * FROM $rel; ANALYZE a;
SELECT string_agg(attname || ':' || null_frac || ':' || n_distinct, ' ' ORDER BY attname)
  FROM pg_stats WHERE tablename = 'a' AND attname IN ('snull', 'scat', 'sconst', 'flag', 'id')}),
		"$rel: ANALYZE gives the statistics of the same rows in a heap table");
	is($node->safe_psql('postgres', "SELECT reltuples = (SELECT count(*) FROM $rel) FROM pg_class WHERE oid = '$rel'::regclass"),
		't', "$rel: ANALYZE sets reltuples");
}

done_testing();
