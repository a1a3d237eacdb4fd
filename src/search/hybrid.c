/*
 * hybrid.c
 *	  The execution half of lancedb.hybrid_search (sql/install/50_hybrid.sql
 *	  checks the arguments and calls it): run the vector leg and the BM25
 *	  leg through cached plans, fuse them and return the best k rows.
 *
 * Each leg's SQL depends only on the table, columns, operator, filter and
 * query type, so its plan is prepared once per backend and kept (PostgreSQL's
 * plan cache invalidates it on DDL); a call runs two prepared plans and
 * fuses at most 2 x candidates rows in C.  Both legs run with sequential
 * and bitmap scans off: lance_bm25 scores rows only inside ordered scans.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lancedb.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "parser/parse_type.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
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
	Datum		row;
	int64		rank;			/* 1-based */
	double		rel;			/* normalised relevance in [0, 1] */
	int			other;			/* index in the other leg, or -1 */
} LegRow;

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
		rows[i].row = datumCopy(SPI_getbinval(t, d, 3, &isnull), false, -1);
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
 * lancedb._hybrid_exec(rel anyelement, vector_column name, op text,
 *   query_vector vector, text_column name, query_text text, query_json jsonb,
 *   k int, candidates int, reranker int, rrf_k int, weight float8,
 *   weight_vector float8, weight_fts float8, by_rank bool, return_all bool,
 *   filter text)
 */
LANCEDB_FUNCTION(lancedb_hybrid_exec);
Datum
lancedb_hybrid_exec(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	char	   *vcol = NameStr(*PG_GETARG_NAME(1));
	char	   *op = text_to_cstring(PG_GETARG_TEXT_PP(2));
	Datum		qvec = PG_GETARG_DATUM(3);
	char	   *tcol = NameStr(*PG_GETARG_NAME(4));
	bool		json = PG_ARGISNULL(5);
	Datum		qtext = json ? PG_GETARG_DATUM(6) : PG_GETARG_DATUM(5);
	int64		k = PG_GETARG_INT32(7);
	int64		n = PG_GETARG_INT32(8);
	int			reranker = PG_GETARG_INT32(9);
	int			rrf_k = PG_GETARG_INT32(10);
	double		weight = PG_GETARG_FLOAT8(11);
	double		w_vec = PG_GETARG_FLOAT8(12);
	double		w_fts = PG_GETARG_FLOAT8(13);
	bool		by_rank = PG_GETARG_BOOL(14);
	bool		return_all = PG_GETARG_BOOL(15);
	char	   *filter = PG_ARGISNULL(16) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(16));
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
					 "SELECT t.ctid, (t.%s %s $1)::float8, t FROM %s AS t WHERE t.%s IS NOT NULL%s%s%s ORDER BY t.%s %s $1 LIMIT $2",
					 quote_identifier(vcol), op, tbl, quote_identifier(vcol),
					 filter ? " AND (" : "", filter ? filter : "", filter ? ")" : "",
					 quote_identifier(vcol), op);
	initStringInfo(&fsql);
	appendStringInfo(&fsql,
					 "SELECT t.ctid, (-(t.%s <&> $1))::float8, t FROM %s AS t WHERE t.%s @@@ $1%s%s%s ORDER BY t.%s <&> $1 LIMIT $2",
					 quote_identifier(tcol), tbl, quote_identifier(tcol),
					 filter ? " AND (" : "", filter ? filter : "", filter ? ")" : "",
					 quote_identifier(tcol));

	/* both legs through their indexes */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* planned once: no custom plans for the first calls */
	(void) set_config_option("plan_cache_mode", "force_generic_plan", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	vr = run_leg(vsql.data, get_fn_expr_argtype(fcinfo->flinfo, 3), qvec, n, percall, &nv);
	fr = run_leg(fsql.data, json ? JSONBOID : TEXTOID, qtext, n, percall, &nf);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);

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

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
	store = tuplestore_begin_heap(true, false, work_mem);
	for (int i = 0; i < nfused && i < k; i++)
	{
		Fused	   *u = &fused[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		nulls[0] = !return_all || u->v < 0;
		values[0] = nulls[0] ? (Datum) 0 : Float8GetDatum(vr[u->v].value);
		nulls[1] = !return_all || u->f < 0;
		values[1] = nulls[1] ? (Datum) 0 : Float8GetDatum(fr[u->f].value);
		values[2] = Float8GetDatum(u->relevance);
		values[3] = u->v >= 0 ? vr[u->v].row : fr[u->f].row;
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	MemoryContextSwitchTo(old);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}
