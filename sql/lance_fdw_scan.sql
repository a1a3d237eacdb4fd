-- lance_fdw scans over a small dataset written by LanceDB 0.39
-- (test/lance/fixture, made by test/lance/gen_fixture.mjs): top-k vector
-- search pushdown against an exact ORDER BY over the same rows, hidden row
-- ids, parallel scans and ANALYZE.
-- test/run passes a copy the server can read; else the checkout's
\getenv fixture LANCE_FIXTURE_DIR
\if :{?fixture}
\else
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixture :abs_srcdir '/test/lance/fixture'
\endif
CREATE SERVER lance_fixture FOREIGN DATA WRAPPER lance_fdw OPTIONS (uri :'fixture');
CREATE SCHEMA lance_fx;
IMPORT FOREIGN SCHEMA lance FROM SERVER lance_fixture INTO lance_fx
  OPTIONS (hidden_columns 'true');
SELECT attname, format_type(atttypid, atttypmod), attnotnull
  FROM pg_attribute WHERE attrelid = 'lance_fx.items'::regclass AND attnum > 0
 ORDER BY attnum;
CREATE TABLE items_local AS SELECT * FROM lance_fx.items;
SELECT count(*), count(vec), min(id), max(id) FROM items_local;

-- EXPLAIN without the machine-dependent dataset path
CREATE FUNCTION lance_explain(q text, opts text DEFAULT 'COSTS OFF') RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (' || opts || ') ' || q LOOP
		IF l NOT LIKE '%Lance Dataset:%' THEN
			RETURN NEXT l;
		END IF;
	END LOOP;
END $$;

-- top-k: the scan ranks the rows itself, no Sort
SELECT lance_explain($$SELECT id FROM lance_fx.items ORDER BY vec <-> '[0.1,0.2,-0.3,0.4]' LIMIT 5$$);
SELECT id, label, round((vec <-> '[0.1,0.2,-0.3,0.4]')::numeric, 6) AS dist
  FROM lance_fx.items ORDER BY vec <-> '[0.1,0.2,-0.3,0.4]' LIMIT 5;
SELECT id, label, round((vec <-> '[0.1,0.2,-0.3,0.4]')::numeric, 6) AS dist
  FROM items_local ORDER BY vec <-> '[0.1,0.2,-0.3,0.4]' LIMIT 5;

-- every metric and several k: the same rows and distances as an exact ORDER BY
CREATE FUNCTION topk_agrees(op text, col text, typ text, q text, k int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	a text;
	b text;
	sel text := format('SELECT string_agg(id || '':'' || d, '','' ORDER BY n) FROM '
		'(SELECT row_number() OVER () AS n, * FROM (SELECT id, %2$s %1$s %4$L::%3$s AS d '
		'FROM %%s ORDER BY %2$s %1$s %4$L::%3$s LIMIT %5$s) s) t', op, col, typ, q, k);
BEGIN
	EXECUTE format(sel, 'lance_fx.items') INTO a;
	EXECUTE format(sel, 'items_local') INTO b;
	RETURN a = b;
END $$;
SELECT op, col, k, topk_agrees(op, col, typ, q, k)
  FROM (VALUES ('<->'), ('<#>'), ('<=>'), ('<+>')) o(op),
       (VALUES ('vec', 'vector', '[0.5,-0.25,0.125,1]'),
               ('hv', 'halfvec', '[-0.5,0.75,0.25,-1]')) c(col, typ, q),
       (VALUES (1), (7), (50)) l(k)
 ORDER BY 1, 2, 3;
SELECT lance_explain($$SELECT id FROM lance_fx.items ORDER BY hv <=> '[1,0,0,0]' LIMIT 3$$);

-- more rows than the dataset has: every row, NULL vectors last
SELECT count(*) AS n, count(d) AS non_null,
       bool_and(d IS NULL) FILTER (WHERE rn > 174) AS nulls_last
  FROM (SELECT row_number() OVER () AS rn, d FROM
        (SELECT vec <#> '[1,1,1,1]' AS d FROM lance_fx.items
          ORDER BY vec <#> '[1,1,1,1]' LIMIT 1000) s) t;

-- a qual is checked inside the top-k scan: the nearest rows that pass
SELECT lance_explain($$SELECT id FROM lance_fx.items WHERE id > 10 ORDER BY vec <-> '[0,0,0,0]' LIMIT 3$$);
SELECT (SELECT array_agg(id) FROM (SELECT id FROM lance_fx.items WHERE id > 10
          ORDER BY vec <-> '[0,0,0,0]' LIMIT 3) s)
     = (SELECT array_agg(id) FROM (SELECT id FROM (SELECT * FROM lance_fx.items OFFSET 0) x
          WHERE id > 10 ORDER BY vec <-> '[0,0,0,0]' LIMIT 3) s) AS same_as_sort;
-- not pushed down: a volatile qual, descending order
SELECT lance_explain($$SELECT id FROM lance_fx.items WHERE random() < 2 ORDER BY vec <-> '[0,0,0,0]' LIMIT 3$$);
SELECT lance_explain($$SELECT id FROM lance_fx.items ORDER BY vec <-> '[0,0,0,0]' DESC LIMIT 3$$);

-- the query vector as a parameter of a generic plan
SET plan_cache_mode = force_generic_plan;
PREPARE nearest(vector) AS
  SELECT id FROM lance_fx.items ORDER BY vec <-> $1 LIMIT 3;
EXECUTE nearest('[0.1,0.2,-0.3,0.4]');
EXECUTE nearest('[1,1,1,1]');
SELECT id FROM items_local ORDER BY vec <-> '[1,1,1,1]' LIMIT 3;
RESET plan_cache_mode;
SELECT id FROM lance_fx.items ORDER BY vec <-> '[1,2,3]' LIMIT 3;

-- hidden columns: row addresses are fragment id << 32 | offset
SELECT _rowid >> 32 AS fragment, count(*), min(_rowid & 4294967295) AS first_offset,
       bool_and(_rowid = _rowaddr) AS rowid_is_address
  FROM lance_fx.items GROUP BY 1 ORDER BY 1;

-- a parallel scan returns the rows of a serial one
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT lance_explain('SELECT count(*) FROM lance_fx.items');
SELECT count(*), sum(id), md5(string_agg(label, ',' ORDER BY label)) FROM lance_fx.items;
RESET max_parallel_workers_per_gather;
SELECT count(*), sum(id), md5(string_agg(label, ',' ORDER BY label)) FROM items_local;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- ANALYZE samples the rows into statistics the planner uses
ANALYZE lance_fx.items;
SELECT attname, null_frac, n_distinct FROM pg_stats
 WHERE schemaname = 'lance_fx' AND tablename = 'items' AND attname IN ('id', 'vec', 'label')
 ORDER BY attname;
SELECT reltuples FROM pg_class WHERE oid = 'lance_fx.items'::regclass;
SELECT substring(l, 'rows=\d+') AS estimate
  FROM lance_explain($$SELECT * FROM lance_fx.items WHERE label = 'item 7'$$, 'COSTS ON') l
 LIMIT 1;

DROP TABLE items_local;
DROP FUNCTION topk_agrees(text, text, text, text, int);
DROP FUNCTION lance_explain(text, text);
DROP SCHEMA lance_fx CASCADE;
DROP SERVER lance_fixture;
