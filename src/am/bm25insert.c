/*
 * bm25insert.c
 *	  lance_bm25 writes after the build: aminsert appends a doc record to
 *	  the delta (a page chain, one WAL record per insert); a full delta is
 *	  flushed into a small immutable segment; a tiered policy merges
 *	  BM25_MERGE_FACTOR segments of one tier into one of the next tier.
 *	  Merges read immutable segments without the meta page lock and switch
 *	  the directory in one meta page update, so a background worker can run
 *	  the same code off the write path.
 */
#include "postgres.h"

#include "am/bm25am.h"
#include "index/postings.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Serialise a one-doc inverter as a delta record. */
static char *
Bm25BuildRecord(Bm25Inverter *inv, ItemPointer tid, uint32 doclen, Size *len)
{
	StringInfoData buf;
	Bm25DeltaRecord rec;

	initStringInfo(&buf);
	memset(&rec, 0, sizeof(rec));
	rec.tid = *tid;
	rec.doclen = doclen;
	rec.nterms = inv->nterms;
	appendBinaryStringInfo(&buf, (char *) &rec, sizeof(rec));
	for (uint32 i = 0; i < inv->nslots; i++)
	{
		Bm25InvTerm *t = inv->slots[i];
		uint16		tl;

		if (t == NULL)
			continue;
		tl = (uint16) t->len;
		appendBinaryStringInfo(&buf, (char *) &tl, 2);
		appendBinaryStringInfo(&buf, t->term, t->len);
		appendBinaryStringInfo(&buf, (char *) &t->tfs[0], 4);
		if (inv->positions)
			appendBinaryStringInfo(&buf, (char *) t->pos, sizeof(uint32) * t->tfs[0]);
	}
	*len = buf.len;
	return buf.data;
}

/* Add segments and counters to the meta page (meta buffer locked by caller). */
static void
Bm25MetaAddSegment(Bm25MetaPageData *meta, const Bm25SegmentInfo *info)
{
	if (meta->nsegments >= BM25_MAX_SEGMENTS)
		elog(ERROR, "lance_bm25: segment directory is full");
	meta->segs[meta->nsegments++] = *info;
}

/* A doc too large for a delta page becomes a segment of its own. */
static void
Bm25InsertAsSegment(Relation index, Bm25Inverter *inv)
{
	Bm25SegmentInfo info;
	uint32		ids = Bm25AllocIds(index, 2);
	Buffer		buf;
	GenericXLogState *state;
	Bm25MetaPageData *meta;

	LockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
	Bm25WriteSegment(index, inv, &info, 0, ids);
	buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	Bm25CheckPage(index, BufferGetPage(buf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	state = GenericXLogStart(index);
	meta = (Bm25MetaPageData *) PageGetContents(GenericXLogRegisterBuffer(state, buf, 0));
	Bm25MetaAddSegment(meta, &info);
	meta->ndocs += 1;
	meta->total_len += inv->total_len;
	meta->inserted++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
}

/* Append a record to the delta; true if the delta should be flushed. */
static bool
Bm25AppendDelta(Relation index, const char *rec, Size len, uint32 doclen)
{
	Buffer		metabuf;
	Buffer		tailbuf = InvalidBuffer;
	Buffer		newbuf = InvalidBuffer;
	GenericXLogState *state;
	Bm25MetaPageData *meta;
	Page		metapage;
	Page		page;
	bool		flush;
	Bm25MetaPageData m;

	metabuf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	Bm25CheckPage(index, BufferGetPage(metabuf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	memcpy(&m, PageGetContents(BufferGetPage(metabuf)), sizeof(m));
	Bm25CheckMeta(index, &m);

	if (m.delta_tail != InvalidBlockNumber)
	{
		if (m.delta_tail >= RelationGetNumberOfBlocks(index))
			Bm25CorruptError(index, "delta tail outside the index");
		tailbuf = ReadBuffer(index, m.delta_tail);
		LockBuffer(tailbuf, BUFFER_LOCK_EXCLUSIVE);
		Bm25CheckPage(index, BufferGetPage(tailbuf), m.delta_tail, BM25_PAGE_DELTA, m.delta_id);
		if (PageGetFreeSpace(BufferGetPage(tailbuf)) < MAXALIGN(len))
			newbuf = Bm25NewBuffer(index);
	}
	else
		newbuf = Bm25NewBuffer(index);

	state = GenericXLogStart(index);
	metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
	meta = (Bm25MetaPageData *) PageGetContents(metapage);
	if (newbuf != InvalidBuffer)
	{
		page = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);
		Bm25InitPage(page, BM25_PAGE_DELTA, meta->delta_id);
		if (tailbuf != InvalidBuffer)
		{
			Page		tp = GenericXLogRegisterBuffer(state, tailbuf, 0);

			Bm25PageGetOpaque(tp)->next = BufferGetBlockNumber(newbuf);
		}
		else
			meta->delta_head = BufferGetBlockNumber(newbuf);
		meta->delta_tail = BufferGetBlockNumber(newbuf);
	}
	else
		page = GenericXLogRegisterBuffer(state, tailbuf, 0);
	if (PageAddItem(page, (Item) rec, len, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
		elog(ERROR, "lance_bm25: could not add a delta record of %zu bytes", len);
	meta->delta_ndocs++;
	meta->ndocs++;
	meta->total_len += doclen;
	meta->inserted++;
	flush = meta->delta_ndocs >= BM25_DELTA_MAX_DOCS;
	GenericXLogFinish(state);
	if (newbuf != InvalidBuffer)
		UnlockReleaseBuffer(newbuf);
	if (tailbuf != InvalidBuffer)
		UnlockReleaseBuffer(tailbuf);
	UnlockReleaseBuffer(metabuf);
	return flush;
}

bool
bm25insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	MemoryContext cxt;
	MemoryContext old;
	LanceAnalyzer *an;
	LanceTokenArray toks;
	Bm25Inverter *inv;
	uint32		doclen;
	char	   *rec;
	Size		len;
	bool		flush = false;

	if (isnull[0])
		return false;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_bm25 insert",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	an = Bm25GetAnalyzer(index, false);
	lance_token_array_init(&toks, Bm25Palloc, Bm25Pfree);
	doclen = Bm25AnalyzeDatum(an, values[0],
							  TupleDescAttr(RelationGetDescr(index), 0)->atttypid,
							  &toks);
	inv = Bm25InverterCreate(lance_analyzer_get_options(an)->with_position);
	Bm25InverterAddDoc(inv, heap_tid, &toks, doclen);
	rec = Bm25BuildRecord(inv, heap_tid, doclen, &len);

	LockPage(index, BM25_LOCK_STRUCT, ShareLock);
	if (MAXALIGN(len) + sizeof(ItemIdData) > BM25_PAGE_USABLE - 64)
		Bm25InsertAsSegment(index, inv);
	else
		flush = Bm25AppendDelta(index, rec, len, doclen);
	if (flush)
		Bm25FlushDelta(index);
	Bm25MaybeMerge(index);
	UnlockPage(index, BM25_LOCK_STRUCT, ShareLock);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}

/*
 * Turn the delta into a segment and start an empty delta.  Skipped when
 * another backend holds the merge lock (it will flush or we retry on the
 * next insert).  The meta page stays locked throughout so that no insert
 * lands in the delta being frozen; a flush writes about a dozen pages.
 */
void
Bm25FlushDelta(Relation index)
{
	uint32		ids;
	Buffer		metabuf;
	Bm25MetaPageData m;
	Bm25SegReader r;
	Bm25SegmentInfo info;
	GenericXLogState *state;
	Bm25MetaPageData *meta;

	if (!ConditionalLockPage(index, BM25_LOCK_MERGE, ExclusiveLock))
		return;
	ids = Bm25AllocIds(index, 3);
	metabuf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	Bm25CheckPage(index, BufferGetPage(metabuf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	memcpy(&m, PageGetContents(BufferGetPage(metabuf)), sizeof(m));
	Bm25CheckMeta(index, &m);
	if (m.delta_ndocs < BM25_DELTA_MAX_DOCS || m.nsegments >= BM25_MAX_SEGMENTS)
	{
		UnlockReleaseBuffer(metabuf);
		UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
		return;
	}
	Bm25SegOpenDelta(&r, index, &m);
	if (r.inv->ndocs > 0)
		Bm25WriteSegment(index, r.inv, &info, 0, ids);
	state = GenericXLogStart(index);
	meta = (Bm25MetaPageData *) PageGetContents(GenericXLogRegisterBuffer(state, metabuf, 0));
	if (r.inv->ndocs > 0)
		Bm25MetaAddSegment(meta, &info);
	meta->delta_id = ids + 2;
	meta->delta_head = InvalidBlockNumber;
	meta->delta_tail = InvalidBlockNumber;
	meta->delta_ndocs = 0;
	meta->delta_ndeleted = 0;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(metabuf);
	Bm25SegClose(&r);
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
}

/*
 * Merge segments (by id) into one, dropping deleted docs.  Caller holds
 * the merge lock.  Postings are decoded into an in-memory inverter with
 * doc ids renumbered in input order and re-encoded.
 */
void
Bm25MergeSegments(Relation index, const uint32 *seg_ids, int n)
{
	Bm25MetaPageData m;
	Bm25SegReader *rs = palloc0(sizeof(Bm25SegReader) * n);
	uint32	  **remap = palloc0(sizeof(uint32 *) * n);
	Bm25Inverter *inv;
	uint32		maxtier = 0;
	uint32		ids = Bm25AllocIds(index, 2);
	Bm25SegmentInfo out;
	bool		have_out;
	Buffer		metabuf;
	GenericXLogState *state;
	Bm25MetaPageData *meta;
	PostingHooks hooks = {Bm25Palloc, Bm25Pfree, NULL, NULL};

	Bm25ReadMeta(index, &m);
	inv = Bm25InverterCreate((m.flags & BM25_META_POSITIONS) != 0);
	for (int i = 0; i < n; i++)
	{
		int			found = -1;

		for (uint32 s = 0; s < m.nsegments; s++)
			if (m.segs[s].seg_id == seg_ids[i])
				found = s;
		if (found < 0)
			elog(ERROR, "lance_bm25: segment %u to merge is gone", seg_ids[i]);
		Bm25SegOpen(&rs[i], index, &m.segs[found]);
		maxtier = Max(maxtier, m.segs[found].tier);
		remap[i] = palloc(sizeof(uint32) * Max(rs[i].hdr.ndocs, 1));
		for (uint32 d = 0; d < rs[i].hdr.ndocs; d++)
		{
			if (Bm25SegAlive(&rs[i], d))
			{
				ItemPointerData tid;

				Bm25SegTid(&rs[i], d, &tid);
				remap[i][d] = Bm25InverterNewDoc(inv, &tid, Bm25SegDocLen(&rs[i], d));
			}
			else
				remap[i][d] = UINT32_MAX;
		}
	}
	for (int i = 0; i < n; i++)
	{
		Bm25SegReader *r = &rs[i];

		for (uint32 t = 0; t < r->hdr.nterms; t++)
		{
			Bm25DictEntry e;
			char	   *term;
			uint8	   *p;
			PostingIter it;

			CHECK_FOR_INTERRUPTS();
			Bm25StreamRead(&r->s, r->hdr.dict_off + (uint64) t * sizeof(e), &e, sizeof(e));
			if ((uint64) e.str_off + e.str_len > r->hdr.strings_len ||
				e.post_off + e.post_len > r->hdr.post_len)
				Bm25CorruptError(index, "bad dictionary entry");
			term = palloc(e.str_len + 1);
			Bm25StreamRead(&r->s, r->hdr.strings_off + e.str_off, term, e.str_len);
			p = palloc(Max(e.post_len, 1));
			Bm25StreamRead(&r->s, r->hdr.post_off + e.post_off, p, e.post_len);
			if (posting_iter_init(&it, p, e.post_len, &hooks) != POSTING_OK)
				Bm25CorruptError(index, "bad posting list");
			for (uint32 d = posting_iter_doc(&it); d != POSTING_END; d = posting_iter_next(&it))
			{
				const uint32 *pos = NULL;
				uint32		npos = posting_iter_tf(&it);

				if (d >= r->hdr.ndocs)
					Bm25CorruptError(index, "posting doc id out of range");
				if (remap[i][d] == UINT32_MAX)
					continue;
				if (inv->positions &&
					posting_iter_positions(&it, &pos, &npos) != POSTING_OK)
					Bm25CorruptError(index, "bad positions");
				Bm25InverterAddTerm(inv, remap[i][d], term, e.str_len, npos, pos);
			}
			if (it.error != POSTING_OK)
				Bm25CorruptError(index, "bad posting list");
			posting_iter_free(&it);
			pfree(p);
			pfree(term);
		}
	}
	have_out = inv->ndocs > 0;
	if (have_out)
		Bm25WriteSegment(index, inv, &out, Max(Bm25TierOf(inv->ndocs), maxtier + (n > 1 ? 1 : 0)), ids);
	for (int i = 0; i < n; i++)
		Bm25SegClose(&rs[i]);

	/* switch the directory: inputs out, output in (where the first was) */
	metabuf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	Bm25CheckPage(index, BufferGetPage(metabuf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	state = GenericXLogStart(index);
	meta = (Bm25MetaPageData *) PageGetContents(GenericXLogRegisterBuffer(state, metabuf, 0));
	{
		Bm25SegmentInfo kept[BM25_MAX_SEGMENTS];
		uint32		nk = 0;
		bool		placed = !have_out;

		for (uint32 s = 0; s < meta->nsegments; s++)
		{
			bool		input = false;

			for (int i = 0; i < n; i++)
				if (meta->segs[s].seg_id == seg_ids[i])
					input = true;
			if (!input)
				kept[nk++] = meta->segs[s];
			else if (!placed)
			{
				kept[nk++] = out;
				placed = true;
			}
		}
		memcpy(meta->segs, kept, sizeof(Bm25SegmentInfo) * nk);
		meta->nsegments = nk;
		meta->merges++;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(metabuf);
	Bm25InverterFree(inv);
}

/*
 * Tiered merge policy: while some tier holds BM25_MERGE_FACTOR segments,
 * merge them into one of a higher tier.  Skipped if another backend is
 * merging.
 */
void
Bm25MaybeMerge(Relation index)
{
	if (!ConditionalLockPage(index, BM25_LOCK_MERGE, ExclusiveLock))
		return;
	for (;;)
	{
		Bm25MetaPageData m;
		uint32		ids[BM25_MERGE_FACTOR];
		int			n = 0;
		int			best = -1;

		Bm25ReadMeta(index, &m);
		for (uint32 t = 0; t < 32 && best < 0; t++)
		{
			int			cnt = 0;

			for (uint32 s = 0; s < m.nsegments; s++)
				if (m.segs[s].tier == t)
					cnt++;
			if (cnt >= BM25_MERGE_FACTOR)
				best = t;
		}
		if (best < 0)
			break;
		for (uint32 s = 0; s < m.nsegments && n < BM25_MERGE_FACTOR; s++)
			if (m.segs[s].tier == (uint32) best)
				ids[n++] = m.segs[s].seg_id;
		Bm25MergeSegments(index, ids, n);
	}
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
}
