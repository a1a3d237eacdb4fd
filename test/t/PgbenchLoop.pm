# Shared by the concurrency TAP tests: a script run over and over by a
# one-client pgbench (VACUUM, lancedb.optimize()) beside a test's workload.
package PgbenchLoop;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(start_loop stop_loop);

# start_loop($node, $name, $sql): runs $sql in a loop (for at most 300 s)
# until stop_loop; returns the loop's handle.
sub start_loop
{
	my ($node, $name, $sql) = @_;
	my $script = $node->basedir . "/$name.sql";
	my ($out, $err) = ('', '');

	PostgreSQL::Test::Utils::append_to_file($script, $sql);
	my $h = IPC::Run::start(
		[ 'pgbench', '--no-vacuum', '-n', '-c', '1', '-T', '300', '-f', $script,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	return { h => $h, err => \$err };
}

# stop_loop($loop): stops it; returns its stderr if that reports an error or
# an abort, else ''.
sub stop_loop
{
	my ($loop) = @_;
	my $h = $loop->{h};

	$h->signal('INT');
	eval { $h->finish; };
	$h->kill_kill if $h->pumpable;
	my $err = ${ $loop->{err} };
	return $err =~ /error|abort/i ? $err : '';
}

1;
