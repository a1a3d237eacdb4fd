
--------------------------------------------------------------------------
-- multivectors (late interaction): vector[] columns compared by MaxSim
--------------------------------------------------------------------------

-- max_sim(document, query): sum over the query's vectors of the best cosine
-- similarity among the document's vectors (LanceDB's MaxSim)
CREATE FUNCTION lancedb.max_sim(vector[], vector[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'multivector_max_sim' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;
-- the distance form for ORDER BY: |query| - MaxSim, i.e. the sum over query
-- vectors of the smallest cosine distance (smaller = closer)
CREATE FUNCTION lancedb.multivector_cosine_distance(vector[], vector[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'multivector_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;
CREATE FUNCTION lancedb.multivector_cosine_distance(vector[], vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'multivector_vector_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 100;
CREATE OPERATOR <=> (LEFTARG = vector[], RIGHTARG = vector[],
	FUNCTION = lancedb.multivector_cosine_distance);
CREATE OPERATOR <=> (LEFTARG = vector[], RIGHTARG = vector,
	FUNCTION = lancedb.multivector_cosine_distance);
COMMENT ON FUNCTION lancedb.max_sim(vector[], vector[]) IS
	'MaxSim(document, query): sum over query vectors of the best cosine similarity among the document''s vectors';

-- lance_ivf on a vector[] column: every element is an entry under the row's
-- TID; ORDER BY col <=> query (vector[] or one vector) ranks rows by exact
-- MaxSim distance (cosine, as LanceDB's multivector search)
CREATE FUNCTION lancedb.multivector_type_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'lancedb_multivector_type_support' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR CLASS multivector_cosine_ops FOR TYPE vector[] USING lance_ivf AS
	OPERATOR 1 <=> (vector[], vector[]) FOR ORDER BY float_ops,
	OPERATOR 1 <=> (vector[], vector) FOR ORDER BY float_ops,
	FUNCTION 1 lancedb.multivector_cosine_distance(vector[], vector[]),
	FUNCTION 2 lancedb.multivector_type_support(internal),
	FUNCTION 3 lancedb.cosine_metric_support(internal);
