
# lance_hnsw under concurrency: pgbench clients insert, update, delete and
# query (ORDER BY ... LIMIT and range) indexed tables while another pgbench
# runs VACUUM on them in a loop: inserts link into neighbour lists that
# VACUUM is repairing and searches walk through tombstones.  Afterwards no
# row may be lost or duplicated: every row through each index once (with
# its exact distance), k-NN close to exact search, and index_stats counting
# one live node per row once a final VACUUM has run.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $N       = 2000;
my $CLIENTS = 4;
my $TX      = 300;    # transactions per client

my $node = PostgreSQL::Test::Cluster->new('hnswconc');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
max_connections = 40
));
$node->start;

# table => [opclass, quantizer, distance op, range op]
my %cfg = (
	w_none => [ 'vector_l2_ops',     'none', '<->', '<<->>' ],
	w_sq   => [ 'vector_cosine_ops', 'sq',   '<=>', '<<=>>' ],
	w_pq   => [ 'vector_l2_ops',     'pq',   '<->', '<<->>' ],);
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
	my ($opc, $q) = @{ $cfg{$t} };
	$node->safe_psql(
		'postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, v vector(16));
INSERT INTO $t SELECT i, vec(i) FROM generate_series(1, $N) AS i;
CREATE INDEX ${t}_idx ON $t USING lance_hnsw (v $opc) WITH (m = 10, ef_construction = 40, quantizer = '$q');
});
}

# one transaction doing the same to every table (see 012_ivf_concurrency.pl)
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
$tx .= "COMMIT;\nSET enable_seqscan = off;\n";
for my $t (@tables)
{
	my (undef, undef, $op, $rop) = @{ $cfg{$t} };
	$tx .= "SELECT id FROM $t ORDER BY v $op vec(:q) LIMIT 10;\n"
	  . "SELECT count(*) FROM $t WHERE v $rop lancedb.sphere(vec(:q), 0.3);\n";
}
# now and then an online check in one snapshot: a range over everything
# returns exactly the table's rows (a mismatch divides by zero)
$tx .= "\\if :d % 8 = 0\n";
for my $t (@tables)
{
	my $rop = $cfg{$t}[3];
	$tx .= "SELECT 1 / (SELECT (count(*) = (SELECT count(*) FROM $t) AND count(*) = count(DISTINCT id))::int "
	  . "FROM $t WHERE v $rop lancedb.sphere(vec(:q), 1e9));\n";
}
$tx .= "\\endif\n";

my $vac_script = $node->basedir . '/vacuum.sql';
# VACUUM (repair, free) and the maintenance repair, while inserts reuse
# freed elements
PostgreSQL::Test::Utils::append_to_file($vac_script,
	"SET lancedb.hnsw_repair_threshold = 0;\nSELECT pg_stat_force_next_flush();\n"
	  . join('', map { "SELECT lancedb.optimize('${_}_idx');\nVACUUM $_;\n" } @tables));
my ($vout, $verr) = ('', '');
my $vac = IPC::Run::start(
	[ 'pgbench', '--no-vacuum', '-n', '-c', '1', '-T', '300', '-f', $vac_script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$vout, '2>', \$verr);

my $t0 = time;
$node->pgbench(
	"--no-vacuum -c $CLIENTS -j 2 -t $TX --random-seed=20240601 --max-tries=10",
	0,
	[qr{processed: @{[ $CLIENTS * $TX ]}/@{[ $CLIENTS * $TX ]}}],
	[qr{^(pgbench: setting random seed to \d+\n)?$}],
	'pgbench: concurrent inserts, updates, deletes and index queries',
	{ '042_hnsw_work' => $tx });
note 'workload took ' . (time - $t0) . 's';

my $vacuums = $node->safe_psql('postgres',
	"SELECT min(vacuum_count) FROM pg_stat_user_tables WHERE relname IN ('w_none', 'w_sq', 'w_pq')");
$vac->signal('INT');
eval { $vac->finish; };
$vac->kill_kill if $vac->pumpable;
cmp_ok($vacuums, '>=', 3, "VACUUM ran concurrently with the workload ($vacuums times per table)");
is($verr =~ /error|abort/i ? $verr : '', '', 'the VACUUM loop had no errors');

my $idx = "SET enable_seqscan = off; SET enable_bitmapscan = off; SET lancedb.ef_search = 64; "
  . "SET lancedb.max_scan_tuples = 1000000; ";
my $seq = "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; ";

my $ids_q = "SELECT count(*) || '/' || md5(string_agg(id::text, ',' ORDER BY id))";
my $none_ids = $node->safe_psql('postgres', $seq . "$ids_q FROM w_none");
for my $t (@tables)
{
	is($node->safe_psql('postgres', $seq . "$ids_q FROM $t"), $none_ids, "$t holds the same rows as w_none");
}
my ($rows) = split m{/}, $none_ids;
cmp_ok($rows, '>', $N, "rows were added ($rows)");

sub check_all
{
	my ($label, $exact_count) = @_;
	for my $t (@tables)
	{
		my ($opc, $q, $op, $rop) = @{ $cfg{$t} };
		my $expect = $node->safe_psql('postgres', $seq . "$ids_q FROM $t");

		is($node->safe_psql('postgres', $idx . "$ids_q FROM $t WHERE v $rop lancedb.sphere(vec(0), 1e9)"),
			$expect, "$label $t: range scan over everything: the same ids as the table");

		# ORDER BY over everything: every row once, each with its true distance
		my $ord = $node->safe_psql('postgres', $idx . qq{
SELECT count(*) || '/' || count(DISTINCT id) || '/'
       || count(*) FILTER (WHERE abs(d - (SELECT x.v $op vec(4321) FROM $t x WHERE x.id = s.id)) > 1e-6)
FROM (SELECT id, v $op vec(4321) AS d FROM $t ORDER BY v $op vec(4321)) s});
		is($ord, "$rows/$rows/0", "$label $t: ORDER BY over everything: $rows rows once each, exact distances");

		# a dozen queries: on these points along a curve one query in a few
		# hundred lands in a sparse region of a churned graph; the mean over
		# 240 results is what says whether inserts and repairs keep the graph
		# navigable (before the repair kept its long links, ~0.9)
		my ($hits, $total) = (0, 0);
		for my $qid (77, 555555, 987654, 1234, 31337, 250000, 424242, 777777, 900001, 65536, 1999, 123457)
		{
			my $knn = qq{SELECT string_agg(id::text, ',') FROM (SELECT id FROM $t ORDER BY v $op vec($qid) LIMIT 20) s};
			my %exact = map { $_ => 1 } split /,/, $node->safe_psql('postgres', $seq . $knn);
			$hits += grep { $exact{$_} } split /,/, $node->safe_psql('postgres', $idx . $knn);
			$total += 20;
		}
		cmp_ok($hits / $total, '>=', 0.9, "$label $t: recall\@20 vs exact >= 0.9 ($hits/$total)");

		my $nidx = $node->safe_psql('postgres', "SELECT lancedb.index_stats('${t}_idx')->>'num_indexed_rows'");
		if ($exact_count)
		{
			is($nidx, $rows, "$label $t: live nodes = $rows");
		}
		else
		{
			cmp_ok($nidx, '>=', $rows, "$label $t: live nodes ($nidx) >= $rows");
		}
	}
}

check_all('after workload', 0);
# INDEX_CLEANUP ON: PostgreSQL skips index vacuuming when few rows died
$node->safe_psql('postgres', "VACUUM (INDEX_CLEANUP ON) $_") for @tables;
check_all('after final VACUUM', 1);

$node->stop;
done_testing();
