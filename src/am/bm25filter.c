/*
 * bm25filter.c
 *	  col <&> query and col @@@ query evaluated row by row, outside a
 *	  lance_bm25 index scan (a sequential scan's filter, a sort over any
 *	  scan, a bitmap heap scan's recheck, the select list of a join).
 *
 * A BM25 score depends on the corpus, so the operator finds the
 * lance_bm25 index of its column: the left argument must be a column of a
 * table (a Var, possibly relabelled from varchar), which the running
 * executor's range table names (an ExecutorRun hook keeps the innermost
 * running EState; upper plan nodes keep the column's origin in varnosyn /
 * varattnosyn).  Once per statement and query it reads that index's
 * statistics: N, the average length, the df of every query term summed over
 * the segments and the delta, and the fuzzy / prefix expansions over their
 * dictionaries, exactly as an index scan would.  Each row's value is then
 * analysed with the index's analyzer and scored by the same formula, so
 * both paths give the same scores (to rounding) and the same matches.
 * A row that does not match scores 0.  Queries on other columns
 * (multi_match, column-qualified terms) need the index scan and ERROR.
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "access/table.h"
#include "am/bm25am.h"
#include "am/ivf.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "index/bm25.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "storage/lmgr.h"
#include "text/ftsquery.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* ---------------- the running executor ---------------- */

static ExecutorRun_hook_type prev_executor_run = NULL;
static EState *running_estate = NULL;

static void
Bm25ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				bool execute_once)
{
	EState	   *saved = running_estate;

	running_estate = queryDesc->estate;
	PG_TRY();
	{
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		running_estate = saved;
	}
	PG_END_TRY();
}

void
Bm25FilterInit(void)
{
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = Bm25ExecutorRun;
}

/* ---------------- per statement: the index's statistics ---------------- */

/* one resolved term: the doc's tf of it is looked up per row */
typedef struct Bm25FTerm
{
	char	   *term;
	uint32		len;
	double		idf;
} Bm25FTerm;

/* one analysed query token and its expansions (itself when exact) */
typedef struct Bm25FTok
{
	int			nterms;
	Bm25FTerm  *terms;
	uint32		offset;			/* phrase offset */
} Bm25FTok;

typedef struct Bm25FLeaf
{
	const FtsNode *node;
	int			ntoks;
	Bm25FTok   *toks;
} Bm25FLeaf;

typedef struct Bm25FilterState
{
	Oid			indexoid;
	Oid			qtype;
	text	   *query;			/* the query these were resolved for */
	FtsNode    *root;
	char	   *column;
	bool		positions;
	Bm25Scorer	scorer;
	LanceAnalyzer *an;
	int			nleaves;
	int			leafcap;
	Bm25FLeaf  *leaves;
} Bm25FilterState;

typedef struct Bm25FilterCtx
{
	Bm25FilterState *st;
	Relation	index;
	Bm25MetaPageData meta;
	Bm25SegReader *segs;
	int			nsegs;
	LanceAnalyzer *prefix_an;
} Bm25FilterCtx;

static void
Bm25FilterForeignColumn(const char *column)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("a full-text query on column \"%s\" needs a lance_bm25 index scan", column),
			 errdetail("Outside an index scan, <&> and @@@ see only their left-hand column."),
			 errhint("Use ORDER BY col <&> query LIMIT k or WHERE col @@@ query with a lance_bm25 index on each column.")));
}

static bool
Bm25OwnColumn(Bm25FilterState *st, const char *column)
{
	if (column == NULL || column[0] == '\0')
		return true;
	if (st->column && strcmp(column, st->column) == 0)
		return true;
	Bm25FilterForeignColumn(column);
	return false;
}

static double
Bm25FilterIdf(Bm25FilterCtx *c, const char *term, uint32 len)
{
	uint64		df = 0;

	for (int s = 0; s < c->nsegs; s++)
		df += Bm25SegDf(&c->segs[s], term, len);
	if (df == 0)
		return 0;
	return bm25_idf(c->meta.ndocs > df ? c->meta.ndocs : df, df);
}

static void
Bm25FilterAddLeaf(Bm25FilterCtx *c, const FtsNode *n, const char *terms,
				  bool phrase, int fuzziness, bool prefix, uint32 prefix_length,
				  uint32 max_expansions)
{
	Bm25FilterState *st = c->st;
	Bm25FLeaf  *leaf;
	Bm25Tokens	t;

	if (st->nleaves == st->leafcap)
	{
		st->leafcap = st->leafcap ? st->leafcap * 2 : 8;
		st->leaves = st->leaves ? repalloc(st->leaves, sizeof(Bm25FLeaf) * st->leafcap) :
			palloc(sizeof(Bm25FLeaf) * st->leafcap);
	}
	leaf = &st->leaves[st->nleaves++];
	leaf->node = n;
	Bm25AnalyzeQuery(prefix ? c->prefix_an : st->an, terms, !phrase, &t);
	leaf->ntoks = t.n;
	leaf->toks = palloc0(sizeof(Bm25FTok) * Max(t.n, 1));
	for (int i = 0; i < t.n; i++)
	{
		Bm25FTok   *tok = &leaf->toks[i];
		int			fz = fuzziness == FTS_FUZZINESS_AUTO ?
			fts_auto_fuzziness(t.tok[i], t.len[i]) : fuzziness;

		tok->offset = t.pos[i] - t.pos[0];
		if (!phrase && (prefix || fz > 0))
		{
			Bm25ExpandCtx ex;

			Bm25Expand(c->segs, c->nsegs, t.tok[i], t.len[i], fz, prefix,
					   prefix_length, max_expansions, &ex);
			tok->nterms = ex.n;
			tok->terms = palloc(sizeof(Bm25FTerm) * Max(ex.n, 1));
			for (int j = 0; j < ex.n; j++)
			{
				tok->terms[j].term = ex.items[j].term;
				tok->terms[j].len = ex.items[j].len;
				tok->terms[j].idf = Bm25FilterIdf(c, ex.items[j].term, ex.items[j].len);
			}
		}
		else
		{
			tok->nterms = 1;
			tok->terms = palloc(sizeof(Bm25FTerm));
			tok->terms[0].term = t.tok[i];
			tok->terms[0].len = t.len[i];
			tok->terms[0].idf = Bm25FilterIdf(c, t.tok[i], t.len[i]);
		}
	}
}

static void
Bm25FilterResolve(Bm25FilterCtx *c, const FtsNode *n, int depth)
{
	check_stack_depth();
	switch (n->kind)
	{
		case FTS_MATCH:
			Bm25OwnColumn(c->st, n->u.match.column);
			Bm25FilterAddLeaf(c, n, n->u.match.terms, false, n->u.match.fuzziness,
							  n->u.match.prefix, n->u.match.prefix_length,
							  n->u.match.max_expansions);
			break;
		case FTS_PHRASE:
			Bm25OwnColumn(c->st, n->u.phrase.column);
			if (!c->st->positions)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("phrase queries need positions, but index \"%s\" was built without them",
								RelationGetRelationName(c->index)),
						 errhint("Create the index WITH (with_position = true).")));
			if (n->u.phrase.slop > BM25_MAX_SLOP)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("phrase slop %u is above the limit %d", n->u.phrase.slop, BM25_MAX_SLOP)));
			Bm25FilterAddLeaf(c, n, n->u.phrase.terms, true, 0, false, 0, 0);
			break;
		case FTS_BOOST:
			Bm25FilterResolve(c, n->u.boosting.positive, depth + 1);
			Bm25FilterResolve(c, n->u.boosting.negative, depth + 1);
			break;
		case FTS_MULTI_MATCH:
			for (int i = 0; i < n->u.multi.ncolumns; i++)
				Bm25OwnColumn(c->st, n->u.multi.columns[i]);
			Bm25FilterAddLeaf(c, n, n->u.multi.query, false, 0, false, 0,
							  FTS_DEFAULT_MAX_EXPANSIONS);
			break;
		case FTS_BOOLEAN:
			if (n->u.boolean.nmust + n->u.boolean.nshould == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("boolean query must have at least one should/must query")));
			for (int i = 0; i < n->u.boolean.nmust; i++)
				Bm25FilterResolve(c, n->u.boolean.must[i], depth + 1);
			for (int i = 0; i < n->u.boolean.nshould; i++)
				Bm25FilterResolve(c, n->u.boolean.should[i], depth + 1);
			for (int i = 0; i < n->u.boolean.nmust_not; i++)
				Bm25FilterResolve(c, n->u.boolean.must_not[i], depth + 1);
			break;
	}
}

/* The lance_bm25 index of the operator's column, or ERROR. */
static Oid
Bm25FilterFindIndex(FunctionCallInfo fcinfo, char **column)
{
	Node	   *expr = fcinfo->flinfo->fn_expr;
	List	   *args;
	Node	   *arg;
	Var		   *var;
	Index		rti;
	AttrNumber	attno;
	RangeTblEntry *rte;
	Relation	heap;
	List	   *indexes;
	ListCell   *lc;
	Oid			amoid = get_am_oid("lance_bm25", false);
	Oid			found = InvalidOid;

	if (expr && IsA(expr, OpExpr))
		args = ((OpExpr *) expr)->args;
	else if (expr && IsA(expr, FuncExpr))
		args = ((FuncExpr *) expr)->args;
	else
		args = NIL;
	arg = list_length(args) == 2 ? linitial(args) : NULL;
	while (arg && IsA(arg, RelabelType))
		arg = (Node *) ((RelabelType *) arg)->arg;
	if (arg == NULL || !IsA(arg, Var) || running_estate == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the left operand of <&> and @@@ must be a column with a lance_bm25 index"),
				 errdetail("BM25 scores depend on the index's corpus statistics.")));
	var = (Var *) arg;
	if (!IS_SPECIAL_VARNO(var->varno))
	{
		rti = var->varno;
		attno = var->varattno;
	}
	else
	{
		rti = var->varnosyn;
		attno = var->varattnosyn;
	}
	if (rti < 1 || rti > list_length(running_estate->es_range_table) || attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the left operand of <&> and @@@ must be a column with a lance_bm25 index")));
	rte = rt_fetch(rti, running_estate->es_range_table);
	if (rte->rtekind != RTE_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the left operand of <&> and @@@ must be a column of a table with a lance_bm25 index")));
	heap = table_open(rte->relid, AccessShareLock);
	indexes = RelationGetIndexList(heap);
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);

		if (idx->rd_rel->relam == amoid && idx->rd_index->indnatts == 1 &&
			idx->rd_index->indkey.values[0] == attno &&
			idx->rd_index->indisvalid && idx->rd_indpred == NIL)
			found = RelationGetRelid(idx);
		index_close(idx, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	if (!OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no lance_bm25 index on column \"%s\" of \"%s\"",
						get_attname(rte->relid, attno, false),
						RelationGetRelationName(heap)),
				 errdetail("BM25 scores depend on the index's corpus statistics."),
				 errhint("Create a lance_bm25 index on the column (a full, non-partial index).")));
	*column = get_attname(rte->relid, attno, false);
	table_close(heap, AccessShareLock);
	return found;
}

static Bm25FilterState *
Bm25FilterPrepare(FunctionCallInfo fcinfo, Oid qtype)
{
	Bm25FilterState *st = fcinfo->flinfo->fn_extra;
	text	   *q = PG_GETARG_TEXT_PP(1);
	MemoryContext old;
	Bm25FilterCtx c;

	if (st && st->qtype == qtype &&
		VARSIZE_ANY_EXHDR(st->query) == VARSIZE_ANY_EXHDR(q) &&
		memcmp(VARDATA_ANY(st->query), VARDATA_ANY(q), VARSIZE_ANY_EXHDR(q)) == 0)
		return st;

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (st == NULL)
	{
		st = palloc0(sizeof(Bm25FilterState));
		st->indexoid = Bm25FilterFindIndex(fcinfo, &st->column);
		fcinfo->flinfo->fn_extra = st;
	}
	st->qtype = qtype;
	st->query = (text *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(1));
	st->nleaves = 0;
	st->root = Bm25ParseQuery(PointerGetDatum(st->query), qtype);

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.index = index_open(st->indexoid, AccessShareLock);
	LockPage(c.index, BM25_LOCK_STRUCT, ShareLock);
	st->an = Bm25GetAnalyzer(c.index, false);
	c.prefix_an = Bm25GetAnalyzer(c.index, true);
	Bm25ReadMeta(c.index, &c.meta);
	st->positions = (c.meta.flags & BM25_META_POSITIONS) != 0;
	bm25_scorer_init(&st->scorer, BM25_DEFAULT_K1, BM25_DEFAULT_B,
					 c.meta.ndocs ? (double) c.meta.total_len / c.meta.ndocs : 1.0);
	/* the segments and the delta, as an index scan opens them */
	c.segs = palloc0(sizeof(Bm25SegReader) * (c.meta.nsegments + 1));
	for (uint32 i = 0; i < c.meta.nsegments; i++)
		Bm25SegOpen(&c.segs[c.nsegs++], c.index, &c.meta.segs[i]);
	if (c.meta.delta_ndocs > c.meta.delta_ndeleted && !lancedb_fast_search)
		Bm25SegOpenDelta(&c.segs[c.nsegs++], c.index, &c.meta);
	Bm25FilterResolve(&c, st->root, 0);
	for (int i = 0; i < c.nsegs; i++)
		Bm25SegClose(&c.segs[i]);
	UnlockPage(c.index, BM25_LOCK_STRUCT, ShareLock);
	index_close(c.index, AccessShareLock);
	MemoryContextSwitchTo(old);
	return st;
}

/* ---------------- per row ---------------- */

typedef struct Bm25FDoc
{
	Bm25Inverter *inv;			/* the row's terms with tf and positions */
	uint32		dl;
} Bm25FDoc;

static const Bm25FLeaf *
Bm25FilterLeaf(Bm25FilterState *st, const FtsNode *n)
{
	for (int i = 0; i < st->nleaves; i++)
		if (st->leaves[i].node == n)
			return &st->leaves[i];
	elog(ERROR, "lance_bm25: unresolved query node");
	return NULL;
}

static bool
Bm25FilterMatch(Bm25FilterState *st, const Bm25FLeaf *leaf, Bm25FDoc *doc,
				bool require_all, double boost, double *score)
{
	bool		any = false;
	bool		all = leaf->ntoks > 0;

	*score = 0;
	for (int i = 0; i < leaf->ntoks; i++)
	{
		bool		hit = false;

		for (int j = 0; j < leaf->toks[i].nterms; j++)
		{
			const Bm25FTerm *t = &leaf->toks[i].terms[j];
			Bm25InvTerm *it = Bm25InverterLookup(doc->inv, t->term, t->len);

			if (it == NULL)
				continue;
			hit = true;
			*score += boost * t->idf * bm25_tf_part(&st->scorer, it->tfs[0], doc->dl);
		}
		any |= hit;
		all &= hit;
	}
	return require_all ? all : any;
}

static bool
Bm25FilterPhrase(Bm25FilterState *st, const Bm25FLeaf *leaf, Bm25FDoc *doc,
				 uint32 slop, double boost, double *score)
{
	int			n = leaf->ntoks;
	const uint32 **pos;
	uint32	   *npos;
	uint32	   *offs;
	uint32	   *scratch;
	double		w = 0;
	uint32		pf;

	*score = 0;
	if (n == 0)
		return false;
	if (n == 1)
		return Bm25FilterMatch(st, leaf, doc, true, boost, score);
	pos = palloc(sizeof(uint32 *) * n);
	npos = palloc(sizeof(uint32) * n);
	offs = palloc(sizeof(uint32) * n);
	for (int i = 0; i < n; i++)
	{
		const Bm25FTerm *t = &leaf->toks[i].terms[0];
		Bm25InvTerm *it = Bm25InverterLookup(doc->inv, t->term, t->len);

		if (it == NULL)
			return false;
		pos[i] = it->pos;
		npos[i] = it->tfs[0];
		offs[i] = leaf->toks[i].offset;
		w += boost * t->idf;
	}
	scratch = palloc(sizeof(uint32) * bm25_phrase_scratch_size(slop));
	pf = bm25_phrase_freq(pos, npos, offs, n, slop, scratch);
	if (pf == 0)
		return false;
	*score = w * bm25_tf_part(&st->scorer, pf, doc->dl);
	return true;
}

static bool
Bm25FilterEval(Bm25FilterState *st, const FtsNode *n, Bm25FDoc *doc,
			   double *score)
{
	double		s;

	check_stack_depth();
	*score = 0;
	switch (n->kind)
	{
		case FTS_MATCH:
			return Bm25FilterMatch(st, Bm25FilterLeaf(st, n), doc,
								   n->u.match.op == FTS_OP_AND, n->boost, score);
		case FTS_PHRASE:
			return Bm25FilterPhrase(st, Bm25FilterLeaf(st, n), doc,
									n->u.phrase.slop, n->boost, score);
		case FTS_BOOST:
			if (!Bm25FilterEval(st, n->u.boosting.positive, doc, score))
				return false;
			if (Bm25FilterEval(st, n->u.boosting.negative, doc, &s))
				*score *= n->u.boosting.negative_boost;
			return true;
		case FTS_MULTI_MATCH:
			{
				const Bm25FLeaf *leaf = Bm25FilterLeaf(st, n);
				bool		matched = false;

				/* every column is this one: its match once per column */
				for (int i = 0; i < n->u.multi.ncolumns; i++)
					if (Bm25FilterMatch(st, leaf, doc, n->u.multi.op == FTS_OP_AND,
										n->u.multi.boosts[i], &s))
					{
						matched = true;
						*score += s;
					}
				return matched;
			}
		case FTS_BOOLEAN:
			{
				bool		matched = n->u.boolean.nmust > 0;

				for (int i = 0; i < n->u.boolean.nmust; i++)
				{
					if (!Bm25FilterEval(st, n->u.boolean.must[i], doc, &s))
						return false;
					*score += s;
				}
				for (int i = 0; i < n->u.boolean.nshould; i++)
					if (Bm25FilterEval(st, n->u.boolean.should[i], doc, &s))
					{
						matched = true;
						*score += s;
					}
				if (!matched)
					return false;
				for (int i = 0; i < n->u.boolean.nmust_not; i++)
					if (Bm25FilterEval(st, n->u.boolean.must_not[i], doc, &s))
						return false;
				*score *= n->boost;
				return true;
			}
	}
	elog(ERROR, "lance_bm25: unknown query node %d", (int) n->kind);
	return false;
}

/* Score of the row's value (0 if it does not match); false: no match. */
bool
Bm25FilterScore(FunctionCallInfo fcinfo, Oid qtype, double *score)
{
	Bm25FilterState *st = Bm25FilterPrepare(fcinfo, qtype);
	MemoryContext cxt;
	MemoryContext old;
	LanceTokenArray toks;
	Bm25FDoc	doc;
	ItemPointerData tid;
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	bool		matched;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_bm25 row",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	lance_token_array_init(&toks, Bm25Palloc, Bm25Pfree);
	doc.dl = Bm25AnalyzeDatum(st->an, PG_GETARG_DATUM(0),
							  type_is_array(typid) ? TEXTARRAYOID : TEXTOID, &toks);
	doc.inv = Bm25InverterCreate(st->positions);
	ItemPointerSet(&tid, 0, 1);
	Bm25InverterAddDoc(doc.inv, &tid, &toks, doc.dl);
	matched = Bm25FilterEval(st, st->root, &doc, score);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	if (!matched)
		*score = 0;
	return matched;
}
