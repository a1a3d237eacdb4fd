# lance_bm25: scans that read the unflushed delta while inserts extend it.
# A scan copies the meta page and then walks the delta's page chain; inserts
# go on appending pages (extending the index) meanwhile.  The scan must read
# exactly the records of its copy, never follow the chain past the copy's
# tail (before the fix: "delta chain points outside the index" within a few
# thousand transactions), and see every row once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $CLIENTS = 4;
my $TX      = 1500;

my $node = PostgreSQL::Test::Cluster->new('bm25delta');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\njit = off\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION lancedb;
CREATE TABLE bt (id serial PRIMARY KEY, body text);
CREATE INDEX bt_idx ON bt USING lance_bm25 (body) WITH (with_position = true);
});

# each row is ~200 tokens, so most inserts start a new delta page
my $tx = "INSERT INTO bt (body) SELECT 'common alpha ' || string_agg('w' || (random() * 1000)::int, ' ') FROM generate_series(1, 200);\n"
  . "SET enable_seqscan = off;\n"
  . "SELECT count(*) FROM bt WHERE body @@@ 'common';\n"
  . "SELECT id FROM bt ORDER BY body <&> 'alpha w7' LIMIT 5;\n"
  # every committed row once, in one snapshot; a mismatch divides by zero
  . "SELECT 1 / (SELECT (count(*) = (SELECT count(*) FROM bt) AND count(*) = count(DISTINCT id))::int FROM bt WHERE body @@@ 'common');\n";

$node->pgbench(
	"--no-vacuum -c $CLIENTS -j 2 -t $TX",
	0,
	[qr{processed: @{[ $CLIENTS * $TX ]}/@{[ $CLIENTS * $TX ]}}],
	[qr{^$}],
	'pgbench: inserts extending the delta beside scans reading it',
	{ '035_bm25_delta' => $tx });

my $n = $CLIENTS * $TX;
is($node->safe_psql('postgres', 'SELECT count(*) FROM bt'), $n, 'every insert committed');
is($node->safe_psql('postgres',
	"SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) || '/' || count(DISTINCT id) FROM bt WHERE body @@@ 'common'"),
	"$n/$n", 'the index returns every row once');

$node->stop;
done_testing();
