
# Re-ranking reads TOASTed vectors' chunks straight from the toast table's
# pages (src/am/toastfetch.c).  Damaged chunks must give an ERROR, never a
# crash or a wrong distance: a chunk whose sequence number is wrong, one
# whose length word claims more bytes than its tuple holds, one claiming
# fewer.  Each is written into the toast file of a stopped cluster; the
# re-ranking query must then fail with the toast error and the server must
# keep running.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('toast_corrupt');
$node->init;
$node->append_conf('postgresql.conf', "autovacuum = off\n");
$node->start;

# three tables, each with one row whose vector starts with a marker value
# (a float found nowhere else), stored out of line in two chunks
my @cases = ('seq', 'long', 'short');
$node->safe_psql('postgres', 'CREATE EXTENSION lancedb');
my %marker;
my $i = 0;
for my $c (@cases)
{
	$i++;
	$marker{$c} = 12345.5 + $i;
	$node->safe_psql(
		'postgres', qq{
CREATE TABLE tc_$c (id int, v vector(600)) WITH (autovacuum_enabled = off);
INSERT INTO tc_$c SELECT g, (SELECT array_agg(CASE WHEN g = 7 AND j = 1 THEN $marker{$c}
                                         ELSE sin(g * 0.3 + j)::real END ORDER BY j)
                         FROM generate_series(1, 600) j)::vector
  FROM generate_series(1, 40) g;
CREATE INDEX ON tc_$c USING lance_ivf (v vector_l2_ops) WITH (lists = 2, quantizer = 'sq');
CHECKPOINT;
});
}

my $query = sub {
	my ($c) = @_;
	return qq{SET lancedb.nprobes = 2; SET lancedb.refine_factor = 100; SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM tc_$c ORDER BY v <-> (SELECT v FROM tc_$c WHERE id = 8) LIMIT 40) s};
};
for my $c (@cases)
{
	is($node->safe_psql('postgres', $query->($c)), '40', "tc_$c: the query (every row re-ranked) works before the damage");
}

my %file;
for my $c (@cases)
{
	$file{$c} = $node->data_dir . '/' . $node->safe_psql('postgres',
		qq{SELECT pg_relation_filepath(reltoastrelid) FROM pg_class WHERE relname = 'tc_$c'});
}
$node->stop;

# chunk 0 of the marked value: [chunk_id][chunk_seq][4-byte length word]
# [int16 dim][int16 unused][marker float]...
for my $c (@cases)
{
	my $path = $file{$c};
	open(my $fh, '+<', $path) or die "open $path: $!";
	binmode $fh;
	local $/;
	my $data = <$fh>;
	my $needle = pack('s<s<f<', 600, 0, $marker{$c});
	my $at = index($data, $needle);
	ok($at > 12, "tc_$c: the marked chunk is in the toast file");
	my $len_at = $at - 4;
	my $seq_at = $at - 8;
	my ($seq) = unpack('l<', substr($data, $seq_at, 4));
	is($seq, 0, "tc_$c: found chunk 0");
	my ($word) = unpack('L<', substr($data, $len_at, 4));
	my $len = $word >> 2;    # 4-byte varlena header, little-endian
	if ($c eq 'seq')
	{
		substr($data, $seq_at, 4) = pack('l<', 5);
	}
	elsif ($c eq 'long')
	{
		substr($data, $len_at, 4) = pack('L<', ($len + 4000) << 2);
	}
	else
	{
		substr($data, $len_at, 4) = pack('L<', ($len - 100) << 2);
	}
	seek($fh, 0, 0);
	print $fh $data;
	close($fh);
}
$node->start;

for my $c (@cases)
{
	my ($ret, $out, $err) = $node->psql('postgres', $query->($c));
	isnt($ret, 0, "tc_$c: the query fails");
	like($err, qr/ERROR:.*\(expected 0 of 2\) of toast value/, "tc_$c: with the re-ranking's toast chunk error");
}
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server is still up');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no backend crashed');

done_testing();
