/*
 * bm25scan.c
 *	  lance_bm25 scans.
 *
 * A scan snapshots the meta page (segments and the delta) under the
 * structure lock and evaluates the query two ways:
 *	- fast path, for ORDER BY col <&> q where q is one MATCH without
 *	  fuzziness or prefix, or one PHRASE, on this index's column: block-max
 *	  WAND top-k (bm25_topk_search) over all segments with one shared heap,
 *	  k = 10 first, then 100, 1000, ... when the executor asks for more rows
 *	  (the top-k is exact with a fixed tie order, so each larger batch
 *	  starts with the rows already returned);
 *	- general path, for everything else (fuzzy and prefix expansion, AND
 *	  with expansions, boolean, boost, multi_match over other columns'
 *	  indexes, WHERE col @@@ q): each term is scored over every segment
 *	  with bm25_score_all into a hash table keyed by heap TID, and the
 *	  query tree combines those tables; results are sorted once.
 *
 * Scores: BM25 with the index's live doc count N, average length and the
 * df summed over segments.  The value of col <&> q is -score.  The index
 * returns exact values (no recheck); the operator's function, evaluated
 * outside the index (e.g. in the select list), returns the score that the
 * running scan with an equal query computed for the row it returned last,
 * which is the row being projected (see Bm25LastScore).
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "access/relation.h"
#include "am/bm25am.h"
#include "am/ivf.h"
#include "am/scanreport.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "index/bm25.h"
#include "miscadmin.h"
#include "nodes/tidbitmap.h"
#include "storage/lmgr.h"
#include "text/ftsquery.h"
#include "text/fuzzy.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* One lance_bm25 index as this scan sees it. */
typedef struct Bm25View
{
	Relation	index;
	bool		opened;			/* opened by us (another column's index) */
	char	   *column;
	Bm25MetaPageData meta;
	int			nsegs;
	Bm25SegReader *segs;
	LanceAnalyzer *an;
	LanceAnalyzer *prefix_an;
	Bm25Scorer	scorer;
} Bm25View;

typedef struct Bm25Result
{
	ItemPointerData tid;
	double		score;
} Bm25Result;

typedef struct Bm25AccEntry
{
	ItemPointerData tid;		/* hash key */
	double		score;
	uint64		mask;
} Bm25AccEntry;

/* Fast-path term: postings of one term in each segment */
typedef struct Bm25FastTerm
{
	double		idf;
	uint8	  **post;			/* per segment, NULL if absent */
	size_t	   *plen;
	uint32		offset;			/* phrase offset */
} Bm25FastTerm;

typedef struct Bm25ScanOpaqueData
{
	MemoryContext cxt;			/* per rescan */
	Bm25View   *views;
	int			nviews;
	int			viewcap;
	bool		locked;

	/* query of the ORDER BY, kept for Bm25LastScore */
	Datum		oquery;
	Oid			oqtype;
	bool		registered;
	struct Bm25ScanOpaqueData *next_active;
	double		last_score;
	bool		have_last;

	Bm25Result *res;
	int64		nres;
	int64		pos;

	/* fast path */
	bool		fast;
	bool		exhausted;
	int			k;
	Bm25FastTerm *fterms;
	int			nfterms;
	bool		require_all;
	int			phrase_slop;
	uint32	   *phrase_offsets;
	double		weight;

	/* over all rescans, for EXPLAIN ANALYZE (am/scanreport.h) */
	int64		loops;
	int64		fast_loops;		/* block-max WAND top-k */
	int64		topk_rounds;	/* top-k re-runs with a larger k */
	int64		candidates;		/* rows scored or matched */
	int64		returned;
	int64		seg_searches;	/* segment searches of the top-k path */
	int64		scored;			/* docs fully scored by the top-k path */
} Bm25ScanOpaqueData;

typedef Bm25ScanOpaqueData *Bm25ScanOpaque;

static Bm25ScanOpaque active_scans = NULL;

static const PostingHooks bm25_hooks = {Bm25Palloc, Bm25Pfree, NULL, NULL};

/* ---------------- registry of running scans (for <&> outside the index) ---------------- */

static void
Bm25Unregister(Bm25ScanOpaque so)
{
	Bm25ScanOpaque *pp;

	if (!so->registered)
		return;
	for (pp = &active_scans; *pp; pp = &(*pp)->next_active)
		if (*pp == so)
		{
			*pp = so->next_active;
			break;
		}
	so->registered = false;
}

static void
Bm25UnregisterCallback(void *arg)
{
	Bm25Unregister((Bm25ScanOpaque) arg);
}

static bool
Bm25QueryEqual(Datum a, Datum b)
{
	struct varlena *x = PG_DETOAST_DATUM_PACKED(a);
	struct varlena *y = PG_DETOAST_DATUM_PACKED(b);

	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

bool
Bm25LastScore(Datum query, Oid typid, double *score)
{
	for (Bm25ScanOpaque so = active_scans; so; so = so->next_active)
		if (so->have_last && so->oqtype == typid &&
			Bm25QueryEqual(so->oquery, query))
		{
			*score = so->last_score;
			return true;
		}
	return false;
}

/* ---------------- views ---------------- */

static void
Bm25ViewOpen(Bm25View *v, Relation index, bool opened)
{
	Oid			heapoid = index->rd_index->indrelid;
	AttrNumber	attno = index->rd_index->indkey.values[0];

	memset(v, 0, sizeof(*v));
	v->index = index;
	v->opened = opened;
	v->column = attno != 0 ? get_attname(heapoid, attno, false) : NULL;
	v->an = Bm25GetAnalyzer(index, false);
	v->prefix_an = Bm25GetAnalyzer(index, true);
	Bm25ReadMeta(index, &v->meta);
	v->segs = palloc0(sizeof(Bm25SegReader) * (v->meta.nsegments + 1));
	for (uint32 i = 0; i < v->meta.nsegments; i++)
		Bm25SegOpen(&v->segs[v->nsegs++], index, &v->meta.segs[i]);
	/* lancedb.fast_search: the delta is what LanceDB calls unindexed rows */
	if (v->meta.delta_ndocs > v->meta.delta_ndeleted && !lancedb_fast_search)
		Bm25SegOpenDelta(&v->segs[v->nsegs++], index, &v->meta);
	bm25_scorer_init(&v->scorer, BM25_DEFAULT_K1, BM25_DEFAULT_B,
					 v->meta.ndocs ? (double) v->meta.total_len / v->meta.ndocs : 1.0);
}

static void
Bm25ViewClose(Bm25View *v)
{
	for (int i = 0; i < v->nsegs; i++)
		Bm25SegClose(&v->segs[i]);
	v->nsegs = 0;
	if (v->opened)
	{
		UnlockPage(v->index, BM25_LOCK_STRUCT, ShareLock);
		index_close(v->index, AccessShareLock);
	}
}

static void
Bm25ScanRelease(Bm25ScanOpaque so, Relation index)
{
	for (int i = 0; i < so->nviews; i++)
		Bm25ViewClose(&so->views[i]);
	so->nviews = 0;
	if (so->locked)
		UnlockPage(index, BM25_LOCK_STRUCT, ShareLock);
	so->locked = false;
}

/* The view of the index on `column` (NULL or "": the scanned index). */
static Bm25View *
Bm25ViewFor(IndexScanDesc scan, const char *column)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	List	   *indexes;
	ListCell   *lc;
	Oid			amoid;

	if (column == NULL || column[0] == '\0')
		return &so->views[0];
	for (int i = 0; i < so->nviews; i++)
		if (so->views[i].column && strcmp(so->views[i].column, column) == 0)
			return &so->views[i];
	if (scan->heapRelation == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("no lance_bm25 index on column \"%s\"", column)));
	amoid = get_am_oid("lance_bm25", false);
	indexes = RelationGetIndexList(scan->heapRelation);
	foreach(lc, indexes)
	{
		Oid			ioid = lfirst_oid(lc);
		Relation	idx;

		if (ioid == RelationGetRelid(scan->indexRelation))
			continue;
		idx = index_open(ioid, AccessShareLock);
		if (idx->rd_rel->relam == amoid && idx->rd_index->indnatts == 1 &&
			idx->rd_index->indkey.values[0] != 0 &&
			idx->rd_indpred == NIL &&
			strcmp(get_attname(idx->rd_index->indrelid,
							   idx->rd_index->indkey.values[0], false), column) == 0)
		{
			if (so->nviews == so->viewcap)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many columns in one lance_bm25 query")));
			LockPage(idx, BM25_LOCK_STRUCT, ShareLock);
			Bm25ViewOpen(&so->views[so->nviews], idx, true);
			return &so->views[so->nviews++];
		}
		index_close(idx, AccessShareLock);
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("no lance_bm25 index on column \"%s\" of \"%s\"", column,
					RelationGetRelationName(scan->heapRelation)),
			 errhint("multi_match and column-qualified queries need a lance_bm25 index on each column.")));
	return NULL;
}

/* ---------------- query parsing ---------------- */

FtsNode *
Bm25ParseQuery(Datum query, Oid typid)
{
	LanceMem	mem = {Bm25Palloc, NULL};
	char		errbuf[256];
	FtsQuery   *q;

	if (typid == JSONBOID)
	{
		Jsonb	   *jb = DatumGetJsonbP(query);
		char	   *js = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

		q = fts_query_from_json(js, strlen(js), 0, &mem, errbuf, sizeof(errbuf));
		if (q == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid full-text query: %s", errbuf)));
		return q->root;
	}
	else
	{
		text	   *t = DatumGetTextPP(query);
		FtsNode    *n = palloc0(sizeof(FtsNode));

		/* a plain string is LanceDB's MatchQuery: its terms, OR */
		n->kind = FTS_MATCH;
		n->boost = 1.0;
		n->u.match.terms = text_to_cstring(t);
		n->u.match.column = NULL;
		n->u.match.fuzziness = 0;
		n->u.match.max_expansions = FTS_DEFAULT_MAX_EXPANSIONS;
		n->u.match.op = FTS_OP_OR;
		return n;
	}
}

/* ---------------- term resolution ---------------- */

static bool
Bm25CollectExpansion(void *arg, const char *term, size_t len, int distance)
{
	Bm25ExpandCtx *c = arg;

	for (int i = 0; i < c->n; i++)
		if (c->items[i].len == len && memcmp(c->items[i].term, term, len) == 0)
		{
			c->items[i].distance = Min(c->items[i].distance, distance);
			return true;
		}
	if (c->n == c->cap)
	{
		c->cap = c->cap ? c->cap * 2 : 16;
		c->items = c->items ? repalloc(c->items, sizeof(Bm25Expansion) * c->cap) :
			palloc(sizeof(Bm25Expansion) * c->cap);
	}
	c->items[c->n].term = pnstrdup(term, len);
	c->items[c->n].len = (uint32) len;
	c->items[c->n].distance = distance;
	c->n++;
	return true;
}

static int
Bm25ExpansionCmp(const void *a, const void *b)
{
	const Bm25Expansion *x = a;
	const Bm25Expansion *y = b;
	int			c;

	if (x->distance != y->distance)
		return x->distance - y->distance;
	c = memcmp(x->term, y->term, Min(x->len, y->len));
	if (c)
		return c;
	return (int) x->len - (int) y->len;
}

/*
 * Expand one analysed token over every segment's dictionary (each capped
 * at max_expansions; the union is capped again by distance then term, so
 * the result is what one global dictionary would give).
 */
void
Bm25Expand(Bm25SegReader *segs, int nsegs, const char *tok, uint32 len,
		   int fuzziness, bool prefix, uint32 prefix_length,
		   uint32 max_expansions, Bm25ExpandCtx *out)
{
	LanceMem	mem = {Bm25Palloc, Bm25Pfree};
	char		errbuf[256];

	memset(out, 0, sizeof(*out));
	for (int s = 0; s < nsegs; s++)
	{
		LanceTermIter it;

		Bm25SegTermIter(&segs[s], &it);
		if (prefix)
			lance_prefix_expand(tok, len, max_expansions, &it,
								Bm25CollectExpansion, out, NULL);
		else if (lance_fuzzy_expand(tok, len, fuzziness, prefix_length,
									max_expansions, &it, Bm25CollectExpansion,
									out, &mem, NULL, errbuf, sizeof(errbuf)) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("fuzzy expansion of \"%s\" failed: %s", tok, errbuf)));
	}
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(Bm25Expansion), Bm25ExpansionCmp);
	if ((uint32) out->n > max_expansions)
		out->n = (int) max_expansions;
}

static double
Bm25GlobalIdf(Bm25View *v, const char *term, uint32 len, uint8 **post, size_t *plen)
{
	uint64		df = 0;

	for (int s = 0; s < v->nsegs; s++)
	{
		uint32		sdf = 0;

		post[s] = Bm25SegPostings(&v->segs[s], term, len, &plen[s], &sdf);
		if (post[s])
			df += sdf;
	}
	if (df == 0)
		return 0;
	return bm25_idf(v->meta.ndocs > df ? v->meta.ndocs : df, df);
}

/* ---------------- accumulators (general path) ---------------- */

static HTAB *
Bm25AccCreate(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(ItemPointerData);
	ctl.entrysize = sizeof(Bm25AccEntry);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("lance_bm25 scores", 256, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

typedef struct Bm25EmitCtx
{
	Bm25SegReader *seg;
	HTAB	   *acc;
	uint64		bit;
} Bm25EmitCtx;

static void
Bm25Emit(uint64 key, double score, void *arg)
{
	Bm25EmitCtx *c = arg;
	ItemPointerData tid;
	Bm25AccEntry *e;
	bool		found;

	Bm25SegTid(c->seg, (uint32) key, &tid);
	e = hash_search(c->acc, &tid, HASH_ENTER, &found);
	if (!found)
	{
		e->score = 0;
		e->mask = 0;
	}
	e->score += score;
	e->mask |= c->bit;
}

static uint32
Bm25DocLenCb(uint32 doc, void *arg)
{
	return Bm25SegDocLen((Bm25SegReader *) arg, doc);
}

static bool
Bm25AliveCb(uint32 doc, void *arg)
{
	return Bm25SegAlive((Bm25SegReader *) arg, doc);
}

static void
Bm25CheckRc(Relation index, int rc)
{
	if (rc == POSTING_ERR_CORRUPT)
		Bm25CorruptError(index, "bad posting list");
	if (rc != POSTING_OK)
		elog(ERROR, "lance_bm25: query evaluation failed (%d)", rc);
}

static void
Bm25InterruptCb(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

static const PostingHooks bm25_query_hooks = {Bm25Palloc, Bm25Pfree, Bm25InterruptCb, NULL};

static void
Bm25SetupQuery(Bm25Query *q, Bm25View *v, Bm25SegReader *seg)
{
	bm25_query_init(q);
	q->scorer = v->scorer;
	q->doclen = Bm25DocLenCb;
	q->doclen_arg = seg;
	if (!seg->in_memory && seg->info.ndeleted > 0)
	{
		q->alive = Bm25AliveCb;
		q->alive_arg = seg;
	}
	q->hooks = &bm25_query_hooks;
}

/* Score one term (all docs containing it) into acc with weight, mask bit. */
static void
Bm25ScoreTerm(Bm25View *v, const char *term, uint32 len, double weight,
			  HTAB *acc, uint64 bit)
{
	uint8	  **post = palloc0(sizeof(uint8 *) * Max(v->nsegs, 1));
	size_t	   *plen = palloc0(sizeof(size_t) * Max(v->nsegs, 1));
	double		idf = Bm25GlobalIdf(v, term, len, post, plen);

	for (int s = 0; s < v->nsegs; s++)
	{
		PostingIter it;
		Bm25Term	t;
		Bm25Query	q;
		Bm25EmitCtx ec = {&v->segs[s], acc, bit};

		if (post[s] == NULL)
			continue;
		if (posting_iter_init(&it, post[s], plen[s], &bm25_hooks) != POSTING_OK)
			Bm25CorruptError(v->index, "bad posting list");
		t.iter = &it;
		t.idf = idf;
		t.weight = weight;
		Bm25SetupQuery(&q, v, &v->segs[s]);
		q.terms = &t;
		q.nterms = 1;
		Bm25CheckRc(v->index, bm25_score_all(&q, Bm25Emit, &ec, NULL));
		posting_iter_free(&it);
	}
}

static HTAB *Bm25Eval(IndexScanDesc scan, const FtsNode *node, int depth);

void
Bm25AnalyzeQuery(LanceAnalyzer *an, const char *text, bool dedup, Bm25Tokens *out)
{
	LanceTokenArray toks;
	const char *err;

	lance_token_array_init(&toks, Bm25Palloc, Bm25Pfree);
	if (!lance_analyze(an, text, strlen(text), 0, &toks, NULL, &err))
		elog(ERROR, "lance_bm25: %s", err);
	out->n = 0;
	out->tok = palloc(sizeof(char *) * Max(toks.ntokens, 1));
	out->len = palloc(sizeof(uint32) * Max(toks.ntokens, 1));
	out->pos = palloc(sizeof(uint32) * Max(toks.ntokens, 1));
	for (uint32 i = 0; i < toks.ntokens; i++)
	{
		const char *s = lance_token_text(&toks, i);
		uint32		l = toks.tokens[i].len;
		bool		dup = false;

		if (dedup)
			for (int j = 0; j < out->n; j++)
				if (out->len[j] == l && memcmp(out->tok[j], s, l) == 0)
					dup = true;
		if (dup)
			continue;
		out->tok[out->n] = pnstrdup(s, l);
		out->len[out->n] = l;
		out->pos[out->n] = toks.tokens[i].position;
		out->n++;
	}
}

static HTAB *
Bm25EvalMatch(IndexScanDesc scan, const char *terms, const char *column,
			  int fuzziness, uint32 max_expansions, FtsOperator op,
			  uint32 prefix_length, bool prefix, double boost)
{
	Bm25View   *v = Bm25ViewFor(scan, column);
	HTAB	   *acc = Bm25AccCreate();
	Bm25Tokens	t;

	Bm25AnalyzeQuery(prefix ? v->prefix_an : v->an, terms, true, &t);
	if (t.n > 64 && op == FTS_OP_AND)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("an AND match query may have at most 64 terms")));
	for (int i = 0; i < t.n; i++)
	{
		uint64		bit = op == FTS_OP_AND ? ((uint64) 1 << i) : 1;
		int			fz = fuzziness == FTS_FUZZINESS_AUTO ?
			fts_auto_fuzziness(t.tok[i], t.len[i]) : fuzziness;

		if (prefix || fz > 0)
		{
			Bm25ExpandCtx ex;

			Bm25Expand(v->segs, v->nsegs, t.tok[i], t.len[i], fz, prefix,
					   prefix_length, max_expansions, &ex);
			for (int j = 0; j < ex.n; j++)
				Bm25ScoreTerm(v, ex.items[j].term, ex.items[j].len, boost, acc, bit);
		}
		else
			Bm25ScoreTerm(v, t.tok[i], t.len[i], boost, acc, bit);
	}
	if (op == FTS_OP_AND && t.n > 0)
	{
		uint64		all = t.n == 64 ? ~(uint64) 0 : (((uint64) 1 << t.n) - 1);
		HASH_SEQ_STATUS st;
		Bm25AccEntry *e;

		hash_seq_init(&st, acc);
		while ((e = hash_seq_search(&st)) != NULL)
			if (e->mask != all)
				hash_search(acc, &e->tid, HASH_REMOVE, NULL);
	}
	return acc;
}

static void
Bm25RequirePositions(Bm25View *v)
{
	if (!(v->meta.flags & BM25_META_POSITIONS))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("phrase queries need positions, but index \"%s\" was built without them",
						RelationGetRelationName(v->index)),
				 errhint("Create the index WITH (with_position = true).")));
}

static HTAB *
Bm25EvalPhrase(IndexScanDesc scan, const char *terms, const char *column,
			   uint32 slop, double boost)
{
	Bm25View   *v = Bm25ViewFor(scan, column);
	HTAB	   *acc = Bm25AccCreate();
	Bm25Tokens	t;
	uint8	 ***post;
	size_t	  **plen;
	double	   *idf;
	uint32	   *offsets;

	Bm25RequirePositions(v);
	if (slop > BM25_MAX_SLOP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("phrase slop %u is above the limit %d", slop, BM25_MAX_SLOP)));
	Bm25AnalyzeQuery(v->an, terms, false, &t);
	if (t.n == 0)
		return acc;
	if (t.n == 1)
	{
		Bm25ScoreTerm(v, t.tok[0], t.len[0], boost, acc, 1);
		return acc;
	}
	post = palloc(sizeof(uint8 **) * t.n);
	plen = palloc(sizeof(size_t *) * t.n);
	idf = palloc(sizeof(double) * t.n);
	offsets = palloc(sizeof(uint32) * t.n);
	for (int i = 0; i < t.n; i++)
	{
		post[i] = palloc0(sizeof(uint8 *) * Max(v->nsegs, 1));
		plen[i] = palloc0(sizeof(size_t) * Max(v->nsegs, 1));
		idf[i] = Bm25GlobalIdf(v, t.tok[i], t.len[i], post[i], plen[i]);
		offsets[i] = t.pos[i] - t.pos[0];
	}
	for (int s = 0; s < v->nsegs; s++)
	{
		PostingIter *its = palloc(sizeof(PostingIter) * t.n);
		Bm25Term   *bt = palloc(sizeof(Bm25Term) * t.n);
		Bm25Query	q;
		Bm25EmitCtx ec = {&v->segs[s], acc, 1};
		bool		all = true;

		for (int i = 0; i < t.n; i++)
			if (post[i][s] == NULL)
				all = false;
		if (!all)
			continue;
		for (int i = 0; i < t.n; i++)
		{
			if (posting_iter_init(&its[i], post[i][s], plen[i][s], &bm25_hooks) != POSTING_OK)
				Bm25CorruptError(v->index, "bad posting list");
			bt[i].iter = &its[i];
			bt[i].idf = idf[i];
			bt[i].weight = boost;
		}
		Bm25SetupQuery(&q, v, &v->segs[s]);
		q.terms = bt;
		q.nterms = t.n;
		q.require_all = true;
		q.phrase_slop = (int) slop;
		q.phrase_offsets = offsets;
		Bm25CheckRc(v->index, bm25_score_all(&q, Bm25Emit, &ec, NULL));
		for (int i = 0; i < t.n; i++)
			posting_iter_free(&its[i]);
	}
	return acc;
}

static void
Bm25AccScale(HTAB *acc, double f)
{
	HASH_SEQ_STATUS st;
	Bm25AccEntry *e;

	if (f == 1.0)
		return;
	hash_seq_init(&st, acc);
	while ((e = hash_seq_search(&st)) != NULL)
		e->score *= f;
}

/* dst += src (union) */
static void
Bm25AccAdd(HTAB *dst, HTAB *src)
{
	HASH_SEQ_STATUS st;
	Bm25AccEntry *e;

	hash_seq_init(&st, src);
	while ((e = hash_seq_search(&st)) != NULL)
	{
		bool		found;
		Bm25AccEntry *d = hash_search(dst, &e->tid, HASH_ENTER, &found);

		if (!found)
		{
			d->score = 0;
			d->mask = 0;
		}
		d->score += e->score;
	}
}

static HTAB *
Bm25Eval(IndexScanDesc scan, const FtsNode *node, int depth)
{
	HTAB	   *acc;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	switch (node->kind)
	{
		case FTS_MATCH:
			return Bm25EvalMatch(scan, node->u.match.terms, node->u.match.column,
								 node->u.match.fuzziness, node->u.match.max_expansions,
								 node->u.match.op, node->u.match.prefix_length,
								 node->u.match.prefix, node->boost);
		case FTS_PHRASE:
			return Bm25EvalPhrase(scan, node->u.phrase.terms, node->u.phrase.column,
								  node->u.phrase.slop, node->boost);
		case FTS_BOOST:
			{
				HTAB	   *neg;
				HASH_SEQ_STATUS st;
				Bm25AccEntry *e;

				/* Elasticsearch's boosting: matches of negative are scaled */
				acc = Bm25Eval(scan, node->u.boosting.positive, depth + 1);
				neg = Bm25Eval(scan, node->u.boosting.negative, depth + 1);
				hash_seq_init(&st, acc);
				while ((e = hash_seq_search(&st)) != NULL)
					if (hash_search(neg, &e->tid, HASH_FIND, NULL) != NULL)
						e->score *= node->u.boosting.negative_boost;
				hash_destroy(neg);
				return acc;
			}
		case FTS_MULTI_MATCH:
			acc = Bm25AccCreate();
			for (int i = 0; i < node->u.multi.ncolumns; i++)
			{
				HTAB	   *one = Bm25EvalMatch(scan, node->u.multi.query,
												node->u.multi.columns[i], 0,
												FTS_DEFAULT_MAX_EXPANSIONS,
												node->u.multi.op, 0, false,
												node->u.multi.boosts[i]);

				Bm25AccAdd(acc, one);
				hash_destroy(one);
			}
			return acc;
		case FTS_BOOLEAN:
			{
				HASH_SEQ_STATUS st;
				Bm25AccEntry *e;

				if (node->u.boolean.nmust + node->u.boolean.nshould == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("boolean query must have at least one should/must query")));
				if (node->u.boolean.nmust > 0)
				{
					acc = Bm25Eval(scan, node->u.boolean.must[0], depth + 1);
					for (int i = 1; i < node->u.boolean.nmust; i++)
					{
						HTAB	   *m = Bm25Eval(scan, node->u.boolean.must[i], depth + 1);

						hash_seq_init(&st, acc);
						while ((e = hash_seq_search(&st)) != NULL)
						{
							Bm25AccEntry *o = hash_search(m, &e->tid, HASH_FIND, NULL);

							if (o == NULL)
								hash_search(acc, &e->tid, HASH_REMOVE, NULL);
							else
								e->score += o->score;
						}
						hash_destroy(m);
					}
					for (int i = 0; i < node->u.boolean.nshould; i++)
					{
						HTAB	   *sh = Bm25Eval(scan, node->u.boolean.should[i], depth + 1);

						hash_seq_init(&st, acc);
						while ((e = hash_seq_search(&st)) != NULL)
						{
							Bm25AccEntry *o = hash_search(sh, &e->tid, HASH_FIND, NULL);

							if (o != NULL)
								e->score += o->score;
						}
						hash_destroy(sh);
					}
				}
				else
				{
					acc = Bm25AccCreate();
					for (int i = 0; i < node->u.boolean.nshould; i++)
					{
						HTAB	   *sh = Bm25Eval(scan, node->u.boolean.should[i], depth + 1);

						Bm25AccAdd(acc, sh);
						hash_destroy(sh);
					}
				}
				for (int i = 0; i < node->u.boolean.nmust_not; i++)
				{
					HTAB	   *mn = Bm25Eval(scan, node->u.boolean.must_not[i], depth + 1);

					hash_seq_init(&st, mn);
					while ((e = hash_seq_search(&st)) != NULL)
						hash_search(acc, &e->tid, HASH_REMOVE, NULL);
					hash_destroy(mn);
				}
				Bm25AccScale(acc, node->boost);
				return acc;
			}
	}
	elog(ERROR, "lance_bm25: unknown query node %d", (int) node->kind);
	return NULL;
}

static int
Bm25ResultCmp(const void *a, const void *b)
{
	const Bm25Result *x = a;
	const Bm25Result *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return ItemPointerCompare((ItemPointer) &x->tid, (ItemPointer) &y->tid);
}

/* results = docs of `filter` (NULL: of `rank`) scored by `rank`, sorted */
static void
Bm25Collect(Bm25ScanOpaque so, HTAB *rank, HTAB *filter)
{
	HTAB	   *src = filter ? filter : rank;
	long		n = hash_get_num_entries(src);
	HASH_SEQ_STATUS st;
	Bm25AccEntry *e;

	so->res = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(Bm25Result) * Max(n, 1));
	so->nres = 0;
	hash_seq_init(&st, src);
	while ((e = hash_seq_search(&st)) != NULL)
	{
		Bm25Result *r = &so->res[so->nres++];

		r->tid = e->tid;
		if (filter && rank)
		{
			Bm25AccEntry *o = hash_search(rank, &e->tid, HASH_FIND, NULL);

			r->score = o ? o->score : 0.0;
		}
		else
			r->score = e->score;
	}
	if (so->nres > 1)
		qsort(so->res, so->nres, sizeof(Bm25Result), Bm25ResultCmp);
}

/* ---------------- fast path ---------------- */

static bool
Bm25FastEligible(IndexScanDesc scan, const FtsNode *n)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	Bm25View   *own = &so->views[0];
	const char *col;

	if (n->kind == FTS_MATCH)
	{
		if (n->u.match.fuzziness != 0 || n->u.match.prefix)
			return false;
		col = n->u.match.column;
	}
	else if (n->kind == FTS_PHRASE)
		col = n->u.phrase.column;
	else
		return false;
	return col == NULL || col[0] == '\0' ||
		(own->column && strcmp(col, own->column) == 0);
}

static void
Bm25FastPrepare(IndexScanDesc scan, const FtsNode *n)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	Bm25View   *v = &so->views[0];
	Bm25Tokens	t;
	bool		phrase = n->kind == FTS_PHRASE;

	if (phrase)
	{
		Bm25RequirePositions(v);
		if (n->u.phrase.slop > BM25_MAX_SLOP)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("phrase slop %u is above the limit %d",
							n->u.phrase.slop, BM25_MAX_SLOP)));
	}
	Bm25AnalyzeQuery(v->an, phrase ? n->u.phrase.terms : n->u.match.terms,
					 !phrase, &t);
	so->nfterms = t.n;
	so->fterms = palloc0(sizeof(Bm25FastTerm) * Max(t.n, 1));
	so->phrase_offsets = palloc(sizeof(uint32) * Max(t.n, 1));
	for (int i = 0; i < t.n; i++)
	{
		Bm25FastTerm *ft = &so->fterms[i];

		ft->post = palloc0(sizeof(uint8 *) * Max(v->nsegs, 1));
		ft->plen = palloc0(sizeof(size_t) * Max(v->nsegs, 1));
		ft->idf = Bm25GlobalIdf(v, t.tok[i], t.len[i], ft->post, ft->plen);
		so->phrase_offsets[i] = t.pos[i] - t.pos[0];
	}
	so->require_all = phrase ? t.n > 1 : n->u.match.op == FTS_OP_AND;
	so->phrase_slop = phrase && t.n > 1 ? (int) n->u.phrase.slop : -1;
	so->weight = n->boost;
	so->fast = true;
	so->k = 10;
}

/* Top-k over all segments with one heap; fills so->res from `skip` on. */
static void
Bm25FastSearch(IndexScanDesc scan, int64 skip)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	Bm25View   *v = &so->views[0];
	Bm25TopK	topk;
	Bm25Hit    *hits;
	int			nhits;
	Bm25Stats	stats = {0};

	if (bm25_topk_init(&topk, so->k, &bm25_hooks) != POSTING_OK)
		elog(ERROR, "lance_bm25: out of memory");
	for (int s = 0; s < v->nsegs && so->nfterms > 0; s++)
	{
		PostingIter *its = palloc(sizeof(PostingIter) * so->nfterms);
		Bm25Term   *bt = palloc(sizeof(Bm25Term) * so->nfterms);
		uint32	   *offs = palloc(sizeof(uint32) * so->nfterms);
		int			nt = 0;
		Bm25Query	q;

		for (int i = 0; i < so->nfterms; i++)
		{
			Bm25FastTerm *ft = &so->fterms[i];

			if (ft->post[s] == NULL)
			{
				if (so->require_all)
				{
					nt = 0;
					break;
				}
				continue;
			}
			if (posting_iter_init(&its[nt], ft->post[s], ft->plen[s], &bm25_hooks) != POSTING_OK)
				Bm25CorruptError(v->index, "bad posting list");
			bt[nt].iter = &its[nt];
			bt[nt].idf = ft->idf;
			bt[nt].weight = so->weight;
			offs[nt] = so->phrase_offsets[i];
			nt++;
		}
		if (nt > 0)
		{
			Bm25SetupQuery(&q, v, &v->segs[s]);
			q.terms = bt;
			q.nterms = nt;
			q.require_all = so->require_all;
			q.phrase_slop = so->phrase_slop;
			q.phrase_offsets = so->phrase_slop >= 0 ? offs : NULL;
			q.key_base = (uint64) s << 32;
			Bm25CheckRc(v->index, bm25_topk_search(&q, &topk, &stats));
			so->seg_searches++;
			for (int i = 0; i < nt; i++)
				posting_iter_free(&its[i]);
		}
		pfree(its);
		pfree(bt);
		pfree(offs);
	}
	so->scored += (int64) stats.scored;
	hits = palloc(sizeof(Bm25Hit) * Max(topk.count, 1));
	nhits = bm25_topk_sorted(&topk, hits);
	bm25_topk_free(&topk);
	so->exhausted = nhits < so->k;
	so->res = palloc(sizeof(Bm25Result) * Max(nhits, 1));
	so->nres = 0;
	for (int i = (int) Min(skip, nhits); i < nhits; i++)
	{
		uint32		seg = (uint32) (hits[i].key >> 32);

		Bm25SegTid(&v->segs[seg], (uint32) hits[i].key, &so->res[so->nres].tid);
		so->res[so->nres].score = hits[i].score;
		so->nres++;
	}
	so->pos = 0;
	pfree(hits);
}

/* ---------------- AM callbacks ---------------- */

IndexScanDesc
bm25beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	Bm25ScanOpaque so = palloc0(sizeof(Bm25ScanOpaqueData));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_bm25 scan",
									ALLOCSET_DEFAULT_SIZES);
	so->viewcap = 16;
	so->views = palloc0(sizeof(Bm25View) * so->viewcap);
	scan->opaque = so;
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	/* leave the registry if the executor's memory goes away on error */
	cb->func = Bm25UnregisterCallback;
	cb->arg = so;
	MemoryContextRegisterResetCallback(so->cxt, cb);
	return scan;
}

static void
Bm25ScanReset(IndexScanDesc scan)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;

	Bm25Unregister(so);
	Bm25ScanRelease(so, scan->indexRelation);
	MemoryContextReset(so->cxt);
	/* the reset removed the callback: register it again */
	{
		MemoryContextCallback *cb = MemoryContextAllocZero(so->cxt, sizeof(MemoryContextCallback));

		cb->func = Bm25UnregisterCallback;
		cb->arg = so;
		MemoryContextRegisterResetCallback(so->cxt, cb);
	}
	so->res = NULL;
	so->nres = so->pos = 0;
	so->fast = false;
	so->exhausted = true;
	so->have_last = false;
	so->oquery = (Datum) 0;
}

void
bm25rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
		   int norderbys)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;
	MemoryContext old;
	HTAB	   *filter = NULL;
	HTAB	   *rank = NULL;
	const FtsNode *onode = NULL;
	bool		key_is_order = false;

	Bm25ScanReset(scan);
	so->loops++;
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	old = MemoryContextSwitchTo(so->cxt);
	LockPage(scan->indexRelation, BM25_LOCK_STRUCT, ShareLock);
	so->locked = true;
	Bm25ViewOpen(&so->views[0], scan->indexRelation, false);
	so->nviews = 1;

	for (int i = 0; i < scan->numberOfKeys; i++)
		if (scan->keyData[i].sk_flags & SK_ISNULL)
		{
			/* col @@@ NULL matches nothing */
			so->res = NULL;
			so->nres = 0;
			MemoryContextSwitchTo(old);
			return;
		}

	if (scan->numberOfOrderBys > 0 && !(scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		ScanKey		ok = &scan->orderByData[0];

		so->oqtype = ok->sk_subtype;
		so->oquery = PointerGetDatum(PG_DETOAST_DATUM_COPY(ok->sk_argument));
		onode = Bm25ParseQuery(so->oquery, so->oqtype);
		so->next_active = active_scans;
		active_scans = so;
		so->registered = true;
		key_is_order = scan->numberOfKeys == 1 &&
			scan->keyData[0].sk_subtype == so->oqtype &&
			Bm25QueryEqual(scan->keyData[0].sk_argument, so->oquery);
	}

	if (onode && (scan->numberOfKeys == 0 || key_is_order) &&
		Bm25FastEligible(scan, onode))
	{
		Bm25FastPrepare(scan, onode);
		Bm25FastSearch(scan, 0);
		so->fast_loops++;
		so->topk_rounds++;
	}
	else
	{
		for (int i = 0; i < scan->numberOfKeys; i++)
		{
			ScanKey		k = &scan->keyData[i];
			HTAB	   *m;

			if (key_is_order)
				break;
			m = Bm25Eval(scan, Bm25ParseQuery(k->sk_argument, k->sk_subtype), 0);
			if (filter == NULL)
				filter = m;
			else
			{
				HASH_SEQ_STATUS st;
				Bm25AccEntry *e;

				hash_seq_init(&st, filter);
				while ((e = hash_seq_search(&st)) != NULL)
				{
					Bm25AccEntry *o = hash_search(m, &e->tid, HASH_FIND, NULL);

					if (o == NULL)
						hash_search(filter, &e->tid, HASH_REMOVE, NULL);
					else
						e->score += o->score;
				}
			}
		}
		if (onode)
			rank = Bm25Eval(scan, onode, 0);
		if (rank || filter)
			Bm25Collect(so, rank, filter);
		so->candidates += so->nres;
	}
	MemoryContextSwitchTo(old);
}

bool
bm25gettuple(IndexScanDesc scan, ScanDirection dir)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;

	if (so->pos >= so->nres && so->fast && !so->exhausted)
	{
		MemoryContext old = MemoryContextSwitchTo(so->cxt);
		int64		done = (int64) so->k;

		so->k = so->k >= INT_MAX / 10 ? INT_MAX : so->k * 10;
		Bm25FastSearch(scan, done);
		so->topk_rounds++;
		MemoryContextSwitchTo(old);
	}
	if (so->pos >= so->nres)
		return false;
	scan->xs_heaptid = so->res[so->pos].tid;
	scan->xs_recheck = false;
	if (scan->numberOfOrderBys > 0)
	{
		scan->xs_orderbyvals[0] = Float8GetDatum(-so->res[so->pos].score);
		scan->xs_orderbynulls[0] = false;
		scan->xs_recheckorderby = false;
	}
	so->last_score = so->res[so->pos].score;
	so->have_last = true;
	so->pos++;
	so->returned++;
	return true;
}

int64
bm25getbitmap(IndexScanDesc scan, TIDBitmap *tbm)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;

	for (int64 i = 0; i < so->nres; i++)
		tbm_add_tuples(tbm, &so->res[i].tid, 1, false);
	so->returned += so->nres;
	return so->nres;
}

void
bm25endscan(IndexScanDesc scan)
{
	Bm25ScanOpaque so = (Bm25ScanOpaque) scan->opaque;

	if (so->loops > 0)
	{
		LanceScanCounter c[] = {
			{"top-k scans", so->fast_loops},
			{"top-k rounds", so->topk_rounds},
			{"segment searches", so->seg_searches},
			{"docs scored", so->scored},
			{"rows matched", so->candidates},
			{"rows returned", so->returned},
		};

		lance_scan_report(scan->indexRelation, "lance_bm25", so->loops, c, lengthof(c));
	}
	Bm25Unregister(so);
	Bm25ScanRelease(so, scan->indexRelation);
	MemoryContextDelete(so->cxt);
	pfree(so->views);
	pfree(so);
	scan->opaque = NULL;
}
