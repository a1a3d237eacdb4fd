--------------------------------------------------------------------------
-- lance_hnsw: HNSW graph index access method (none, sq, pq quantizers)
-- Same support functions as lance_ivf (1 distance, 2 type, 3 metric).
--------------------------------------------------------------------------

CREATE FUNCTION lance_hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD lance_hnsw TYPE INDEX HANDLER lance_hnsw_handler;

CREATE OPERATOR CLASS vector_l2_ops FOR TYPE vector USING lance_hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 <<->> (vector, lancedb.sphere),
	FUNCTION 1 l2_distance(vector, vector),
	FUNCTION 2 lancedb.vector_type_support(internal),
	FUNCTION 3 lancedb.l2_metric_support(internal);
CREATE OPERATOR CLASS vector_ip_ops FOR TYPE vector USING lance_hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 <<#>> (vector, lancedb.sphere),
	FUNCTION 1 vector_negative_inner_product(vector, vector),
	FUNCTION 2 lancedb.vector_type_support(internal),
	FUNCTION 3 lancedb.ip_metric_support(internal);
CREATE OPERATOR CLASS vector_cosine_ops FOR TYPE vector USING lance_hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	OPERATOR 2 <<=>> (vector, lancedb.sphere),
	FUNCTION 1 cosine_distance(vector, vector),
	FUNCTION 2 lancedb.vector_type_support(internal),
	FUNCTION 3 lancedb.cosine_metric_support(internal);
CREATE OPERATOR CLASS halfvec_l2_ops FOR TYPE halfvec USING lance_hnsw AS
	OPERATOR 1 <-> (halfvec, halfvec) FOR ORDER BY float_ops,
	OPERATOR 2 <<->> (halfvec, lancedb.sphere),
	FUNCTION 1 l2_distance(halfvec, halfvec),
	FUNCTION 2 lancedb.halfvec_type_support(internal),
	FUNCTION 3 lancedb.l2_metric_support(internal);
CREATE OPERATOR CLASS halfvec_ip_ops FOR TYPE halfvec USING lance_hnsw AS
	OPERATOR 1 <#> (halfvec, halfvec) FOR ORDER BY float_ops,
	OPERATOR 2 <<#>> (halfvec, lancedb.sphere),
	FUNCTION 1 halfvec_negative_inner_product(halfvec, halfvec),
	FUNCTION 2 lancedb.halfvec_type_support(internal),
	FUNCTION 3 lancedb.ip_metric_support(internal);
CREATE OPERATOR CLASS halfvec_cosine_ops FOR TYPE halfvec USING lance_hnsw AS
	OPERATOR 1 <=> (halfvec, halfvec) FOR ORDER BY float_ops,
	OPERATOR 2 <<=>> (halfvec, lancedb.sphere),
	FUNCTION 1 cosine_distance(halfvec, halfvec),
	FUNCTION 2 lancedb.halfvec_type_support(internal),
	FUNCTION 3 lancedb.cosine_metric_support(internal);
