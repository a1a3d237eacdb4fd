
--------------------------------------------------------------------------
-- hybrid search: a vector leg and a BM25 leg fused by a reranker
-- (LanceDB's query_type="hybrid"), and the fusion formulas on their own
--------------------------------------------------------------------------

-- Reciprocal rank fusion of two 1-based ranks (NULL: not in that leg):
-- 1/(k + rank_vector) + 1/(k + rank_fts), as LanceDB's RRFReranker.
CREATE FUNCTION lancedb.rrf(rank_vector bigint, rank_fts bigint, k int DEFAULT 60)
	RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT coalesce(1.0::float8 / (k + rank_vector), 0) + coalesce(1.0::float8 / (k + rank_fts), 0)
$$;
-- Weighted reciprocal ranks, as LanceDB's MRRReranker.
CREATE FUNCTION lancedb.mrr(rank_vector bigint, rank_fts bigint,
							weight_vector float8 DEFAULT 0.5, weight_fts float8 DEFAULT 0.5)
	RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT weight_vector * coalesce(1.0::float8 / rank_vector, 0) + weight_fts * coalesce(1.0::float8 / rank_fts, 0)
$$;
-- Linear combination of two relevances in [0, 1] (NULL: not in that leg,
-- counts 0), as LanceDB's LinearCombinationReranker: weight for the vector.
CREATE FUNCTION lancedb.linear_combination(vector_relevance float8, fts_relevance float8,
										   weight float8 DEFAULT 0.7)
	RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT weight * coalesce(vector_relevance, 0) + (1 - weight) * coalesce(fts_relevance, 0)
$$;

-- The fusion with every knob explicit (src/search/hybrid.c), unchecked but
-- for nulls; tests use it to compare the fusion with the legs.
CREATE FUNCTION lancedb._hybrid_exec(rel anyelement, vector_column name, op text, query_vector vector,
									 text_column name, query_text text, query_json jsonb,
									 k int, candidates int, reranker int, rrf_k int, weight float8,
									 weight_vector float8, weight_fts float8, by_rank bool,
									 return_all bool, filter text)
	RETURNS TABLE (_distance float8, _score float8, _relevance_score float8, item anyelement)
	AS 'MODULE_PATHNAME', 'lancedb_hybrid_exec' LANGUAGE C PARALLEL RESTRICTED;

-- hybrid_search(NULL::items, 'embedding', $vec, 'body', 'text query', k => 10,
--               reranker => 'rrf' | 'linear' | 'mrr', filter => 'SQL condition',
--               normalize_by => 'score' | 'rank', options => '{"k": 60, "weight": 0.7,
--               "weight_vector": 0.5, "weight_fts": 0.5, "candidates": k,
--               "metric": "<->", "return_score": "relevance" | "all"}')
-- One C function (src/search/hybrid.c) behind both forms, called directly
-- (no SQL or PL/pgSQL layer: that cost a re-plan per call).
CREATE FUNCTION lancedb.hybrid_search(rel anyelement, vector_column name, query_vector vector,
									  text_column name, query text, k int DEFAULT 10,
									  reranker text DEFAULT 'rrf', filter text DEFAULT NULL,
									  normalize_by text DEFAULT 'score', options jsonb DEFAULT '{}')
	RETURNS TABLE (_distance float8, _score float8, _relevance_score float8, item anyelement)
	AS 'MODULE_PATHNAME', 'lancedb_hybrid_search' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION lancedb.hybrid_search(rel anyelement, vector_column name, query_vector vector,
									  text_column name, query jsonb, k int DEFAULT 10,
									  reranker text DEFAULT 'rrf', filter text DEFAULT NULL,
									  normalize_by text DEFAULT 'score', options jsonb DEFAULT '{}')
	RETURNS TABLE (_distance float8, _score float8, _relevance_score float8, item anyelement)
	AS 'MODULE_PATHNAME', 'lancedb_hybrid_search' LANGUAGE C STABLE PARALLEL RESTRICTED;
