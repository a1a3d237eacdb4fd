# Shared by the worker TAP tests: poll until a query gives the expected
# answer (the worker acts on its own schedule).
package LanceWait;

use strict;
use warnings;

use Exporter 'import';
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(wait_for);

# wait_for($node, $sql, $want, $what[, $timeout_s]): true once $sql answers
# $want; psql, not safe_psql, so a server restarting after a kill -9 only
# means "not yet" (also when psql exits before reading the query).  On
# timeout, says what the last answer was.
sub wait_for
{
	my ($node, $sql, $want, $what, $timeout) = @_;
	$timeout //= 120;
	my $got = '';
	for (my $i = 0; $i < $timeout * 10; $i++)
	{
		# (eval: while a server restarts, psql may exit before reading its
		# input and IPC::Run dies of the broken pipe)
		my $rc = eval { $node->psql('postgres', $sql, stdout => \$got, stderr => \my $err) };
		return 1 if defined $rc && $rc == 0 && $got eq $want;
		usleep(100_000);
	}
	diag("$what: last answer '$got'");
	return 0;
}

1;
