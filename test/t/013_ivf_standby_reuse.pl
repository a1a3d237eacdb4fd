
# lance_ivf page reuse under a hot standby query.  In-place rebalancing
# (lancedb.optimize(): a split) writes the changed lists on new pages and
# retires the old chains; the next round recycles them and writes new
# contents into them.  A standby cursor that started before the split keeps
# following the old chains; it holds no snapshot the primary can see
# (hot_standby_feedback off), so the primary must log a recovery conflict
# before it reuses a page: replay then waits (max_standby_streaming_delay =
# -1) until the cursor is done, and the cursor returns exactly the rows it
# would have returned without the maintenance.  With hot_standby_feedback
# on, the primary does not recycle pages the cursor may read while it is
# open, and replay goes on.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $N_BASE = 4000;
my $N_SKEW = 2000;
my $N      = $N_BASE + $N_SKEW;

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
$standby->append_conf('postgresql.conf', qq(
hot_standby_feedback = off
max_standby_streaming_delay = -1
));
$standby->start;

$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int, shift real DEFAULT 0) RETURNS vector(16) IMMUTABLE LANGUAGE sql AS $$
  SELECT array_agg((shift + sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071)))::real ORDER BY j)::vector(16)
    FROM generate_series(0, 15) AS j
$$;
CREATE TABLE t (id int PRIMARY KEY, v vector(16));
INSERT INTO t SELECT i, vec(i) FROM generate_series(1, 4000) i;
CREATE INDEX t_idx ON t USING lance_ivf (v vector_l2_ops) WITH (quantizer = 'flat', lists = 40);
-- one place swallows a third of the rows: lists to split for several rounds
INSERT INTO t SELECT 100000 + i, vec(i, 3) FROM generate_series(1, 2000) i;
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

# One in-place round: a single split, in its own transaction.
sub split_round
{
	my $r = $primary->safe_psql('postgres',
		"SET lancedb.ivf_rebalance_ops = 1; SELECT lancedb.optimize('t_idx')->>'action'");
	my $d = $primary->safe_psql('postgres',
		"SELECT detail FROM lancedb.maintenance_status WHERE relation = 't_idx' ORDER BY id DESC LIMIT 1");
	my ($reused) = $d =~ /(\d+) retired pages free for reuse/;
	return ($r, $reused // -1);
}

# The scan reads one list at a time (nprobes 1, iterative): the cursor
# follows the chains it found at its start long after that.
my $scan_settings = 'SET enable_seqscan = off; SET enable_bitmapscan = off; '
  . 'SET lancedb.nprobes = 1; SET lancedb.iterative_scan = relaxed_order; SET lancedb.max_probes = -1; ';
my $cursor_sql = 'SELECT id FROM t ORDER BY v <-> vec(77)';

sub check_rows
{
	my ($label, @ids) = @_;
	my %seen;
	my $dups = grep { $seen{$_}++ } @ids;
	my $expected = $primary->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM t');
	is($dups, 0, "$label: no row returned twice");
	is(join(',', sort { $a <=> $b } keys %seen), $expected,
		"$label: the cursor returned exactly the table's rows");
}

# --- hot_standby_feedback off: the reuse waits for the cursor --------------
like($standby->safe_psql('postgres', $scan_settings . "EXPLAIN (COSTS OFF) $cursor_sql"),
	qr/Index Scan using t_idx/, 'the standby cursor scans the index');
my $bg = $standby->background_psql('postgres', on_error_stop => 0);
$bg->query_safe($scan_settings
	  . "BEGIN ISOLATION LEVEL REPEATABLE READ; DECLARE c CURSOR FOR $cursor_sql");
my $first = $bg->query_safe('FETCH 5 FROM c');
my @got = split /\n/, $first;
is(scalar(@got), 5, 'standby cursor read its first rows');

my ($a1, $r1) = split_round();
is($a1, 'split', 'round 1 split a list (its old chains retired)');
my ($a2, $r2) = split_round();
is($a2, 'split', 'round 2 split again');
cmp_ok($r2, '>', 0, "round 2 recycled the pages round 1 retired ($r2)");
my $target = $primary->lsn('insert');

# The page reuse conflicts with the cursor's snapshot: the startup process
# waits for the cursor instead of overwriting pages it may read.
ok( $standby->poll_query_until(
		'postgres',
		"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'startup' AND wait_event = 'RecoveryConflictSnapshot')"
	),
	'replay waits on a recovery conflict with the standby cursor');
is($standby->safe_psql('postgres', "SELECT pg_last_wal_replay_lsn() < '$target'"),
	't', 'replay has not passed the reuse while the cursor is open');

my $rest = $bg->query_safe('FETCH ALL FROM c');
push @got, split /\n/, $rest;
is(scalar(@got), $N, "the standby cursor returned $N rows across split, recycle and reuse");
check_rows('feedback off', @got);
$bg->query_safe('COMMIT');
$primary->wait_for_catchup($standby, 'replay', $target);
pass('replay resumed once the cursor was done');

# The standby's structure after replay is the primary's.
my $all = 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM (' . $cursor_sql . ') s';
is($standby->safe_psql('postgres', $scan_settings . $all),
	$primary->safe_psql('postgres', $scan_settings . $all),
	'after replay: a full index scan on the standby returns the primary\'s rows');
is( $standby->safe_psql('postgres', "SELECT lancedb.index_stats('t_idx')->>'lists'"),
	$primary->safe_psql('postgres', "SELECT lancedb.index_stats('t_idx')->>'lists'"),
	'the standby sees the lists the splits made');

# --- hot_standby_feedback on: no recycling under the cursor ---------------
$standby->append_conf('postgresql.conf', "hot_standby_feedback = on\n");
$standby->reload;
$primary->safe_psql('postgres', 'SELECT txid_current()');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$bg->query_safe($scan_settings
	  . "BEGIN ISOLATION LEVEL REPEATABLE READ; DECLARE c CURSOR FOR $cursor_sql");
@got = split /\n/, $bg->query_safe('FETCH 5 FROM c');
# the primary sees the standby's xmin (feedback is sent every
# wal_receiver_status_interval and on reload)
ok( $primary->poll_query_until(
		'postgres', "SELECT backend_xmin IS NOT NULL FROM pg_stat_replication"),
	'the primary knows the standby\'s xmin');
my ($a3, $r3) = split_round();
my ($a4, $r4) = split_round();
is("$a3 $a4", 'split split', 'two more splits under the second cursor');
# Pages retired since the cursor began stay unused (the standby's xmin
# holds them back), so nothing replayed conflicts with it: replay keeps up
# while it is open.
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
pass('with feedback, replay is not held up by the open cursor');
push @got, split /\n/, $bg->query_safe('FETCH ALL FROM c');
check_rows('feedback on', @got);
$bg->query_safe('COMMIT');
$bg->quit;

$standby->stop;
$primary->stop;
done_testing();
