
# The background worker (shared_preload_libraries = 'lancedb') on Lance
# foreign tables: a dataset that many small INSERTs fragmented is compacted
# by the worker on its own, LanceDB (npm) reads the result, and the worker
# cleans up versions past lancedb.lance_retention while keeping tagged ones.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use LanceWait;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $root = $ENV{LANCEDB_ROOT} // "$FindBin::Bin/../..";
my $js = "$root/test/lance/write_interop.mjs";
my ($node_bin) = grep { -x "$_/node" } split /:/, ($ENV{PATH} // '');
$node_bin = defined $node_bin ? "$node_bin/node" : '';
if (!-f $js || !-d "$root/test/lance/node_modules" || $node_bin eq '')
{
	plan skip_all => 'node and test/lance/node_modules (LanceDB npm packages) are needed';
}

my $node = PostgreSQL::Test::Cluster->new('worker_lance');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance_naptime = 1
lancedb.lance_compact_min_fragments = 8
autovacuum = off
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');
my $tmp = PostgreSQL::Test::Utils::tempdir;

# the script's "key value" lines as a hash
sub lancedb
{
	my @args = @_;
	my ($out, $err);
	IPC::Run::run([ $node_bin, $js, @args ], '>', \$out, '2>', \$err)
	  or die "node @args failed: $err$out";
	return { map { /^(\S+) (.*)$/ ? ($1 => $2) : () } split /\n/, $out };
}


my $uri = "$tmp/wl";
mkdir $uri or die;
lancedb('create', $uri, '39', '2.2');
$node->safe_psql('postgres', qq{
	CREATE SERVER wl FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri '$uri');
	CREATE SCHEMA wl;
	IMPORT FOREIGN SCHEMA lance FROM SERVER wl INTO wl;
	CREATE FOREIGN TABLE wl.frag (id bigint, _rowaddr bigint) SERVER wl OPTIONS (table 't');
});
my $base = $node->safe_psql('postgres', 'SELECT count(*) FROM wl.t');
# keep the worker away while the fragments pile up
$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = off');
$node->reload;
foreach my $k (1 .. 12)
{
	$node->safe_psql('postgres', "INSERT INTO wl.t (id) VALUES (" . (1000 + $k) . ")");
}
$node->safe_psql('postgres', "SELECT lancedb.lance_tag_create('wl.t', 'before', 3)");
my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM wl.t');
is($rows, $base + 12, "LanceDB's rows and twelve single-row INSERTs");
ok($node->safe_psql('postgres', 'SELECT count(DISTINCT _rowaddr >> 32) FROM wl.frag') >= 12,
	'each INSERT made its own fragment');
like($node->safe_psql('postgres', q{SELECT lancedb.index_stats('wl.t')}),
	qr/"needs": "compact"/, 'index_stats of the foreign table says it needs compaction');

$node->safe_psql('postgres', 'ALTER SYSTEM SET lancedb.maintenance = on');
$node->reload;
ok(wait_for($node, q{SELECT count(*) FROM lancedb.maintenance_status WHERE am = 'lance_fdw' AND action = 'compact' AND status = 'done'},
		'1', 'worker compaction'),
	'the worker compacts the dataset on its own');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT _rowaddr >> 32), count(*) FROM wl.frag'), "1|$rows",
	'one fragment holds every row');
is(lancedb('count', $uri, '39', 'id > 1000')->{rows}, 12, 'LanceDB reads the compacted rows (filtered scan)');
is(lancedb('count', $uri, '39')->{rows}, $rows, 'LanceDB counts every row');

# cleanup: old versions go, the tagged one stays
$node->safe_psql('postgres', "ALTER SYSTEM SET lancedb.lance_retention = '0'");
$node->reload;
ok(wait_for($node, q{SELECT count(*) FROM lancedb.maintenance_status WHERE am = 'lance_fdw' AND action = 'cleanup' AND status = 'done'},
		'1', 'worker cleanup'),
	'the worker cleans up old versions');
like(lancedb('at', $uri, '39', 5)->{error} // '', qr/not found/i, 'an untagged old version is gone');
is(lancedb('at', $uri, '39', 3)->{rows}, $base + 2, 'the tagged version is kept');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM lancedb.maintenance_status WHERE am = 'lance_fdw' AND action = 'cleanup'}),
	'1', 'with only the latest and a tagged version left, the worker stops cleaning up');
is(lancedb('count', $uri, '39')->{rows}, $rows, 'LanceDB still reads the latest version');
is($node->safe_psql('postgres', 'SELECT count(*) FROM wl.t'), $rows, 'and so does the FDW');

$node->stop;
done_testing();
