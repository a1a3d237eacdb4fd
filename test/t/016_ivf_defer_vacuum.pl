
# lance_ivf deferred candidates under VACUUM and inserts.  An ORDER BY scan
# leaves out the entries of a page whose estimates are above its threshold
# and estimates that page again when the scan goes that deep
# (lancedb.ivf_defer_candidates).  Between two FETCHes of an open cursor,
# VACUUM removes the index entries of rows deleted before the cursor opened
# (compacting list pages: entries move within a page) and another session
# inserts rows near the query: the cursor must return the live rows of its
# snapshot in the order a scan without deferring returns them (which does
# not depend on where entries sit in their pages), starting with the exact
# order (rq's bound is probabilistic: thousands deep a row may come a few
# places late, deferring or not).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('defer');
$node->init;
$node->append_conf('postgresql.conf', qq(
autovacuum = off
));
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int) RETURNS vector(16) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg((4 * sin(i * 0.7071 * (j + 1) + j * 1.3) + (i % 5) * 0.5)::real ORDER BY j)::vector(16)
    FROM generate_series(0, 15) AS j
$$;
CREATE TABLE t (id int PRIMARY KEY, v vector(16));
INSERT INTO t SELECT i, vec(i) FROM generate_series(1, 6000) i;
CREATE INDEX t_idx ON t USING lance_ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'rq');
-- dead before the cursor opens: VACUUM may remove them while it is open
DELETE FROM t WHERE id % 3 = 0;
});

my $q = q{vec(900001)};
my $order = "SELECT id FROM t ORDER BY v <-> $q";
my $exact = $node->safe_psql('postgres',
	"SET enable_indexscan = off; SELECT string_agg(id::text, ',' ORDER BY n) FROM "
	  . "(SELECT row_number() OVER () n, id FROM ($order) s) x");
my $settings = "LOAD 'lancedb'; SET lancedb.nprobes = 4; SET enable_seqscan = off;";
my $nodefer = $node->safe_psql('postgres',
	"$settings SET lancedb.ivf_defer_candidates = off; "
	  . "SELECT string_agg(id::text, ',' ORDER BY n) FROM "
	  . "(SELECT row_number() OVER () n, id FROM ($order) s) x");
my @exact = split /,/, $exact;
my @nodefer = split /,/, $nodefer;
is(scalar(@nodefer), 4000, 'deferring off: every live row');
is(join(',', @nodefer[0 .. 199]), join(',', @exact[0 .. 199]),
	'deferring off: the first 200 rows in exact order');

# the scan defers: a deep scan estimates pages again
my ($stdout, $stderr);
$node->psql('postgres',
	"$settings DO \$\$ DECLARE j json; BEGIN "
	  . "EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) $order' INTO j; "
	  . "RAISE NOTICE 'revisited=%', j::jsonb -> 1 -> 'Lancedb Scans' -> 0 ->> 'pages revisited'; END \$\$",
	stdout => \$stdout, stderr => \$stderr);
my ($nrev) = $stderr =~ /revisited=(\d+)/;
ok(defined $nrev && $nrev > 0, "a full ordered scan revisits deferred pages ($stderr)");

my $rows_before = $node->safe_psql('postgres',
	"SELECT (lancedb.index_stats('t_idx')->>'num_indexed_rows')::int");

my $bg = $node->background_psql('postgres', on_error_stop => 0);
$bg->query_safe("BEGIN; $settings DECLARE c CURSOR FOR $order;");
my @got = split /\n/, $bg->query_safe('FETCH 30 FROM c');
is(scalar(@got), 30, 'first fetch');

# VACUUM compacts the list pages the cursor deferred; new rows near the
# query go into the lists (invisible to the cursor's snapshot)
$node->safe_psql('postgres', 'VACUUM t');
my $rows_after = $node->safe_psql('postgres',
	"SELECT (lancedb.index_stats('t_idx')->>'num_indexed_rows')::int");
cmp_ok($rows_after, '<', $rows_before,
	"VACUUM removed index entries ($rows_before -> $rows_after)");
$node->safe_psql('postgres',
	"INSERT INTO t SELECT 100000 + i, $q FROM generate_series(1, 300) i");

push @got, split /\n/, $bg->query_safe('FETCH 1500 FROM c');
# a second VACUUM round between fetches (removes nothing new: the inserts
# are live), then the rest
$node->safe_psql('postgres', 'VACUUM t');
push @got, split /\n/, $bg->query_safe('FETCH ALL FROM c');
$bg->query_safe('COMMIT');
$bg->quit;

is(join(',', @got), $nodefer,
	'cursor across VACUUM and inserts: the rows and order of a scan without deferring');

# after all that, a new scan: the same with deferring on and off (the
# inserted rows, at distance 0, come first), and the same rows as before
my %after;
for my $defer ('on', 'off')
{
	$after{$defer} = $node->safe_psql('postgres',
		"$settings SET lancedb.ivf_defer_candidates = $defer; "
		  . "SELECT string_agg(id::text, ',' ORDER BY n) FROM "
		  . "(SELECT row_number() OVER () n, id FROM ($order) s) x");
}
is($after{on}, $after{off}, 'a new scan after VACUUM and inserts: the same order with deferring off');
my @after = split /,/, $after{on};
is(join(',', sort { $a <=> $b } @after[300 .. $#after]), join(',', sort { $a <=> $b } @nodefer),
	'the inserted rows first, then the rows of before');

$node->stop;
done_testing();
