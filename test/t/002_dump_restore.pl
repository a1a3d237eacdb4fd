
# pg_dump -Fc / pg_restore of a database that uses the extension's types
# (vector, halfvec, with bit), its operators in a view, a btree index on a
# vector column and a vector column default.  The restore goes into a fresh
# database, so CREATE EXTENSION must come back from the dump.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', q{
CREATE EXTENSION lancedb;
CREATE TABLE t (
    id   int PRIMARY KEY,
    emb  vector(3) NOT NULL DEFAULT '[0,0,1]',
    h    halfvec(3),
    b    bit(8),
    note text
);
CREATE INDEX t_emb_idx ON t (emb);
INSERT INTO t (id, emb, h, b, note)
SELECT g,
       format('[%s,%s,%s]', g, g * 0.5, -g)::vector(3),
       format('[%s,%s,%s]', g % 7, 0.25 * g, 1)::halfvec(3),
       (g * 37 % 256)::bit(8),
       'row ' || g
FROM generate_series(1, 200) AS g;
-- defaults and NULLs; values needing full float4 precision
INSERT INTO t (id, note) VALUES (1000, 'default');
INSERT INTO t (id, emb, h, b) VALUES (1001, '[0.1,-1e-07,1234.5677]', NULL, NULL);
-- lancedb indexes: IVF with its WITH options, and on bit vectors
CREATE INDEX t_emb_ivf ON t USING lance_ivf (emb vector_l2_ops) WITH (lists = 4, quantizer = 'sq');
CREATE INDEX t_b_ivf ON t USING lance_ivf (b bit_hamming_ops) WITH (lists = 2, quantizer = 'flat');
CREATE VIEW v AS
SELECT id,
       emb <-> '[1,2,3]' AS l2,
       emb <#> '[1,2,3]' AS ip,
       emb <=> '[1,2,3]' AS cosine,
       emb <+> '[1,2,3]' AS l1,
       h <-> '[1,2,3]'::halfvec AS h_l2,
       b <~> B'10101010' AS hamming,
       b <%> B'10101010' AS jaccard
FROM t;
});

my $rows_q  = q{SELECT string_agg(t::text, ',' ORDER BY id) FROM t};
my $view_q  = q{SELECT string_agg(v::text, ',' ORDER BY id) FROM v};
my $types_q = q{
SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || ' '
                  || coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), '; ' ORDER BY attnum)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped};
my $index_q = q{SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE tablename = 't'};
my $ext_q   = q{SELECT extname || ' ' || extversion FROM pg_extension WHERE extname = 'lancedb'};

my %before = (
	rows  => $node->safe_psql('src', $rows_q),
	view  => $node->safe_psql('src', $view_q),
	types => $node->safe_psql('src', $types_q),
	index => $node->safe_psql('src', $index_q),
	ext   => $node->safe_psql('src', $ext_q),);

# Sanity of the source, with real values.
is($node->safe_psql('src', 'SELECT count(*) FROM t'), '202', 'source row count');
is($node->safe_psql('src', 'SELECT emb, h, b FROM t WHERE id = 2'),
	'[2,1,-2]|[2,0.5,1]|01001010', 'source row 2');
is($node->safe_psql('src', 'SELECT emb FROM t WHERE id = 1000'),
	'[0,0,1]', 'column default applied');
is($node->safe_psql('src', 'SELECT l2, l1, hamming FROM v WHERE id = 2'),
	'5.196152422706632|7|3', 'view computes the operators');
is($before{types},
	'id integer -; emb vector(3) \'[0,0,1]\'::vector; h halfvec(3) -; b bit(8) -; note text -',
	'column types, typmods and default');
like($before{index}, qr/CREATE INDEX t_emb_idx ON public\.t USING btree \(emb\)/, 'index on emb');
like($before{index},
	qr/CREATE INDEX t_emb_ivf ON public\.t USING lance_ivf \(emb vector_l2_ops\) WITH \(lists='4', quantizer=sq\)/,
	'lance_ivf index with its options');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into a new database');

is($node->safe_psql('dst', $ext_q), $before{ext}, 'extension restored by the dump');
is($node->safe_psql('dst', $rows_q), $before{rows}, 'table contents identical');
is($node->safe_psql('dst', $view_q), $before{view}, 'view returns the same');
is( $node->safe_psql('dst', q{SELECT pg_get_viewdef('v'::regclass)}),
	$node->safe_psql('src', q{SELECT pg_get_viewdef('v'::regclass)}),
	'view definition identical');
is($node->safe_psql('dst', $types_q), $before{types}, 'column types and default identical');
is($node->safe_psql('dst', $index_q), $before{index}, 'index restored');

# The restored index works and the default still applies.
is( $node->safe_psql(
		'dst', q{SET enable_seqscan = off; SET enable_bitmapscan = off;
SELECT id FROM t WHERE emb = '[2,1,-2]'}),
	'2',
	'index scan on the restored index');
like(
	$node->safe_psql(
		'dst', q{SET enable_seqscan = off; SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM t WHERE emb = '[2,1,-2]'}),
	qr/Index (Only )?Scan using t_emb_idx/,
	'planner uses the restored index');
# The restored lance_ivf index was rebuilt by the restore and answers
# nearest-neighbour queries like the original.
my $knn = q{SET enable_seqscan = off; SET lancedb.nprobes = 4;
SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY emb <-> '[10.2,5.1,-10.2]' LIMIT 5) s};
is($node->safe_psql('dst', $knn), $node->safe_psql('src', $knn), 'lance_ivf k-NN identical after restore');
is($node->safe_psql('dst', $knn), '10,11,9,12,8', 'lance_ivf k-NN is the exact answer');
is( $node->safe_psql('dst', q{SELECT lancedb.index_stats('t_emb_ivf')->>'num_indexed_rows'}),
	'202', 'restored lance_ivf index holds every row');
$node->safe_psql('dst', q{INSERT INTO t (id) VALUES (2000)});
is($node->safe_psql('dst', 'SELECT emb FROM t WHERE id = 2000'),
	'[0,0,1]', 'default works after restore');

# A plain-text dump restores too (psql replays COPY with the types' text I/O).
my $sql = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_dump', '-f', $sql, '-d', $node->connstr('src') ], 'pg_dump plain');
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst2'), '-f', $sql ],
	'plain dump replays');
is($node->safe_psql('dst2', $rows_q), $before{rows}, 'plain dump: table contents identical');

$node->stop;
done_testing();
