
# Automatic indexing by the background worker (shared_preload_libraries =
# 'lancedb'): a registered column gets its index (CREATE INDEX
# CONCURRENTLY) once the table holds enough rows, while writes go on;
# index_stats reports the worker's rounds; an interrupted build is dropped
# and redone by a later round.
use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use LanceWait;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('autoidx');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'lancedb'
lancedb.maintenance_naptime = 1
autovacuum = off
max_worker_processes = 16
restart_after_crash = on
));
$node->start;


$node->safe_psql(
	'postgres', q{
CREATE EXTENSION lancedb;
CREATE TABLE docs (id int PRIMARY KEY, v vector(8), body text);
INSERT INTO docs SELECT i, (SELECT array_agg(sin(i * 0.37 + j))::vector(8) FROM generate_series(1, 8) j),
                        'row ' || i || ' about ' || (ARRAY['cats', 'dogs', 'birds'])[1 + i % 3]
  FROM generate_series(1, 2000) i;
});

is($node->safe_psql('postgres',
		q{SELECT lancedb.auto_index('docs', 'v', min_rows => 5000)->>'due'}),
	'false', 'registered, not due at 2000 of 5000 rows');
$node->safe_psql('postgres', q{SELECT lancedb.auto_index('docs', 'body', min_rows => 1000)});

ok(wait_for($node, q{SELECT count(*) FROM pg_index WHERE indexrelid = 'docs_body_lance_auto'::regclass AND indisvalid},
		'1', 'bm25 auto index'),
	'the worker creates the due text index');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_indexes WHERE tablename = 'docs' AND indexname = 'docs_v_lance_auto'}),
	'0', 'the vector index is not due yet');

# rows arrive while the worker builds the vector index concurrently
$node->safe_psql('postgres', q{
INSERT INTO docs SELECT i, (SELECT array_agg(sin(i * 0.37 + j))::vector(8) FROM generate_series(1, 8) j), 'row ' || i
  FROM generate_series(2001, 6000) i;
});
my $bg = $node->background_psql('postgres');
$bg->query_safe(q{
INSERT INTO docs SELECT i, (SELECT array_agg(sin(i * 0.37 + j))::vector(8) FROM generate_series(1, 8) j), 'row ' || i
  FROM generate_series(6001, 9000) i, pg_sleep(0.0005)});
ok(wait_for($node, q{SELECT count(*) FROM pg_index WHERE indexrelid = 'docs_v_lance_auto'::regclass AND indisvalid},
		'1', 'vector auto index'),
	'the worker creates the vector index once the table is big enough');
$bg->quit;
is($node->safe_psql('postgres',
		q{SELECT (lancedb.index_stats('docs_v_lance_auto')->>'num_indexed_rows')::int = count(*) FROM docs}),
	't', 'every row is indexed, including those written during the build');
is($node->safe_psql('postgres', q{
SET enable_seqscan = off; SET lancedb.nprobes = 10000;
SELECT array_agg(id ORDER BY id) = (SELECT array_agg(id ORDER BY id) FROM
         (SELECT id FROM docs ORDER BY v <-> (SELECT v FROM docs WHERE id = 4321), id LIMIT 10) e)
  FROM (SELECT id FROM docs ORDER BY v <-> (SELECT v FROM docs WHERE id = 4321) LIMIT 10) s}),
	't', 'the automatic index answers exactly with every list probed');
is($node->safe_psql('postgres',
		q{SELECT string_agg(action || ':' || status, ',' ORDER BY id) FROM lancedb.maintenance_status WHERE am = 'auto_index'}),
	'create_index:done,create_index:done', 'both builds are recorded');

# index_stats sees the worker
ok(wait_for($node, q{SELECT s->'maintenance'->>'worker' = 'on' AND s->'maintenance'->>'last_round' IS NOT NULL
		AND (s->'maintenance'->>'next_round')::timestamptz > now() - interval '10 seconds'
		FROM lancedb.index_stats('docs_body_lance_auto') s}, 't', 'index_stats rounds'),
	'index_stats reports the last and next worker round');

# an interrupted CREATE INDEX CONCURRENTLY is dropped and redone
$node->safe_psql('postgres', q{
CREATE TABLE big (id int, v vector(64));
INSERT INTO big SELECT i, (SELECT array_agg(sin(i * 0.11 + j * 0.7))::vector(64) FROM generate_series(1, 64) j)
  FROM generate_series(1, 60000) i;
});
$node->safe_psql('postgres', q{SELECT lancedb.auto_index('big', 'v', min_rows => 1000)});
my $pid;
for (my $i = 0; $i < 1200 && !$pid; $i++)
{
	$pid = $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'lancedb maintenance worker' AND query LIKE 'CREATE INDEX CONCURRENTLY big_v%'});
	usleep(50_000) unless $pid;
}
ok($pid, 'the worker is building big_v_lance_auto');
kill 'KILL', $pid if $pid;
ok(wait_for($node, q{SELECT count(*) FROM pg_index WHERE indexrelid = 'big_v_lance_auto'::regclass AND indisvalid},
		'1', 'auto index after kill', 300),
	'a later round drops the half-built index and builds it again');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_indexes WHERE tablename = 'big'}),
	'1', 'exactly one index is left on the table');

$node->stop;
done_testing();
