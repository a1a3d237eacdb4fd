/*
 * bm25build.c
 *	  lance_bm25 build: tokenise the heap, invert in memory (within
 *	  maintenance_work_mem; a full inverter is written as one segment and a
 *	  new one started), write segments as streams, then the meta page.
 *	  The in-memory inverter is shared with delta flushes and merges.
 */
#include "postgres.h"

#include "access/tableam.h"
#include "am/bm25am.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/hashfn.h"
#include "index/postings.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "access/xloginsert.h"
#include "storage/lmgr.h"
#include "storage/smgr.h"
#include "utils/rel.h"

/* ---------------- inverter ---------------- */

Bm25Inverter *
Bm25InverterCreate(bool positions)
{
	MemoryContext mcxt = AllocSetContextCreate(CurrentMemoryContext,
											   "lance_bm25 inverter",
											   ALLOCSET_DEFAULT_SIZES);
	Bm25Inverter *inv = MemoryContextAllocZero(mcxt, sizeof(Bm25Inverter));

	inv->mcxt = mcxt;
	inv->positions = positions;
	inv->nslots = 1024;
	inv->slots = MemoryContextAllocZero(mcxt, sizeof(Bm25InvTerm *) * inv->nslots);
	inv->doccap = 1024;
	inv->doclens = MemoryContextAlloc(mcxt, sizeof(uint32) * inv->doccap);
	inv->tids = MemoryContextAlloc(mcxt, sizeof(ItemPointerData) * inv->doccap);
	return inv;
}

void
Bm25InverterFree(Bm25Inverter *inv)
{
	MemoryContextDelete(inv->mcxt);
}

static void
Bm25InverterGrow(Bm25Inverter *inv)
{
	uint32		n = inv->nslots * 2;
	Bm25InvTerm **slots = MemoryContextAllocHuge(inv->mcxt, sizeof(Bm25InvTerm *) * n);

	memset(slots, 0, sizeof(Bm25InvTerm *) * n);
	for (uint32 i = 0; i < inv->nslots; i++)
	{
		Bm25InvTerm *t = inv->slots[i];
		uint32		j;

		if (t == NULL)
			continue;
		j = t->hash & (n - 1);
		while (slots[j] != NULL)
			j = (j + 1) & (n - 1);
		slots[j] = t;
	}
	pfree(inv->slots);
	inv->slots = slots;
	inv->nslots = n;
	inv->mem += sizeof(Bm25InvTerm *) * n / 2;
}

static Bm25InvTerm *
Bm25InverterGet(Bm25Inverter *inv, const char *term, uint32 len, bool create)
{
	uint32		h = hash_bytes((const unsigned char *) term, len);
	uint32		j = h & (inv->nslots - 1);
	Bm25InvTerm *t;

	while ((t = inv->slots[j]) != NULL)
	{
		if (t->hash == h && t->len == len && memcmp(t->term, term, len) == 0)
			return t;
		j = (j + 1) & (inv->nslots - 1);
	}
	if (!create)
		return NULL;
	t = MemoryContextAllocZero(inv->mcxt, sizeof(Bm25InvTerm));
	t->term = MemoryContextAlloc(inv->mcxt, len + 1);
	memcpy(t->term, term, len);
	t->term[len] = '\0';
	t->len = len;
	t->hash = h;
	inv->slots[j] = t;
	inv->nterms++;
	inv->mem += sizeof(Bm25InvTerm) + len + 16;
	if (inv->nterms * 2 > inv->nslots)
		Bm25InverterGrow(inv);
	return t;
}

Bm25InvTerm *
Bm25InverterLookup(Bm25Inverter *inv, const char *term, uint32 len)
{
	return Bm25InverterGet(inv, term, len, false);
}

uint32
Bm25InverterNewDoc(Bm25Inverter *inv, ItemPointer tid, uint32 doclen)
{
	if (inv->ndocs == inv->doccap)
	{
		inv->doccap *= 2;
		inv->doclens = repalloc_huge(inv->doclens, sizeof(uint32) * inv->doccap);
		inv->tids = repalloc_huge(inv->tids, sizeof(ItemPointerData) * inv->doccap);
	}
	inv->doclens[inv->ndocs] = doclen;
	inv->tids[inv->ndocs] = *tid;
	inv->total_len += doclen;
	inv->mem += 10;
	return inv->ndocs++;
}

/* Add tf occurrences of a term to doc (docs must come in increasing order). */
void
Bm25InverterAddTerm(Bm25Inverter *inv, uint32 doc, const char *term,
					uint32 len, uint32 tf, const uint32 *pos)
{
	Bm25InvTerm *t = Bm25InverterGet(inv, term, len, true);

	if (t->ndocs > 0 && t->docs[t->ndocs - 1] == doc)
		t->tfs[t->ndocs - 1] += tf;
	else
	{
		if (t->ndocs == t->cap)
		{
			uint32		ncap = t->cap ? t->cap * 2 : 4;

			if (t->cap == 0)
			{
				t->docs = MemoryContextAlloc(inv->mcxt, sizeof(uint32) * ncap);
				t->tfs = MemoryContextAlloc(inv->mcxt, sizeof(uint32) * ncap);
			}
			else
			{
				t->docs = repalloc_huge(t->docs, sizeof(uint32) * ncap);
				t->tfs = repalloc_huge(t->tfs, sizeof(uint32) * ncap);
			}
			inv->mem += (ncap - t->cap) * 8;
			t->cap = ncap;
		}
		t->docs[t->ndocs] = doc;
		t->tfs[t->ndocs] = tf;
		t->ndocs++;
	}
	if (inv->positions && pos != NULL)
	{
		if (t->npos + tf > t->poscap)
		{
			uint32		ncap = Max(t->poscap * 2, t->npos + tf + 4);

			if (t->pos == NULL)
				t->pos = MemoryContextAlloc(inv->mcxt, sizeof(uint32) * ncap);
			else
				t->pos = repalloc_huge(t->pos, sizeof(uint32) * ncap);
			inv->mem += (ncap - t->poscap) * 4;
			t->poscap = ncap;
		}
		memcpy(t->pos + t->npos, pos, sizeof(uint32) * tf);
		t->npos += tf;
	}
}

/*
 * Add one analysed document.  Tokens of a term are grouped with their
 * positions in increasing order, as posting_encode wants them.
 */
void
Bm25InverterAddDoc(Bm25Inverter *inv, ItemPointer tid,
				   const LanceTokenArray *toks, uint32 doclen)
{
	uint32		doc = Bm25InverterNewDoc(inv, tid, doclen);

	for (uint32 i = 0; i < toks->ntokens; i++)
	{
		const char *s = lance_token_text(toks, i);
		uint32		pos = toks->tokens[i].position;
		Bm25InvTerm *t = Bm25InverterGet(inv, s, toks->tokens[i].len, true);

		/* positions of a term within a doc must strictly increase */
		if (inv->positions && t->ndocs > 0 && t->docs[t->ndocs - 1] == doc &&
			t->npos > 0 && t->pos[t->npos - 1] >= pos)
			continue;
		Bm25InverterAddTerm(inv, doc, s, toks->tokens[i].len, 1, &pos);
	}
}

static int
Bm25TermCmp(const void *a, const void *b)
{
	const Bm25InvTerm *x = *(Bm25InvTerm * const *) a;
	const Bm25InvTerm *y = *(Bm25InvTerm * const *) b;
	int			c = memcmp(x->term, y->term, Min(x->len, y->len));

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

/* Terms in bytewise order (memcmp, shorter first). */
Bm25InvTerm **
Bm25InverterSorted(Bm25Inverter *inv)
{
	Bm25InvTerm **arr = MemoryContextAllocHuge(inv->mcxt,
											   sizeof(Bm25InvTerm *) * Max(inv->nterms, 1));
	uint32		n = 0;

	for (uint32 i = 0; i < inv->nslots; i++)
		if (inv->slots[i] != NULL)
			arr[n++] = inv->slots[i];
	qsort(arr, n, sizeof(Bm25InvTerm *), Bm25TermCmp);
	return arr;
}

uint8 *
Bm25InvTermEncode(Bm25Inverter *inv, Bm25InvTerm *t, size_t *len)
{
	uint32	   *dls = palloc(sizeof(uint32) * t->ndocs);
	uint8	   *out;
	int			rc;
	PostingHooks hooks = {Bm25Palloc, Bm25Pfree, NULL, NULL};

	for (uint32 i = 0; i < t->ndocs; i++)
		dls[i] = inv->doclens[t->docs[i]];
	rc = posting_encode(t->docs, t->tfs, dls,
						inv->positions ? t->pos : NULL, t->ndocs, &hooks,
						&out, len);
	if (rc != POSTING_OK)
		elog(ERROR, "lance_bm25: could not encode a posting list (%d)", rc);
	pfree(dls);
	return out;
}

/* ---------------- segment writer ---------------- */

void
Bm25WriteSegment(Relation index, Bm25Inverter *inv, Bm25SegmentInfo *info,
				 uint32 tier, uint32 first)
{
	Bm25InvTerm **terms = Bm25InverterSorted(inv);
	uint32		nterms = inv->nterms;
	Bm25SegHeader hdr;
	Bm25DictEntry *dict;
	uint64		strings_len = 0;
	uint64		post_len = 0;
	Bm25StreamWriter w;
	uint64		len;

	dict = MemoryContextAllocHuge(CurrentMemoryContext,
								  sizeof(Bm25DictEntry) * Max(nterms, 1));
	for (uint32 i = 0; i < nterms; i++)
	{
		Bm25InvTerm *t = terms[i];
		size_t		sz = posting_encoded_size(t->docs, t->tfs,
											  inv->positions ? t->pos : NULL,
											  t->ndocs);

		if (sz == 0 || sz > PG_UINT32_MAX)
			elog(ERROR, "lance_bm25: posting list cannot be encoded");
		dict[i].post_off = post_len;
		dict[i].post_len = (uint32) sz;
		dict[i].str_off = (uint32) strings_len;
		dict[i].str_len = t->len;
		dict[i].df = t->ndocs;
		post_len += sz;
		strings_len += t->len;
		if (strings_len > PG_UINT32_MAX)
			elog(ERROR, "lance_bm25: term dictionary too large");
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = BM25_SEG_MAGIC;
	hdr.version = BM25_FORMAT_VERSION;
	hdr.ndocs = inv->ndocs;
	hdr.nterms = nterms;
	hdr.flags = inv->positions ? BM25_META_POSITIONS : 0;
	hdr.total_len = inv->total_len;
	hdr.dict_off = sizeof(hdr);
	hdr.strings_off = hdr.dict_off + sizeof(Bm25DictEntry) * (uint64) nterms;
	hdr.strings_len = strings_len;
	hdr.post_off = hdr.strings_off + strings_len;
	hdr.post_len = post_len;
	hdr.doclen_off = hdr.post_off + post_len;
	hdr.tid_off = hdr.doclen_off + sizeof(uint32) * (uint64) inv->ndocs;

	Bm25StreamWriterInit(&w, index, first);
	Bm25StreamWrite(&w, &hdr, sizeof(hdr));
	Bm25StreamWrite(&w, dict, sizeof(Bm25DictEntry) * (Size) nterms);
	for (uint32 i = 0; i < nterms; i++)
		Bm25StreamWrite(&w, terms[i]->term, terms[i]->len);
	for (uint32 i = 0; i < nterms; i++)
	{
		size_t		sz;
		uint8	   *p = Bm25InvTermEncode(inv, terms[i], &sz);

		if (sz != dict[i].post_len)
			elog(ERROR, "lance_bm25: posting size mismatch");
		Bm25StreamWrite(&w, p, sz);
		pfree(p);
	}
	Bm25StreamWrite(&w, inv->doclens, sizeof(uint32) * (Size) inv->ndocs);
	Bm25StreamWrite(&w, inv->tids, sizeof(ItemPointerData) * (Size) inv->ndocs);

	memset(info, 0, sizeof(*info));
	info->seg_id = first;
	info->root = Bm25StreamFinish(&w, &len);
	info->len = len;
	info->ndocs = inv->ndocs;
	info->total_len = inv->total_len;
	info->tier = tier;

	/* deletion bitmap: all zero (every doc alive) */
	info->dead_id = first + 1;
	Bm25StreamWriterInit(&w, index, first + 1);
	Bm25StreamWriteZeros(&w, Max((inv->ndocs + 7) / 8, 1));
	info->dead_root = Bm25StreamFinish(&w, &len);
	pfree(dict);
	pfree(terms);
}

/* Tier of a segment of n docs: log4(n / 128). */
uint32
Bm25TierOf(uint32 n)
{
	uint32		tier = 0;
	uint64		lim = BM25_TIER_BASE * BM25_MERGE_FACTOR;

	while (n >= lim && tier < 30)
	{
		tier++;
		lim *= BM25_MERGE_FACTOR;
	}
	return tier;
}

/* ---------------- ambuild ---------------- */

typedef struct Bm25BuildState
{
	Relation	index;
	LanceAnalyzer *an;
	LanceTokenArray toks;
	Bm25Inverter *inv;
	Oid			typid;
	Size		maxmem;
	double		indtuples;
	Bm25SegmentInfo *segs;
	int			nsegs;
	int			segcap;
	MemoryContext tmpcxt;
} Bm25BuildState;

static void
Bm25BuildSpill(Bm25BuildState *bs)
{
	MemoryContext old;

	if (bs->inv->ndocs == 0)
		return;
	if (bs->nsegs == bs->segcap)
	{
		bs->segcap *= 2;
		bs->segs = repalloc(bs->segs, sizeof(Bm25SegmentInfo) * bs->segcap);
	}
	Bm25WriteSegment(bs->index, bs->inv, &bs->segs[bs->nsegs],
					 Bm25TierOf(bs->inv->ndocs), Bm25AllocIds(bs->index, 2));
	bs->nsegs++;
	Bm25InverterFree(bs->inv);
	old = MemoryContextSwitchTo(bs->tmpcxt);
	bs->inv = Bm25InverterCreate(lance_analyzer_get_options(bs->an)->with_position);
	MemoryContextSwitchTo(old);
}

static void
Bm25BuildCallback(Relation index, ItemPointer tid, Datum *values,
				  bool *isnull, bool tupleIsAlive, void *state)
{
	Bm25BuildState *bs = state;
	uint32		doclen;

	if (isnull[0])
		return;
	lance_token_array_reset(&bs->toks);
	doclen = Bm25AnalyzeDatum(bs->an, values[0], bs->typid, &bs->toks);
	Bm25InverterAddDoc(bs->inv, tid, &bs->toks, doclen);
	bs->indtuples++;
	if (bs->inv->mem + bs->inv->nterms * 64 > bs->maxmem)
		Bm25BuildSpill(bs);
}

/* Meta page and the analyzer options stream of an empty index. */
static void
Bm25InitMeta(Relation index, ForkNumber fork, const LanceAnalyzerOptions *opts)
{
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	Bm25MetaPageData *meta;
	size_t		olen;
	char	   *oblob;

	olen = lance_analyzer_options_encode(opts, NULL, 0);
	if (olen == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lance_bm25 analyzer options cannot be stored (stop word list too large?)")));
	oblob = palloc(olen);
	lance_analyzer_options_encode(opts, oblob, olen);

	if (fork == INIT_FORKNUM)
	{
		/* unlogged index: write and log the init fork's meta page directly */
		PGAlignedBlock blk;

		page = (Page) blk.data;
		Bm25InitPage(page, BM25_PAGE_META, 0);
		meta = (Bm25MetaPageData *) PageGetContents(page);
		memset(meta, 0, sizeof(*meta));
		meta->magic = BM25_MAGIC;
		meta->version = BM25_FORMAT_VERSION;
		meta->flags = opts->with_position ? BM25_META_POSITIONS : 0;
		meta->next_id = 2;
		meta->delta_id = 1;
		meta->delta_head = InvalidBlockNumber;
		meta->delta_tail = InvalidBlockNumber;
		meta->opts_root = InvalidBlockNumber;
		((PageHeader) page)->pd_lower =
			((char *) meta + sizeof(Bm25MetaPageData)) - (char *) page;
		PageSetChecksumInplace(page, BM25_METAPAGE_BLKNO);
		smgrwrite(RelationGetSmgr(index), INIT_FORKNUM, BM25_METAPAGE_BLKNO,
				  (char *) page, true);
		log_newpage(&(RelationGetSmgr(index))->smgr_rnode.node, INIT_FORKNUM,
					BM25_METAPAGE_BLKNO, page, true);
		smgrimmedsync(RelationGetSmgr(index), INIT_FORKNUM);
		pfree(oblob);
		return;
	}
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	UnlockRelationForExtension(index, ExclusiveLock);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (BufferGetBlockNumber(buf) != BM25_METAPAGE_BLKNO)
		elog(ERROR, "lance_bm25: meta page is not block 0");
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	Bm25InitPage(page, BM25_PAGE_META, 0);
	meta = (Bm25MetaPageData *) PageGetContents(page);
	memset(meta, 0, sizeof(*meta));
	meta->magic = BM25_MAGIC;
	meta->version = BM25_FORMAT_VERSION;
	meta->flags = opts->with_position ? BM25_META_POSITIONS : 0;
	meta->next_id = 1;
	meta->delta_head = InvalidBlockNumber;
	meta->delta_tail = InvalidBlockNumber;
	meta->opts_root = InvalidBlockNumber;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(Bm25MetaPageData)) - (char *) page;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);

	/* options stream */
	{
		Bm25StreamWriter w;
		uint32		id = Bm25AllocIds(index, 1);
		uint64		len;
		BlockNumber root;

		Bm25StreamWriterInit(&w, index, id);
		Bm25StreamWrite(&w, oblob, olen);
		root = Bm25StreamFinish(&w, &len);
		buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		meta = (Bm25MetaPageData *) PageGetContents(page);
		meta->opts_root = root;
		meta->opts_len = len;
		meta->opts_id = id;
		meta->delta_id = meta->next_id++;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}
	pfree(oblob);
}

/* Add segments to the directory (merging first if there are too many). */
static void
Bm25InstallSegments(Relation index, Bm25SegmentInfo *segs, int n,
					uint64 ndocs, uint64 total_len)
{
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	Bm25MetaPageData *meta;

	buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	meta = (Bm25MetaPageData *) PageGetContents(page);
	for (int i = 0; i < n; i++)
		meta->segs[meta->nsegments++] = segs[i];
	meta->ndocs += ndocs;
	meta->total_len += total_len;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

IndexBuildResult *
bm25build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	Bm25BuildState bs;
	LanceAnalyzerOptions opts;
	double		reltuples;
	uint64		ndocs = 0;
	uint64		total = 0;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));
	/* an in-place rebuild (TRUNCATE) reuses the relfilenode: see there */
	Bm25ForgetCaches(index);

	Bm25OptionsFromReloptions(index, &opts);
	Bm25InitMeta(index, MAIN_FORKNUM, &opts);

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	bs.an = Bm25GetAnalyzer(index, false);
	bs.typid = TupleDescAttr(RelationGetDescr(index), 0)->atttypid;
	lance_token_array_init(&bs.toks, Bm25Palloc, Bm25Pfree);
	bs.inv = Bm25InverterCreate(opts.with_position);
	/* parent of the inverters (the build callback's context may vary) */
	bs.tmpcxt = CurrentMemoryContext;
	bs.maxmem = (Size) maintenance_work_mem * 1024;
	bs.segcap = 8;
	bs.segs = palloc(sizeof(Bm25SegmentInfo) * bs.segcap);

	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   Bm25BuildCallback, &bs, NULL);
	Bm25BuildSpill(&bs);

	/* merge spilled segments down to a few (directory has a fixed size) */
	for (int i = 0; i < bs.nsegs; i++)
	{
		ndocs += bs.segs[i].ndocs;
		total += bs.segs[i].total_len;
	}
	if (bs.nsegs <= BM25_MAX_SEGMENTS / 2)
		Bm25InstallSegments(index, bs.segs, bs.nsegs, ndocs, total);
	else
	{
		uint32	   *ids = palloc(sizeof(uint32) * bs.nsegs);

		Bm25InstallSegments(index, bs.segs, BM25_MAX_SEGMENTS / 2, ndocs, total);
		for (int i = BM25_MAX_SEGMENTS / 2; i < bs.nsegs; i++)
		{
			uint32		two[2];
			Bm25MetaPageData meta;

			Bm25ReadMeta(index, &meta);
			two[0] = meta.segs[0].seg_id;
			two[1] = meta.segs[1].seg_id;
			Bm25MergeSegments(index, two, 2);
			Bm25InstallSegments(index, &bs.segs[i], 1, 0, 0);
		}
		pfree(ids);
	}
	Bm25MaybeMerge(index);

	lance_token_array_free(&bs.toks);
	Bm25InverterFree(bs.inv);

	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

void
bm25buildempty(Relation index)
{
	LanceAnalyzerOptions opts;

	Bm25OptionsFromReloptions(index, &opts);
	Bm25InitMeta(index, INIT_FORKNUM, &opts);
}
