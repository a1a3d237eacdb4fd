
# lance_bm25: the per-backend caches of segments and of the inverted delta
# are keyed by relfilenode and owner ids, which TRUNCATE of a table created
# in the same transaction repeats: it rebuilds the index in place (same
# relfilenode) and the build hands out owner ids from the start again.  A
# backend that queried the index before the TRUNCATE then read the new
# delta and segments from its entries of the old ones (before the fix: the
# new rows' terms matched nothing, the old terms matched the new rows' TIDs).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('bm25rebuild');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');

# one session: the index is read (caches filled), rebuilt in place by
# TRUNCATE and filled with rows of the same shape (segments of the same
# ids, blocks and lengths, a delta of the same id, head and size)
my $q = "SELECT count(*) FROM tt WHERE body @@@ '%s'";
my @terms = ('kiwii', 'kiwii3', 'apple', 'apple3');
my $sql = q{
BEGIN;
CREATE TABLE tt (id int, body text);
CREATE INDEX tt_idx ON tt USING lance_bm25 (body);
INSERT INTO tt SELECT i, 'apple' || (i % 10) || ' pie' FROM generate_series(1, 300) i;
INSERT INTO tt VALUES (1001, 'apple pie'), (1002, 'apple tart'), (1003, 'green apple');
SET LOCAL enable_seqscan = off;
SELECT count(*) FROM tt WHERE body @@@ 'apple';
SELECT count(*) FROM tt WHERE body @@@ 'apple3';
TRUNCATE tt;
INSERT INTO tt SELECT i, 'kiwii' || (i % 10) || ' pie' FROM generate_series(1, 300) i;
INSERT INTO tt VALUES (1004, 'kiwii cake'), (1005, 'kiwii soda'), (1006, 'fresh kiwii');
};
$sql .= sprintf("$q;\n", $_) for @terms;
$sql .= "COMMIT;\nSET enable_seqscan = off;\n";
# and in the next transaction of the same backend
$sql .= sprintf("$q;\n", $_) for @terms;
my @got = split /\n/, $node->safe_psql('postgres', $sql);

my @want;
for my $t (@terms)
{
	push @want, $node->safe_psql('postgres',
		"SET enable_indexscan = off; SET enable_bitmapscan = off; " . sprintf($q, $t));
}
is_deeply([ @got[2 .. 5] ], \@want, 'after TRUNCATE in the creating transaction: index matches equal a sequential scan');
is_deeply([ @got[6 .. 9] ], \@want, 'and in the next transaction of the same backend');
is($want[0] . ' ' . $want[1], '3 30', 'the sequential scan sees the new rows');

$node->stop;
done_testing();
