# Shared by the lance_bm25 TAP tests: a brute-force BM25 over table d
# (id int, body text) with the analyzer of index d_idx, and a check that the
# index's top k equals it.
package Bm25Brute;

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw($bm25_bf_sql $bm25_check_sql);

# bf(q): (id, score) of every doc matching a query token (k1 1.2, b 0.75,
# Lucene idf, exact lengths).
our $bm25_bf_sql = q{
CREATE FUNCTION bf(q text) RETURNS TABLE (id int, score float8) LANGUAGE sql AS $$
  WITH toks AS (SELECT d.id, t FROM d, unnest(lancedb.tokenize(body, 'd_idx'::regclass)) t),
       dl AS (SELECT d.id, cardinality(lancedb.tokenize(body, 'd_idx'::regclass)) AS len FROM d),
       st AS (SELECT count(*)::float8 AS n, avg(len)::float8 AS avgdl FROM dl),
       qt AS (SELECT DISTINCT unnest(lancedb.tokenize(q, 'd_idx'::regclass)) AS t),
       df AS (SELECT t, count(DISTINCT id) AS df FROM toks JOIN qt USING (t) GROUP BY t),
       tf AS (SELECT id, t, count(*) AS tf FROM toks JOIN qt USING (t) GROUP BY id, t)
  SELECT tf.id, sum(ln(1 + (st.n - df + 0.5) / (df + 0.5)) * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl.len / st.avgdl)))
    FROM tf JOIN df USING (t) JOIN dl USING (id), st GROUP BY tf.id $$;
};

# check_q(q, k): 'ok', or what differs between the index's top k and bf(q).
our $bm25_check_sql = q{
CREATE FUNCTION check_q(q text, k int) RETURNS text LANGUAGE sql AS $$
  WITH ix AS (SELECT id, -(body <&> q) AS score, row_number() OVER () AS r
                FROM (SELECT id, body FROM d ORDER BY body <&> q LIMIT k) x),
       b AS (SELECT * FROM bf(q)),
       br AS (SELECT score, row_number() OVER (ORDER BY score DESC) AS r FROM b)
  SELECT CASE
    WHEN (SELECT count(*) FROM ix) <> least(k, (SELECT count(*) FROM b)) THEN 'row count differs'
    WHEN EXISTS (SELECT 1 FROM ix LEFT JOIN b USING (id) WHERE b.id IS NULL OR abs(ix.score - b.score) > 1e-5) THEN 'score differs'
    WHEN EXISTS (SELECT 1 FROM ix JOIN br USING (r) WHERE abs(ix.score - br.score) > 1e-5) THEN 'not the top k'
    ELSE 'ok' END $$;
};

1;
