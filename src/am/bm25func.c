/*
 * bm25func.c
 *	  lance_bm25 analysis and SQL functions: analyzer options from WITH
 *	  (...) and from the index's stored options, a per-backend analyzer
 *	  cache, lancedb.tokenize, lancedb.query_string, the operator functions
 *	  and index_stats for lance_bm25.
 */
#include "postgres.h"

#include "access/relation.h"
#include "am/bm25am.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "text/ftsquery.h"
#include "text/json.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

void *
Bm25Palloc(size_t size)
{
	return palloc_extended(size, MCXT_ALLOC_HUGE);
}

void
Bm25Pfree(void *ptr)
{
	if (ptr)
		pfree(ptr);
}

/* ---------------- options ---------------- */

static void
Bm25SetStopWords(LanceAnalyzerOptions *opts, const char *custom)
{
	if (!opts->remove_stop_words)
		return;
	if (custom != NULL && custom[0] != '\0')
	{
		/* comma-separated list, blanks around words ignored */
		char	   *copy = pstrdup(custom);
		char	  **words = palloc(sizeof(char *) * (strlen(custom) / 2 + 2));
		uint32		n = 0;
		char	   *save = NULL;

		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			char	   *end;

			while (*tok == ' ' || *tok == '\t')
				tok++;
			end = tok + strlen(tok);
			while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (*tok)
				words[n++] = tok;
		}
		opts->stop_words = (const char *const *) words;
		opts->n_stop_words = n;
		opts->custom_stop_words = true;
	}
	else
	{
		char		sharepath[MAXPGPATH];
		char		path[MAXPGPATH + 64];
		const char *err;

		get_share_path(my_exec_path, sharepath);
		snprintf(path, sizeof(path), "%s/tsearch_data/%s.stop", sharepath,
				 opts->language);
		/* no list for this language (porter, arabic, ...): no stop words */
		if (access(path, R_OK) == 0 &&
			!lance_load_stopwords_file(path, opts, &err))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("could not load stop words from \"%s\": %s", path, err)));
	}
}

static bool
Bm25ParseBool(const char *name, const char *v)
{
	bool		b;

	if (!parse_bool(v, &b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for boolean option \"%s\": %s", name, v)));
	return b;
}

/* Set one option by name (used by tokenize's JSON options). */
static void
Bm25SetOption(LanceAnalyzerOptions *opts, const char *name, const char *v,
			  const char **custom_stop)
{
	const char *err;

	if (strcmp(name, "base_tokenizer") == 0)
	{
		if (!lance_tokenizer_from_name(v, &opts->base_tokenizer))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown base_tokenizer \"%s\"", v),
					 errhint("Valid values are \"simple\", \"whitespace\", \"raw\" and \"ngram\".")));
	}
	else if (strcmp(name, "language") == 0)
	{
		if (!lance_analyzer_set_language(opts, v, &err))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown language \"%s\"", v),
					 errhint("Languages are the Snowball stemmers, e.g. \"english\", \"french\", \"german\".")));
	}
	else if (strcmp(name, "with_position") == 0)
		opts->with_position = Bm25ParseBool(name, v);
	else if (strcmp(name, "max_token_length") == 0)
		opts->max_token_length = pg_strtoint32(v);
	else if (strcmp(name, "lower_case") == 0)
		opts->lower_case = Bm25ParseBool(name, v);
	else if (strcmp(name, "stem") == 0)
		opts->stem = Bm25ParseBool(name, v);
	else if (strcmp(name, "remove_stop_words") == 0)
		opts->remove_stop_words = Bm25ParseBool(name, v);
	else if (strcmp(name, "ascii_folding") == 0)
		opts->ascii_folding = Bm25ParseBool(name, v);
	else if (strcmp(name, "ngram_min_length") == 0)
		opts->ngram_min_length = pg_strtoint32(v);
	else if (strcmp(name, "ngram_max_length") == 0)
		opts->ngram_max_length = pg_strtoint32(v);
	else if (strcmp(name, "prefix_only") == 0)
		opts->ngram_prefix_only = Bm25ParseBool(name, v);
	else if (strcmp(name, "stop_words") == 0)
		*custom_stop = v;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown lance_bm25 option \"%s\"", name)));
}

void
Bm25OptionsFromReloptions(Relation index, LanceAnalyzerOptions *opts)
{
	Bm25Options *ro = (Bm25Options *) index->rd_options;
	const char *err;

	lance_analyzer_options_init(opts);
	opts->alloc = Bm25Palloc;
	opts->release = Bm25Pfree;
	if (ro == NULL)
	{
		Bm25SetStopWords(opts, NULL);
		return;
	}
	if (ro->base_tokenizer_offset &&
		!lance_tokenizer_from_name((char *) ro + ro->base_tokenizer_offset,
								   &opts->base_tokenizer))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown base_tokenizer \"%s\"",
						(char *) ro + ro->base_tokenizer_offset)));
	if (ro->language_offset &&
		!lance_analyzer_set_language(opts, (char *) ro + ro->language_offset, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown language \"%s\"", (char *) ro + ro->language_offset)));
	opts->with_position = ro->with_position;
	opts->max_token_length = ro->max_token_length;
	opts->lower_case = ro->lower_case;
	opts->stem = ro->stem;
	opts->remove_stop_words = ro->remove_stop_words;
	opts->ascii_folding = ro->ascii_folding;
	opts->ngram_min_length = ro->ngram_min_length;
	opts->ngram_max_length = ro->ngram_max_length;
	opts->ngram_prefix_only = ro->prefix_only;
	Bm25SetStopWords(opts, ro->stop_words_offset ?
					 (char *) ro + ro->stop_words_offset : NULL);
	/* validate now so CREATE INDEX fails early with the analyzer's words */
	{
		LanceAnalyzer *an = lance_analyzer_new(opts, &err);

		if (an == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid lance_bm25 options: %s", err)));
		lance_analyzer_free(an);
	}
}

/* ---------------- analyzer cache ---------------- */

typedef struct Bm25AnalyzerCache
{
	Oid			relid;
	RelFileNode node;
	bool		for_prefix;
	LanceAnalyzer *an;
	struct Bm25AnalyzerCache *next;
} Bm25AnalyzerCache;

static Bm25AnalyzerCache *analyzer_cache = NULL;

static LanceAnalyzer *
Bm25NewAnalyzerOrError(LanceAnalyzerOptions *opts)
{
	const char *err;
	LanceAnalyzer *an;

	/* cached analyzers outlive transactions: malloc, not palloc */
	opts->alloc = NULL;
	opts->release = NULL;
	an = lance_analyzer_new(opts, &err);
	if (an == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid lance_bm25 options: %s", err)));
	return an;
}

LanceAnalyzer *
Bm25GetAnalyzer(Relation index, bool for_prefix)
{
	Bm25AnalyzerCache *c;
	Bm25MetaPageData meta;
	LanceAnalyzerOptions opts;
	LanceAnalyzer *an;

	for (c = analyzer_cache; c; c = c->next)
		if (c->relid == RelationGetRelid(index) && c->for_prefix == for_prefix &&
			RelFileNodeEquals(c->node, index->rd_node))
			return c->an;

	Bm25ReadMeta(index, &meta);
	if (meta.opts_root != InvalidBlockNumber)
	{
		Bm25Stream s;
		char	   *blob;
		const char *err;

		if (meta.opts_len > 8 * 1024 * 1024)
			Bm25CorruptError(index, "analyzer options too long");
		blob = palloc(meta.opts_len);
		Bm25StreamOpen(&s, index, meta.opts_root, meta.opts_id, meta.opts_len);
		Bm25StreamRead(&s, 0, blob, meta.opts_len);
		Bm25StreamClose(&s);
		memset(&opts, 0, sizeof(opts));
		opts.alloc = Bm25Palloc;
		opts.release = Bm25Pfree;
		if (!lance_analyzer_options_decode(blob, meta.opts_len, &opts, &err))
			Bm25CorruptError(index, err);
	}
	else
		Bm25OptionsFromReloptions(index, &opts);
	if (for_prefix)
	{
		/* prefix terms (pre*) are lower-cased and folded, never stemmed */
		opts.stem = false;
		opts.remove_stop_words = false;
	}
	an = Bm25NewAnalyzerOrError(&opts);

	c = MemoryContextAllocZero(TopMemoryContext, sizeof(Bm25AnalyzerCache));
	c->relid = RelationGetRelid(index);
	c->node = index->rd_node;
	c->for_prefix = for_prefix;
	c->an = an;
	c->next = analyzer_cache;
	analyzer_cache = c;
	return an;
}

/* Analyse a text / varchar / text[] value; returns the doc length. */
uint32
Bm25AnalyzeDatum(LanceAnalyzer *an, Datum value, Oid typid,
				 LanceTokenArray *out)
{
	const char *err;

	if (type_is_array(typid))
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		uint32		pos = 0;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			text	   *t;
			uint32		used;

			if (nulls[i])
				continue;
			t = DatumGetTextPP(elems[i]);
			if (!lance_analyze(an, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), pos,
							   out, &used, &err))
				elog(ERROR, "lance_bm25: %s", err);
			pos += used;
			if ((Pointer) t != DatumGetPointer(elems[i]))
				pfree(t);
		}
		pfree(elems);
		pfree(nulls);
		if ((Pointer) arr != DatumGetPointer(value))
			pfree(arr);
	}
	else
	{
		text	   *t = DatumGetTextPP(value);

		if (!lance_analyze(an, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), 0, out,
						   NULL, &err))
			elog(ERROR, "lance_bm25: %s", err);
		/* the token array outlives this call: free only the detoasted copy */
		if ((Pointer) t != DatumGetPointer(value))
			pfree(t);
	}
	return out->ntokens;
}

/* ---------------- lancedb.tokenize ---------------- */

static Datum
Bm25TokensToArray(LanceTokenArray *toks)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(toks->ntokens, 1));

	for (uint32 i = 0; i < toks->ntokens; i++)
		d[i] = PointerGetDatum(cstring_to_text_with_len(lance_token_text(toks, i),
														toks->tokens[i].len));
	return PointerGetDatum(construct_array(d, toks->ntokens, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

LANCEDB_FUNCTION(lancedb_bm25_tokenize_index);
Datum
lancedb_bm25_tokenize_index(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	Oid			relid = PG_GETARG_OID(1);
	Relation	index = relation_open(relid, AccessShareLock);
	LanceAnalyzer *an;
	LanceTokenArray toks;
	const char *err;

	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_rel->relam != get_am_oid("lance_bm25", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a lance_bm25 index", RelationGetRelationName(index))));
	an = Bm25GetAnalyzer(index, false);
	lance_token_array_init(&toks, Bm25Palloc, Bm25Pfree);
	if (!lance_analyze(an, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), 0, &toks, NULL, &err))
		elog(ERROR, "lance_bm25: %s", err);
	relation_close(index, AccessShareLock);
	PG_RETURN_DATUM(Bm25TokensToArray(&toks));
}

LANCEDB_FUNCTION(lancedb_bm25_tokenize_options);
Datum
lancedb_bm25_tokenize_options(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	LanceAnalyzerOptions opts;
	LanceAnalyzer *an;
	LanceTokenArray toks;
	const char *err;
	const char *custom = NULL;

	lance_analyzer_options_init(&opts);
	opts.alloc = Bm25Palloc;
	opts.release = Bm25Pfree;
	if (!PG_ARGISNULL(1))
	{
		char	   *js = JsonbToCString(NULL, &PG_GETARG_JSONB_P(1)->root, 0);
		LanceArena arena;
		LanceMem	mem = {Bm25Palloc, NULL};
		char		errbuf[256];
		LanceJson  *root;

		lance_arena_init(&arena, &mem);
		root = lance_json_parse(&arena, js, strlen(js), 0, errbuf, sizeof(errbuf));
		if (root == NULL || root->type != LJ_OBJECT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tokenize options must be a JSON object")));
		for (LanceJsonMember *m = root->u.obj.first; m; m = m->next)
		{
			char		vbuf[64];
			const char *v;

			if (m->value->type == LJ_STRING)
				v = m->value->u.str.str;
			else if (m->value->type == LJ_TRUE)
				v = "true";
			else if (m->value->type == LJ_FALSE)
				v = "false";
			else if (m->value->type == LJ_NUMBER && m->value->u.num.is_integer)
			{
				snprintf(vbuf, sizeof(vbuf), "%.0f", m->value->u.num.value);
				v = vbuf;
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\"", m->key)));
			Bm25SetOption(&opts, m->key, pstrdup(v), &custom);
		}
	}
	Bm25SetStopWords(&opts, custom);
	an = lance_analyzer_new(&opts, &err);
	if (an == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid lance_bm25 options: %s", err)));
	lance_token_array_init(&toks, Bm25Palloc, Bm25Pfree);
	PG_TRY();
	{
		if (!lance_analyze(an, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), 0, &toks, NULL, &err))
			elog(ERROR, "lance_bm25: %s", err);
	}
	PG_FINALLY();
	{
		lance_analyzer_free(an);
	}
	PG_END_TRY();
	PG_RETURN_DATUM(Bm25TokensToArray(&toks));
}

/* ---------------- lancedb.query_string ---------------- */

LANCEDB_FUNCTION(lancedb_bm25_query_string);
Datum
lancedb_bm25_query_string(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	LanceMem	mem = {Bm25Palloc, NULL};
	char		errbuf[256];
	FtsQuery   *q;
	char	   *json;

	q = fts_query_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), 0, &mem,
						errbuf, sizeof(errbuf));
	if (q == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("invalid full-text query: %s", errbuf)));
	json = fts_query_to_json(q->root, &mem);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/* ---------------- operator functions ---------------- */

/*
 * col <&> query outside an index scan: the score that the running
 * lance_bm25 scan with an equal query computed for the row it returned
 * last (the row being projected), or else the row's value scored against
 * the column's index statistics (bm25filter.c).
 */
static Datum
Bm25OperatorScore(FunctionCallInfo fcinfo, Oid qtype)
{
	double		score;

	if (!Bm25LastScore(PG_GETARG_DATUM(1), qtype, &score))
		(void) Bm25FilterScore(fcinfo, qtype, &score);
	PG_RETURN_FLOAT8(score > 0 ? -score : 0.0);
}

LANCEDB_FUNCTION(lancedb_bm25_score_text);
Datum
lancedb_bm25_score_text(PG_FUNCTION_ARGS)
{
	return Bm25OperatorScore(fcinfo, TEXTOID);
}

LANCEDB_FUNCTION(lancedb_bm25_score_jsonb);
Datum
lancedb_bm25_score_jsonb(PG_FUNCTION_ARGS)
{
	return Bm25OperatorScore(fcinfo, JSONBOID);
}

/* col @@@ query outside an index scan (filters, lossy bitmap rechecks) */
LANCEDB_FUNCTION(lancedb_bm25_match);
Datum
lancedb_bm25_match(PG_FUNCTION_ARGS)
{
	double		score;
	Oid			qtype = get_fn_expr_argtype(fcinfo->flinfo, 1);

	PG_RETURN_BOOL(Bm25FilterScore(fcinfo, qtype == JSONBOID ? JSONBOID : TEXTOID, &score));
}

/* ---------------- index_stats ---------------- */

void
Bm25StatsJson(Relation index, StringInfo buf)
{
	Bm25MetaPageData meta;
	uint64		terms = 0;
	uint64		segdocs = 0;
	uint64		deleted = 0;
	BlockNumber pages = RelationGetNumberOfBlocks(index);
	LanceAnalyzer *an = Bm25GetAnalyzer(index, false);
	const LanceAnalyzerOptions *o = lance_analyzer_get_options(an);

	Bm25ReadMeta(index, &meta);
	appendStringInfo(buf, "{\"index_type\": \"lance_bm25\", \"segments\": [");
	for (uint32 i = 0; i < meta.nsegments; i++)
	{
		Bm25SegReader r;

		Bm25SegOpen(&r, index, &meta.segs[i]);
		terms += r.hdr.nterms;
		segdocs += meta.segs[i].ndocs;
		deleted += meta.segs[i].ndeleted;
		appendStringInfo(buf, "%s{\"docs\": %u, \"deleted\": %u, \"terms\": %u, \"tier\": %u, \"bytes\": " UINT64_FORMAT "}",
						 i ? ", " : "", meta.segs[i].ndocs, meta.segs[i].ndeleted,
						 r.hdr.nterms, meta.segs[i].tier, meta.segs[i].len);
		Bm25SegClose(&r);
	}
	appendStringInfo(buf,
					 "], \"num_segments\": %u, \"num_docs\": " UINT64_FORMAT ", "
					 "\"avg_doc_length\": %.4f, \"segment_terms\": " UINT64_FORMAT ", "
					 "\"segment_docs\": " UINT64_FORMAT ", \"deleted\": %u, "
					 "\"delta_docs\": %u, \"inserted_since_build\": " UINT64_FORMAT ", "
					 "\"num_indexed_rows\": " UINT64_FORMAT ", \"num_unindexed_rows\": %u, "
					 "\"merges\": " UINT64_FORMAT ", "
					 "\"options\": {\"base_tokenizer\": \"%s\", \"language\": \"%s\", "
					 "\"with_position\": %s, \"max_token_length\": %u, \"lower_case\": %s, "
					 "\"stem\": %s, \"remove_stop_words\": %s, \"ascii_folding\": %s, "
					 "\"ngram_min_length\": %u, \"ngram_max_length\": %u, \"prefix_only\": %s}, "
					 "\"pages\": %u, \"bytes\": " UINT64_FORMAT "}",
					 meta.nsegments, meta.ndocs,
					 meta.ndocs ? (double) meta.total_len / meta.ndocs : 0.0,
					 terms, segdocs, (uint32) (deleted + meta.delta_ndeleted),
					 meta.delta_ndocs - meta.delta_ndeleted, meta.inserted,
					 segdocs - deleted, meta.delta_ndocs - meta.delta_ndeleted,
					 meta.merges,
					 lance_tokenizer_name(o->base_tokenizer), o->language,
					 o->with_position ? "true" : "false", o->max_token_length,
					 o->lower_case ? "true" : "false", o->stem ? "true" : "false",
					 o->remove_stop_words ? "true" : "false",
					 o->ascii_folding ? "true" : "false",
					 o->ngram_min_length, o->ngram_max_length,
					 o->ngram_prefix_only ? "true" : "false",
					 pages, (uint64) pages * BLCKSZ);
}
