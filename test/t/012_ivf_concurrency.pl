
# lance_ivf under concurrency: pgbench clients insert, update, delete and
# query (ORDER BY ... LIMIT and range) three indexed tables while another
# pgbench runs VACUUM on them in a loop.  Afterwards no row may be lost or
# duplicated by the indexes: through each index (every list probed) the
# same set of rows as the table, ORDER BY over everything in non-decreasing
# distance, k-NN equal to exact search, and index_stats counting one entry
# per row once a final VACUUM has run.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $N       = 3000;
my $LISTS   = 16;
my $CLIENTS = 4;
my $TX      = 600;    # transactions per client

my $node = PostgreSQL::Test::Cluster->new('ivfconc');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
max_connections = 40
));
$node->start;

# table => [opclass, quantizer, distance op, range op, column type]
my %cfg = (
	w_flat => [ 'vector_l2_ops',      'flat', '<->', '<<->>', 'vector(16)' ],
	w_sq   => [ 'vector_l2_ops',      'sq',   '<->', '<<->>', 'vector(16)' ],
	w_rq   => [ 'vector_cosine_ops',  'rq',   '<=>', '<<=>>', 'vector(16)' ],
	w_half => [ 'halfvec_cosine_ops', 'rq',   '<=>', '<<=>>', 'halfvec(16)' ],);
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
	my ($opc, $q, undef, undef, $type) = @{ $cfg{$t} };
	$node->safe_psql(
		'postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, v $type);
INSERT INTO $t SELECT i, vec(i) FROM generate_series(1, $N) AS i;
CREATE INDEX ${t}_idx ON $t USING lance_ivf (v $opc) WITH (lists = $LISTS, quantizer = '$q');
});
}

# One transaction per run of the script, doing the same to every table:
# two inserts, an update of the vector (a new index entry) and two deletes
# (one of an initial row, one of the row just inserted: a dead entry for
# VACUUM); then index queries outside the transaction.  Only rows that are
# surely committed (initial ones, or the transaction's own) are updated or
# deleted, so that under READ COMMITTED the tables stay identical.
my $tx = "\\set d random(1, $N)\n"
  . "\\set q random(1, 1000000)\n"
  . "SELECT nextval('ids') AS a, nextval('ids') AS b \\gset\n"
  . "BEGIN;\n";
for my $t (@tables)
{
	$tx .= "INSERT INTO $t VALUES (:a, vec(:a)), (:b, vec(:b));\n"
	  . "UPDATE $t SET v = vec(:d + 500000) WHERE id = (:d + 7) % $N + 1;\n"
	  . "DELETE FROM $t WHERE id = :d OR id = :b;\n";
}
$tx .= "COMMIT;\nSET enable_seqscan = off;\nSET lancedb.nprobes = $LISTS;\n";
for my $t (@tables)
{
	my (undef, undef, $op, $rop) = @{ $cfg{$t} };
	$tx .= "SELECT id FROM $t ORDER BY v $op vec(:q) LIMIT 10;\n"
	  . "SELECT count(*) FROM $t WHERE v $rop lancedb.sphere(vec(:q), 0.3);\n";
}
# Now and then, check online that a range scan over everything sees exactly
# the rows of the table, in the same snapshot (one statement): a mismatch
# divides by zero, which aborts the client and fails the pgbench run.
$tx .= "\\if :d % 4 = 0\n";
for my $t (@tables)
{
	my $rop = $cfg{$t}[3];
	$tx .= "SELECT 1 / (SELECT (count(*) = (SELECT count(*) FROM $t) AND count(*) = count(DISTINCT id))::int "
	  . "FROM $t WHERE v $rop lancedb.sphere(vec(:q), 1e9));\n";
}
$tx .= "\\endif\n";

# The VACUUM loop: a separate pgbench, killed once the workload is done.
my $vac_script = $node->basedir . '/vacuum.sql';
PostgreSQL::Test::Utils::append_to_file($vac_script, join('', map { "VACUUM $_;\n" } @tables));
my ($vout, $verr) = ('', '');
my $vac = IPC::Run::start(
	[ 'pgbench', '--no-vacuum', '-n', '-c', '1', '-T', '300', '-f', $vac_script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$vout, '2>', \$verr);

# --max-tries: two transactions that update and delete each other's rows
# in opposite order can deadlock (rarely); pgbench then retries.
my $t0 = time;
$node->pgbench(
	"--no-vacuum -c $CLIENTS -j 2 -t $TX --random-seed=20240601 --max-tries=10",
	0,
	[qr{processed: @{[ $CLIENTS * $TX ]}/@{[ $CLIENTS * $TX ]}}],
	[qr{^(pgbench: setting random seed to \d+\n)?$}],
	'pgbench: concurrent inserts, updates, deletes and index queries',
	{ '012_ivf_work' => $tx });
note 'workload took ' . (time - $t0) . 's';

my $vacuums = $node->safe_psql('postgres',
	"SELECT min(vacuum_count) FROM pg_stat_user_tables WHERE relname IN ('w_flat', 'w_sq', 'w_rq')");
$vac->signal('INT');
eval { $vac->finish; };
$vac->kill_kill if $vac->pumpable;
cmp_ok($vacuums, '>=', 3, "VACUUM ran concurrently with the workload ($vacuums times per table)");
note "VACUUM loop stderr: $verr";
is($verr =~ /error|abort/i ? $verr : '', '', 'the VACUUM loop had no errors');

my $idx = "SET enable_seqscan = off; SET enable_bitmapscan = off; SET lancedb.nprobes = $LISTS; ";
my $seq = "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; ";

# Every table went through the same committed transactions.
my $ids_q = "SELECT count(*) || '/' || md5(string_agg(id::text, ',' ORDER BY id))";
my $flat_ids = $node->safe_psql('postgres', $seq . "$ids_q FROM w_flat");
for my $t (@tables)
{
	is($node->safe_psql('postgres', $seq . "$ids_q FROM $t"), $flat_ids, "$t holds the same rows as w_flat");
}
my ($rows) = split m{/}, $flat_ids;
cmp_ok($rows, '>', $N, "rows were added ($rows)");

sub check_all
{
	my ($label, $exact_count) = @_;
	for my $t (@tables)
	{
		my ($opc, $q, $op, $rop) = @{ $cfg{$t} };
		# RQ's bounds are probabilistic; ordered RQ scans drop rows whose
		# bound failed unless every candidate is re-ranked.  The data here
		# depends on timing, so re-rank everything for RQ.
		my $i = $idx . ($q eq 'rq' ? 'SET lancedb.refine_factor = 10000; ' : '');
		my $expect = $node->safe_psql('postgres', $seq . "$ids_q FROM $t");

		like($node->safe_psql('postgres', $i . "EXPLAIN (COSTS OFF) SELECT id FROM $t WHERE v $rop lancedb.sphere(vec(0), 1e9)"),
			qr/Index Scan using ${t}_idx/, "$label $t: range scan uses the index");
		is( $node->safe_psql('postgres',
				$i . "SELECT count(*) || '/' || count(DISTINCT id) FROM $t WHERE v $rop lancedb.sphere(vec(0), 1e9)"),
			"$rows/$rows", "$label $t: range scan over everything: every row, no duplicates");
		is($node->safe_psql('postgres', $i . "$ids_q FROM $t WHERE v $rop lancedb.sphere(vec(0), 1e9)"),
			$expect, "$label $t: range scan over everything: the same ids as the table");

		# ORDER BY over everything: all rows, once each, distances never
		# decreasing, and each the row's true distance.
		my $ord = $node->safe_psql('postgres', $i . qq{
SELECT count(*) || '/' || count(DISTINCT id) || '/' || count(*) FILTER (WHERE d < prev) || '/'
       || count(*) FILTER (WHERE d IS DISTINCT FROM (SELECT x.v $op vec(4321) FROM $t x WHERE x.id = s.id))
FROM (SELECT id, d, lag(d) OVER () AS prev
      FROM (SELECT id, v $op vec(4321) AS d FROM $t ORDER BY v $op vec(4321)) o) s});
		is($ord, "$rows/$rows/0/0",
			"$label $t: ORDER BY over everything: $rows rows, no duplicates, non-decreasing exact distances");

		for my $qid (77, 555555, 987654)
		{
			my $knn = qq{SELECT string_agg(id || ':' || round(d::numeric, 5), ',' ORDER BY d, id)
FROM (SELECT id, v $op vec($qid) AS d FROM $t ORDER BY v $op vec($qid) LIMIT 20) s};
			is($node->safe_psql('postgres', $i . $knn), $node->safe_psql('postgres', $seq . $knn),
				"$label $t q=$qid: k-NN through the index = exact");
		}

		my $nidx = $node->safe_psql('postgres', "SELECT lancedb.index_stats('${t}_idx')->>'num_indexed_rows'");
		if ($exact_count)
		{
			is($nidx, $rows, "$label $t: num_indexed_rows = $rows");
		}
		else
		{
			cmp_ok($nidx, '>=', $rows, "$label $t: num_indexed_rows ($nidx) >= $rows");
		}
	}
}

check_all('after workload', 0);
$node->safe_psql('postgres', "VACUUM $_") for @tables;
check_all('after final VACUUM', 1);

$node->stop;
done_testing();
