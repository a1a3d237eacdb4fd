/*
 * hybrid.c
 *	  lancedb.hybrid_search (sql/install/50_hybrid.sql wraps it): check the
 *	  arguments, run the vector leg and the BM25 leg through cached plans,
 *	  fuse them and return the best k rows.
 *
 * Each leg's SQL depends only on the table, columns, operator, filter and
 * query type, so its plan is prepared once per backend and kept (PostgreSQL's
 * plan cache invalidates it on DDL); a call runs two prepared plans and
 * fuses at most 2 x candidates rows in C.  Both legs run with sequential
 * and bitmap scans off: lance_bm25 scores rows only inside ordered scans.
 */
#include "postgres.h"

#include <math.h>

#include "am/ivf.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lancedb.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "parser/parse_type.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

typedef struct PlanEntry
{
	char	   *sql;			/* the leg's SQL: the cache key */
	SPIPlanPtr	plan;
} PlanEntry;

typedef struct LegRow
{
	ItemPointerData tid;
	double		value;			/* distance (vector) or score (text) */
	int64		rank;			/* 1-based */
	double		rel;			/* normalised relevance in [0, 1] */
	int			other;			/* index in the other leg, or -1 */
} LegRow;

typedef struct HybridArgs
{
	Oid			rowtype;		/* the table's row type */
	char	   *vcol;
	const char *op;
	Datum		qvec;
	Oid			qvec_type;
	char	   *tcol;
	bool		json;			/* qtext is jsonb (FtsQuery JSON), else text */
	Datum		qtext;
	int64		k;
	int64		n;				/* candidates per leg */
	int			reranker;
	int			rrf_k;
	double		weight;
	double		w_vec;
	double		w_fts;
	bool		by_rank;
	bool		return_all;
	char	   *filter;
} HybridArgs;

static List *plan_cache = NIL;	/* of PlanEntry *, in TopMemoryContext */

enum
{
	RERANK_RRF,
	RERANK_LINEAR,
	RERANK_MRR
};

static SPIPlanPtr
cached_plan(const char *sql, int nargs, Oid *types)
{
	ListCell   *lc;
	PlanEntry  *e;
	SPIPlanPtr	p;
	MemoryContext old;

	foreach(lc, plan_cache)
	{
		e = (PlanEntry *) lfirst(lc);
		if (strcmp(e->sql, sql) == 0)
			return e->plan;
	}
	p = SPI_prepare(sql, nargs, types);
	if (p == NULL)
		elog(ERROR, "could not prepare a hybrid search leg: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(p) != 0)
		elog(ERROR, "could not keep a hybrid search plan");
	old = MemoryContextSwitchTo(TopMemoryContext);
	e = palloc0(sizeof(PlanEntry));
	e->sql = pstrdup(sql);
	e->plan = p;
	plan_cache = lappend(plan_cache, e);
	MemoryContextSwitchTo(old);
	return p;
}

/* Run one leg; rows copied into the caller's context `cxt`. */
static LegRow *
run_leg(const char *sql, Oid qtype, Datum query, int64 n, MemoryContext cxt,
		int *nrows)
{
	Oid			types[2] = {qtype, INT8OID};
	Datum		values[2] = {query, Int64GetDatum(n)};
	SPIPlanPtr	plan = cached_plan(sql, 2, types);
	LegRow	   *rows;
	MemoryContext old;

	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "hybrid search leg failed");
	old = MemoryContextSwitchTo(cxt);
	rows = palloc0(sizeof(LegRow) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;

		rows[i].tid = *((ItemPointer) DatumGetPointer(SPI_getbinval(t, d, 1, &isnull)));
		rows[i].value = DatumGetFloat8(SPI_getbinval(t, d, 2, &isnull));
		rows[i].rank = (int64) i + 1;
		rows[i].other = -1;
	}
	*nrows = (int) SPI_processed;
	MemoryContextSwitchTo(old);
	return rows;
}

/* min-max (or rank) normalisation; higher_better: scores, else distances */
static void
normalise(LegRow *r, int n, bool by_rank, bool higher_better)
{
	double		lo = INFINITY,
				hi = -INFINITY;

	for (int i = 0; i < n; i++)
	{
		lo = Min(lo, r[i].value);
		hi = Max(hi, r[i].value);
	}
	for (int i = 0; i < n; i++)
	{
		double		x;

		if (by_rank)
			x = n > 1 ? (double) (r[i].rank - 1) / (n - 1) : 0;
		else if (hi > lo)
			x = higher_better ? 1 - (r[i].value - lo) / (hi - lo) : (r[i].value - lo) / (hi - lo);
		else
			x = 0;
		/* x is "distance-like" (0 best): relevance is 1 - x */
		r[i].rel = 1 - x;
	}
}

typedef struct Fused
{
	int			v;				/* index in the vector leg or -1 */
	int			f;				/* in the text leg or -1 */
	double		relevance;
	int64		order_rank;		/* coalesce(vector rank, text rank) */
	int64		f_rank;
} Fused;

static int
fused_cmp(const void *a, const void *b)
{
	const Fused *x = a;
	const Fused *y = b;

	if (x->relevance != y->relevance)
		return x->relevance > y->relevance ? -1 : 1;
	if (x->order_rank != y->order_rank)
		return x->order_rank < y->order_rank ? -1 : 1;
	if (x->f_rank != y->f_rank)
		return x->f_rank < y->f_rank ? -1 : 1;
	return 0;
}

/*
 * The winners' whole rows, by TID (one TID scan, in the legs' snapshot, so
 * the very row versions the legs ranked): only k rows are formed and
 * detoasted, not every candidate of both legs.
 */
static Datum *
fetch_rows(const char *tbl, Fused *fused, int n, LegRow *vr, LegRow *fr,
		   MemoryContext cxt)
{
	char	   *sql = psprintf("SELECT t.ctid, t FROM %s AS t WHERE t.ctid = ANY ($1)", tbl);
	Oid			types[1] = {TIDARRAYOID};
	Datum	   *tids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *rows = palloc0(sizeof(Datum) * Max(n, 1));
	Datum		values[1];
	SPIPlanPtr	plan = cached_plan(sql, 1, types);

	if (n == 0)
		return rows;
	for (int i = 0; i < n; i++)
		tids[i] = PointerGetDatum(fused[i].v >= 0 ? &vr[fused[i].v].tid : &fr[fused[i].f].tid);
	values[0] = PointerGetDatum(construct_array(tids, n, TIDOID, sizeof(ItemPointerData), false,
												TYPALIGN_SHORT));
	if (SPI_execute_plan(plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "hybrid search could not fetch its rows");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	t = SPI_tuptable->vals[r];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		ItemPointer tid = (ItemPointer) DatumGetPointer(SPI_getbinval(t, d, 1, &isnull));

		for (int i = 0; i < n; i++)
		{
			ItemPointer w = fused[i].v >= 0 ? &vr[fused[i].v].tid : &fr[fused[i].f].tid;

			if (rows[i] == (Datum) 0 && ItemPointerEquals(tid, w))
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);

				rows[i] = datumCopy(SPI_getbinval(t, d, 2, &isnull), false, -1);
				MemoryContextSwitchTo(old);
				break;
			}
		}
	}
	return rows;
}

/* run both legs, fuse, return the best k rows (SFRM_Materialize) */
static Datum
hybrid_run(FunctionCallInfo fcinfo, HybridArgs *a)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			rowtype = a->rowtype;
	char	   *vcol = a->vcol;
	const char *op = a->op;
	Datum		qvec = a->qvec;
	char	   *tcol = a->tcol;
	bool		json = a->json;
	Datum		qtext = a->qtext;
	int64		k = a->k;
	int64		n = a->n;
	int			reranker = a->reranker;
	int			rrf_k = a->rrf_k;
	double		weight = a->weight;
	double		w_vec = a->w_vec;
	double		w_fts = a->w_fts;
	bool		by_rank = a->by_rank;
	bool		return_all = a->return_all;
	char	   *filter = a->filter;
	Oid			relid = typeidTypeRelid(rowtype);
	char	   *tbl;
	StringInfoData vsql,
				fsql;
	LegRow	   *vr,
			   *fr;
	int			nv,
				nf,
				nfused = 0;
	Fused	   *fused;
	Datum	   *rows;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	MemoryContext percall = rsinfo->econtext->ecxt_per_query_memory;
	MemoryContext old;
	int			nestlevel;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the first argument must be a table's row type, e.g. NULL::items")));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hybrid search must be called in a FROM clause")));
	tbl = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));

	initStringInfo(&vsql);
	appendStringInfo(&vsql,
					 "SELECT t.ctid, (t.%s %s $1)::float8 FROM %s AS t WHERE t.%s IS NOT NULL%s%s%s ORDER BY t.%s %s $1 LIMIT $2",
					 quote_identifier(vcol), op, tbl, quote_identifier(vcol),
					 filter ? " AND (" : "", filter ? filter : "", filter ? ")" : "",
					 quote_identifier(vcol), op);
	initStringInfo(&fsql);
	appendStringInfo(&fsql,
					 "SELECT t.ctid, (-(t.%s <&> $1))::float8 FROM %s AS t WHERE t.%s @@@ $1%s%s%s ORDER BY t.%s <&> $1 LIMIT $2",
					 quote_identifier(tcol), tbl, quote_identifier(tcol),
					 filter ? " AND (" : "", filter ? filter : "", filter ? ")" : "",
					 quote_identifier(tcol));

	/* both legs through their indexes */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* prefilter semantics: a filtered leg keeps scanning until n rows pass */
	if (filter != NULL && lancedb_iterative_scan == IVF_ITERATIVE_OFF)
		(void) set_config_option("lancedb.iterative_scan", "relaxed_order", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* planned once: no custom plans for the first calls */
	(void) set_config_option("plan_cache_mode", "force_generic_plan", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	vr = run_leg(vsql.data, a->qvec_type, qvec, n, percall, &nv);
	fr = run_leg(fsql.data, json ? JSONBOID : TEXTOID, qtext, n, percall, &nf);

	old = MemoryContextSwitchTo(percall);
	normalise(vr, nv, by_rank, false);
	normalise(fr, nf, by_rank, true);
	fused = palloc(sizeof(Fused) * (nv + nf + 1));
	for (int i = 0; i < nv; i++)
	{
		fused[nfused].v = i;
		fused[nfused].f = -1;
		for (int j = 0; j < nf; j++)
			if (ItemPointerEquals(&vr[i].tid, &fr[j].tid))
			{
				fused[nfused].f = j;
				fr[j].other = i;
				break;
			}
		nfused++;
	}
	for (int j = 0; j < nf; j++)
		if (fr[j].other < 0)
		{
			fused[nfused].v = -1;
			fused[nfused].f = j;
			nfused++;
		}
	for (int i = 0; i < nfused; i++)
	{
		Fused	   *u = &fused[i];
		int64		rv = u->v >= 0 ? vr[u->v].rank : 0;
		int64		rf = u->f >= 0 ? fr[u->f].rank : 0;

		switch (reranker)
		{
			case RERANK_RRF:
				u->relevance = (rv ? 1.0 / (rrf_k + rv) : 0) + (rf ? 1.0 / (rrf_k + rf) : 0);
				break;
			case RERANK_MRR:
				u->relevance = w_vec * (rv ? 1.0 / rv : 0) + w_fts * (rf ? 1.0 / rf : 0);
				break;
			default:
				u->relevance = weight * (u->v >= 0 ? vr[u->v].rel : 0) +
					(1 - weight) * (u->f >= 0 ? fr[u->f].rel : 0);
				break;
		}
		u->order_rank = rv ? rv : rf;
		u->f_rank = rf ? rf : INT64_MAX;
	}
	qsort(fused, nfused, sizeof(Fused), fused_cmp);
	nfused = Min(nfused, k);
	rows = fetch_rows(tbl, fused, nfused, vr, fr, percall);
	MemoryContextSwitchTo(old);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	old = MemoryContextSwitchTo(percall);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
	store = tuplestore_begin_heap(true, false, work_mem);
	for (int i = 0; i < nfused; i++)
	{
		Fused	   *u = &fused[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		nulls[0] = !return_all || u->v < 0;
		values[0] = nulls[0] ? (Datum) 0 : Float8GetDatum(vr[u->v].value);
		nulls[1] = !return_all || u->f < 0;
		values[1] = nulls[1] ? (Datum) 0 : Float8GetDatum(fr[u->f].value);
		values[2] = Float8GetDatum(u->relevance);
		if (rows[i] == (Datum) 0)	/* same snapshot: cannot happen */
			elog(ERROR, "hybrid search could not fetch a ranked row of %s", tbl);
		values[3] = rows[i];
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	MemoryContextSwitchTo(old);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}

/*
 * lancedb._hybrid_exec(rel anyelement, vector_column name, op text,
 *   query_vector vector, text_column name, query_text text, query_json jsonb,
 *   k int, candidates int, reranker int, rrf_k int, weight float8,
 *   weight_vector float8, weight_fts float8, by_rank bool, return_all bool,
 *   filter text): the fusion with every knob explicit and unchecked but for
 *   nulls (tests compare it with the legs).
 */
LANCEDB_FUNCTION(lancedb_hybrid_exec);
Datum
lancedb_hybrid_exec(PG_FUNCTION_ARGS)
{
	HybridArgs	a;

	for (int i = 1; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i) && i != 5 && i != 6 && i != 16)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of lancedb._hybrid_exec must not be null", i + 1)));
	if (PG_ARGISNULL(5) == PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give exactly one of query_text and query_json")));
	a.rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	a.vcol = NameStr(*PG_GETARG_NAME(1));
	a.op = text_to_cstring(PG_GETARG_TEXT_PP(2));
	a.qvec = PG_GETARG_DATUM(3);
	a.qvec_type = get_fn_expr_argtype(fcinfo->flinfo, 3);
	a.tcol = NameStr(*PG_GETARG_NAME(4));
	a.json = PG_ARGISNULL(5);
	a.qtext = a.json ? PG_GETARG_DATUM(6) : PG_GETARG_DATUM(5);
	a.k = PG_GETARG_INT32(7);
	a.n = PG_GETARG_INT32(8);
	a.reranker = PG_GETARG_INT32(9);
	a.rrf_k = PG_GETARG_INT32(10);
	a.weight = PG_GETARG_FLOAT8(11);
	a.w_vec = PG_GETARG_FLOAT8(12);
	a.w_fts = PG_GETARG_FLOAT8(13);
	a.by_rank = PG_GETARG_BOOL(14);
	a.return_all = PG_GETARG_BOOL(15);
	a.filter = PG_ARGISNULL(16) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(16));
	if (a.k < 1 || a.n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k and candidates must be at least 1")));
	return hybrid_run(fcinfo, &a);
}

/* an option of hybrid_search's options jsonb, or NULL when absent */
static JsonbValue *
option_value(Jsonb *opts, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&opts->root, JB_FOBJECT, &k);
}

static double
option_number(Jsonb *opts, const char *key, double dflt)
{
	JsonbValue *v = option_value(opts, key);

	if (v == NULL || v->type == jbvNull)
		return dflt;
	if (v->type == jbvNumeric)
		return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

		return DatumGetFloat8(DirectFunctionCall1(float8in, CStringGetDatum(s)));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("hybrid search option \"%s\" must be a number", key)));
	return dflt;
}

static char *
option_string(Jsonb *opts, const char *key, const char *dflt)
{
	JsonbValue *v = option_value(opts, key);

	if (v == NULL || v->type == jbvNull)
		return pstrdup(dflt);
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hybrid search option \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static int
option_int(Jsonb *opts, const char *key, int dflt)
{
	double		d = option_number(opts, key, dflt);

	if (d != rint(d) || d < INT_MIN || d > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hybrid search option \"%s\" must be an integer", key)));
	return (int) d;
}

static void
check_option_keys(Jsonb *opts)
{
	static const char *const known[] = {"metric", "candidates", "k", "weight",
	"weight_vector", "weight_fts", "return_score"};
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData unknown;

	if (!JB_ROOT_IS_OBJECT(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hybrid search options must be a JSON object")));
	initStringInfo(&unknown);
	it = JsonbIteratorInit(&opts->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		ok = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < lengthof(known); i++)
			if (strlen(known[i]) == v.val.string.len &&
				memcmp(known[i], v.val.string.val, v.val.string.len) == 0)
				ok = true;
		if (!ok)
			appendStringInfo(&unknown, "%s%.*s", unknown.len ? ", " : "",
							 v.val.string.len, v.val.string.val);
	}
	if (unknown.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown hybrid search option(s): %s", unknown.data),
				 errhint("Options: metric, candidates, k, weight, weight_vector, weight_fts, return_score.")));
}

/*
 * lancedb.hybrid_search(rel anyelement, vector_column name, query_vector
 *   vector, text_column name, query text | jsonb, k int, reranker text,
 *   filter text, normalize_by text, options jsonb): check LanceDB's hybrid
 *   query arguments, then run it.  In C, not PL/pgSQL: the checks cost
 *   microseconds instead of an interpreted statement each.
 */
LANCEDB_FUNCTION(lancedb_hybrid_search);
Datum
lancedb_hybrid_search(PG_FUNCTION_ARGS)
{
	HybridArgs	a;
	Jsonb	   *opts;
	char	   *reranker;
	char	   *normalize_by;
	char	   *return_score;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hybrid search needs a vector column and a text column")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hybrid search needs a query vector")));
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("hybrid search needs a text query")));
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k and candidates must be at least 1")));
	opts = PG_ARGISNULL(9) ? NULL : PG_GETARG_JSONB_P(9);
	if (opts == NULL)
		opts = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	check_option_keys(opts);

	a.rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	a.vcol = NameStr(*PG_GETARG_NAME(1));
	a.qvec = PG_GETARG_DATUM(2);
	a.qvec_type = get_fn_expr_argtype(fcinfo->flinfo, 2);
	a.tcol = NameStr(*PG_GETARG_NAME(3));
	a.json = get_fn_expr_argtype(fcinfo->flinfo, 4) == JSONBOID;
	a.qtext = PG_GETARG_DATUM(4);
	a.k = PG_GETARG_INT32(5);
	a.filter = PG_ARGISNULL(7) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(7));

	a.op = option_string(opts, "metric", "<->");
	a.n = option_int(opts, "candidates", (int) a.k);
	a.rrf_k = option_int(opts, "k", 60);
	a.weight = option_number(opts, "weight", 0.7);
	a.w_vec = option_number(opts, "weight_vector", 0.5);
	a.w_fts = option_number(opts, "weight_fts", 0.5);
	return_score = option_string(opts, "return_score", "relevance");
	reranker = PG_ARGISNULL(6) ? "(null)" : text_to_cstring(PG_GETARG_TEXT_PP(6));
	normalize_by = PG_ARGISNULL(8) ? "(null)" : text_to_cstring(PG_GETARG_TEXT_PP(8));

	if (strcmp(a.op, "<->") != 0 && strcmp(a.op, "<#>") != 0 &&
		strcmp(a.op, "<=>") != 0 && strcmp(a.op, "<+>") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported distance operator \"%s\"", a.op)));
	if (a.k < 1 || a.n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k and candidates must be at least 1")));
	if (strcmp(normalize_by, "score") != 0 && strcmp(normalize_by, "rank") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("normalize_by must be \"score\" or \"rank\", not \"%s\"", normalize_by)));
	if (strcmp(return_score, "relevance") != 0 && strcmp(return_score, "all") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("return_score must be \"relevance\" or \"all\", not \"%s\"", return_score)));
	if (a.rrf_k <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("RRF k must be greater than 0")));
	if (!(a.weight >= 0 && a.weight <= 1 && a.w_vec >= 0 && a.w_vec <= 1 &&
		  a.w_fts >= 0 && a.w_fts <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights must be between 0 and 1")));
	if (strcmp(reranker, "rrf") == 0)
		a.reranker = RERANK_RRF;
	else if (strcmp(reranker, "linear") == 0)
		a.reranker = RERANK_LINEAR;
	else if (strcmp(reranker, "mrr") == 0)
		a.reranker = RERANK_MRR;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown reranker \"%s\"", reranker),
				 errhint("Rerankers: rrf, linear, mrr.")));
	a.by_rank = strcmp(normalize_by, "rank") == 0;
	a.return_all = strcmp(return_score, "all") == 0;
	return hybrid_run(fcinfo, &a);
}
