/*
 * heapdist.c
 *	  Exact distances read from the table (see heapdist.h).
 *
 * Rows of a heapam table indexed on a column are read directly (the fast
 * path): the block through the recent-buffer hint (am/bufhint.h), kept
 * pinned while the next candidates fall on the same block, then
 * heap_hot_search_buffer under a share lock, which follows the HOT chain
 * from the index's TID, checks visibility against the snapshot and takes
 * the predicate lock, exactly as heapam's index fetch does.  The attribute
 * is read from the found tuple once the lock is released: the pin alone
 * keeps the tuple's bytes in place (pruning needs a cleanup lock).  Unlike
 * heapam's index fetch it does not call heap_page_prune_opt: pruning is an
 * optimisation, and the executor's own fetch of the rows a scan returns
 * still prunes their pages.  Other table AMs, expression indexes and
 * non-MVCC snapshots (SnapshotAny when rebuilding) go through the generic
 * table_index_fetch_tuple and a slot.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "am/bufhint.h"
#include "am/heapdist.h"
#include "am/ivf.h"
#include "am/toastfetch.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* at most this much of a row is prefetched (a 128-d float32 row is ~550) */
#define HEAPDIST_PREFETCH_ROW_BYTES 1024

struct LanceHeapDist
{
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	FmgrInfo   *distproc;
	Oid			collation;
	AttrNumber	heapattno;		/* 0: expression index */
	IndexInfo  *indexInfo;
	EState	   *estate;
	LanceToastFetch *toast;		/* out-of-line vectors, one open scan */
	Relation	heap;
	bool		direct;			/* heapam table, column index: fast path */
	Buffer		buf;			/* block pinned by the fast path, or invalid */
	BlockNumber blkno;
};

LanceHeapDist *
lance_heapdist_begin(Relation index, Relation heap)
{
	LanceHeapDist *hd = palloc0(sizeof(LanceHeapDist));

	hd->fetch = table_index_fetch_begin(heap);
	hd->slot = table_slot_create(heap, NULL);
	hd->distproc = index_getprocinfo(index, 1, IVF_DISTANCE_PROC);
	hd->collation = index->rd_indcollation[0];
	hd->heapattno = index->rd_index->indkey.values[0];
	hd->heap = heap;
	hd->buf = InvalidBuffer;
	hd->direct = hd->heapattno > 0 &&
		heap->rd_tableam == GetHeapamTableAmRoutine();
	if (hd->heapattno == 0)
	{
		hd->indexInfo = BuildIndexInfo(index);
		hd->estate = CreateExecutorState();
	}
	else
		hd->toast = lance_toast_fetch_begin(heap);
	return hd;
}

/*
 * Point *toastrelid and *valueid at an out-of-line value (left InvalidOid for
 * values stored in line) and read it through the open toast scan.
 */
static struct varlena *
heapdist_detoast(LanceHeapDist *hd, struct varlena *raw, bool *copied,
				 Oid *toastrelid, Oid *valueid)
{
	if (valueid != NULL && VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
		*toastrelid = ptr.va_toastrelid;
		*valueid = ptr.va_valueid;
	}
	return lance_toast_fetch(hd->toast, raw, copied);
}

static void
heapdist_corrupt(LanceHeapDist *hd, ItemPointer tid)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg_internal("indexed attribute %d of tuple (%u,%u) in \"%s\" overruns the tuple",
							 hd->heapattno, ItemPointerGetBlockNumber(tid),
							 ItemPointerGetOffsetNumber(tid),
							 RelationGetRelationName(hd->heap))));
}

/*
 * The fast path of heapdist_fetch (see the file header).  The result points
 * into the pinned page (or is a toast copy) and stays valid until the next
 * call or lance_heapdist_end.
 */
static struct varlena *
heapdist_fetch_direct(LanceHeapDist *hd, Snapshot snapshot, ItemPointer tid,
					  bool *copied, Oid *toastrelid, Oid *valueid)
{
	ItemPointerData t = *tid;
	HeapTupleData tuple;
	bool		found;
	Datum		datum;
	bool		isnull;
	struct varlena *raw;
	char	   *tend;

	*copied = false;
	found = lance_hot_search_pinned(hd->heap, &hd->buf, &hd->blkno, &t,
									snapshot, &tuple);
	if (!found)
		return NULL;

	/*
	 * The tuple must lie in the page and the value in the tuple (a missing
	 * attribute's default is not in the tuple and needs no check).
	 */
	tend = (char *) tuple.t_data + tuple.t_len;
	if (tend > (char *) BufferGetPage(hd->buf) + BLCKSZ)
		heapdist_corrupt(hd, &t);
	datum = heap_getattr(&tuple, hd->heapattno, RelationGetDescr(hd->heap), &isnull);
	if (isnull)
		return NULL;
	raw = (struct varlena *) DatumGetPointer(datum);
	if ((char *) raw >= (char *) tuple.t_data && (char *) raw < tend &&
		(Size) (tend - (char *) raw) < VARSIZE_ANY(raw))
		heapdist_corrupt(hd, &t);
	return heapdist_detoast(hd, raw, copied, toastrelid, valueid);
}

/*
 * The indexed value of the row at tid visible to snapshot, in line (a
 * TOASTed value fetched through the open toast scan; *copied says whether
 * the caller must pfree it); NULL when no row is visible or the value is
 * NULL.  Valid until the slot is cleared.
 */
static struct varlena *
heapdist_fetch(LanceHeapDist *hd, Snapshot snapshot, ItemPointer tid, bool *copied,
			   Oid *toastrelid, Oid *valueid)
{
	bool		call_again = false;
	bool		all_dead = false;
	ItemPointerData t = *tid;
	Datum		datum;
	bool		isnull;

	if (hd->direct && IsMVCCSnapshot(snapshot))
		return heapdist_fetch_direct(hd, snapshot, tid, copied, toastrelid, valueid);
	*copied = false;
	if (!table_index_fetch_tuple(hd->fetch, &t, snapshot, hd->slot,
								 &call_again, &all_dead))
		return NULL;
	if (hd->heapattno != 0)
		datum = slot_getattr(hd->slot, hd->heapattno, &isnull);
	else
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		nulls[INDEX_MAX_KEYS];
		ExprContext *econtext = GetPerTupleExprContext(hd->estate);

		ResetExprContext(econtext);
		econtext->ecxt_scantuple = hd->slot;
		FormIndexDatum(hd->indexInfo, hd->slot, hd->estate, values, nulls);
		datum = values[0];
		isnull = nulls[0];
	}
	if (isnull)
		return NULL;
	if (hd->heapattno != 0)
		return heapdist_detoast(hd, (struct varlena *) DatumGetPointer(datum),
								copied, toastrelid, valueid);
	return (struct varlena *) DatumGetPointer(datum);
}

void
lance_heapdist_prefetch_hint(LanceHeapDist *hd, ItemPointer tid)
{
	if (hd->direct)
		lance_buffer_hint_prefetch(hd->heap, ItemPointerGetBlockNumber(tid));
}

/*
 * The line pointer of tid in the page the hint (or the pinned block) has
 * for its block, or NULL (no fast path, no hint, offset out of range).
 * Only for prefetching: the page is neither pinned nor locked here and
 * the hint may name another block by now.
 */
static inline char *
heapdist_hinted_lp(LanceHeapDist *hd, ItemPointer tid, bool prefetch_header,
				   char **page)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;

	if (!hd->direct || off < 1 || off > MaxHeapTuplesPerPage)
		return NULL;
	if (hd->buf != InvalidBuffer && hd->blkno == blkno)
		buf = hd->buf;
	else
	{
		buf = lance_buffer_hint_peek(hd->heap, blkno);
		if (buf <= 0 || buf > NBuffers)
			return NULL;
		if (prefetch_header)
			__builtin_prefetch(GetBufferDescriptor(buf - 1));
	}
	*page = (char *) BufferGetBlock(buf);
	return *page + offsetof(PageHeaderData, pd_linp) + (off - 1) * sizeof(ItemIdData);
}

void
lance_heapdist_prefetch(LanceHeapDist *hd, ItemPointer tid)
{
	char	   *page;
	char	   *lp = heapdist_hinted_lp(hd, tid, true, &page);

	if (lp == NULL)
		return;
	__builtin_prefetch(page);
	__builtin_prefetch(lp);
}

/*
 * The row's lines, found through its line pointer, which is read only to
 * compute addresses to prefetch, kept inside the page; nothing else is
 * read.
 */
void
lance_heapdist_prefetch_row(LanceHeapDist *hd, ItemPointer tid)
{
	char	   *page;
	char	   *lpp = heapdist_hinted_lp(hd, tid, false, &page);
	ItemIdData	lp;
	unsigned	start,
				len;

	if (lpp == NULL)
		return;
	memcpy(&lp, lpp, sizeof(lp));
	if (lp.lp_flags != LP_NORMAL)
		return;
	start = lp.lp_off;
	len = Min(lp.lp_len, HEAPDIST_PREFETCH_ROW_BYTES);
	if (start < SizeOfPageHeaderData || start + len > BLCKSZ)
		return;
	for (unsigned o = 0; o < len; o += 64)
		__builtin_prefetch(page + start + o);
}

bool
lance_heapdist_get(LanceHeapDist *hd, Snapshot snapshot, ItemPointer tid,
				   Datum query, double *value)
{
	return lance_heapdist_get_toast(hd, snapshot, tid, query, value, NULL, NULL);
}

bool
lance_heapdist_get_toast(LanceHeapDist *hd, Snapshot snapshot, ItemPointer tid,
						 Datum query, double *value, Oid *toastrelid, Oid *valueid)
{
	bool		copied;
	struct varlena *v;

	if (valueid != NULL)
		*toastrelid = *valueid = InvalidOid;
	v = heapdist_fetch(hd, snapshot, tid, &copied, toastrelid, valueid);

	if (v != NULL)
	{
		*value = DatumGetFloat8(FunctionCall2Coll(hd->distproc, hd->collation,
												  PointerGetDatum(v), query));
		if (copied)
			pfree(v);
	}
	ExecClearTuple(hd->slot);
	return v != NULL;
}

struct varlena *
lance_heapdist_value(LanceHeapDist *hd, Snapshot snapshot, ItemPointer tid)
{
	bool		copied;
	struct varlena *v = heapdist_fetch(hd, snapshot, tid, &copied, NULL, NULL);
	struct varlena *out = NULL;

	if (v != NULL)
	{
		/* a private, plain copy: the slot is cleared below */
		out = PG_DETOAST_DATUM_COPY(PointerGetDatum(v));
		if (copied)
			pfree(v);
	}
	ExecClearTuple(hd->slot);
	return out;
}

void
lance_heapdist_end(LanceHeapDist *hd)
{
	if (hd == NULL)
		return;
	if (hd->toast)
		lance_toast_fetch_end(hd->toast);
	if (hd->buf != InvalidBuffer)
		ReleaseBuffer(hd->buf);
	table_index_fetch_end(hd->fetch);
	ExecDropSingleTupleTableSlot(hd->slot);
	if (hd->estate)
		FreeExecutorState(hd->estate);
	pfree(hd);
}
