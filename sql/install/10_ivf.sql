
--------------------------------------------------------------------------
-- lance_ivf: IVF index access method (flat, sq, pq, rq quantizers)
--------------------------------------------------------------------------

CREATE FUNCTION lance_ivf_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD lance_ivf TYPE INDEX HANDLER lance_ivf_handler;

-- opclass support: the indexed type and how its metric maps to quantizers
CREATE FUNCTION lancedb.vector_type_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_vector_type_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lancedb.halfvec_type_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_halfvec_type_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lancedb.bit_type_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_bit_type_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lancedb.l2_metric_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_l2_metric_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lancedb.ip_metric_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_ip_metric_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lancedb.cosine_metric_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_cosine_metric_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lancedb.hamming_metric_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_hamming_metric_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR CLASS vector_l2_ops FOR TYPE vector USING lance_ivf AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 <<->> (vector, lancedb.sphere),
	FUNCTION 1 l2_distance(vector, vector),
	FUNCTION 2 lancedb.vector_type_support(internal),
	FUNCTION 3 lancedb.l2_metric_support(internal);
CREATE OPERATOR CLASS vector_ip_ops FOR TYPE vector USING lance_ivf AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 <<#>> (vector, lancedb.sphere),
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 2 lancedb.vector_type_support(internal),
	FUNCTION 3 lancedb.ip_metric_support(internal);
CREATE OPERATOR CLASS vector_cosine_ops FOR TYPE vector USING lance_ivf AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 <<=>> (vector, lancedb.sphere),
	FUNCTION 1 cosine_distance(vector, vector),
	FUNCTION 2 lancedb.vector_type_support(internal),
	FUNCTION 3 lancedb.cosine_metric_support(internal);
CREATE OPERATOR CLASS halfvec_l2_ops FOR TYPE halfvec USING lance_ivf AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	OPERATOR 2 <<->> (halfvec, lancedb.sphere),
	FUNCTION 1 l2_distance(halfvec, halfvec),
	FUNCTION 2 lancedb.halfvec_type_support(internal),
	FUNCTION 3 lancedb.l2_metric_support(internal);
CREATE OPERATOR CLASS halfvec_ip_ops FOR TYPE halfvec USING lance_ivf AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	OPERATOR 2 <<#>> (halfvec, lancedb.sphere),
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
	FUNCTION 2 lancedb.halfvec_type_support(internal),
	FUNCTION 3 lancedb.ip_metric_support(internal);
CREATE OPERATOR CLASS halfvec_cosine_ops FOR TYPE halfvec USING lance_ivf AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	OPERATOR 2 <<=>> (halfvec, lancedb.sphere),
	FUNCTION 1 cosine_distance(halfvec, halfvec),
	FUNCTION 2 lancedb.halfvec_type_support(internal),
	FUNCTION 3 lancedb.cosine_metric_support(internal);
CREATE OPERATOR CLASS bit_hamming_ops FOR TYPE bit USING lance_ivf AS
	OPERATOR 1 <~> (bit, bit) FOR ORDER BY float_ops,
	FUNCTION 1 hamming_distance(bit, bit),
	FUNCTION 2 lancedb.bit_type_support(internal),
	FUNCTION 3 lancedb.hamming_metric_support(internal);

CREATE FUNCTION lancedb.index_stats(regclass) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'lancedb_index_stats' LANGUAGE C STABLE STRICT;


-- Batch search (LanceDB's query with many vectors): the k nearest rows of
-- each query vector, with its position in the array.  One statement: the
-- plan is made once and the index is re-scanned per query vector (the
-- LATERAL pattern of docs/sql-reference.md, wrapped).  `rel` passes the
-- table's row type (NULL::items); `filter` is a WHERE condition in SQL,
-- run with the caller's rights.
CREATE FUNCTION lancedb.batch_search(rel anyelement, col name, queries vector[], k int,
									 op text DEFAULT '<->', filter text DEFAULT NULL)
	RETURNS TABLE (query_index int, _distance float8, item anyelement)
	LANGUAGE plpgsql PARALLEL RESTRICTED AS $$
DECLARE
	tbl regclass := pg_typeof(rel)::text::regclass;
BEGIN
	IF op NOT IN ('<->', '<#>', '<=>', '<+>') THEN
		RAISE EXCEPTION 'unsupported distance operator "%"', op
			USING ERRCODE = 'invalid_parameter_value',
			      HINT = 'Use <->, <#>, <=> or <+>.';
	END IF;
	IF k IS NULL OR k < 1 THEN
		RAISE EXCEPTION 'k must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT q.i::int, s.d, s.r FROM unnest($1) WITH ORDINALITY AS q(v, i), '
		'LATERAL (SELECT t.%1$I %2$s q.v AS d, t AS r FROM %3$s AS t %4$s '
		'ORDER BY t.%1$I %2$s q.v LIMIT $2) AS s ORDER BY q.i, s.d',
		col, op, tbl, CASE WHEN filter IS NULL THEN '' ELSE 'WHERE (' || filter || ')' END)
	USING queries, k;
END
$$;
