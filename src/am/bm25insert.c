/*
 * bm25insert.c
 *	  lance_bm25 writes after the build: aminsert appends a doc record to
 *	  the delta (a page chain, one WAL record per insert); a full delta is
 *	  flushed into a small immutable segment; then the write-path merge
 *	  policy runs (bm25merge.c).
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
	if (!ConditionalLockPage(index, BM25_LOCK_MERGE, ExclusiveLock))
		return;
	(void) Bm25FlushDeltaLocked(index, BM25_DELTA_MAX_DOCS);
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
}

/*
 * Flush the delta if it holds at least min_docs records (deleted ones
 * included; they are dropped).  Caller holds the merge lock and the
 * structure lock in share mode.  True if flushed.
 */
bool
Bm25FlushDeltaLocked(Relation index, uint32 min_docs)
{
	uint32		ids;
	Buffer		metabuf;
	Page		metapage;
	Bm25MetaPageData m;
	Bm25SegReader r;
	Bm25SegmentInfo info;
	GenericXLogState *state;
	Bm25MetaPageData *meta;

	ids = Bm25AllocIds(index, 3);
	metabuf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	Bm25CheckPage(index, BufferGetPage(metabuf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	memcpy(&m, PageGetContents(BufferGetPage(metabuf)), sizeof(m));
	Bm25CheckMeta(index, &m);
	if (m.delta_ndocs == 0 || m.delta_ndocs < min_docs ||
		m.nsegments >= BM25_MAX_SEGMENTS)
	{
		UnlockReleaseBuffer(metabuf);
		return false;
	}
	Bm25SegOpenDelta(&r, index, &m);
	if (r.inv->ndocs > 0)
		Bm25WriteSegment(index, r.inv, &info, 0, ids);
	state = GenericXLogStart(index);
	metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
	meta = (Bm25MetaPageData *) PageGetContents(metapage);
	Bm25MetaNoteDrop(metapage);
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
	return true;
}
