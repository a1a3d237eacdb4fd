
--------------------------------------------------------------------------
-- lance_bm25: BM25 full-text index (LanceDB analyzer options and FtsQuery)
--------------------------------------------------------------------------

CREATE FUNCTION lance_bm25_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD lance_bm25 TYPE INDEX HANDLER lance_bm25_handler;

-- col <&> query: negative BM25 score (ascending = best first).  Queries are
-- text (LanceDB's plain string: the analysed terms, OR) or jsonb (LanceDB's
-- FtsQuery JSON; lancedb.query_string() turns query-string syntax into it).
CREATE FUNCTION lancedb.bm25_score(text, text) RETURNS float8
	AS 'MODULE_PATHNAME', 'lancedb_bm25_score_text' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION lancedb.bm25_score(text, jsonb) RETURNS float8
	AS 'MODULE_PATHNAME', 'lancedb_bm25_score_jsonb' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION lancedb.bm25_score(text[], text) RETURNS float8
	AS 'MODULE_PATHNAME', 'lancedb_bm25_score_text' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION lancedb.bm25_score(text[], jsonb) RETURNS float8
	AS 'MODULE_PATHNAME', 'lancedb_bm25_score_jsonb' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE OPERATOR <&> (LEFTARG = text, RIGHTARG = text, FUNCTION = lancedb.bm25_score);
CREATE OPERATOR <&> (LEFTARG = text, RIGHTARG = jsonb, FUNCTION = lancedb.bm25_score);
CREATE OPERATOR <&> (LEFTARG = text[], RIGHTARG = text, FUNCTION = lancedb.bm25_score);
CREATE OPERATOR <&> (LEFTARG = text[], RIGHTARG = jsonb, FUNCTION = lancedb.bm25_score);

-- col @@@ query: the row matches the query (answered by the index)
CREATE FUNCTION lancedb.bm25_match(text, text) RETURNS bool
	AS 'MODULE_PATHNAME', 'lancedb_bm25_match' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION lancedb.bm25_match(text, jsonb) RETURNS bool
	AS 'MODULE_PATHNAME', 'lancedb_bm25_match' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION lancedb.bm25_match(text[], text) RETURNS bool
	AS 'MODULE_PATHNAME', 'lancedb_bm25_match' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION lancedb.bm25_match(text[], jsonb) RETURNS bool
	AS 'MODULE_PATHNAME', 'lancedb_bm25_match' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE OPERATOR @@@ (LEFTARG = text, RIGHTARG = text, FUNCTION = lancedb.bm25_match,
	RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR @@@ (LEFTARG = text, RIGHTARG = jsonb, FUNCTION = lancedb.bm25_match,
	RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR @@@ (LEFTARG = text[], RIGHTARG = text, FUNCTION = lancedb.bm25_match,
	RESTRICT = contsel, JOIN = contjoinsel);
CREATE OPERATOR @@@ (LEFTARG = text[], RIGHTARG = jsonb, FUNCTION = lancedb.bm25_match,
	RESTRICT = contsel, JOIN = contjoinsel);

-- text and varchar (binary-coercible to text) columns
CREATE OPERATOR CLASS text_bm25_ops DEFAULT FOR TYPE text USING lance_bm25 AS
	OPERATOR 1 <&> (text, text) FOR ORDER BY float_ops,
	OPERATOR 1 <&> (text, jsonb) FOR ORDER BY float_ops,
	OPERATOR 2 @@@ (text, text),
	OPERATOR 2 @@@ (text, jsonb);
-- text[]: the elements are values of one document
CREATE OPERATOR CLASS text_array_bm25_ops DEFAULT FOR TYPE text[] USING lance_bm25 AS
	OPERATOR 1 <&> (text[], text) FOR ORDER BY float_ops,
	OPERATOR 1 <&> (text[], jsonb) FOR ORDER BY float_ops,
	OPERATOR 2 @@@ (text[], text),
	OPERATOR 2 @@@ (text[], jsonb);

-- query-string syntax ("a phrase"~slop, term~2, pre*, +must, -must_not,
-- term^boost, AND/OR/NOT, column:term) -> LanceDB FtsQuery JSON
CREATE FUNCTION lancedb.query_string(text) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'lancedb_bm25_query_string' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- what the analyzer makes of a text: an index's, or options given as JSON
CREATE FUNCTION lancedb.tokenize(text, regclass) RETURNS text[]
	AS 'MODULE_PATHNAME', 'lancedb_bm25_tokenize_index' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lancedb.tokenize(text, options jsonb DEFAULT NULL) RETURNS text[]
	AS 'MODULE_PATHNAME', 'lancedb_bm25_tokenize_options' LANGUAGE C STABLE PARALLEL SAFE;
