
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

-- Runs the two legs through cached plans and fuses them (src/search/hybrid.c);
-- _hybrid_search checks the arguments first.
CREATE FUNCTION lancedb._hybrid_exec(rel anyelement, vector_column name, op text, query_vector vector,
									 text_column name, query_text text, query_json jsonb,
									 k int, candidates int, reranker int, rrf_k int, weight float8,
									 weight_vector float8, weight_fts float8, by_rank bool,
									 return_all bool, filter text)
	RETURNS TABLE (_distance float8, _score float8, _relevance_score float8, item anyelement)
	AS 'MODULE_PATHNAME', 'lancedb_hybrid_exec' LANGUAGE C PARALLEL RESTRICTED;

-- The implementation behind both hybrid_search forms (the text query is
-- either a query string or FtsQuery JSON).
CREATE FUNCTION lancedb._hybrid_search(rel anyelement, vector_column name, query_vector vector,
									   text_column name, query_text text, query_json jsonb,
									   k int, reranker text, filter text, normalize_by text,
									   options jsonb)
	RETURNS TABLE (_distance float8, _score float8, _relevance_score float8, item anyelement)
	LANGUAGE plpgsql PARALLEL RESTRICTED
	AS $$
DECLARE
	tbl regclass := pg_typeof(rel)::text::regclass;
	op text := coalesce(options->>'metric', '<->');
	n int := coalesce((options->>'candidates')::int, k);
	rrf_k int := coalesce((options->>'k')::int, 60);
	weight float8 := coalesce((options->>'weight')::float8, 0.7);
	w_vec float8 := coalesce((options->>'weight_vector')::float8, 0.5);
	w_fts float8 := coalesce((options->>'weight_fts')::float8, 0.5);
	return_score text := coalesce(options->>'return_score', 'relevance');
	unknown text;
BEGIN
	SELECT string_agg(key, ', ') INTO unknown FROM jsonb_object_keys(coalesce(options, '{}')) key
	 WHERE key NOT IN ('metric', 'candidates', 'k', 'weight', 'weight_vector', 'weight_fts', 'return_score');
	IF unknown IS NOT NULL THEN
		RAISE EXCEPTION 'unknown hybrid search option(s): %', unknown USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Options: metric, candidates, k, weight, weight_vector, weight_fts, return_score.';
	END IF;
	IF op NOT IN ('<->', '<#>', '<=>', '<+>') THEN
		RAISE EXCEPTION 'unsupported distance operator "%"', op USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF k IS NULL OR k < 1 OR n IS NULL OR n < 1 THEN
		RAISE EXCEPTION 'k and candidates must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF normalize_by NOT IN ('score', 'rank') THEN
		RAISE EXCEPTION 'normalize_by must be "score" or "rank", not "%"', normalize_by USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF return_score NOT IN ('relevance', 'all') THEN
		RAISE EXCEPTION 'return_score must be "relevance" or "all", not "%"', return_score USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF rrf_k <= 0 THEN
		RAISE EXCEPTION 'RRF k must be greater than 0' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF weight < 0 OR weight > 1 OR w_vec < 0 OR w_vec > 1 OR w_fts < 0 OR w_fts > 1 THEN
		RAISE EXCEPTION 'weights must be between 0 and 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF reranker NOT IN ('rrf', 'linear', 'mrr') THEN
		RAISE EXCEPTION 'unknown reranker "%"', reranker USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Rerankers: rrf, linear, mrr.';
	END IF;
	RETURN QUERY SELECT * FROM lancedb._hybrid_exec(rel, vector_column, op, query_vector,
		text_column, query_text, query_json, k, n,
		CASE reranker WHEN 'rrf' THEN 0 WHEN 'linear' THEN 1 ELSE 2 END,
		rrf_k, weight, w_vec, w_fts, normalize_by = 'rank', return_score = 'all', filter);
END
$$;

-- hybrid_search(NULL::items, 'embedding', $vec, 'body', 'text query', k => 10,
--               reranker => 'rrf' | 'linear' | 'mrr', filter => 'SQL condition',
--               normalize_by => 'score' | 'rank', options => '{"k": 60, "weight": 0.7,
--               "weight_vector": 0.5, "weight_fts": 0.5, "candidates": k,
--               "metric": "<->", "return_score": "relevance" | "all"}')
CREATE FUNCTION lancedb.hybrid_search(rel anyelement, vector_column name, query_vector vector,
									  text_column name, query text, k int DEFAULT 10,
									  reranker text DEFAULT 'rrf', filter text DEFAULT NULL,
									  normalize_by text DEFAULT 'score', options jsonb DEFAULT '{}')
	RETURNS TABLE (_distance float8, _score float8, _relevance_score float8, item anyelement)
	LANGUAGE sql PARALLEL RESTRICTED AS $$
	SELECT * FROM lancedb._hybrid_search(rel, vector_column, query_vector, text_column, query, NULL,
										 k, reranker, filter, normalize_by, options)
$$;
CREATE FUNCTION lancedb.hybrid_search(rel anyelement, vector_column name, query_vector vector,
									  text_column name, query jsonb, k int DEFAULT 10,
									  reranker text DEFAULT 'rrf', filter text DEFAULT NULL,
									  normalize_by text DEFAULT 'score', options jsonb DEFAULT '{}')
	RETURNS TABLE (_distance float8, _score float8, _relevance_score float8, item anyelement)
	LANGUAGE sql PARALLEL RESTRICTED AS $$
	SELECT * FROM lancedb._hybrid_search(rel, vector_column, query_vector, text_column, NULL, query,
										 k, reranker, filter, normalize_by, options)
$$;
