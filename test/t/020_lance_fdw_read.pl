
# lance_fdw against datasets written by the real LanceDB (npm 0.37.1 and
# 0.39.0, test/lance/gen_datasets.mjs; directory in LANCE_TEST_DATA): every
# table, every version (latest, "version" and "tag" options) compared row by
# row with what LanceDB itself read back (<table>.v<N>.tsv), IMPORT FOREIGN
# SCHEMA, lance_versions/lance_tags, option and privilege errors, directory
# escapes, type mismatches, projection, corruption, and that a query without
# a version reads the latest version when it starts.
use strict;
use warnings;

use File::Path qw(make_path);
use Math::BigInt;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $data = $ENV{LANCE_TEST_DATA};
if (!defined $data || !-d $data)
{
	plan skip_all =>
	  'LANCE_TEST_DATA is not set: generate the datasets with test/lance/gen_datasets.mjs (test/run does)';
}

my $node = PostgreSQL::Test::Cluster->new('lance_fdw');
# UTF8 so that every string LanceDB wrote is representable
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub slurp_lines
{
	my ($path) = @_;
	open my $fh, '<', $path or die "$path: $!";
	my @lines = <$fh>;
	close $fh;
	chomp @lines;
	return @lines;
}

# ---- LanceDB's dump format -> what the SQL below prints ----

# float16 bits -> the float32 bits of the same value (real columns)
sub half_to_f32
{
	my $h    = hex shift;
	my $sign = ($h >> 15) & 1;
	my $exp  = ($h >> 10) & 0x1f;
	my $man  = $h & 0x3ff;
	my $bits;
	if ($exp == 0 && $man == 0)
	{
		$bits = 0;
	}
	elsif ($exp == 0)
	{
		my $e = -14;
		while (!($man & 0x400)) { $man <<= 1; $e--; }
		$bits = (($e + 127) << 23) | (($man & 0x3ff) << 13);
	}
	elsif ($exp == 31)
	{
		$bits = (0xff << 23) | ($man << 13);
	}
	else
	{
		$bits = (($exp - 15 + 127) << 23) | ($man << 13);
	}
	return sprintf('f%08x', $bits | ($sign << 31));
}

# "m" + 16 little-endian bytes of a decimal128 -> numeric text with `scale`
sub decimal_text
{
	my ($hex, $scale) = @_;
	my $be = join '', reverse($hex =~ /(..)/g);
	my $v = Math::BigInt->from_hex("0x$be");
	$v -= Math::BigInt->new(2)**128 if $be =~ /^[89a-f]/;
	my $neg = $v < 0;
	my $s = $v->copy->babs->bstr;
	if ($scale > 0)
	{
		$s = ('0' x ($scale + 1 - length $s)) . $s if length $s <= $scale;
		substr($s, -$scale, 0) = '.';
	}
	return ($neg ? '-' : '') . $s;
}

# SQL printing column $c of SQL type $t like the dump ('N' for NULL).
# Floats print their bits, so they compare exactly.
sub fmt_expr
{
	my ($c, $t) = @_;
	my $e;
	if ($t =~ /^(smallint|integer|bigint|numeric.*)$/)
	{
		$e = "${c}::text";
	}
	elsif ($t eq 'real')
	{
		$e = "'f' || encode(float4send($c), 'hex')";
	}
	elsif ($t eq 'double precision')
	{
		$e = "'d' || encode(float8send($c), 'hex')";
	}
	elsif ($t eq 'boolean')
	{
		$e = "CASE $c WHEN true THEN 't' WHEN false THEN 'f' END";
	}
	elsif ($t eq 'text')
	{
		$e = "'x' || encode(convert_to($c, 'UTF8'), 'hex')";
	}
	elsif ($t eq 'bytea')
	{
		$e = "'x' || encode($c, 'hex')";
	}
	elsif ($t =~ /^(vector|halfvec)\(\d+\)$/)
	{
		$e =
		  "'[' || (SELECT string_agg('f' || encode(float4send(e), 'hex'), ',' ORDER BY o) "
		  . "FROM unnest(${c}::real[]) WITH ORDINALITY u(e, o)) || ']'";
	}
	elsif ($t =~ /^(.*)\[\]$/)
	{
		my $inner = fmt_expr('e', $1);
		$e =
		  "'[' || coalesce((SELECT string_agg($inner, ',' ORDER BY o) "
		  . "FROM unnest($c) WITH ORDINALITY u(e, o)), '') || ']'";
	}
	elsif ($t eq 'jsonb')
	{
		# structs and nested lists, recursively (dump_json below)
		$e = "dump_json($c)";
	}
	elsif ($t eq 'timestamp without time zone')
	{
		$e = "(extract(epoch FROM $c) * 1000000)::bigint::text";
	}
	elsif ($t eq 'date')
	{
		$e = "($c - date '1970-01-01')::text";
	}
	else
	{
		die "no dump format for type $t";
	}
	return "coalesce(CASE WHEN $c IS NOT NULL THEN $e END, 'N')";
}

# name -> SQL type of a foreign table's columns
sub column_types
{
	my ($rel) = @_;
	my %types;
	for my $l (split /\n/,
		$node->safe_psql('postgres',
			"SELECT attname || '|' || format_type(atttypid, atttypmod) FROM pg_attribute "
			  . "WHERE attrelid = '$rel'::regclass AND attnum > 0 AND NOT attisdropped"))
	{
		my ($n, $t) = split /\|/, $l, 2;
		$types{$n} = $t;
	}
	return %types;
}

$node->safe_psql('postgres',
	'CREATE TABLE expected (n bigint GENERATED ALWAYS AS IDENTITY, line text)');

# jsonb (structs, lists of lists) in the dump format: jsonb keeps no member
# order, so members are sorted by name, which is the generator's order
$node->safe_psql('postgres', q{
CREATE FUNCTION dump_json(j jsonb) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN CASE jsonb_typeof(j)
		WHEN 'null' THEN 'N'
		WHEN 'string' THEN 'x' || encode(convert_to(j #>> '{}', 'UTF8'), 'hex')
		WHEN 'boolean' THEN CASE WHEN j = 'true' THEN 't' ELSE 'f' END
		WHEN 'array' THEN '[' || coalesce((SELECT string_agg(dump_json(e), ',' ORDER BY o)
			FROM jsonb_array_elements(j) WITH ORDINALITY a(e, o)), '') || ']'
		WHEN 'object' THEN '{' || coalesce((SELECT string_agg(dump_json(value), ',' ORDER BY key)
			FROM jsonb_each(j)), '') || '}'
		ELSE j::text END;
END $$});

# Compares what `SELECT ... FROM $rel` returns with dump $tsv, in order.
# Returns (number of rows compared, error text or '').
sub compare_with_dump
{
	my ($rel, $tsv, $name) = @_;
	my @lines = slurp_lines($tsv);
	my @cols = split /\t/, shift @lines;
	my %types = column_types($rel);

	# _rowid (LanceDB's withRowId) is compared when the table declares it
	my ($rowid) = grep { $cols[$_] eq '_rowid' } 0 .. $#cols;
	$rowid = undef if defined $types{_rowid};
	splice(@cols, $rowid, 1) if defined $rowid;
	my @exprs;
	for my $c (@cols)
	{
		die "$rel has no column $c" unless defined $types{$c};
		push @exprs, fmt_expr(qq{"$c"}, $types{$c});
	}

	open my $out, '>', "$tmp/expected.txt" or die $!;
	for my $l (@lines)
	{
		my @f = split /\t/, $l, -1;
		splice(@f, $rowid, 1) if defined $rowid;
		for my $k (0 .. $#f)
		{
			if ($types{ $cols[$k] } =~ /^numeric\(\d+,(\d+)\)$/)
			{
				my $scale = $1;
				$f[$k] = decimal_text($1, $scale) if $f[$k] =~ /^m([0-9a-f]{32})$/;
			}
			$f[$k] =~ s/(^|[\[,{])h([0-9a-f]{4})(?=$|[\],}])/$1 . half_to_f32($2)/ge;
		}
		print $out join("\t", @f), "\n";
	}
	close $out;

	my $select = join(', ', @exprs);
	my ($rc, $stdout, $stderr) = $node->psql(
		'postgres', qq{
TRUNCATE expected RESTART IDENTITY;
COPY expected (line) FROM '$tmp/expected.txt' WITH (DELIMITER E'\\x01');
WITH actual AS (SELECT row_number() OVER () AS n, concat_ws(E'\\t', $select) AS line FROM $rel)
SELECT count(*) FILTER (WHERE e.line IS DISTINCT FROM a.line) || ' ' || count(*)
  FROM expected e FULL JOIN actual a USING (n);
});
	return (0, $stderr) if $rc != 0;
	my ($bad, $total) = split / /, $stdout;
	if ($bad > 0)
	{
		my $diff = $node->safe_psql(
			'postgres', qq{
WITH actual AS (SELECT row_number() OVER () AS n, concat_ws(E'\\t', $select) AS line FROM $rel)
SELECT 'row ' || n || E'\\n  lancedb: ' || left(coalesce(e.line, '(none)'), 300)
       || E'\\n  fdw:     ' || left(coalesce(a.line, '(none)'), 300)
  FROM expected e FULL JOIN actual a USING (n)
 WHERE e.line IS DISTINCT FROM a.line ORDER BY n LIMIT 3;
});
		return ($total, "$bad of $total rows differ:\n$diff");
	}
	return ($total, '');
}

# ---- every table, every version, both LanceDB releases ----

my $rows_compared = 0;
for my $lib (qw(v37 v39))
{
	my $dir = "$data/$lib";
	next unless -d $dir;
	my ($rc, $stdout, $stderr) = $node->psql(
		'postgres', qq{
CREATE SERVER lance_$lib FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$dir');
CREATE SCHEMA $lib;
IMPORT FOREIGN SCHEMA lance FROM SERVER lance_$lib INTO $lib OPTIONS (hidden_columns 'true');
});
	is($rc, 0, "$lib: IMPORT FOREIGN SCHEMA") or diag($stderr);

	opendir my $dh, $dir or die $!;
	my %versions;
	for my $f (readdir $dh)
	{
		$versions{$1}{$2} = 1 if $f =~ /^(\w+)\.v(\d+)\.tsv$/;
	}
	closedir $dh;

	# every forced storage version was written (2.0 included)
	ok(exists $versions{"alltypes_v$_"}, "$lib: a format $_ dataset was generated")
	  for qw(20 21 22);

	for my $table (sort keys %versions)
	{
		my @vs = sort { $a <=> $b } keys %{ $versions{$table} };
		my $latest = $vs[-1];
		my $rel = "$lib.$table";

		# lance_versions: one row per version with LanceDB's row counts
		my $want = join ',',
		  map { my @l = slurp_lines("$dir/$table.v$_.tsv"); "$_:" . (@l - 1) } @vs;
		is( $node->safe_psql('postgres',
				"SELECT string_agg(version || ':' || rows, ',' ORDER BY version) FROM lancedb.lance_versions('$rel')"),
			$want,
			"$lib/$table: lance_versions");

		for my $v (@vs)
		{
			my $tsv = "$dir/$table.v$v.tsv";
			# the latest version without options, older ones with "version"
			$node->safe_psql('postgres', "ALTER FOREIGN TABLE $rel OPTIONS (ADD version '$v')")
			  if $v != $latest;
			my ($n, $err) = compare_with_dump($rel, $tsv);
			$node->safe_psql('postgres', "ALTER FOREIGN TABLE $rel OPTIONS (DROP version)")
			  if $v != $latest;
			$rows_compared += $n;
			is($err, '', "$lib/$table v$v: $n rows as LanceDB read them");
		}

		# tags: lance_tags, and the "tag" option reads the tagged version
		my @tags = -f "$dir/$table.tags" ? slurp_lines("$dir/$table.tags") : ();
		is( $node->safe_psql('postgres',
				"SELECT string_agg(tag || ':' || version, ',' ORDER BY tag) FROM lancedb.lance_tags('$rel')"),
			join(',', sort map { s/\t/:/r } @tags),
			"$lib/$table: lance_tags");
		for my $t (@tags)
		{
			my ($tag, $v) = split /\t/, $t;
			$node->safe_psql('postgres', "ALTER FOREIGN TABLE $rel OPTIONS (ADD tag '$tag')");
			my ($n, $err) = compare_with_dump($rel, "$dir/$table.v$v.tsv");
			$node->safe_psql('postgres', "ALTER FOREIGN TABLE $rel OPTIONS (DROP tag)");
			is($err, '', "$lib/$table tag $tag: version $v as LanceDB read it");
		}
	}
}
note("compared $rows_compared rows with LanceDB");
cmp_ok($rows_compared, '>', 0, 'rows were compared');

SKIP:
{
	skip 'no v37 datasets', 1 unless -d "$data/v37";

	# ---- IMPORT details ----

	is( $node->safe_psql('postgres', q{
SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod) || ':' || attnotnull, ' ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = 'v37.bigdel'::regclass AND attnum > 0}),
		'id:bigint:true v:double precision:false name:text:false _rowid:bigint:true _rowaddr:bigint:true',
		'IMPORT: types and NOT NULL from the schema, hidden columns');
	$node->safe_psql('postgres', q{
CREATE SCHEMA lim;
CREATE SCHEMA exc;
IMPORT FOREIGN SCHEMA lance LIMIT TO (bigdel, stable, nosuch) FROM SERVER lance_v37 INTO lim;
IMPORT FOREIGN SCHEMA lance EXCEPT (alltypes, vec768) FROM SERVER lance_v37 INTO exc;
});
	is( $node->safe_psql('postgres',
			q{SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'lim'}),
		'bigdel,stable', 'IMPORT LIMIT TO');
	is( $node->safe_psql('postgres',
			q{SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = 'exc'}),
		'alltypes_v20,alltypes_v21,alltypes_v22,bigdel,dictint_v21,dictint_v22,legacy,lstx_v21,lstx_v22,meta_v20,meta_v21,meta_v22,nested,nested_v20,nested_v21,nested_v22,stable,v1names,vecnull_v20,vecnull_v21,vecnull_v22',
		'IMPORT EXCEPT');

	# the legacy file format (compared row by row above): a filter on a
	# string column reads its pages, counted as LanceDB read them
	{
		my @rows = slurp_lines("$data/v37/legacy.v3.tsv");
		my @hdr = split /\t/, shift @rows;
		my ($si) = grep { $hdr[$_] eq 's' } 0 .. $#hdr;
		my $want = grep { (split /\t/)[$si] ne 'N' } @rows;
		is($node->safe_psql('postgres', 'SELECT count(*) FROM v37.legacy WHERE s IS NOT NULL'),
			$want, 'legacy file format: a filtered scan');
	}
	is( $node->safe_psql('postgres', q{
SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ' ' ORDER BY attnum)
  FROM pg_attribute WHERE attrelid = 'v37.nested'::regclass AND attnum > 0}),
		'id:bigint ll:jsonb lls:jsonb ls:jsonb[] sl:jsonb lsl:jsonb[] lv:vector(4)[] _rowid:bigint _rowaddr:bigint',
		'IMPORT: lists of lists as jsonb, lists of structs as jsonb[]');
	# a list of structs also fits a jsonb column (one JSON array)
	$node->safe_psql('postgres',
		q{CREATE FOREIGN TABLE lsj (id bigint, ls jsonb, lv jsonb) SERVER lance_v37 OPTIONS (table 'nested_v21')});
	is( $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE j.ls IS DISTINCT FROM CASE WHEN n.ls IS NOT NULL THEN coalesce(
           (SELECT jsonb_agg(e ORDER BY o) FROM unnest(n.ls) WITH ORDINALITY u(e, o)), '[]') END),
       count(*) FILTER (WHERE j.lv IS DISTINCT FROM CASE WHEN n.lv IS NOT NULL THEN coalesce(
           (SELECT jsonb_agg(to_jsonb(e::real[]) ORDER BY o) FROM unnest(n.lv) WITH ORDINALITY u(e, o)), '[]') END),
       count(*) FILTER (WHERE jsonb_typeof(j.ls) = 'array' AND j.ls <> '[]')
         = count(*) FILTER (WHERE cardinality(n.ls) > 0),
       count(*)
  FROM lsj j JOIN v37.nested_v21 n USING (id)}),
		'0|0|t|2492', 'lists of structs and of vectors declared as jsonb');

	# ---- hidden _rowid / _rowaddr ----

	is( $node->safe_psql('postgres',
			'SELECT count(*) FILTER (WHERE _rowaddr <> _rowid) || \' \' || count(*) FROM v37.bigdel'),
		'0 11999', '_rowaddr equals _rowid without stable row ids');
	is($node->safe_psql('postgres', 'SELECT id FROM v37.bigdel WHERE _rowid = 15001'),
		'15001', '_rowid in a qual: the row at that address');
	is( $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE _rowaddr <> _rowid) > 0, count(DISTINCT _rowid) = count(*),
       count(DISTINCT _rowaddr) = count(*), bool_and(_rowaddr >> 32 < 10)
  FROM v37.stable}),
		't|t|t|t', 'stable row ids differ from row addresses after an update');
	my ($rc_h, $out_h, $err_h) = $node->psql('postgres', q{
CREATE FOREIGN TABLE badhidden (id bigint, _rowid integer) SERVER lance_v37 OPTIONS (table 'bigdel');
SELECT _rowid FROM badhidden LIMIT 1});
	like($err_h, qr/must have type bigint to hold Lance's hidden _rowid/, '_rowid must be bigint');
	($rc_h, $out_h, $err_h) = $node->psql('postgres',
		q{IMPORT FOREIGN SCHEMA lance FROM SERVER lance_v37 INTO lim OPTIONS (nope 'x')});
	like($err_h, qr/invalid option "nope" of IMPORT FOREIGN SCHEMA/, 'IMPORT rejects unknown options');
	like($node->safe_psql('postgres', 'EXPLAIN SELECT _rowid, _rowaddr FROM v37.bigdel'),
		qr/Lance Columns: _rowid \(hidden\), _rowaddr \(hidden\)/, 'EXPLAIN: hidden columns');

	# ---- EXPLAIN and projection ----

	my $explain = $node->safe_psql('postgres', 'EXPLAIN SELECT * FROM v37.alltypes');
	like($explain, qr{Lance Dataset: \Q$data\E/v37/alltypes\.lance}, 'EXPLAIN: dataset');
	like($explain, qr/Lance Version: 6\n/,   'EXPLAIN: version');
	like($explain, qr/Lance Fragments: 5\n/, 'EXPLAIN: fragments');

	my $one = $node->safe_psql('postgres',
		'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM v37.alltypes WHERE id > 10');
	like($one, qr/Lance Columns: id\n/, 'projection: only the column used');
	like($one, qr/Lance Column Reads: 5\n/, 'projection: one column decoded per fragment');
	my $all = $node->safe_psql('postgres',
		'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM v37.alltypes');
	like($all, qr/Lance Column Reads: 115\n/, 'projection: SELECT * decodes 23 columns x 5 fragments');
	my ($b1) = $one =~ /Lance Bytes Read: (\d+)/;
	my ($ball) = $all =~ /Lance Bytes Read: (\d+)/;
	cmp_ok($b1 * 10, '<', $ball, "projection: one column reads far fewer bytes ($b1 vs $ball)");
	like( $node->safe_psql('postgres',
			'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM v37.alltypes'),
		qr/Lance Columns: \(none\)\n.*Lance Column Reads: 0\n/s,
		'count(*) decodes no column');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM v37.bigdel'), '11999',
		'count(*) honours deletion files');

	# ---- declared columns ----

	$node->safe_psql('postgres', q{
CREATE FOREIGN TABLE extra (id bigint, nope integer, ident bigint OPTIONS (column_name 'id'))
  SERVER lance_v37 OPTIONS (table 'v1names');
CREATE FOREIGN TABLE wider (id numeric, v double precision, name varchar)
  SERVER lance_v37 OPTIONS (table 'v1names');
});
	is( $node->safe_psql('postgres',
			'SELECT count(*), count(nope), sum(id) = sum(ident) FROM extra'),
		'149|0|t', 'a column the dataset lacks reads as NULL; column_name maps a column');
	is($node->safe_psql('postgres', 'SELECT sum(id) FROM wider'), '11168',
		'a wider declared type');

	my ($rc, $out, $err);
	$node->safe_psql('postgres',
		q{CREATE FOREIGN TABLE mism (id text) SERVER lance_v37 OPTIONS (table 'v1names')});
	($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM mism');
	like($err,
		qr/column "id" of foreign table "mism" has type text, which cannot hold Lance field "id" of type "int64"/,
		'type mismatch names the column');
	$node->safe_psql('postgres',
		q{CREATE FOREIGN TABLE mism2 (vec8 vector(3)) SERVER lance_v37 OPTIONS (table 'alltypes')});
	($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM mism2');
	like($err, qr/column "vec8" .* has type vector\(3\), which cannot hold Lance field "vec8"/,
		'vector dimension mismatch');

	# ---- versions and tags that do not exist ----

	$node->safe_psql('postgres', q{
CREATE FOREIGN TABLE badver (id bigint) SERVER lance_v37 OPTIONS (table 'v1names', version '999');
CREATE FOREIGN TABLE badtag (id bigint) SERVER lance_v37 OPTIONS (table 'v1names', tag 'nope');
CREATE FOREIGN TABLE nosuch (id bigint) SERVER lance_v37 OPTIONS (table 'nosuch');
});
	($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM badver');
	like($err, qr/version 999 of Lance dataset ".*v1names\.lance" does not exist/, 'unknown version');
	($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM badtag');
	like($err, qr/tag "nope" does not exist in Lance dataset/, 'unknown tag');
	($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM nosuch');
	like($err, qr/Lance dataset ".*nosuch\.lance" does not exist/, 'unknown table');

	# ---- options, directory escapes and privileges ----

	($rc, $out, $err) = $node->psql('postgres',
		q{CREATE FOREIGN TABLE esc (id bigint) SERVER lance_v37 OPTIONS (table '../v39/bigdel')});
	like($err, qr/invalid Lance table name "\.\.\/v39\/bigdel"/, 'table name with .. and / refused');

	my $db = "$tmp/db";
	make_path($db);
	symlink("$data/v37/bigdel.lance", "$db/evil.lance") or die "symlink: $!";
	system('cp', '-R', "$data/v37/v1names.lance", "$db/broken.lance") == 0 or die 'cp failed';
	system('cp', '-R', "$data/v37/v1names.lance", "$db/moving.lance") == 0 or die 'cp failed';
	$node->safe_psql('postgres', qq{
CREATE SERVER tmpdb FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$db');
CREATE FOREIGN TABLE evil (id bigint) SERVER tmpdb OPTIONS (table 'evil');
});
	($rc, $out, $err) = $node->psql('postgres', 'SELECT count(*) FROM evil');
	like($err, qr/resolves to ".*bigdel\.lance", outside the server directory/,
		'a symlink out of the server directory is refused');
	my $notice = '';
	$node->psql('postgres', 'CREATE SCHEMA imp; IMPORT FOREIGN SCHEMA lance FROM SERVER tmpdb INTO imp',
		stderr => \$notice);
	like($notice, qr/WARNING:  skipping Lance dataset "evil"/, 'IMPORT skips a dataset outside the directory');

	$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER lance_fdw TO alice;
GRANT USAGE ON FOREIGN SERVER lance_v37 TO alice;
GRANT CREATE ON SCHEMA public TO alice;
GRANT USAGE ON SCHEMA v37, lancedb TO alice;
});
	($rc, $out, $err) = $node->psql('postgres',
		qq{SET ROLE alice; CREATE SERVER mine FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$data/v37')});
	like($err, qr/only superuser or a role with privileges of the pg_read_server_files role may specify the "uri" option/,
		'uri needs pg_read_server_files');
	($rc, $out, $err) = $node->psql('postgres',
		qq{SET ROLE alice; CREATE FOREIGN TABLE mine (id bigint) SERVER lance_v37 OPTIONS (path '$data/v37/bigdel.lance')});
	like($err, qr/may specify the "path" option/, 'path needs pg_read_server_files');
	is( $node->safe_psql('postgres',
			q{SET ROLE alice; CREATE FOREIGN TABLE alices (id bigint) SERVER lance_v37 OPTIONS (table 'bigdel'); SELECT count(*) FROM alices}),
		'11999', 'table option inside the server directory needs no privilege');
	($rc, $out, $err) = $node->psql('postgres', q{SET ROLE alice; SELECT * FROM lancedb.lance_versions('v37.bigdel')});
	like($err, qr/permission denied for foreign table bigdel/, 'lance_versions needs SELECT');
	$node->safe_psql('postgres', 'GRANT pg_read_server_files TO alice');
	($rc, $out, $err) = $node->psql('postgres',
		qq{SET ROLE alice; CREATE SERVER mine FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$data/v37')});
	is($rc, 0, 'with pg_read_server_files a role may set uri') or diag($err);

	# ---- corruption ----

	opendir my $dh, "$db/broken.lance/data" or die $!;
	my ($victim) = sort grep { /\.lance$/ } readdir $dh;
	closedir $dh;
	truncate("$db/broken.lance/data/$victim", (-s "$db/broken.lance/data/$victim") - 45) or die $!;
	$node->safe_psql('postgres',
		q{CREATE FOREIGN TABLE broken (id bigint, v float8, name text) SERVER tmpdb OPTIONS (table 'broken')});
	($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM broken");
	like($err, qr/ERROR:  XX001: .*\Q$victim\E/, 'a truncated data file: data_corrupted error naming the file');

	# ---- the latest version is taken when a query starts ----

	$node->safe_psql('postgres',
		q{CREATE FOREIGN TABLE moving (id bigint) SERVER tmpdb OPTIONS (table 'moving')});
	opendir $dh, "$db/moving.lance/_versions" or die $!;
	my ($newest) = sort { $b <=> $a } map { /^(\d+)\.manifest$/ ? $1 : () } readdir $dh;
	closedir $dh;
	is( $node->safe_psql('postgres', qq{
PREPARE q AS SELECT count(*) FROM moving;
EXECUTE q;
COPY (SELECT 1) TO PROGRAM 'rm $db/moving.lance/_versions/$newest.manifest';
EXECUTE q;
}),
		"149\n150", 'each query reads the latest version at its start');
}

$node->stop;
done_testing();
