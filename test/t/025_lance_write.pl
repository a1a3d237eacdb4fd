
# lance_fdw writes against the real LanceDB (npm 0.37.1 on a 2.1 dataset,
# 0.39.0 on a 2.2 dataset, 0.37.1 on a 2.0 dataset that 0.39.0 reads as well;
# test/lance/write_interop.mjs).  Every value of row
# `id` is a function of id, computed by exp_rows() here and by expected() in
# the script, so each side checks every row the other wrote:
#   - LanceDB reads what INSERT and COPY FROM wrote (all writable types,
#     nulls, vectors, halfvecs, int arrays), at the version the FDW committed;
#   - rollback and rollback to savepoint leave no version and no files;
#   - a LanceDB add() committed while a FDW insert is pending: both kept;
#   - LanceDB deletes and optimize()s on top, the FDW reads the result and
#     appends again; LanceDB reads that;
#   - kill -9 of a backend holding written, uncommitted fragments: LanceDB
#     and the FDW still read the previous version;
#   - DELETE/UPDATE (deletion files) read by LanceDB; a conflicting
#     concurrent LanceDB delete is a serialization failure;
#   - stable row ids: new rows get the next ids, LanceDB keeps them;
#   - lance_tag_create/delete and lance_restore, read back by LanceDB;
#   - lance_compact: LanceDB reads the same rows (sum, values) and appends
#     and optimize()s on top; a compaction racing a LanceDB add() keeps
#     both, racing a LanceDB delete of its fragment fails with 40001 and
#     leaves no file; stable row ids kept; Lance indexes over rewritten
#     fragments dropped, others kept;
#   - lance_cleanup: LanceDB reads the latest and tagged versions, older
#     ones are gone, only kept versions' files (and young orphans) remain;
#   - lancedb.optimize() on a Lance table compacts, then cleans up;
#   - errors: NOT NULL fields, dimensions, types, pinned tables, privileges;
#   - lists of lists (jsonb, two-dimensional arrays), structs holding lists
#     and structs, lists of structs holding lists, decimal256, and 100000
#     NULL lists, 100000 empty lists and long runs of each between lists
#     (test/lance/write_deep.mjs): LanceDB reads each version, appends and
#     optimize()s, the FDW reads back, UPDATE, DELETE and lance_compact.
use strict;
use warnings;

use FindBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{LANCEDB_ROOT} // "$FindBin::Bin/../..";
my $js = "$root/test/lance/write_interop.mjs";
my ($node_bin) = grep { -x "$_/node" } split /:/, ($ENV{PATH} // '');
$node_bin = defined $node_bin ? "$node_bin/node" : '';
if (!-f $js || !-d "$root/test/lance/node_modules" || $node_bin eq '')
{
	plan skip_all => 'node and test/lance/node_modules (LanceDB npm packages) are needed';
}

my $node = PostgreSQL::Test::Cluster->new('lance_write');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# the kill -9 test needs the server back afterwards
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub fails
{
	my ($sql, $re, $name) = @_;
	my ($r, $o, $e) = $node->psql('postgres', $sql);
	like($e, $re, $name);
}

# runs a LanceDB script; returns its "key value" lines as a hash
sub node_kv
{
	my ($script, @args) = @_;
	my ($out, $err);
	IPC::Run::run([ $node_bin, $script, @args ], '>', \$out, '2>', \$err)
	  or die "node $script @args failed: $err$out";
	my %kv = map { /^(\S+) (.*)$/ ? ($1 => $2) : () } split /\n/, $out;
	$kv{mismatches} = join "\n", grep { /^mismatch/ } split /\n/, $out;
	return \%kv;
}

sub lancedb { return node_kv($js, @_); }

# a server for directory $uri, its tables imported into schema $s
sub lance_server
{
	my ($s, $uri, $table, $rows_per_fragment) = @_;
	$node->safe_psql('postgres', qq{
		CREATE SERVER $s FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$uri');
		CREATE SCHEMA $s;
		IMPORT FOREIGN SCHEMA lance FROM SERVER $s INTO $s;
		ALTER FOREIGN TABLE $s.$table OPTIONS (ADD rows_per_fragment '$rows_per_fragment');
	});
}

sub data_files
{
	my ($ds) = @_;
	opendir my $dh, "$ds/data" or die "$ds/data: $!";
	my @f = grep { /\.lance$/ } readdir $dh;
	closedir $dh;
	return scalar @f;
}

# the rows of ids [a, b) as the formulas of write_interop.mjs define them
sub exp_function
{
	my ($s) = @_;
	return qq{
CREATE FUNCTION $s.exp_rows(a int, b int) RETURNS SETOF $s.t LANGUAGE sql AS \$\$
SELECT g::bigint,
 CASE WHEN (g+1)%7=0 THEN NULL ELSE g % 256 - 128 END::smallint,
 CASE WHEN (g+2)%7=0 THEN NULL ELSE (g*37) % 65536 - 32768 END::smallint,
 CASE WHEN (g+3)%7=0 THEN NULL ELSE g*1000 - 5000000 END,
 CASE WHEN (g+4)%7=0 THEN NULL ELSE (g*3) % 256 END::smallint,
 CASE WHEN (g+5)%7=0 THEN NULL ELSE (g::bigint*2654435761) % 4294967296 END,
 CASE WHEN (g+6)%7=0 THEN NULL ELSE g::numeric*1000000007 END,
 CASE WHEN (g+7)%7=0 THEN NULL ELSE (g % 2048)/4.0 END::real,
 CASE WHEN (g+8)%7=0 THEN NULL ELSE g/16.0 END::real,
 CASE WHEN (g+9)%7=0 THEN NULL ELSE g::float8/3 END,
 CASE WHEN (g+10)%7=0 THEN NULL ELSE g%3=0 END,
 CASE WHEN (g+11)%7=0 THEN NULL ELSE 'v'||g||CASE WHEN g%5=0 THEN '-é日本' ELSE '' END||repeat('x', g%40) END,
 CASE WHEN (g+12)%7=0 THEN NULL ELSE substring(decode(lpad(to_hex(g&255),2,'0')||lpad(to_hex((g>>8)&255),2,'0')||'00ff','hex') from 1 for g%5) END,
 CASE WHEN (g+13)%7=0 THEN NULL ELSE (SELECT array_agg(g + k*0.25 ORDER BY k)::real[]::vector FROM generate_series(0,7) k) END,
 CASE WHEN (g+14)%7=0 THEN NULL ELSE (SELECT array_agg((g%64) + k*0.5 ORDER BY k)::real[]::halfvec FROM generate_series(0,3) k) END,
 CASE WHEN (g+15)%7=0 THEN NULL ELSE ARRAY[g, -g, 2*g] END,
 CASE WHEN (g+16)%7=0 THEN NULL ELSE timestamp '1970-01-01'
   + ((1700000000000000 + g::bigint*1000001) / 1000000) * interval '1 second'
   + ((1700000000000000 + g::bigint*1000001) % 1000000) * interval '1 microsecond' END,
 CASE WHEN (g+17)%7=0 THEN NULL ELSE date '1970-01-01' + (19000 + g%1000) END
FROM generate_series(a, b - 1) g \$\$;
};
}

foreach my $case ([ '37', '2.1' ], [ '39', '2.2' ], [ '37', '2.0' ])
{
	my ($lib, $ver) = @$case;
	my $s = $ver eq '2.0' ? "z$lib" : "w$lib";
	my $uri = "$tmp/$s";
	my $ds = "$uri/t.lance";
	# the other LanceDB reads the 2.0 dataset too
	my $other = $lib eq '37' ? '39' : '37';
	my $other_reads = sub {
		my ($rows, $what) = @_;
		return if $ver ne '2.0';
		my $o = lancedb('check', $uri, $other);
		is_deeply([ @$o{qw(rows bad)} ], [ $rows, 0 ], "$ver: LanceDB $other reads $what too")
		  or diag $o->{mismatches};
	};
	mkdir $uri or die;
	lancedb('create', $uri, $lib, $ver);
	lance_server($s, $uri, 't', 1000);
	$node->safe_psql('postgres', exp_function($s));
	my $diff = sub {
		my ($a, $b) = @_;
		return $node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE t::text IS DISTINCT FROM e::text), count(t.id), count(e.id)
			 FROM $s.t t FULL JOIN $s.exp_rows($a, $b) e USING (id)");
	};
	is($diff->(1, 4), '0|3|3', "$ver: the FDW reads LanceDB's seed rows as the formulas say");

	# INSERT: one statement, five fragments, one version
	$node->safe_psql('postgres', "INSERT INTO $s.t SELECT * FROM $s.exp_rows(4, 5000)");
	my $r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 4999, 0, 2 ],
		"$ver: LanceDB $lib reads every row the FDW inserted, at version 2")
	  or diag $r->{mismatches};
	$other_reads->(4999, 'the inserted rows');
	is(data_files($ds), 6, "$ver: 4996 rows with rows_per_fragment 1000 made 5 data files");
	is($diff->(1, 5000), '0|4999|4999', "$ver: the FDW reads its own rows back");

	# rollback, and rollback to a savepoint
	$node->safe_psql('postgres',
		"BEGIN; INSERT INTO $s.t SELECT * FROM $s.exp_rows(5000, 6000); ROLLBACK");
	is(lancedb('stat', $uri, $lib)->{version}, 2, "$ver: a rolled-back INSERT leaves no version");
	is(data_files($ds), 6, "$ver: ... and no data file");
	$node->safe_psql('postgres', qq{BEGIN;
		INSERT INTO $s.t SELECT * FROM $s.exp_rows(5000, 5100);
		SAVEPOINT a;
		INSERT INTO $s.t SELECT * FROM $s.exp_rows(5100, 5200);
		ROLLBACK TO a;
		COMMIT});
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 5099, 0, 3 ],
		"$ver: the rows of a rolled-back savepoint are not committed");
	is(data_files($ds), 7, "$ver: ... and their file is gone");

	# a LanceDB add() commits while the FDW's insert waits for COMMIT
	$node->safe_psql('postgres', qq{BEGIN;
		INSERT INTO $s.t SELECT * FROM $s.exp_rows(5100, 5300);
		COPY (SELECT 1) TO PROGRAM '$node_bin $js add $uri $lib 6000 6100';
		COMMIT});
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 5399, 0, 5 ],
		"$ver: a FDW insert racing a LanceDB add() loses neither (rebased to version 5)");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $s.t"), 5399, "$ver: the FDW agrees");

	# COPY FROM
	$node->safe_psql('postgres', qq{
		COPY (SELECT * FROM $s.exp_rows(7000, 7500)) TO '$tmp/$s.csv' CSV;
		COPY $s.t FROM '$tmp/$s.csv' CSV});
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 5899, 0, 6 ], "$ver: LanceDB reads COPY FROM's rows");
	$other_reads->(5899, "COPY FROM's rows");

	# LanceDB deletes and compacts on top; the FDW reads it and appends again
	$r = lancedb('mutate', $uri, $lib);
	my $live = $r->{rows};
	is( $node->safe_psql('postgres',
			"SELECT count(*), count(*) FILTER (WHERE id % 10 = 1) FROM $s.t"),
		"$live|0", "$ver: the FDW reads LanceDB's delete + optimize()");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM $s.t t JOIN $s.exp_rows(1, 8000) e USING (id) WHERE t::text <> e::text"),
		0, "$ver: ... with every value intact");
	$node->safe_psql('postgres', "INSERT INTO $s.t SELECT * FROM $s.exp_rows(8000, 8100)");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $live + 100, 0 ],
		"$ver: LanceDB reads a FDW append on top of its compacted version");

	# DELETE and UPDATE through _rowaddr
	$node->safe_psql('postgres', qq{ALTER FOREIGN TABLE $s.t ADD COLUMN _rowaddr bigint;
		CREATE FOREIGN TABLE $s.u (id bigint, s text, _rowaddr bigint) SERVER $s OPTIONS (table 't')});
	my $n2 = $node->safe_psql('postgres', "SELECT count(*) FROM $s.t WHERE id % 10 = 2");
	my $gone = $node->safe_psql('postgres',
		"SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM $s.t WHERE id % 10 = 2");
	is( $node->safe_psql('postgres',
			"WITH d AS (DELETE FROM $s.t WHERE id % 10 = 2 RETURNING *) SELECT md5(string_agg(d::text, ',' ORDER BY id)) FROM d"),
		$gone, "$ver: DELETE ... RETURNING returns the deleted rows");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $live + 100 - $n2, 0 ],
		"$ver: LanceDB reads the FDW's DELETE (deletion files)");
	is(lancedb('count', $uri, $lib, 'id % 10 = 2')->{rows}, 0, "$ver: ... none of the deleted rows remain");
	$live = $r->{rows};
	my $maxfrag = $node->safe_psql('postgres', "SELECT max(_rowaddr >> 32) FROM $s.t");
	$node->safe_psql('postgres', "UPDATE $s.t SET s = s WHERE id BETWEEN 100 AND 199");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $live, 0 ], "$ver: LanceDB reads the FDW's UPDATE, values intact");
	$other_reads->($live, 'the UPDATE');
	is( $node->safe_psql('postgres',
			"SELECT count(DISTINCT _rowaddr >> 32), min(_rowaddr >> 32) > $maxfrag FROM $s.t WHERE id BETWEEN 100 AND 199"),
		'1|t', "$ver: updated rows moved to one new fragment");
	$node->safe_psql('postgres', "BEGIN; DELETE FROM $s.t; ROLLBACK");
	is(lancedb('stat', $uri, $lib)->{rows}, $live, "$ver: a rolled-back DELETE changes nothing");
	# a LanceDB delete of the same fragment commits first: serialization failure
	my ($rc, $o, $e) = $node->psql('postgres', qq{BEGIN;
		DELETE FROM $s.t WHERE id = 8003;
		COPY (SELECT 1) TO PROGRAM '$node_bin $js delete $uri $lib "id = 8004"';
		COMMIT});
	like($e, qr/could not serialize|could not commit to Lance dataset.*changed the same fragments/,
		"$ver: a conflicting concurrent delete is a serialization failure");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $live - 1, 0 ], "$ver: only LanceDB's delete is committed");
	fails("UPDATE $s.u SET s = s", qr/UPDATE of foreign table "u" needs a column for every Lance field.*"i8"/,
		"$ver: UPDATE through a table lacking fields is refused");
	$r = lancedb('mutate', $uri, $lib);
	is($node->safe_psql('postgres', "SELECT count(*) FROM $s.t"), $r->{rows},
		"$ver: LanceDB optimize() over the FDW's deletions, the FDW reads it");
	$node->safe_psql('postgres', "ALTER FOREIGN TABLE $s.t DROP COLUMN _rowaddr");

	# kill -9 of a backend that wrote fragments but has not committed
	my $before = lancedb('stat', $uri, $lib);
	my $files = data_files($ds);
	my ($out, $err) = ('', '');
	open my $fh, '>', "$tmp/crash.sql" or die;
	print $fh "BEGIN; INSERT INTO $s.t (id) SELECT g FROM generate_series(100000, 104999) g; SELECT pg_sleep(300);\n";
	close $fh;
	# the script as a file: the child reads it without being pumped
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-f', "$tmp/crash.sql" ],
		'>', \$out, '2>', \$err);
	my $pid;
	foreach (1 .. 600)
	{
		$pid = $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' AND wait_event = 'PgSleep'");
		last if $pid ne '';
		select undef, undef, undef, 0.1;
	}
	ok($pid ne '' && data_files($ds) > $files, "$ver: uncommitted fragments are on disk");
	die "no sleeping backend" if $pid eq '';
	kill 'KILL', $pid;
	$h->finish;
	$node->poll_query_until('postgres', 'SELECT true') or die;
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ $before->{rows}, 0, $before->{version} ],
		"$ver: after kill -9 LanceDB reads the previous version");
	is($node->safe_psql('postgres', "SELECT count(*) FROM $s.t"), $before->{rows},
		"$ver: ... and so does the FDW");
	$node->safe_psql('postgres', "INSERT INTO $s.t SELECT * FROM $s.exp_rows(9000, 9010)");
	is(lancedb('check', $uri, $lib)->{bad}, 0, "$ver: writes go on after the crash");

	# ---- lance_compact ----
	$node->safe_psql('postgres',
		"CREATE FOREIGN TABLE $s.ra (id bigint, _rowaddr bigint) SERVER $s OPTIONS (table 't')");
	foreach my $k (0 .. 3)
	{
		$node->safe_psql('postgres',
			"INSERT INTO $s.t SELECT * FROM $s.exp_rows(" . (30000 + 300 * $k) . ', ' . (30300 + 300 * $k) . ')');
	}
	$node->safe_psql('postgres', "DELETE FROM $s.ra WHERE id % 10 = 3");
	my $pre = lancedb('check', $uri, $lib);
	my $frags = $node->safe_psql('postgres', "SELECT count(DISTINCT _rowaddr >> 32) FROM $s.ra");
	$node->safe_psql('postgres', "SELECT lancedb.lance_tag_create('$s.t', 'before_compact')");
	my ($removed, $added, $rows, $version, $dropped) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT j->>'fragments_removed', j->>'fragments_added', j->>'rows', j->>'version', j->>'deleted_rows'
		FROM (SELECT lancedb.lance_compact('$s.t', 1000000) j) x});
	ok($removed >= $frags && $added == 1 && $rows == $pre->{rows} && $version == $pre->{version} + 1
		  && $dropped > 0,
		"$ver: lance_compact merged $removed fragments into one new version") or diag "$removed $added $rows $version";
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows sum bad version)} ], [ @$pre{qw(rows sum)}, 0, $version ],
		"$ver: LanceDB $lib reads exactly the same rows after the FDW's compaction")
	  or diag $r->{mismatches};
	$other_reads->($pre->{rows}, 'the compacted version');
	is($node->safe_psql('postgres',
			"SELECT count(DISTINCT _rowaddr >> 32), count(*) FILTER (WHERE id % 10 = 3) FROM $s.ra"),
		'1|0', "$ver: one fragment left, deleted rows dropped");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM $s.t t JOIN $s.exp_rows(1, 40000) e USING (id) WHERE t::text <> e::text"),
		0, "$ver: the FDW reads every value intact after compaction");
	is($node->safe_psql('postgres', "SELECT lancedb.lance_compact('$s.t')->>'fragments_removed'"), 0,
		"$ver: a compacted dataset needs no compaction");
	lancedb('add', $uri, $lib, 40000, 40100);
	$r = lancedb('optimize', $uri, $lib);
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $pre->{rows} + 100, 0 ],
		"$ver: LanceDB appends and optimize()s on top of the FDW's compaction");

	# compaction racing a LanceDB add(): both kept
	$node->safe_psql('postgres', "INSERT INTO $s.t SELECT * FROM $s.exp_rows(41000, 41100)");
	$pre = lancedb('check', $uri, $lib);
	my $race = sub {
		my ($cmd) = @_;
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[ 'psql', '-X', '-qAt', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres'), '-c',
			  "SET lancedb.lance_commit_delay = '120s'; SELECT lancedb.lance_compact('$s.t')->>'version'" ],
			'>', \$out, '2>', \$err);
		foreach (1 .. 600)
		{
			last if $node->safe_psql('postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%lance_commit_delay%' AND wait_event = 'PgSleep'") > 0;
			select undef, undef, undef, 0.05;
		}
		my $lr = lancedb(@$cmd);
		$h->finish;
		chomp $out;
		return ($out, $err, $lr);
	};
	my ($rout, $rerr, $lr) = $race->([ 'add', $uri, $lib, 42000, 42050 ]);
	is($rout, $lr->{version} + 1, "$ver: compaction racing a LanceDB add() rebased over it") or diag $rerr;
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows sum bad)} ], [ $pre->{rows} + 50, $pre->{sum} + 42000 * 50 + 49 * 25, 0 ],
		"$ver: ... and LanceDB reads both the compacted and the added rows");

	# compaction racing a LanceDB delete of a rewritten fragment: 40001, no files left
	$node->safe_psql('postgres', "INSERT INTO $s.t SELECT * FROM $s.exp_rows(43000, 43100)");
	my $nfiles = data_files($ds);
	($rout, $rerr, $lr) = $race->([ 'delete', $uri, $lib, 'id = 43005' ]);
	like($rerr, qr/40001: could not compact Lance dataset .*fragment \d+ .* was changed concurrently/,
		"$ver: compaction racing a LanceDB delete of its fragment is a serialization failure");
	is(data_files($ds), $nfiles, "$ver: ... and leaves no data file behind");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(version bad)} ], [ $lr->{version}, 0 ], "$ver: ... only LanceDB's delete is committed");

	# ---- lance_cleanup ----
	# (version 2 stays for the tag and restore tests below)
	$node->safe_psql('postgres', qq{SELECT lancedb.lance_tag_create('$s.t', 'keep_v2', 2);
		CREATE FOREIGN TABLE $s.ra2 (id bigint, _rowaddr bigint) SERVER $s OPTIONS (table 't', version '2')});
	my $tagged = lancedb('at', $uri, $lib, $version - 1)->{rows};
	my $latest = lancedb('stat', $uri, $lib);
	my $young = "$ds/data/young-orphan.lance";
	my $old = "$ds/data/old-orphan.lance";
	foreach my $f ($young, $old) { open my $o, '>', $f or die; print $o 'x'; close $o; }
	utime time - 3 * 86400, time - 3 * 86400, $old;
	is($node->safe_psql('postgres', "SELECT lancedb.lance_cleanup('$s.t', '1 hour')->>'versions_removed'"), 0,
		"$ver: lance_cleanup keeps versions younger than older_than");
	ok(!-e $old && -e $young, "$ver: ... and removes old files no version uses, not young ones");
	my $c = $node->safe_psql('postgres', "SELECT lancedb.lance_cleanup('$s.t', '0 s')");
	like($c, qr/"versions_removed": [1-9]/, "$ver: lance_cleanup('0 s') removes old versions");
	$r = lancedb('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ $latest->{rows}, 0, $latest->{version} ],
		"$ver: after cleanup LanceDB reads the latest version");
	is(lancedb('at', $uri, $lib, $version - 1)->{rows}, $tagged, "$ver: ... and the tagged version");
	like(lancedb('at', $uri, $lib, $version)->{error}, qr/not found/i, "$ver: ... but older versions are gone");
	$node->safe_psql('postgres', "SELECT lancedb.lance_tag_delete('$s.t', 'before_compact')");
	# the files the kill -9 above left behind, once old enough, go as well
	opendir my $dh, "$ds/data" or die;
	utime time - 7200, time - 7200, map { "$ds/data/$_" } grep { /\.lance$/ && !/young/ } readdir $dh;
	closedir $dh;
	$node->safe_psql('postgres', "SELECT lancedb.lance_cleanup('$s.t', '0 s')");
	is(data_files($ds) - 1, $node->safe_psql('postgres',
			"SELECT (SELECT count(DISTINCT _rowaddr >> 32) FROM $s.ra) + (SELECT count(DISTINCT _rowaddr >> 32) FROM $s.ra2)"),
		"$ver: with the tag gone, only the files of the latest and the tagged version 2 (and the young orphan) remain");
	is(lancedb('check', $uri, $lib)->{bad}, 0, "$ver: LanceDB still reads every row");
	unlink $young;
}

# ---- errors ----
my $s = 'w39';
my ($ret, $stdout, $stderr);
fails("INSERT INTO $s.t (id) VALUES (NULL)",
	qr/null value for non-nullable Lance field "id"/, 'NULL into a non-nullable field');
fails("INSERT INTO $s.t (id, ia) VALUES (1, ARRAY[1,2])",
	qr/expected 3 elements for column "ia"/, 'fixed_size_list length checked');
fails("INSERT INTO $s.t (id, ia) VALUES (1, ARRAY[1,NULL,2])",
	qr/must not contain NULLs/, 'NULL elements refused');
fails("INSERT INTO $s.t (id, i8) VALUES (1, 300)",
	qr/out of range for Lance type "int8"/, 'int8 range checked');
fails("INSERT INTO $s.t (id, u8) VALUES (1, -1)",
	qr/out of range for Lance type "uint8"/, 'unsigned range checked');
fails("INSERT INTO $s.t (id) VALUES (1) ON CONFLICT DO NOTHING",
	qr/ON CONFLICT is not supported/, 'ON CONFLICT refused');
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE $s.pinned (id bigint) SERVER $s OPTIONS (table 't', version '1');
	CREATE FOREIGN TABLE $s.wrong (id bigint, vec vector(3)) SERVER $s OPTIONS (table 't');
	CREATE FOREIGN TABLE $s.extra (id bigint, nope int) SERVER $s OPTIONS (table 't');
	CREATE ROLE writer LOGIN;
	GRANT USAGE ON SCHEMA $s TO writer;
	GRANT INSERT, SELECT ON $s.t TO writer;});
fails("DELETE FROM $s.wrong", qr/need a column "_rowaddr" of type bigint/,
	'DELETE needs _rowaddr');
fails("INSERT INTO $s.pinned VALUES (1)", qr/pinned to a Lance version/, 'pinned tables are read-only');
fails("INSERT INTO $s.wrong (id) VALUES (1)", qr/cannot hold Lance field "vec"/, 'wrong dimension in the table definition');
fails("INSERT INTO $s.extra VALUES (1, 2)", qr/not a field of the Lance dataset/, 'a column Lance does not have');
fails("ALTER FOREIGN TABLE $s.t OPTIONS (SET rows_per_fragment '0')",
	qr/invalid value for option "rows_per_fragment"/, 'rows_per_fragment validated');
my $v = lancedb('stat', "$tmp/$s", '39')->{version};
fails("SET ROLE writer; INSERT INTO $s.t (id) VALUES (1)",
	qr/permission denied to write to Lance dataset/, 'writes need pg_write_server_files');
fails("SET ROLE writer; SELECT lancedb.lance_compact('$s.t')",
	qr/permission denied to change the Lance dataset/, 'lance_compact needs pg_write_server_files');
fails("SET ROLE writer; SELECT lancedb.lance_cleanup('$s.t')",
	qr/permission denied to change the Lance dataset/, 'lance_cleanup needs pg_write_server_files');
$node->safe_psql('postgres', "GRANT pg_write_server_files TO writer");
$node->safe_psql('postgres', "SET ROLE writer; INSERT INTO $s.t SELECT * FROM $s.exp_rows(9100, 9101)");
is(lancedb('stat', "$tmp/$s", '39')->{version}, $v + 1, 'with pg_write_server_files the write commits');
is(lancedb('check', "$tmp/$s", '39')->{bad}, 0, 'and LanceDB reads it');

# ---- tags ----
is($node->safe_psql('postgres', "SELECT lancedb.lance_tag_create('$s.t', 'fdw_v2', 2)"), 2,
	'lance_tag_create names version 2');
$node->safe_psql('postgres', "SELECT lancedb.lance_tag_delete('$s.t', 'keep_v2')");
my $latest = lancedb('stat', "$tmp/$s", '39')->{version};
is($node->safe_psql('postgres', "SELECT lancedb.lance_tag_create('$s.t', 'fdw_latest')"), $latest,
	'... or the latest version');
{
	my ($out, $err);
	IPC::Run::run([ $node_bin, $js, 'tags', "$tmp/$s", '39' ], '>', \$out, '2>', \$err) or die $err;
	is($out, "tag fdw_latest $latest " . lancedb('stat', "$tmp/$s", '39')->{rows} . "\ntag fdw_v2 2 4999\n",
		'LanceDB lists both tags and checks them out');
}
is( $node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE $s.tagged (id bigint) SERVER $s OPTIONS (table 't', tag 'fdw_v2');
		SELECT count(*) FROM $s.tagged}),
	4999, 'the FDW reads a tag it created');
fails("SELECT lancedb.lance_tag_create('$s.t', 'fdw_v2')", qr/tag "fdw_v2" already exists/,
	'an existing tag is not replaced');
fails("SELECT lancedb.lance_tag_create('$s.t', '../x')", qr/invalid Lance tag name/, 'tag names checked');
fails("SELECT lancedb.lance_tag_create('$s.t', 'x', 999)", qr/version 999 .*does not exist/,
	'a missing version is refused');
fails("SET ROLE writer; SELECT lancedb.lance_tag_create('$s.pinned', 'x')",
	qr/permission denied for foreign table pinned/, 'tags need SELECT on the table');
$node->safe_psql('postgres', "SELECT lancedb.lance_tag_delete('$s.t', 'fdw_latest')");
is($node->safe_psql('postgres', "SELECT string_agg(tag, ',') FROM lancedb.lance_tags('$s.t')"),
	'fdw_v2', 'lance_tag_delete removes a tag');
fails("SELECT lancedb.lance_tag_delete('$s.t', 'fdw_latest')", qr/does not exist/,
	'deleting a missing tag is an error');

# ---- stable row ids ----
{
	my $uri = "$tmp/stable";
	mkdir $uri or die;
	lancedb('create', $uri, '39', '2.2', 'stable');
	$node->safe_psql('postgres', qq{
		CREATE SERVER stable FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$uri');
		CREATE SCHEMA stable;
		IMPORT FOREIGN SCHEMA lance FROM SERVER stable INTO stable;
	} . exp_function('stable') . qq{
		CREATE FOREIGN TABLE stable.h (id bigint, _rowid bigint, _rowaddr bigint)
			SERVER stable OPTIONS (table 't');
		BEGIN;
		INSERT INTO stable.t SELECT * FROM stable.exp_rows(4, 100);
		DELETE FROM stable.h WHERE id = 1;
		COMMIT;});
	my $r = lancedb('check', $uri, '39');
	is_deeply([ @$r{qw(rows bad version)} ], [ 98, 0, 2 ],
		'stable row ids: LanceDB reads the insert + delete (one version)');
	my $rowids = sub {
		my ($out, $err);
		IPC::Run::run([ $node_bin, $js, 'rowids', $uri, '39' ], '>', \$out, '2>', \$err) or die $err;
		return $out;
	};
	my $before = $rowids->();
	my $want = join '', map { "rowid $_ " . ($_ - 1) . "\n" } 2 .. 99;
	is($before, $want, 'stable row ids: the new rows got ids 3.. after the seed rows 0..2');
	is($node->safe_psql('postgres', "SELECT string_agg(id || ':' || _rowid, ',' ORDER BY id) FROM stable.h WHERE id < 6"),
		'2:1,3:2,4:3,5:4', 'stable row ids: the FDW reads the same ids');
	lancedb('mutate', $uri, '39');
	my $after = $rowids->();
	is($after, join('', grep { !/^rowid \d*1 / } split /^/, $before),
		'stable row ids: LanceDB delete + optimize() keeps every surviving row id');

	# compaction keeps the row ids of the rows it moves
	$node->safe_psql('postgres', qq{
		INSERT INTO stable.t SELECT * FROM stable.exp_rows(200, 300);
		INSERT INTO stable.t SELECT * FROM stable.exp_rows(300, 400);
		DELETE FROM stable.h WHERE id % 10 = 5;});
	my $ids = $rowids->();
	my $fdw_ids = $node->safe_psql('postgres', "SELECT string_agg(id || ':' || _rowid, ',' ORDER BY id) FROM stable.h");
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('stable.t')"),
		qr/"fragments_added": 1,.*"fragments_removed": [2-9]/, 'stable row ids: lance_compact merged the fragments');
	is($rowids->(), $ids, 'stable row ids: LanceDB reads the same row id for every row after compaction');
	is($node->safe_psql('postgres', "SELECT string_agg(id || ':' || _rowid, ',' ORDER BY id) FROM stable.h"),
		$fdw_ids, 'stable row ids: ... and so does the FDW');
	is($node->safe_psql('postgres', "SELECT count(DISTINCT _rowaddr >> 32) FROM stable.h"), 1,
		'stable row ids: one fragment left');
	my $max = $node->safe_psql('postgres', "SELECT max(_rowid) FROM stable.h");
	lancedb('add', $uri, '39', 500, 502);
	like($rowids->(), qr/^rowid 501 (\d+)\n/m, 'stable row ids: LanceDB appends after the compaction');
	ok((grep { /^rowid 50[01] (\d+)/ && $1 > $max } split /\n/, $rowids->()) == 2,
		'stable row ids: ... with new ids, none reused');
	is(lancedb('check', $uri, '39')->{bad}, 0, 'stable row ids: every value intact');
}

# ---- Lance indexes across compaction ----
{
	my $uri = "$tmp/idx";
	mkdir $uri or die;
	lancedb('create', $uri, '39', '2.2');
	lancedb('add', $uri, '39', 10, 20);
	is(lancedb('index', $uri, '39')->{indices}, 1, 'indexes: LanceDB built a btree index on id');
	$node->safe_psql('postgres', qq{
		CREATE SERVER idx FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$uri');
		CREATE SCHEMA idx;
		IMPORT FOREIGN SCHEMA lance FROM SERVER idx INTO idx;
	} . exp_function('idx') . qq{
		INSERT INTO idx.t SELECT * FROM idx.exp_rows(100, 102);
		INSERT INTO idx.t SELECT * FROM idx.exp_rows(102, 104);});
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('idx.t', 5)"),
		qr/"fragments_added": 1,.*"indices_dropped": 0,.*"fragments_removed": 2/,
		'indexes: compacting fragments the index does not cover keeps it');
	my $r = lancedb('indices', $uri, '39');
	is_deeply([ @$r{qw(indices found)} ], [ 1, 1 ], 'indexes: LanceDB still lists and uses it');
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('idx.t')"),
		qr/"indices_dropped": 1/, 'indexes: compacting indexed fragments drops the index');
	$r = lancedb('indices', $uri, '39');
	is_deeply([ @$r{qw(indices found)} ], [ 0, 1 ], 'indexes: ... LanceDB lists none and still finds the row');
	$r = lancedb('check', $uri, '39');
	is_deeply([ @$r{qw(rows bad)} ], [ 17, 0 ], 'indexes: LanceDB reads every row');
}

# ---- restore ----
$latest = lancedb('stat', "$tmp/$s", '39')->{version};
is($node->safe_psql('postgres', "SELECT lancedb.lance_restore('$s.t', 2)"), $latest + 1,
	'lance_restore commits a new version');
my $r = lancedb('check', "$tmp/$s", '39');
is_deeply([ @$r{qw(rows bad version)} ], [ 4999, 0, $latest + 1 ],
	'LanceDB reads the restored content of version 2 as the latest version');
lancedb('add', "$tmp/$s", '39', 20000, 20010);
$r = lancedb('check', "$tmp/$s", '39');
is_deeply([ @$r{qw(rows bad)} ], [ 5009, 0 ], 'LanceDB appends after the restore');
$node->safe_psql('postgres', "INSERT INTO $s.t SELECT * FROM $s.exp_rows(20010, 20020)");
is($node->safe_psql('postgres', "SELECT count(*) FROM $s.t"), 5019, 'the FDW appends after it too');
$r = lancedb('check', "$tmp/$s", '39');
is_deeply([ @$r{qw(rows bad)} ], [ 5019, 0 ], '... and LanceDB reads every row');
fails("SELECT lancedb.lance_restore('$s.t', 999)", qr/version 999 .*does not exist/,
	'restoring a missing version is refused');

# ---- maintenance: lancedb.optimize() compacts, then cleans up ----
$node->append_conf('postgresql.conf', 'lancedb.lance_compact_min_fragments = 3');
$node->reload;
$node->safe_psql('postgres', "CREATE FOREIGN TABLE $s.h (id bigint, _rowaddr bigint) SERVER $s OPTIONS (table 't')");
foreach my $k (0 .. 3)
{
	$node->safe_psql('postgres',
		"INSERT INTO $s.t SELECT * FROM $s.exp_rows(" . (50000 + 10 * $k) . ', ' . (50010 + 10 * $k) . ')');
}
my $rows = $node->safe_psql('postgres', "SELECT count(*) FROM $s.t");
ok($node->safe_psql('postgres', "SELECT count(DISTINCT _rowaddr >> 32) FROM $s.h") >= 4,
	'maintenance: small fragments piled up');
like($node->safe_psql('postgres', "SELECT lancedb.optimize('$s.t')"),
	qr/"action": "compact"/, 'maintenance: lancedb.optimize() on a Lance foreign table compacts it');
is($node->safe_psql('postgres', "SELECT count(DISTINCT _rowaddr >> 32), count(*) FROM $s.h"), "1|$rows",
	'maintenance: ... into one fragment with every row');
like($node->safe_psql('postgres',
		"SELECT status || ' ' || detail FROM lancedb.maintenance_status WHERE relation = '$s.t' ORDER BY id DESC LIMIT 1"),
	qr/^done compacted \d+ fragments into 1/, 'maintenance: the compaction is logged');
$r = lancedb('check', "$tmp/$s", '39');
is_deeply([ @$r{qw(rows bad)} ], [ $rows, 0 ], 'maintenance: LanceDB reads the compacted dataset');
like($node->safe_psql('postgres', "SELECT lancedb.optimize('$s.t')"),
	qr/"action": "none"/, 'maintenance: nothing more to do within the retention period');
$node->append_conf('postgresql.conf', 'lancedb.lance_retention = 0');
$node->reload;
like($node->safe_psql('postgres', "SELECT lancedb.optimize('$s.t')"),
	qr/"action": "cleanup"/, 'maintenance: with lancedb.lance_retention = 0 it cleans up');
like(lancedb('at', "$tmp/$s", '39', 3)->{error}, qr/not found/i, 'maintenance: old versions are gone');
is(lancedb('at', "$tmp/$s", '39', 2)->{rows}, 4999, 'maintenance: the tagged version 2 is kept');
$r = lancedb('check', "$tmp/$s", '39');
is_deeply([ @$r{qw(rows bad)} ], [ $rows, 0 ], 'maintenance: LanceDB reads the latest version after cleanup');

# ---- lists, structs and decimals (test/lance/write_nested.mjs): table "n" ----
my $jsn = "$root/test/lance/write_nested.mjs";

sub nested { return node_kv($jsn, @_); }

foreach my $case ([ '37', '2.1' ], [ '39', '2.2' ])
{
	my ($lib, $ver) = @$case;
	my $s = "n$lib";
	my $uri = "$tmp/$s";
	my $ds = "$uri/n.lance";
	mkdir $uri or die;
	nested('create', $uri, $lib, $ver);
	lance_server($s, $uri, 'n', 1700);
	$node->safe_psql('postgres', qq{
		CREATE FUNCTION $s.exp_n(a int, b int)
		RETURNS TABLE (id bigint, li int[], ls text[], lf float8[], dm numeric, dm2 numeric, st jsonb,
			lv vector(4)[], lst jsonb[])
		LANGUAGE sql AS \$\$
		SELECT g::bigint,
		 CASE WHEN g%6=1 THEN NULL WHEN g%6=2 THEN '{}'::int[] ELSE (SELECT array_agg(CASE WHEN k=1 AND g%4=0 THEN NULL ELSE g*10+k END ORDER BY k) FROM generate_series(0, g%5) k) END,
		 CASE WHEN g%5=3 THEN NULL WHEN g%5=4 THEN '{}'::text[] ELSE (SELECT array_agg(CASE WHEN k=2 THEN NULL ELSE 'w'||g||'-'||k||CASE WHEN g%7=0 THEN 'é' ELSE '' END END ORDER BY k) FROM generate_series(0, g%3) k) END,
		 CASE WHEN g%8=5 THEN NULL ELSE coalesce((SELECT array_agg(g/4.0::float8 + k ORDER BY k) FROM generate_series(0, g%4 - 1) k), '{}') END,
		 (CASE WHEN g%9=4 THEN NULL WHEN g%11=0 THEN -(10::numeric^30 + g)/10000 ELSE (g*12345 - 600000)::numeric/10000 END)::numeric(38,4),
		 (CASE WHEN g%10=3 THEN NULL ELSE (g*7-500)::numeric/100 END)::numeric(10,2),
		 CASE WHEN g%7=6 THEN NULL ELSE jsonb_build_object('a', CASE WHEN g%5=0 THEN NULL ELSE g*3 END,
		   'b', CASE WHEN g%3=0 THEN NULL ELSE 'b'||g END, 'c', g/8.0::float8, 'd', g%2=0) END,
		 CASE WHEN g%9=7 THEN NULL ELSE coalesce((SELECT array_agg(CASE WHEN k=1 AND g%2=1 THEN NULL
		   ELSE (SELECT array_agg((g + k*0.5 + j)::real ORDER BY j) FROM generate_series(0,3) j)::vector(4) END ORDER BY k)
		   FROM generate_series(0, g%3 - 1) k), '{}') END,
		 CASE WHEN g%8=2 THEN NULL WHEN g%8=3 THEN '{}'::jsonb[] ELSE (SELECT array_agg(CASE WHEN k=1 AND g%3=2 THEN NULL
		   ELSE jsonb_build_object('x', CASE WHEN k=0 AND g%4=1 THEN NULL ELSE g*100+k END, 'y', 'y'||g||'.'||k) END ORDER BY k)
		   FROM generate_series(0, g%3) k) END
		FROM generate_series(a, b - 1) g \$\$;
	});
	# rows of the given id ranges, the FDW's read against the formulas
	my $diff = sub {
		my $e = join ' UNION ALL ', map { "SELECT * FROM $s.exp_n($_->[0], $_->[1])" } @_;
		return $node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE t::text IS DISTINCT FROM e::text), count(t.id), count(e.id)
			 FROM (SELECT id, li, ls, lf, dm, dm2, st, lv, lst FROM $s.n) t FULL JOIN ($e) e USING (id)");
	};
	is($diff->([ 1, 4 ]), '0|3|3', "$ver lists: the FDW reads LanceDB's seed rows");

	$node->safe_psql('postgres', "INSERT INTO $s.n SELECT * FROM $s.exp_n(4, 6000)");
	my $r = nested('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 5999, 0, 2 ],
		"$ver lists: LanceDB $lib reads every list (NULL items, NULL and empty lists; of vectors and of structs too), struct (NULL structs and members) and decimal the FDW wrote")
	  or diag $r->{mismatches};
	is(data_files($ds), 5, "$ver lists: 5996 rows with rows_per_fragment 1700 made 4 data files");
	is($diff->([ 1, 6000 ]), '0|5999|5999', "$ver lists: the FDW reads its own rows back");

	# fragments whose lists are all empty or NULL: chunks without values
	$node->safe_psql('postgres', "INSERT INTO $s.n SELECT * FROM $s.exp_n(6008, 6009)");
	$node->safe_psql('postgres', "INSERT INTO $s.n SELECT * FROM $s.exp_n(6044, 6045)");
	$r = nested('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 6001, 0, 4 ],
		"$ver lists: LanceDB reads fragments holding only empty and NULL lists")
	  or diag $r->{mismatches};
	$r = nested('at', $uri, $lib, 2);
	is_deeply([ @$r{qw(rows bad)} ], [ 5999, 0 ], "$ver lists: ... and the earlier version 2 still");

	# LanceDB appends and optimize()s on top; the FDW reads it and appends again
	nested('add', $uri, $lib, 7000, 7100);
	$r = nested('optimize', $uri, $lib);
	is($r->{rows}, 6101, "$ver lists: LanceDB appends to and optimize()s the FDW's versions");
	my @all = ([ 1, 6000 ], [ 6008, 6009 ], [ 6044, 6045 ], [ 7000, 7100 ]);
	is($diff->(@all), '0|6101|6101', "$ver lists: the FDW reads LanceDB's compacted version");
	$node->safe_psql('postgres', "INSERT INTO $s.n SELECT * FROM $s.exp_n(8000, 8500)");
	push @all, [ 8000, 8500 ];
	# lists declared jsonb take JSON arrays (items as the read path prints them)
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE $s.nj (id bigint, li jsonb, ls jsonb, lf jsonb, dm numeric, dm2 numeric,
			st jsonb, lv jsonb, lst jsonb) SERVER $s OPTIONS (table 'n');
		INSERT INTO $s.nj SELECT id, to_jsonb(li), to_jsonb(ls), to_jsonb(lf), dm, dm2, st,
			CASE WHEN lv IS NULL THEN NULL ELSE coalesce((SELECT jsonb_agg(x::text::jsonb ORDER BY o)
			 FROM unnest(lv) WITH ORDINALITY u(x, o)), '[]') END, to_jsonb(lst)
		FROM $s.exp_n(8500, 8600)});
	push @all, [ 8500, 8600 ];
	$r = nested('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ 6701, 0 ],
		"$ver lists: LanceDB reads FDW appends (arrays, and JSON) on top of its compacted version")
	  or diag $r->{mismatches};

	# DELETE and UPDATE rewrite rows with lists
	$node->safe_psql('postgres', qq{ALTER FOREIGN TABLE $s.n ADD COLUMN _rowaddr bigint;
		DELETE FROM $s.n WHERE id % 10 = 2;
		UPDATE $s.n SET li = li, dm = dm, st = st WHERE id BETWEEN 100 AND 199});
	my $want = $node->safe_psql('postgres', "SELECT count(*) FROM $s.n");
	$r = nested('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $want, 0 ], "$ver lists: LanceDB reads the FDW's DELETE and UPDATE")
	  or diag $r->{mismatches};
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM (SELECT id, li, ls, lf, dm, dm2, st, lv, lst FROM $s.n) t
			 JOIN (" . join(' UNION ALL ', map { "SELECT * FROM $s.exp_n($_->[0], $_->[1])" } @all) . ") e
			 USING (id) WHERE t::text <> e::text"),
		0, "$ver lists: ... and so does the FDW");

	# lance_compact rewrites nested fields (and materializes the deletions)
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('$s.n')"),
		qr/"fragments_removed": [1-9]/, "$ver lists: lance_compact rewrites a dataset with lists and structs");
	$r = nested('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $want, 0 ], "$ver lists: LanceDB reads the compacted version")
	  or diag $r->{mismatches};
	is($node->safe_psql('postgres',
			"SELECT count(*), count(*) FILTER (WHERE t::text <> e::text) FROM (SELECT id, li, ls, lf, dm, dm2, st, lv, lst FROM $s.n) t
			 JOIN (" . join(' UNION ALL ', map { "SELECT * FROM $s.exp_n($_->[0], $_->[1])" } @all) . ") e
			 USING (id)"),
		"$want|0", "$ver lists: ... and so does the FDW, value by value");
	$r = nested('optimize', $uri, $lib);
	is($r->{rows}, $want, "$ver lists: LanceDB optimize()s on top of the FDW's compaction");

	# checks: the decimal's precision (a plain numeric column), dimensions
	$node->safe_psql('postgres',
		"CREATE FOREIGN TABLE $s.nd (id bigint, li int[], dm numeric, dm2 numeric) SERVER $s OPTIONS (table 'n')");
	fails("INSERT INTO $s.nd (id, dm2) VALUES (1, 123456789.12)",
		qr/value for column "dm2" is out of range for Lance type "decimal:128:10:2"/,
		"$ver lists: a decimal beyond the field's precision is an error");
	fails("INSERT INTO $s.nd (id, dm) VALUES (1, 'NaN')", qr/out of range/,
		"$ver lists: NaN is not a decimal");
	fails("INSERT INTO $s.nd (id, li) VALUES (1, '{{1,2},{3,4}}')", qr/must have one dimension/,
		"$ver lists: a two-dimensional array is not a list");
	fails("INSERT INTO $s.n (id, st) VALUES (1, '{\"a\": 1, \"z\": 2}')", qr/the struct has no member "z"/,
		"$ver lists: a JSON key that names no struct member is an error");
	fails("INSERT INTO $s.n (id, st) VALUES (1, '[1]')", qr/must be a JSON object/,
		"$ver lists: a struct is written from a JSON object");
	fails("INSERT INTO $s.n (id, st) VALUES (1, '{\"a\": 1.5}')", qr/not an integer for member "a"/,
		"$ver lists: a struct member is checked against its type");
	$node->safe_psql('postgres', qq{INSERT INTO $s.n (id, st) VALUES (9002, 'null'), (9003, '{"c": "NaN"}')});
	is($node->safe_psql('postgres', "SELECT id, st FROM $s.n WHERE id > 9001 ORDER BY id"),
		qq{9002|\n9003|{"a": null, "b": null, "c": "NaN", "d": null}},
		"$ver lists: JSON null is a NULL struct, missing members are NULL, NaN as the read path prints it");
	$node->safe_psql('postgres', "INSERT INTO $s.nd (id, dm2) VALUES (9001, 12345678.125)");
	is($node->safe_psql('postgres', "SELECT dm2 FROM $s.n WHERE id = 9001"), '12345678.13',
		"$ver lists: a decimal is rounded to the field's scale");
}

# ---- lists, structs and decimals in a 2.0 dataset ----
# Format 2.0 keeps no struct validity (LanceDB itself reads a NULL struct it
# wrote to 2.0 back as a struct of NULLs), so both sides write the rows
# without NULL structs only: exp_n's ids with id % 7 <> 6 AND id % 3 <> 2
# (NO_NULL_STRUCTS=1 for write_nested.mjs), and the FDW refuses a NULL struct.
{
	local $ENV{NO_NULL_STRUCTS} = '1';
	my $s = 'n20';
	my $uri = "$tmp/$s";
	mkdir $uri or die;
	nested('create', $uri, '37', '2.0');
	lance_server($s, $uri, 'n', 1700);
	my $keep = 'id % 7 <> 6 AND id % 3 <> 2';
	# exp_n of schema n37 (same formulas), restricted to the kept ids
	my $exp = sub {
		return join ' UNION ALL ', map { "SELECT * FROM n37.exp_n($_->[0], $_->[1]) WHERE $keep" } @_;
	};
	my $diff = sub {
		return $node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE t::text IS DISTINCT FROM e::text), count(t.id), count(e.id)
			 FROM (SELECT id, li, ls, lf, dm, dm2, st, lv, lst FROM $s.n) t FULL JOIN (" . $exp->(@_) . ") e USING (id)");
	};
	my $want = $node->safe_psql('postgres', "SELECT count(*) FROM (" . $exp->([ 1, 6000 ]) . ") e");
	is($diff->([ 1, 4 ]), '0|2|2', "2.0 lists: the FDW reads LanceDB's seed rows");

	$node->safe_psql('postgres', "INSERT INTO $s.n " . $exp->([ 4, 6000 ]));
	foreach my $lib ('37', '39')
	{
		my $r = nested('check', $uri, $lib);
		is_deeply([ @$r{qw(rows bad version)} ], [ $want, 0, 2 ],
			"2.0 lists: LanceDB $lib reads every list (NULL items, NULL and empty lists; of vectors and of structs), struct (NULL members) and decimal the FDW wrote")
		  or diag $r->{mismatches};
	}
	is($diff->([ 1, 6000 ]), "0|$want|$want", '2.0 lists: the FDW reads its own rows back');
	fails("INSERT INTO $s.n SELECT * FROM n37.exp_n(6, 7)",
		qr/a NULL struct in field "st" cannot be stored in a Lance 2.0 data file/,
		'2.0 lists: a NULL struct is an error naming the field');
	fails("INSERT INTO $s.n SELECT * FROM n37.exp_n(5, 6)",
		qr/a NULL struct in field "lst" cannot be stored in a Lance 2.0 data file/,
		'2.0 lists: ... and so is a NULL struct list item');
	is(nested('check', $uri, '37')->{version}, 2, '2.0 lists: ... leaving no version');

	# LanceDB appends and optimize()s on top; the FDW reads it and appends again
	nested('add', $uri, '37', 7000, 7100);
	my $r = nested('optimize', $uri, '37');
	my @all = ([ 1, 6000 ], [ 7000, 7100 ]);
	my $n = $node->safe_psql('postgres', "SELECT count(*) FROM (" . $exp->(@all) . ") e");
	is($r->{rows}, $n, '2.0 lists: LanceDB appends to and optimize()s the FDW\'s 2.0 version');
	is($diff->(@all), "0|$n|$n", "2.0 lists: the FDW reads LanceDB's compacted version");
	$node->safe_psql('postgres', "INSERT INTO $s.n " . $exp->([ 8000, 8500 ]));
	push @all, [ 8000, 8500 ];
	$n = $node->safe_psql('postgres', "SELECT count(*) FROM (" . $exp->(@all) . ") e");
	$r = nested('check', $uri, '37');
	is_deeply([ @$r{qw(rows bad)} ], [ $n, 0 ], '2.0 lists: LanceDB reads a FDW append on top of its compacted version')
	  or diag $r->{mismatches};

	# DELETE, UPDATE and lance_compact
	$node->safe_psql('postgres', qq{ALTER FOREIGN TABLE $s.n ADD COLUMN _rowaddr bigint;
		DELETE FROM $s.n WHERE id % 10 = 1;
		UPDATE $s.n SET li = li, dm = dm, st = st WHERE id BETWEEN 100 AND 199});
	$n = $node->safe_psql('postgres', "SELECT count(*) FROM $s.n");
	$r = nested('check', $uri, '39');
	is_deeply([ @$r{qw(rows bad)} ], [ $n, 0 ], '2.0 lists: LanceDB reads the FDW\'s DELETE and UPDATE')
	  or diag $r->{mismatches};
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('$s.n')"),
		qr/"fragments_removed": [1-9]/, '2.0 lists: lance_compact rewrites a 2.0 dataset with lists and structs');
	foreach my $lib ('37', '39')
	{
		$r = nested('check', $uri, $lib);
		is_deeply([ @$r{qw(rows bad)} ], [ $n, 0 ], "2.0 lists: LanceDB $lib reads the compacted version")
		  or diag $r->{mismatches};
	}
	is($node->safe_psql('postgres',
			"SELECT count(*), count(*) FILTER (WHERE t::text <> e::text) FROM (SELECT id, li, ls, lf, dm, dm2, st, lv, lst FROM $s.n) t
			 JOIN (" . $exp->(@all) . ") e USING (id)"),
		"$n|0", '2.0 lists: ... and so does the FDW, value by value');
	$r = nested('optimize', $uri, '37');
	is($r->{rows}, $n, '2.0 lists: LanceDB optimize()s on top of the FDW\'s compaction');
}

# ---- deeper nesting, decimal256 and long runs of NULL and empty lists
# (test/lance/write_deep.mjs): table "d" (lists of lists, structs holding
# lists and structs, lists of structs holding lists, decimal256) and table
# "r" (list<int32> and list<list<int32>> with 100000 NULL lists, 100000
# empty lists, then runs of 9000 of each between lists) ----
my $jsd = "$root/test/lance/write_deep.mjs";

sub deep { return node_kv($jsd, @_); }

my $d_li = q{ CASE WHEN g >= 100000 AND g < 400000 THEN
   (CASE rk WHEN 0 THEN NULL WHEN 1 THEN '{}'::int[] ELSE ARRAY[g] END)
  WHEN g%6=1 THEN NULL WHEN g%6=2 THEN '{}'::int[]
  ELSE (SELECT array_agg(CASE WHEN k=1 AND g%5=0 THEN NULL ELSE g*10+k END ORDER BY k) FROM generate_series(0, g%4) k) END};
my $d_ll = q{ CASE WHEN g >= 100000 AND g < 400000 THEN
   (CASE rk WHEN 0 THEN NULL WHEN 1 THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_array(g, NULL), '[]'::jsonb) END)
  WHEN g%7=1 THEN NULL WHEN g%7=2 THEN '[]'::jsonb
  ELSE (SELECT jsonb_agg(CASE WHEN k=1 AND g%5=0 THEN NULL WHEN k=2 AND g%4=0 THEN '[]'::jsonb
      ELSE (SELECT jsonb_agg(CASE WHEN q=1 AND g%6=0 THEN NULL ELSE g*10+k*3+q END ORDER BY q) FROM generate_series(0, g%4) q) END ORDER BY k)
    FROM generate_series(0, g%3) k) END};
my $d_rest = q{ CASE WHEN g%5=3 THEN NULL
  ELSE (SELECT jsonb_agg(coalesce((SELECT jsonb_agg(CASE WHEN q=0 AND g%7=0 THEN NULL ELSE 's'||g||'.'||k||'.'||q END ORDER BY q)
      FROM generate_series(0, g%3-1) q), '[]') ORDER BY k) FROM generate_series(0, g%2) k) END,
 CASE WHEN g%6=5 THEN NULL
  ELSE jsonb_build_object('a', CASE WHEN g%4=0 THEN NULL ELSE g*2 END,
   'l', CASE WHEN g%5=1 THEN NULL ELSE coalesce((SELECT jsonb_agg(CASE WHEN k=1 AND g%2=0 THEN NULL ELSE 'l'||g||'-'||k END ORDER BY k)
      FROM generate_series(0, g%3-1) k), '[]') END,
   's', CASE WHEN g%7=3 THEN NULL ELSE jsonb_build_object('x', CASE WHEN g%3=0 THEN NULL ELSE g END,
      'y', CASE WHEN g%4=2 THEN NULL ELSE coalesce((SELECT jsonb_agg(g/2.0::float8 + k ORDER BY k) FROM generate_series(0, g%3-1) k), '[]') END) END) END,
 CASE WHEN g%8=4 THEN NULL WHEN g%8=5 THEN '{}'::jsonb[]
  ELSE (SELECT array_agg(CASE WHEN k=2 AND g%3=0 THEN NULL
      ELSE jsonb_build_object('a', CASE WHEN k=0 AND g%4=1 THEN NULL ELSE coalesce((SELECT jsonb_agg(g+k+q ORDER BY q)
          FROM generate_series(0, (g+k)%3-1) q), '[]') END,
        'b', CASE WHEN g%5=0 THEN NULL ELSE 'b'||g||'.'||k END) END ORDER BY k) FROM generate_series(0, g%3) k) END,
 (CASE WHEN g%9=2 THEN NULL WHEN g%11=0 THEN -(10::numeric^45 + g)/1000000
  ELSE (g::numeric*123456789 - 500000000)/1000000 END)::numeric(50,6)};
my $d_from = q{FROM generate_series(a, b - 1) g,
 LATERAL (SELECT CASE WHEN g < 200000 THEN 0 WHEN g < 300000 THEN 1 WHEN g%50000=7 THEN 2 ELSE (g/9000)%2 END AS rk) r};

foreach my $case ([ '37', '2.1' ], [ '39', '2.2' ])
{
	my ($lib, $ver) = @$case;
	my $s = "d$lib";
	my $uri = "$tmp/$s";
	mkdir $uri or die;
	deep('create', $uri, $lib, $ver);
	deep('create', $uri, $lib, $ver, '-', 'r');
	lance_server($s, $uri, 'd', 1500);
	$node->safe_psql('postgres', qq{
		ALTER FOREIGN TABLE $s.r OPTIONS (ADD rows_per_fragment '120000');
		CREATE FUNCTION $s.exp_d(a int, b int)
		RETURNS TABLE (id bigint, li int[], ll jsonb, lls jsonb, sl jsonb, lsl jsonb[], d256 numeric)
		LANGUAGE sql AS \$\$ SELECT g::bigint, $d_li, $d_ll, $d_rest $d_from \$\$;
		CREATE FUNCTION $s.exp_r(a int, b int) RETURNS TABLE (id bigint, li int[], ll jsonb)
		LANGUAGE sql AS \$\$ SELECT g::bigint, $d_li, $d_ll $d_from \$\$;
	});
	# rows of table $t (columns $cols) against the formulas of the given sources
	my $diff = sub {
		my ($t, $cols, @src) = @_;
		my $e = join ' UNION ALL ', map { "SELECT $cols FROM $_" } @src;
		return $node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE t::text IS DISTINCT FROM e::text), count(t.id), count(e.id)
			 FROM (SELECT $cols FROM $s.$t) t FULL JOIN ($e) e USING (id)");
	};
	my $dc = 'id, li, ll, lls, sl, lsl, d256';
	my @d = ("$s.exp_d(1, 4)");
	is($diff->('d', $dc, @d), '0|3|3', "$ver deep: the FDW reads LanceDB's seed rows");

	$node->safe_psql('postgres', "INSERT INTO $s.d SELECT * FROM $s.exp_d(4, 3000)");
	push @d, "$s.exp_d(4, 3000)";
	my $r = deep('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad version)} ], [ 2999, 0, 2 ],
		"$ver deep: LanceDB $lib reads every list of lists, struct holding lists and structs, list of structs holding lists and decimal256 the FDW wrote")
	  or diag $r->{mismatches};
	is($diff->('d', $dc, @d), '0|2999|2999', "$ver deep: the FDW reads its own rows back");

	# a list of lists from a two-dimensional array (table "m": rectangular rows only)
	deep('create', $uri, $lib, $ver, '-', 'm');
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE $s.mm (id bigint, ll int[]) SERVER $s OPTIONS (table 'm');
		CREATE FOREIGN TABLE $s.dm (id bigint, ll int[]) SERVER $s OPTIONS (table 'd');
		INSERT INTO $s.mm SELECT id, translate(ll::text, '[]', '{}')::int[]
			FROM $s.exp_d(3000, 3300) WHERE id % 3 IN (0, 1) AND id % 5 <> 0});
	$r = deep('check', $uri, $lib, '-', '-', 'm');
	is_deeply([ @$r{qw(rows bad version)} ], [ 163, 0, 2 ],
		"$ver deep: LanceDB reads lists of lists written from two-dimensional arrays")
	  or diag $r->{mismatches};
	is($node->safe_psql('postgres', qq{
		SELECT count(*), count(*) FILTER (WHERE array_ndims(t.ll) = 2 AND array_length(t.ll, 1) = 2),
		 count(*) FILTER (WHERE t.ll IS DISTINCT FROM translate(e.ll::text, '[]', '{}')::int[])
		FROM $s.mm t JOIN $s.exp_d(1, 3300) e USING (id)}),
		'163|57|0', "$ver deep: ... and the FDW reads them back as such arrays");
	fails("SELECT ll FROM $s.dm", qr/not rectangular/,
		"$ver deep: a ragged list of lists does not pass for a two-dimensional array");

	# long runs of NULL and empty lists
	$node->safe_psql('postgres', "INSERT INTO $s.r SELECT * FROM $s.exp_r(100000, 400000)");
	my @rr = ("$s.exp_r(1, 4)", "$s.exp_r(100000, 400000)");
	$r = deep('check', $uri, $lib, '-', '-', 'r');
	is_deeply([ @$r{qw(rows bad version)} ], [ 300003, 0, 2 ],
		"$ver deep: LanceDB reads 100000 NULL lists, 100000 empty lists and runs of 9000 in a row, flat and nested")
	  or diag $r->{mismatches};
	is($diff->('r', 'id, li, ll', @rr), '0|300003|300003', "$ver deep: ... and so does the FDW");
	$r = deep('at', $uri, $lib, 2);
	is_deeply([ @$r{qw(rows bad)} ], [ 2999, 0 ], "$ver deep: LanceDB still reads version 2 of table d");

	# LanceDB appends and optimize()s on top; the FDW reads it and appends again
	deep('add', $uri, $lib, 4000, 4100);
	push @d, "$s.exp_d(4000, 4100)";
	is(deep('optimize', $uri, $lib)->{rows}, 3099, "$ver deep: LanceDB appends to and optimize()s the FDW's versions");
	is($diff->('d', $dc, @d), '0|3099|3099', "$ver deep: the FDW reads LanceDB's compacted version");
	deep('add', $uri, $lib, 500000, 500100, 'r');
	push @rr, "$s.exp_r(500000, 500100)";
	is(deep('optimize', $uri, $lib, '-', '-', 'r')->{rows}, 300103,
		"$ver deep: LanceDB optimize()s the long runs the FDW wrote");
	is($diff->('r', 'id, li, ll', @rr), '0|300103|300103', "$ver deep: the FDW reads LanceDB's rewrite of the long runs");
	$node->safe_psql('postgres', "INSERT INTO $s.d SELECT * FROM $s.exp_d(5000, 5300)");
	push @d, "$s.exp_d(5000, 5300)";
	$r = deep('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ 3399, 0 ], "$ver deep: LanceDB reads a FDW append on top of its compaction")
	  or diag $r->{mismatches};

	# DELETE and UPDATE, then lance_compact
	$node->safe_psql('postgres', qq{
		ALTER FOREIGN TABLE $s.d ADD COLUMN _rowaddr bigint;
		ALTER FOREIGN TABLE $s.r ADD COLUMN _rowaddr bigint;
		DELETE FROM $s.d WHERE id % 10 = 2;
		UPDATE $s.d SET ll = ll, sl = sl, lsl = lsl, d256 = d256 WHERE id BETWEEN 100 AND 199;
		UPDATE $s.r SET li = li, ll = ll WHERE id BETWEEN 150000 AND 165000 OR id BETWEEN 250000 AND 255000});
	my $want = $node->safe_psql('postgres', "SELECT count(*) FROM $s.d");
	$r = deep('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $want, 0 ], "$ver deep: LanceDB reads the FDW's DELETE and UPDATE")
	  or diag $r->{mismatches};
	$r = deep('check', $uri, $lib, '-', '-', 'r');
	is_deeply([ @$r{qw(rows bad)} ], [ 300103, 0 ], "$ver deep: ... and its UPDATE of 20002 NULL and empty lists")
	  or diag $r->{mismatches};
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('$s.d')"),
		qr/"fragments_removed": [1-9]/, "$ver deep: lance_compact rewrites the nested fields");
	like($node->safe_psql('postgres', "SELECT lancedb.lance_compact('$s.r')"),
		qr/"fragments_removed": [1-9]/, "$ver deep: ... and the long runs");
	$r = deep('check', $uri, $lib);
	is_deeply([ @$r{qw(rows bad)} ], [ $want, 0 ], "$ver deep: LanceDB reads the compacted table d")
	  or diag $r->{mismatches};
	$r = deep('check', $uri, $lib, '-', '-', 'r');
	is_deeply([ @$r{qw(rows bad)} ], [ 300103, 0 ], "$ver deep: LanceDB reads the compacted long runs")
	  or diag $r->{mismatches};
	is($node->safe_psql('postgres',
			"SELECT count(*), count(*) FILTER (WHERE t::text <> e::text) FROM (SELECT $dc FROM $s.d) t
			 JOIN (" . join(' UNION ALL ', map { "SELECT $dc FROM $_" } @d) . ") e USING (id)"),
		"$want|0", "$ver deep: the FDW reads every value after compaction");
	is($diff->('r', 'id, li, ll', @rr), '0|300103|300103', "$ver deep: ... and every long run");
	is(deep('optimize', $uri, $lib)->{rows}, $want, "$ver deep: LanceDB optimize()s on top of the FDW's compaction");

	# decimal256 (a plain numeric column: the writer rounds and checks):
	# rounding, precision, the extremes; errors of nested values
	$node->safe_psql('postgres', qq{CREATE FOREIGN TABLE $s.dn (id bigint, d256 numeric) SERVER $s OPTIONS (table 'd');
		INSERT INTO $s.dn VALUES (9001, 1.0000005), (9002, -99999999999999999999999999999999999999999999.9999994),
		(9003, 0.0000004)});
	is($node->safe_psql('postgres', "SELECT string_agg(d256::text, ' ' ORDER BY id) FROM $s.dn WHERE id > 9000"),
		'1.000001 -99999999999999999999999999999999999999999999.999999 0.000000',
		"$ver deep: decimal256 rounded to the scale, 50 digits kept");
	fails("INSERT INTO $s.dn VALUES (1, 1e44)",
		qr/value for column "d256" is out of range for Lance type "decimal:256:50:6"/,
		"$ver deep: a decimal256 beyond the field's precision is an error");
	fails("INSERT INTO $s.dn VALUES (1, 'Infinity')", qr/out of range/, "$ver deep: infinity is not a decimal256");
	fails("INSERT INTO $s.dn VALUES (1, 'NaN')", qr/out of range/, "$ver deep: nor is NaN");
	fails("INSERT INTO $s.mm (id, ll) VALUES (1, '{1,2}')", qr/must have 2 dimensions/,
		"$ver deep: a one-dimensional array is not a list of lists");
	fails("INSERT INTO $s.d (id, ll) VALUES (1, '[1]')", qr/must be a JSON array/,
		"$ver deep: the items of a list of lists are JSON arrays");
	fails(qq{INSERT INTO $s.d (id, sl) VALUES (1, '{"s": {"z": 1}}')}, qr/the struct has no member "z"/,
		"$ver deep: a JSON key that names no member of a nested struct is an error");
}

# ---- 2.0 datasets with the deeper shapes or decimal256 (written by
# LanceDB 0.37): read, while INSERT and lance_compact are clear errors that
# leave no version behind ----
{
	my $s = 'd20';
	my $uri = "$tmp/$s";
	mkdir $uri or die;
	for my $t ('d', 'x')
	{
		deep('create', $uri, '37', '2.0', '-', $t);
		deep('add', $uri, '37', 4, 10, $t);
	}
	lance_server($s, $uri, 'd', 1500);
	$node->safe_psql('postgres', qq{
		CREATE FUNCTION $s.exp_d(a int, b int)
		RETURNS TABLE (id bigint, li int[], ll jsonb, lls jsonb, sl jsonb, lsl jsonb[], d256 numeric)
		LANGUAGE sql AS \$\$ SELECT g::bigint, $d_li, $d_ll, $d_rest $d_from \$\$;
	});
	# (sl left out: 2.0 keeps no struct validity, LanceDB writes its NULL
	# structs as structs of NULL members)
	is($node->safe_psql('postgres',
			"SELECT count(*) FILTER (WHERE t::text IS DISTINCT FROM e::text), count(t.id), count(e.id)
			 FROM (SELECT id, li, ll, lls, lsl, d256 FROM $s.d) t
			 FULL JOIN (SELECT id, li, ll, lls, lsl, d256 FROM $s.exp_d(1, 10)) e USING (id)"),
		'0|9|9', '2.0 deep: the FDW reads LanceDB\'s lists of lists, lists of structs of lists and decimal256');
	fails("INSERT INTO $s.d (id) VALUES (100)",
		qr/field "ll" nests lists and structs deeper than lance_fdw writes to Lance 2.0 data files/,
		'2.0 deep: INSERT into a dataset with a list of lists is a clear error');
	fails("SELECT lancedb.lance_compact('$s.d')", qr/cannot compact Lance dataset .*field "ll" nests/,
		'2.0 deep: so is lance_compact');
	fails("INSERT INTO $s.x VALUES (100, 1.5)", qr/decimal256 field "d256" cannot be written to Lance 2.0/,
		'2.0 deep: INSERT of decimal256 into 2.0 is a clear error');
	fails("SELECT lancedb.lance_compact('$s.x')", qr/cannot compact Lance dataset .*decimal256 field "d256"/,
		'2.0 deep: so is lance_compact');
	for my $t ('d', 'x')
	{
		my $r = deep('check', $uri, '37', '-', '-', $t);
		is_deeply([ @$r{qw(rows version)} ], [ 9, 2 ],
			"2.0 deep: no version was left behind, LanceDB reads its 9 rows ($t)");
	}
}

$node->stop;
done_testing();
