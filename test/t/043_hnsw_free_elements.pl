
# lance_hnsw: elements VACUUM freed (FREE, heap TID invalid) beside scans
# that read element pages in order: the sweep that ends an iterative scan
# and the walk of a zero query under cosine.  They returned freed elements
# too, and the heap fetch of an invalid TID extended the table by one empty
# page per freed element and scan (a 40-page table grew by thousands of
# pages under the workload below).  Queries must return every row once and
# leave the table's size alone, while clients insert, update and delete,
# VACUUM frees elements in a loop, inserts reuse them and lancedb.optimize()
# repairs the graph.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use PgbenchLoop;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $CLIENTS = 4;
my $TX      = 120;

my $node = PostgreSQL::Test::Cluster->new('hnswfree');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\njit = off\nmax_connections = 20\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int) RETURNS vector(16) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg(sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071))::real ORDER BY j)::vector(16)
    FROM generate_series(0, 15) AS j $$;
CREATE SEQUENCE ids START 1000000;
CREATE TABLE h (id int PRIMARY KEY DEFAULT nextval('ids'), v vector(16));
INSERT INTO h SELECT i, vec(i) FROM generate_series(1, 3000) i;
CREATE INDEX h_idx ON h USING lance_hnsw (v vector_l2_ops) WITH (m = 8);
CREATE TABLE hc (id int PRIMARY KEY, v vector(16));
INSERT INTO hc SELECT i, vec(i) FROM generate_series(1, 2000) i;
CREATE INDEX hc_idx ON hc USING lance_hnsw (v vector_cosine_ops) WITH (quantizer = 'sq');
-- in the caller's (repeatable read) snapshot: every row once through the
-- index, unfiltered and filtered (iterative scans ending in the sweep)
CREATE FUNCTION chk(q int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE ic bigint; idc bigint; sc bigint; fa bigint; fe bigint;
BEGIN
  SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
  SET LOCAL lancedb.iterative_scan = relaxed_order;
  SELECT count(*), count(DISTINCT id) INTO ic, idc FROM (SELECT id FROM h ORDER BY v <-> vec(q) LIMIT 1000000) s;
  SELECT count(*) INTO fa FROM (SELECT id FROM h WHERE id % 7 = 0 ORDER BY v <-> vec(q) LIMIT 1000000) s;
  SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;
  SELECT count(*) INTO sc FROM h;
  SELECT count(*) INTO fe FROM h WHERE id % 7 = 0;
  IF ic <> sc OR idc <> sc THEN RAISE EXCEPTION 'index rows % (distinct %), table %', ic, idc, sc; END IF;
  IF fa <> fe THEN RAISE EXCEPTION 'filtered: index % rows, table %', fa, fe; END IF;
  -- some 40 pages of rows: fail at once rather than scan a swollen table
  IF pg_relation_size('h') > 400 * 8192 THEN RAISE EXCEPTION 'table grew to % pages', pg_relation_size('h') / 8192; END IF;
  RETURN 1;
END $$;
DELETE FROM h WHERE id % 3 = 0;
DELETE FROM hc WHERE id % 3 = 0;
VACUUM h;
VACUUM hc;
});

# --- freed elements and the page-order reads, one backend ---------------------
my $pages = "SELECT pg_relation_size('h') / 8192 || ' ' || pg_relation_size('hc') / 8192";
my $before = $node->safe_psql('postgres', $pages);
is($node->safe_psql('postgres', "SELECT (lancedb.index_stats('h_idx')->>'free_slots')::int > 0"),
	't', 'VACUUM freed elements');
my ($rc, $out, $err) = $node->psql('postgres', 'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT chk(7); COMMIT;');
is("$out$err", '1', 'the sweep of an iterative scan returns every row once');
is($node->safe_psql('postgres',
		"SET enable_seqscan = off; SELECT count(*) || ' ' || count(DISTINCT id) FROM (SELECT id FROM hc ORDER BY v <=> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 100000) s"),
	$node->safe_psql('postgres', "SELECT count(*) || ' ' || count(*) FROM hc"),
	'a zero query under cosine (elements in page order) returns every row once');
is($node->safe_psql('postgres', $pages), $before,
	'the scans did not grow the tables (no heap fetch of a freed element)');

# --- the same beside inserts reusing freed elements, VACUUM and repairs -----
my $tx = "\\set q random(1, 100000)\n"
  . "\\set d random(1, 3000)\n"
  . "BEGIN;\n"
  . "INSERT INTO h (v) VALUES (vec(nextval('ids')::int)), (vec(nextval('ids')::int));\n"
  . "DELETE FROM h WHERE id = :d OR id = (SELECT max(id) - 3 FROM h);\n"
  . "UPDATE h SET v = vec(:q) WHERE id = :d + 1;\n"
  . "COMMIT;\n"
  . "BEGIN ISOLATION LEVEL REPEATABLE READ;\n"
  . "SELECT chk(:q);\n"
  . "COMMIT;\n";

my $vac = start_loop($node, 'vacuum', "VACUUM h;\n");
my $opt = start_loop($node, 'optimize',
	"SET lancedb.hnsw_repair_threshold = 0.001;\nSELECT lancedb.optimize('h_idx');\n");

$node->pgbench(
	"--no-vacuum -c $CLIENTS -j 2 -t $TX",
	0,
	[qr{processed: @{[ $CLIENTS * $TX ]}/@{[ $CLIENTS * $TX ]}}],
	[qr{^$}],
	'pgbench: writes and full iterative scans beside VACUUM and repairs',
	{ '043_hnsw_free' => $tx });

my $vacuums = $node->safe_psql('postgres', "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'h'");
my $verr = stop_loop($vac);
my $oerr = stop_loop($opt);
cmp_ok($vacuums, '>=', 3, "VACUUM ran concurrently ($vacuums times)");
is($verr, '', 'the VACUUM loop had no errors');
is($oerr, '', 'the optimize loop had no errors');
# about 3000 rows of 16 dimensions: some 40 pages, dead versions included
cmp_ok($node->safe_psql('postgres', "SELECT pg_relation_size('h') / 8192"), '<', 400,
	'the table did not grow by empty pages');
($rc, $out, $err) = $node->psql('postgres', 'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT chk(99); COMMIT;');
is("$out$err", '1', 'after the workload: every row once through the index');

$node->stop;
done_testing();
