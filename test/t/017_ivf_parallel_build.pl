
# lance_ivf parallel build.  Pass 2 of the build (assign + encode + write)
# runs in PostgreSQL parallel workers (IvfParallelAssign) when the planner
# allows workers, the index is trained, the table has more than 10000
# entries and the training sample does not hold every row.  Training
# happens in the leader only, on a reservoir sample of a serial scan, so a
# parallel build must give exactly the index a serial build gives: the same
# index_stats (list sizes, pages) and the same top-k (ids and distances)
# with every list probed and with a few.  Then: a streaming standby answers
# like the primary after a parallel build, a parallel build followed by
# inserts survives an immediate stop (its pages come back from the
# log_newpage_range WAL the leader writes for every block, whoever wrote
# it), and pg_stat_progress_create_index names the build's sub-phases.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $N     = 40000;    # rows of t: > 10000, and more than the sample holds
my $LISTS = 50;       # sample = sample_rate (256) x lists = 12800 < $N
my $FEW   = 2;        # nprobes of the approximate comparison
my $K     = 10;
my $NBIG  = 4 * $N;   # rows of the progress test's table

my $primary = PostgreSQL::Test::Cluster->new('ivfpar');
$primary->init(allows_streaming => 1);
# - plan_create_index_workers gives each participant 32 MB of
#   maintenance_work_mem: 2 workers + the leader need 96 MB.  The sample
#   stays at sample_rate x lists (12800 rows), far below that budget.
# - min_parallel_table_scan_size = 0: the 852-page table gets the 2
#   workers max_parallel_maintenance_workers allows (set per build below).
# - log_min_messages = debug1: the postmaster logs every worker it starts
#   ("starting background worker process "parallel worker for PID n""),
#   and the build logs its k-means sample size.  (PostgreSQL's own
#   "building index ... with request for N parallel workers" is only
#   logged for btree in PG 15: index_build() asks plan_create_index_workers
#   for btree alone and logs "serially" for every other AM.)
# - synchronize_seqscans = off: with shared_buffers = 1MB the table is
#   "large", and a synchronized scan may start mid-table; the reservoir
#   sample depends on the scan order, so the serial and the parallel build
#   would then train on different samples.  That is PostgreSQL's syncscan,
#   not the parallel build, so it is kept out of this comparison.
$primary->append_conf('postgresql.conf', qq(
autovacuum = off
checkpoint_timeout = 1h
max_wal_size = 1GB
max_connections = 20
max_worker_processes = 16
max_parallel_workers = 8
maintenance_work_mem = 128MB
min_parallel_table_scan_size = 0
log_min_messages = debug1
synchronize_seqscans = off
));
$primary->start;
$primary->backup('bk');

my $standby = PostgreSQL::Test::Cluster->new('ivfpar_standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

# Deterministic 32-dim vectors in 185 clusters (id % 37 and id % 5 pick a
# center, the sin/cos term spreads rows around it); no two ids share a
# vector.  Query vectors vec(q) for q > $N are near clusters but no row.
$primary->safe_psql(
	'postgres', qq{
CREATE EXTENSION lancedb;
CREATE FUNCTION vec(i int) RETURNS vector(32) IMMUTABLE PARALLEL SAFE LANGUAGE sql AS \$\$
  SELECT array_agg((2 * sin((i % 37) * 1.3 + j * 0.7 + (i % 5))
                    + 0.4 * sin(i * 0.0137 * (j + 1) + j * 0.9 + cos(i * 0.071)))::real
                   ORDER BY j)::vector(32)
  FROM generate_series(0, 31) AS j
\$\$;
CREATE TABLE t (id int PRIMARY KEY, v vector(32));
INSERT INTO t SELECT i, vec(i) FROM generate_series(1, $N) AS i;
VACUUM ANALYZE t;
});

# index => [opclass, quantizer, distance op]
my %cfg = (
	t_sq => [ 'vector_l2_ops',     'sq', '<->' ],
	t_rq => [ 'vector_cosine_ops', 'rq', '<=>' ],);
my @idxs = sort keys %cfg;
my @queries = (100001 .. 100050);

my $idx_scan = 'SET enable_seqscan = off; SET enable_bitmapscan = off; ';
my $seq_scan = 'SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off; ';

# Build $idx on t with $workers allowed (leader => 0: SET
# parallel_leader_participation = off, the workers scan the whole table).
# Returns the number of parallel workers the postmaster started for the
# building backend, the rows each participant encoded ("leader" / "worker"
# => [counts], from the build's DEBUG1 lines) and the log of the build.
sub build
{
	my ($node, $idx, $workers, %opt) = @_;
	my ($opc, $q) = @{ $cfg{$idx} };
	my $offset = -s $node->logfile;
	my $conc = $opt{concurrently} ? 'CONCURRENTLY ' : '';
	my $leader = ($opt{leader} // 1) ? 'on' : 'off';
	my $pid = $node->safe_psql(
		'postgres', qq{
SET max_parallel_maintenance_workers = $workers;
SET parallel_leader_participation = $leader;
SELECT pg_backend_pid();
CREATE INDEX $conc$idx ON t USING lance_ivf (v $opc) WITH (lists = $LISTS, quantizer = '$q');
});
	my $log = slurp_file($node->logfile, $offset);
	my $started = () = $log =~ /starting background worker process "parallel worker for PID $pid"/g;
	my %enc = (leader => [], worker => []);
	push @{ $enc{$1} }, $2 while $log =~ /lance_ivf parallel build: (leader|worker) encoded (\d+) rows/g;
	return ($started, \%enc, $log);
}

sub sum { my $s = 0; $s += $_ for @_; return $s }

# k nearest of every query, one line per query: "q|id:distance,...".
sub knn
{
	my ($node, $idx, $settings) = @_;
	my $op = $cfg{$idx}[2];
	my $sql = $settings;
	for my $q (@queries)
	{
		$sql .= qq{SELECT '$q|' || string_agg(id || ':' || round(d::numeric, 5), ',' ORDER BY d, id)
FROM (SELECT id, v $op vec($q) AS d FROM t ORDER BY v $op vec($q) LIMIT $K) s;
};
	}
	return $node->safe_psql('postgres', $sql);
}

sub all_lists { return $idx_scan . "SET lancedb.nprobes = $LISTS; " }
sub few_lists { return $idx_scan . "SET lancedb.nprobes = $FEW; SET lancedb.iterative_scan = off; " }

# index_stats without "maintenance" (the background worker's state, not
# the index's).  Everything else, pages and bytes included, must match:
# participants append to the shared tail of each list one at a time
# (writer_busy), so every list page but the last is full, as in a serial
# build; "health" samples the table with TABLESAMPLE ... REPEATABLE.
sub stats
{
	my ($node, $idx) = @_;
	return $node->safe_psql('postgres', "SELECT lancedb.index_stats('$idx') - 'maintenance'");
}

# mean recall@K of $got against $exact (both from knn())
sub recall
{
	my ($got, $exact) = @_;
	my %g = map { split /\|/, $_, 2 } split /\n/, $got;
	my ($hits, $all) = (0, 0);
	for my $line (split /\n/, $exact)
	{
		my ($q, $list) = split /\|/, $line, 2;
		my %in = map { (split /:/)[0] => 1 } split /,/, ($g{$q} // '');
		for my $e (split /,/, $list)
		{
			$all++;
			$hits++ if $in{ (split /:/, $e)[0] };
		}
	}
	return $all ? $hits / $all : 0;
}

# ---- 1 and 2: serial and parallel builds give the same index ----

my %exact;
for my $idx (@idxs)
{
	$exact{$idx} = knn($primary, $idx, $seq_scan);
	is(scalar(split /\n/, $exact{$idx}), scalar(@queries), "$idx: exact search answers every query");
}

my %par;
for my $idx (@idxs)
{
	my $q = $cfg{$idx}[1];

	my ($sworkers, $senc) = build($primary, $idx, 0);
	is($sworkers, 0, "$idx serial build: no parallel worker started");
	is(scalar(@{ $senc->{leader} }) + scalar(@{ $senc->{worker} }), 0,
		"$idx serial build: no parallel participant");
	my %serial = (
		stats => stats($primary, $idx),
		all   => knn($primary, $idx, all_lists()),
		few   => knn($primary, $idx, few_lists()));
	$primary->safe_psql('postgres', "DROP INDEX $idx");

	# Without the leader: with the leader in, it may scan the whole table
	# before a worker has even started (it did, for sq on this table).
	my ($pworkers, $penc, $plog) = build($primary, $idx, 2, leader => 0);
	is($pworkers, 2, "$idx parallel build: the postmaster started 2 parallel workers for the building backend");
	is( scalar(@{ $penc->{leader} }) . '/' . scalar(@{ $penc->{worker} }) . '/' . sum(@{ $penc->{worker} }),
		"0/2/$N", "$idx parallel build: the 2 workers encoded all $N rows, the leader none (@{ $penc->{worker} })");
	# pass 2 scanned the table: the sample held fewer rows than the table
	# (else IvfEncodeSample encodes from memory, with no workers)
	my ($nsample) = $plog =~ /lance_ivf k-means: (\d+) rows, $LISTS lists/;
	ok(defined $nsample && $nsample < $N,
		"$idx parallel build: k-means sample (" . ($nsample // 'none') . " rows) smaller than the table");
	like($plog, qr/lance_ivf build of "$idx": $N rows, $LISTS lists/,
		"$idx parallel build: the build logs all $N rows indexed");
	like($plog, qr/background worker "parallel worker" \(PID \d+\) exited with exit code 0/,
		"$idx parallel build: a worker exited cleanly");

	my $pstats = stats($primary, $idx);
	is($pstats, $serial{stats}, "$idx: index_stats of the parallel build = serial build");
	is( $primary->safe_psql(
			'postgres',
			"SELECT (s->>'num_indexed_rows')::int, s->>'lists', s->>'trained', s->>'quantizer', (s->'list_size'->>'empty')::int "
			  . "FROM lancedb.index_stats('$idx') AS s"),
		"$N|$LISTS|true|$q|0",
		"$idx parallel build: every row indexed, $LISTS lists, trained, $q, no empty list");

	my $all = knn($primary, $idx, all_lists());
	is($all, $serial{all}, "$idx: nprobes = lists: parallel build = serial build (ids and distances)");
	is($all, $exact{$idx}, "$idx: nprobes = lists: parallel build = exact search");
	is(recall($all, $exact{$idx}), 1, "$idx: nprobes = lists: recall\@$K = 1");
	my $few = knn($primary, $idx, few_lists());
	is($few, $serial{few}, "$idx: nprobes = $FEW: parallel build = serial build (ids and distances)");
	# the comparison at nprobes = $FEW is of approximate answers: some
	# queries miss rows of lists not probed
	my %ex = map { $_ => 1 } split /\n/, $exact{$idx};
	my $approx = grep { !$ex{$_} } split /\n/, $few;
	my $r = recall($few, $exact{$idx});
	ok($approx > 0 && $r > 0.5 && $r < 1,
		"$idx: nprobes = $FEW is approximate: $approx of " . scalar(@queries) . " queries differ from exact search, recall\@$K $r");

	$par{$idx} = { stats => $pstats, all => $all, few => $few };
}

# CREATE INDEX CONCURRENTLY, the leader taking part (the default): the
# participants scan with the leader's MVCC snapshot instead of SnapshotAny;
# same index.  The leader may encode every row before a worker starts, so
# only the total is asserted.
{
	my $idx = 't_sq';
	$primary->safe_psql('postgres', "DROP INDEX $idx");
	my ($w, $enc) = build($primary, $idx, 2, concurrently => 1);
	is($w, 2, "$idx CONCURRENTLY: 2 parallel workers started");
	is( scalar(@{ $enc->{leader} }) . '/' . scalar(@{ $enc->{worker} }) . '/' . sum(@{ $enc->{leader} }, @{ $enc->{worker} }),
		"1/2/$N", "$idx CONCURRENTLY: the leader and 2 workers encoded $N rows in all (@{ $enc->{leader} } + @{ $enc->{worker} })");
	is(stats($primary, $idx), $par{$idx}{stats}, "$idx CONCURRENTLY: index_stats = serial build");
	is(knn($primary, $idx, all_lists()), $exact{$idx}, "$idx CONCURRENTLY: nprobes = lists = exact search");
	is(knn($primary, $idx, few_lists()), $par{$idx}{few}, "$idx CONCURRENTLY: nprobes = $FEW = serial build");
}

# ---- 3. streaming standby, then an immediate stop ----

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
for my $idx (@idxs)
{
	is(stats($standby, $idx), $par{$idx}{stats}, "$idx standby: index_stats = primary");
	is(knn($standby, $idx, all_lists()), $exact{$idx}, "$idx standby: nprobes = lists = exact search");
	is(knn($standby, $idx, few_lists()), $par{$idx}{few}, "$idx standby: nprobes = $FEW = primary");
}

# Rebuild both in parallel after a checkpoint (only WAL has the pages),
# insert rows through aminsert, and stop immediately.
$primary->safe_psql('postgres', 'DROP INDEX t_sq; DROP INDEX t_rq; CHECKPOINT');
for my $idx (@idxs)
{
	my ($w, $enc) = build($primary, $idx, 2, leader => 0);
	is($w . '/' . sum(@{ $enc->{worker} }), "2/$N", "$idx crash round: 2 workers encoded the $N rows");
}
my $N2 = $N + 500;
$primary->safe_psql('postgres', "INSERT INTO t SELECT i, vec(i) FROM generate_series($N + 1, $N2) AS i");
%exact = map { $_ => knn($primary, $_, $seq_scan) } @idxs;
$primary->stop('immediate');
$primary->start;

for my $idx (@idxs)
{
	my $op = $cfg{$idx}[2];
	is( $primary->safe_psql('postgres',
			"SELECT (s->>'num_indexed_rows')::int || '/' || (s->>'rows_at_build')::int FROM lancedb.index_stats('$idx') AS s"),
		"$N2/$N", "$idx after crash: the built rows and the inserted ones are indexed");
	is(knn($primary, $idx, all_lists()), $exact{$idx}, "$idx after crash: nprobes = lists = exact search");
	like($primary->safe_psql('postgres', all_lists() . "SELECT id FROM t ORDER BY v $op vec(40250) LIMIT 1"),
		qr/^40250$/, "$idx after crash: a row inserted after the build is its own nearest neighbour");
}
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
for my $idx (@idxs)
{
	is(stats($standby, $idx), stats($primary, $idx), "$idx standby after the primary's crash: index_stats = primary");
	is(knn($standby, $idx, all_lists()), $exact{$idx}, "$idx standby after the primary's crash: nprobes = lists = exact");
}

# ---- 4. progress reporting ----

# A larger table (the vectors of t four times) makes a build of a second
# or two.  A session polls pg_stat_progress_create_index every
# millisecond, server-side (pg_stat_clear_snapshot: a transaction
# otherwise keeps its first snapshot of backend status), from when the
# build shows up until it is gone, and returns the distinct phases in the
# order first seen, the most parallel workers seen with the builder as
# leader_pid, and tuples_total seen in "assigning and encoding".
$primary->safe_psql(
	'postgres', qq{
CREATE TABLE big (id int, v vector(32));
INSERT INTO big SELECT id + k * $N, v FROM t, generate_series(0, 3) AS k WHERE id <= $N;
VACUUM ANALYZE big;
CREATE FUNCTION poll_phases(tbl regclass, timeout_s float8) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
  seen text[] := '{}';
  ph text;
  started boolean := false;
  t0 timestamptz := clock_timestamp();
  nworkers int := 0;
  total bigint;
  r record;
BEGIN
  LOOP
    PERFORM pg_stat_clear_snapshot();
    SELECT p.pid, p.phase, p.tuples_total INTO r
      FROM pg_stat_progress_create_index p WHERE p.relid = tbl;
    IF FOUND THEN
      started := true;
      ph := coalesce(r.phase, '<null>');
      IF NOT ph = ANY (seen) THEN
        seen := seen || ph;
      END IF;
      IF ph = 'building index: assigning and encoding' THEN
        total := r.tuples_total;
      END IF;
      nworkers := greatest(nworkers,
        (SELECT count(*) FROM pg_stat_activity
          WHERE leader_pid = r.pid AND pid <> r.pid AND backend_type = 'parallel worker'));
    ELSIF started THEN
      EXIT;
    END IF;
    EXIT WHEN clock_timestamp() - t0 > make_interval(secs => timeout_s);
    PERFORM pg_sleep(0.001);
  END LOOP;
  RETURN array_to_string(seen, ';') || '#' || nworkers || '#' || coalesce(total, -1);
END \$\$;
});

my $bg = $primary->background_psql('postgres', on_error_stop => 1);
$bg->query_until(qr/polling/, "\\echo polling\nSELECT poll_phases('big', 60);\n");
$primary->poll_query_until('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT poll_phases(%'}, '1')
  or die 'the polling session did not start';
my $t0 = time;
$primary->safe_psql('postgres', q{
SET max_parallel_maintenance_workers = 2;
CREATE INDEX big_idx ON big USING lance_ivf (v vector_l2_ops) WITH (lists = 100, quantizer = 'sq');
});
note('progress build took ~' . (time - $t0) . ' s');
my ($polled) = split /\n/, $bg->query_safe("SELECT 'end'");
$bg->quit;
note("progress poll: $polled");
my ($phases, $seen_workers, $total) = split /#/, $polled;
my @phases = split /;/, $phases;

# The order the phases go through; PostgreSQL forms the view's phase as
# 'building index: ' || ambuildphasename(subphase), or plain 'building
# index' when ambuildphasename returns NULL.
my %rank = (
	'initializing'                           => 0,
	'building index: initializing'           => 1,
	'building index: sampling'               => 2,
	'building index: training'               => 3,
	'building index: assigning and encoding' => 4,
	'building index: writing lists'          => 5,);
my @unknown = grep { !exists $rank{$_} } @phases;
is("@unknown", '', 'progress: no NULL, unnamed or unknown phase ("' . join('", "', @phases) . '")');
my @sub = grep { /^building index: (sampling|training|assigning and encoding|writing lists)$/ } @phases;
cmp_ok(scalar(@sub), '>=', 2, 'progress: at least two lance_ivf sub-phases seen by name');
# Sampling and assigning are each a full scan of the 160000 rows (the
# second through the parallel workers), tenths of a second even on a fast
# machine: polled every millisecond, they cannot be missed.  Training
# (k-means on 25600 sampled rows) and writing lists (the leader waiting
# for the workers' last flush) may take only a few milliseconds, so
# they are not required.
ok(grep({ $_ eq 'building index: sampling' } @phases), 'progress: "building index: sampling" seen');
ok(grep({ $_ eq 'building index: assigning and encoding' } @phases),
	'progress: "building index: assigning and encoding" seen');
my @ranks = map { $rank{$_} // -1 } @phases;
is("@ranks", join(' ', sort { $a <=> $b } @ranks), 'progress: phases seen in build order');
is($total, $NBIG, "progress: tuples_total = $NBIG rows while assigning and encoding");
cmp_ok($seen_workers, '>=', 1, "progress: parallel workers of the builder seen in pg_stat_activity ($seen_workers)");
is($primary->safe_psql('postgres',
		"SELECT (s->>'num_indexed_rows')::int FROM lancedb.index_stats('big_idx') AS s"),
	$NBIG, 'progress: big_idx indexes every row');

$standby->stop;
$primary->stop;
done_testing();
