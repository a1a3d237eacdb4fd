# kill -9 of a backend writing to a Lance dataset, checked with the real
# LanceDB (test/lance/write_crash.mjs; 0.37.1 on a 2.1 dataset, 0.39.0 on a
# 2.2 and on a 2.0 dataset):
#   - while INSERT writes a data file (the file is caught part-written);
#   - after the statement wrote its files, before COMMIT;
#   - while lancedb.lance_compact writes the merged file.
# Each time LanceDB and the FDW read the previous version, the next write
# works, and lance_cleanup removes the orphan file once it is older than an
# hour (the in-flight rule), not before.
use strict;
use warnings;

use FindBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{LANCEDB_ROOT} // "$FindBin::Bin/../..";
my $js = "$root/test/lance/write_crash.mjs";
my ($node_bin) = grep { -x "$_/node" } split /:/, ($ENV{PATH} // '');
$node_bin = defined $node_bin ? "$node_bin/node" : '';
if (!-f $js || !-d "$root/test/lance/node_modules" || $node_bin eq '')
{
	plan skip_all => 'node and test/lance/node_modules (LanceDB npm packages) are needed';
}

my $dim = 256;
my $node = PostgreSQL::Test::Cluster->new('lance_crash');
$node->init;
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub lancedb
{
	my @args = @_;
	my ($out, $err);
	IPC::Run::run([ $node_bin, $js, @args ], '>', \$out, '2>', \$err)
	  or die "node @args failed: $err$out";
	return { map { /^(\S+) (.*)$/ ? ($1 => $2) : () } split /\n/, $out };
}

# data file name => size
sub data_files
{
	my ($ds) = @_;
	opendir my $dh, "$ds/data" or die "$ds/data: $!";
	my %f = map { $_ => -s "$ds/data/$_" } grep { /\.lance$/ } readdir $dh;
	closedir $dh;
	return \%f;
}

# Runs $sql in a background session; once the backend runs it, waits for a
# new data file in $ds with some bytes and kills the backend with SIGKILL.
# Returns the new files (name => size after the crash).
sub kill_while_writing
{
	my ($ds, $sql, $pattern, $cond) = @_;
	$cond //= '';
	my $before = data_files($ds);
	my ($out, $err) = ('', '');
	open my $fh, '>', "$tmp/crash.sql" or die;
	print $fh "$sql\n";
	close $fh;
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-f', "$tmp/crash.sql" ],
		'>', \$out, '2>', \$err);
	my $pid = '';
	foreach (1 .. 600)
	{
		$pid = $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE query LIKE '$pattern' AND pid <> pg_backend_pid() $cond");
		last if $pid ne '';
		select undef, undef, undef, 0.05;
	}
	die "the statement did not start: $err" if $pid eq '';
	my $deadline = time + 120;
  POLL:
	while (time < $deadline)
	{
		my $now = data_files($ds);
		foreach my $f (keys %$now)
		{
			last POLL if !exists $before->{$f} && $now->{$f};
		}
		select undef, undef, undef, 0.002;
	}
	kill 'KILL', $pid;
	$h->finish;
	$node->poll_query_until('postgres', 'SELECT true') or die;
	my $after = data_files($ds);
	return { map { $_ => $after->{$_} } grep { !exists $before->{$_} } keys %$after };
}

# makes every file in @files two hours old
sub age
{
	utime time - 7200, time - 7200, @_;
}

foreach my $case ([ '37', '2.1' ], [ '39', '2.2' ], [ '39', '2.0' ])
{
	my ($lib, $ver) = @$case;
	my $s = $ver eq '2.0' ? "z$lib" : "c$lib";
	my $uri = "$tmp/$s";
	my $ds = "$uri/v.lance";
	mkdir $uri or die;
	lancedb('create', $uri, $lib, $ver, $dim);
	$node->safe_psql('postgres', qq{
		CREATE SERVER $s FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$uri');
		CREATE SCHEMA $s;
		IMPORT FOREIGN SCHEMA lance FROM SERVER $s INTO $s;
		CREATE TABLE $s.src AS SELECT g::bigint AS id, array_fill(g::real, ARRAY[$dim])::vector($dim) AS vector
			FROM generate_series(100, 150099) g;
	});
	my $full = 150000 * $dim * 4;    # bytes of the vectors of one complete file

	# 1. kill -9 while INSERT writes its data file
	my $new = kill_while_writing($ds, "INSERT INTO $s.v SELECT * FROM $s.src;", 'INSERT INTO%src%');
	my @orphans = keys %$new;
	ok(@orphans == 1 && $new->{ $orphans[0] } < $full,
		"$ver: the INSERT was killed while writing its data file ("
		  . join(', ', map { "$_ bytes" } values %$new) . ')');
	my $r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 3, 0, 1 ],
		"$ver: after the kill LanceDB reads the previous version");
	is($node->safe_psql('postgres', "SELECT count(*), sum(id) FROM $s.v"), '3|6', "$ver: ... and so does the FDW");
	$node->safe_psql('postgres', "INSERT INTO $s.v SELECT * FROM $s.src WHERE id < 1100");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 1003, 0, 2 ], "$ver: the next INSERT commits version 2");
	$node->safe_psql('postgres', "SELECT lancedb.lance_cleanup('$s.v', '0 s')");
	ok(-e "$ds/data/$orphans[0]", "$ver: lance_cleanup keeps the orphan while it may be in flight (< 1 hour)");
	age(map { "$ds/data/$_" } @orphans);
	$node->safe_psql('postgres', "SELECT lancedb.lance_cleanup('$s.v', '0 s')");
	ok(!-e "$ds/data/$orphans[0]", "$ver: ... and removes it once older");
	is(lancedb('check', $uri, $lib)->{bad}, 0, "$ver: LanceDB reads every row after the cleanup");

	# 2. kill -9 after the statement wrote its files, before COMMIT
	$new = kill_while_writing($ds,
		"BEGIN; INSERT INTO $s.v SELECT * FROM $s.src WHERE id >= 1100 AND id < 3100; SELECT pg_sleep(300);",
		'%pg_sleep(300)%', "AND wait_event = 'PgSleep'");
	@orphans = keys %$new;
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 1003, 0, 2 ],
		"$ver: killed between writing its file and COMMIT, nothing is committed");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $s.v"), 1003, "$ver: ... the FDW agrees");
	age(map { "$ds/data/$_" } @orphans);
	$node->safe_psql('postgres', "SELECT lancedb.lance_cleanup('$s.v', '0 s')");
	ok(@orphans == 1 && !-e "$ds/data/$orphans[0]", "$ver: ... and lance_cleanup removes its old orphan");

	# 3. kill -9 while lance_compact writes the merged file
	foreach my $k (0 .. 4)
	{
		my $lo = 10000 + 25000 * $k;
		$node->safe_psql('postgres',
			"INSERT INTO $s.v SELECT * FROM $s.src WHERE id >= $lo AND id < " . ($lo + 25000));
	}
	my $pre = lancedb('check', $uri, $lib);
	is_deeply([ @$pre{qw(rows bad)} ], [ 126003, 0 ], "$ver: seven fragments to compact");
	$new = kill_while_writing($ds, "SELECT lancedb.lance_compact('$s.v');", '%lance_compact%');
	@orphans = keys %$new;
	ok(@orphans == 1 && $new->{ $orphans[0] } < 126003 * $dim * 4,
		"$ver: the compaction was killed while writing its merged file ("
		  . join(', ', map { "$_ bytes" } values %$new) . ')');
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ @$pre{qw(rows bad version)} ],
		"$ver: after the killed compaction LanceDB reads the previous version");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $s.v"), $pre->{rows}, "$ver: ... and so does the FDW");
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('$s.v')"),
		qr/"fragments_removed": 7/, "$ver: the compaction succeeds afterwards");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ $pre->{rows}, 0, $pre->{version} + 1 ],
		"$ver: LanceDB reads the compacted version");
	age(map { "$ds/data/$_" } @orphans);
	$node->safe_psql('postgres', "SELECT lancedb.lance_cleanup('$s.v', '0 s')");
	ok(!grep({ -e "$ds/data/$_" } @orphans), "$ver: lance_cleanup removes the killed compaction's file");
	is(lancedb('check', $uri, $lib)->{bad}, 0, "$ver: LanceDB reads every row after the cleanup");
}

$node->stop;
done_testing();
