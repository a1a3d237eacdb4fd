
# lance_bm25 on a streaming standby: index pages reach the standby only
# through WAL (full-page images of new segment pages, GenericXLog deltas of
# the meta page, delta records and deletion bitmaps), so the standby must
# give exactly the primary's answers after the build, after inserts that
# flush and merge segments, and after DELETE + VACUUM; a standby query
# reading pages the primary recycles meets a recovery conflict.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "autovacuum = off\njit = off\n");
$primary->start;
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
CREATE EXTENSION lancedb;
CREATE FUNCTION gen(i int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'common ' || string_agg((ARRAY['alpha','beta','gamma','delta','epsilon','zeta','eta','theta','iota','kappa','lambda','omega'])
                    [1 + floor(power(((hashint4(i * 97 + j) & 65535) / 65536.0)::float8, 2) * 12)::int], ' ')
    FROM generate_series(1, 3 + i % 11) j $$;
CREATE TABLE d (id int PRIMARY KEY, body text, tags text[]);
INSERT INTO d SELECT i, gen(i), ARRAY[gen(i + 1), gen(i + 2)] FROM generate_series(1, 3000) i;
CREATE INDEX d_idx ON d USING lance_bm25 (body) WITH (with_position = true);
CREATE INDEX d_tags ON d USING lance_bm25 (tags);
});

my $idx = 'SET enable_seqscan = off; SET enable_bitmapscan = off; ';
my @queries = (
	q{SELECT string_agg(id || ':' || round((-(body <&> 'alpha kappa'))::numeric, 6), ',') FROM (SELECT id, body FROM d ORDER BY body <&> 'alpha kappa' LIMIT 20) s},
	q{SELECT string_agg(id || ':' || round((-(body <&> '{"phrase": {"terms": "beta gamma", "slop": 1}}'::jsonb))::numeric, 6), ',') FROM (SELECT id, body FROM d ORDER BY body <&> '{"phrase": {"terms": "beta gamma", "slop": 1}}'::jsonb LIMIT 20) s},
	q{SELECT string_agg(id || ':' || round((-(body <&> '{"match": {"terms": "omeg", "fuzziness": 1}}'::jsonb))::numeric, 6), ',') FROM (SELECT id, body FROM d ORDER BY body <&> '{"match": {"terms": "omeg", "fuzziness": 1}}'::jsonb LIMIT 20) s},
	q{SELECT string_agg(id || ':' || round((-(tags <&> 'theta'))::numeric, 6), ',') FROM (SELECT id, tags FROM d ORDER BY tags <&> 'theta' LIMIT 20) s},
	q{SELECT count(*) || '/' || count(DISTINCT id) FROM d WHERE body @@@ 'common'},
	q{SELECT lancedb.index_stats('d_idx') - 'bytes' - 'pages'},
);

sub compare
{
	my ($label) = @_;
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	for my $i (0 .. $#queries)
	{
		my $p = $primary->safe_psql('postgres', $idx . $queries[$i]);
		isnt($p, '', "$label q$i: the primary answers");
		is($standby->safe_psql('postgres', $idx . $queries[$i]), $p, "$label q$i: standby = primary");
	}
}

compare('after build');
$primary->safe_psql('postgres', q{
DO $$ BEGIN FOR i IN 3001..3700 LOOP INSERT INTO d VALUES (i, gen(i), ARRAY[gen(i)]); END LOOP; END $$;
});
is($primary->safe_psql('postgres', "SELECT (lancedb.index_stats('d_idx')->>'merges')::int > 0"), 't',
	'inserts flushed and merged segments');
compare('after inserts');
$primary->safe_psql('postgres', 'DELETE FROM d WHERE id % 4 = 0; VACUUM d;');
compare('after vacuum');
$primary->safe_psql('postgres', 'INSERT INTO d SELECT i, gen(i), ARRAY[gen(i)] FROM generate_series(5001, 5300) i; VACUUM d;');
compare('after reuse of freed pages');

# A standby query that started before a merge keeps reading the segments
# it found (a cursor fetching past the first top-k batch re-reads their
# postings) while the primary merges them away, VACUUM recycles their pages
# and new rows reuse them.  It holds no lock on the primary, so replay must
# cancel it with a recovery conflict before the pages change under it; it
# must never read a reused page (which the page owner check would report as
# corruption).
$standby->append_conf('postgresql.conf', "max_standby_streaming_delay = 0\n");
$standby->reload;
$primary->safe_psql('postgres', q{
DO $$ BEGIN FOR i IN 6001..6300 LOOP INSERT INTO d VALUES (i, gen(i), ARRAY[gen(i)]); END LOOP; END $$;
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $segs_before = $primary->safe_psql('postgres', "SELECT lancedb.index_stats('d_idx')->>'num_segments'");
my $bg = $standby->background_psql('postgres', on_error_stop => 0);
$bg->query_safe("SET enable_seqscan = off; SET enable_bitmapscan = off; BEGIN ISOLATION LEVEL REPEATABLE READ; DECLARE c CURSOR FOR SELECT id FROM d ORDER BY body <&> 'common alpha kappa'");
my $first = $bg->query_safe("FETCH 5 FROM c");
is(scalar(split /\n/, $first), 5, 'standby cursor read its first rows');
$primary->safe_psql('postgres', "SELECT lancedb.optimize('d_idx')");
cmp_ok($primary->safe_psql('postgres', "SELECT lancedb.index_stats('d_idx')->>'num_segments'"), '<', $segs_before,
	'the primary merged the segments the standby cursor reads');
$primary->safe_psql('postgres', 'SELECT txid_current()');
$primary->safe_psql('postgres', 'VACUUM d');
$primary->safe_psql('postgres', q{
DO $$ BEGIN FOR i IN 6301..6700 LOOP INSERT INTO d VALUES (i, gen(i), ARRAY[gen(i)]); END LOOP; END $$;
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my ($rest, $failed) = ('', 0);
eval { ($rest, $failed) = $bg->query("FETCH ALL FROM c"); };
my $err = ($bg->{stderr} // '') . ($@ // '');
unlike($err, qr/corrupt|bad |outside the index|owned by/i, 'the standby cursor never read a recycled page');
like($err, qr/conflict with recovery/, 'the standby cursor was cancelled by a recovery conflict');
eval { $bg->quit; };
compare('after a merge and page reuse under a standby cursor');

$standby->stop;
$primary->stop;
done_testing();
