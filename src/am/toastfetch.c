/*
 * toastfetch.c
 *	  Out-of-line values of one table read through one open toast index
 *	  scan (see toastfetch.h for why).
 *
 * A value is stored as chunks (chunk_id = value id, chunk_seq 0..n-1,
 * chunk_data) in the toast table, indexed on (chunk_id, chunk_seq).  Each
 * fetch rescans the same index scan with the value id and copies the
 * chunks in order, checking every sequence number and size against the
 * toast pointer: a damaged toast table gives an ERROR, never a short or
 * overrun copy.  Compressed values and pointers into another relation take
 * the generic path.
 *
 * For a heapam toast table the chunks are read without a slot: the index
 * scan only returns TIDs, each chunk's block comes through the
 * recent-buffer hint (am/bufhint.h) and stays pinned while the next chunk
 * is on it (a value's chunks are usually stored together), and the chunk
 * is checked against the toast snapshot by heap_hot_search_buffer.  The
 * value is assembled in one buffer reused by every fetch of the scan.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/toast_internals.h"
#include "am/bufhint.h"
#include "am/toastfetch.h"
#include "executor/tuptable.h"
#include "storage/bufmgr.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#if PG_VERSION_NUM >= 140000
#define LANCE_EXTSIZE(p)	VARATT_EXTERNAL_GET_EXTSIZE(p)
#else
#define LANCE_EXTSIZE(p)	((p).va_extsize)
#endif

struct LanceToastFetch
{
	Relation	toastrel;
	Relation   *toastidxs;
	int			ntoastidxs;
	int			valid;			/* the index to scan */
	IndexScanDesc scan;
	TupleTableSlot *slot;
	SnapshotData snapshot;
	ScanKeyData key;
	bool		direct;			/* heapam toast table: read chunks directly */
	Buffer		buf;			/* toast block pinned by the direct path */
	BlockNumber blkno;
	MemoryContext cxt;
	struct varlena *value;		/* reused result buffer */
	Size		valuesize;
};

LanceToastFetch *
lance_toast_fetch_begin(Relation heap)
{
	LanceToastFetch *tf;

	if (!OidIsValid(heap->rd_rel->reltoastrelid))
		return NULL;
	tf = palloc0(sizeof(LanceToastFetch));
	tf->toastrel = table_open(heap->rd_rel->reltoastrelid, AccessShareLock);
	tf->valid = toast_open_indexes(tf->toastrel, AccessShareLock,
								   &tf->toastidxs, &tf->ntoastidxs);
	init_toast_snapshot(&tf->snapshot);
	ScanKeyInit(&tf->key, 1, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(InvalidOid));
	tf->scan = index_beginscan(tf->toastrel, tf->toastidxs[tf->valid],
							   &tf->snapshot, 1, 0);
	tf->slot = table_slot_create(tf->toastrel, NULL);
	tf->direct = tf->toastrel->rd_tableam == GetHeapamTableAmRoutine();
	tf->buf = InvalidBuffer;
	tf->cxt = CurrentMemoryContext;
	return tf;
}

/* Chunk payload of a toast tuple (stored in line, maybe short header). */
static char *
lance_chunk_data(struct varlena *chunk, int32 *size, bool *ok)
{
	*ok = true;
	if (!VARATT_IS_EXTENDED(chunk))
	{
		*size = VARSIZE(chunk) - VARHDRSZ;
		return VARDATA(chunk);
	}
	if (VARATT_IS_SHORT(chunk))
	{
		*size = VARSIZE_SHORT(chunk) - VARHDRSZ_SHORT;
		return VARDATA_SHORT(chunk);
	}
	*ok = false;
	return NULL;
}

/*
 * Copy chunk number next of the value into result after checking it: its
 * value id, sequence number and payload size must be the expected ones, and
 * with tend (the end of the tuple on its page) its payload must lie in the
 * tuple.  ok is false when an attribute was NULL.
 */
static void
toast_take_chunk(LanceToastFetch *tf, struct varatt_external *ptr,
				 struct varlena *result, int32 attrsize, int32 nchunks,
				 int32 next, bool ok, Oid id, int32 seq,
				 struct varlena *chunk, char *tend)
{
	int32		size = -1;
	int32		want;
	char	   *data = NULL;

	if (ok && tend != NULL)
	{
		ptrdiff_t	room = tend - (char *) chunk;

		if (room <= 0 || VARATT_IS_1B_E(chunk))
			ok = false;
		else if (VARATT_IS_1B(chunk))
			ok = VARSIZE_1B(chunk) <= room;
		else
			ok = room >= VARHDRSZ && VARSIZE_4B(chunk) <= room;
	}
	if (ok)
		data = lance_chunk_data(chunk, &size, &ok);
	want = seq == nchunks - 1 ?
		attrsize - (nchunks - 1) * (int32) TOAST_MAX_CHUNK_SIZE :
		(int32) TOAST_MAX_CHUNK_SIZE;
	if (!ok || id != ptr->va_valueid || seq != next || seq >= nchunks ||
		size != want)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg_internal("unexpected chunk %d (expected %d of %d) of toast value %u in %s",
								 seq, next, nchunks, ptr->va_valueid,
								 RelationGetRelationName(tf->toastrel))));
	memcpy(VARDATA(result) + (Size) seq * TOAST_MAX_CHUNK_SIZE, data, size);
}

/*
 * The chunks of the value the index scan was rescanned for, read from the
 * heapam toast table without a slot; returns how many were copied.
 */
static int32
toast_read_direct(LanceToastFetch *tf, struct varatt_external *ptr,
				  struct varlena *result, int32 attrsize, int32 nchunks)
{
	TupleDesc	desc = RelationGetDescr(tf->toastrel);
	ItemPointer tid;
	int32		next = 0;

	while ((tid = index_getnext_tid(tf->scan, ForwardScanDirection)) != NULL)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(tid);
		ItemPointerData t = *tid;
		HeapTupleData tuple;
		bool		all_dead;
		bool		found;
		bool		isnull;
		char	   *tend;
		Datum		id,
					seq = (Datum) 0,
					data = (Datum) 0;

		if (tf->buf == InvalidBuffer || tf->blkno != blkno)
		{
			if (tf->buf != InvalidBuffer)
				ReleaseBuffer(tf->buf);
			tf->buf = InvalidBuffer;	/* if the read fails */
			tf->buf = lance_read_buffer_hinted(tf->toastrel, blkno);
			tf->blkno = blkno;
		}
		LockBuffer(tf->buf, BUFFER_LOCK_SHARE);
		found = heap_hot_search_buffer(&t, tf->toastrel, tf->buf, &tf->snapshot,
									   &tuple, &all_dead, true);
		LockBuffer(tf->buf, BUFFER_LOCK_UNLOCK);
		if (!found)
			continue;
		/* the pin keeps the tuple in place; it must lie in its page */
		tend = (char *) tuple.t_data + tuple.t_len;
		if (tend > (char *) BufferGetPage(tf->buf) + BLCKSZ ||
			tuple.t_len < SizeofHeapTupleHeader)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg_internal("toast tuple (%u,%u) of value %u in %s overruns its page",
									 ItemPointerGetBlockNumber(&t),
									 ItemPointerGetOffsetNumber(&t),
									 ptr->va_valueid,
									 RelationGetRelationName(tf->toastrel))));
		id = heap_getattr(&tuple, 1, desc, &isnull);
		if (!isnull)
			seq = heap_getattr(&tuple, 2, desc, &isnull);
		if (!isnull)
			data = heap_getattr(&tuple, 3, desc, &isnull);
		toast_take_chunk(tf, ptr, result, attrsize, nchunks, next, !isnull,
						 DatumGetObjectId(id), DatumGetInt32(seq),
						 (struct varlena *) DatumGetPointer(data), tend);
		next++;
	}
	return next;
}

struct varlena *
lance_toast_fetch(LanceToastFetch *tf, struct varlena *attr, bool *copied)
{
	struct varatt_external ptr;
	struct varlena *result;
	int32		attrsize;
	int32		nchunks;
	int32		next = 0;

	*copied = false;
	if (tf == NULL || !VARATT_IS_EXTERNAL_ONDISK(attr))
		return attr;

	VARATT_EXTERNAL_GET_POINTER(ptr, attr);
	if (VARATT_EXTERNAL_IS_COMPRESSED(ptr) ||
		ptr.va_toastrelid != RelationGetRelid(tf->toastrel))
	{
		*copied = true;
		return detoast_attr(attr);
	}

	attrsize = LANCE_EXTSIZE(ptr);
	if (attrsize < 0 || (Size) attrsize > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg_internal("invalid size %d of toast value %u in %s",
								 attrsize, ptr.va_valueid,
								 RelationGetRelationName(tf->toastrel))));
	nchunks = attrsize == 0 ? 0 : (attrsize - 1) / TOAST_MAX_CHUNK_SIZE + 1;
	if (tf->valuesize < (Size) attrsize + VARHDRSZ)
	{
		if (tf->value)
			pfree(tf->value);
		tf->value = NULL;
		tf->value = MemoryContextAlloc(tf->cxt, attrsize + VARHDRSZ);
		tf->valuesize = attrsize + VARHDRSZ;
	}
	result = tf->value;
	SET_VARSIZE(result, attrsize + VARHDRSZ);

	tf->key.sk_argument = ObjectIdGetDatum(ptr.va_valueid);
	index_rescan(tf->scan, &tf->key, 1, NULL, 0);
	if (tf->direct)
		next = toast_read_direct(tf, &ptr, result, attrsize, nchunks);
	else
	{
		while (index_getnext_slot(tf->scan, ForwardScanDirection, tf->slot))
		{
			bool		isnull;
			Datum		id = slot_getattr(tf->slot, 1, &isnull);
			Datum		seq = isnull ? (Datum) 0 : slot_getattr(tf->slot, 2, &isnull);
			Datum		data = isnull ? (Datum) 0 : slot_getattr(tf->slot, 3, &isnull);

			toast_take_chunk(tf, &ptr, result, attrsize, nchunks, next, !isnull,
							 DatumGetObjectId(id), DatumGetInt32(seq),
							 (struct varlena *) DatumGetPointer(data), NULL);
			next++;
		}
		ExecClearTuple(tf->slot);
	}
	if (next != nchunks)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg_internal("missing chunk %d of %d of toast value %u in %s",
								 next, nchunks, ptr.va_valueid,
								 RelationGetRelationName(tf->toastrel))));
	return result;
}

void
lance_toast_fetch_end(LanceToastFetch *tf)
{
	if (tf == NULL)
		return;
	if (tf->buf != InvalidBuffer)
		ReleaseBuffer(tf->buf);
	if (tf->value)
		pfree(tf->value);
	ExecDropSingleTupleTableSlot(tf->slot);
	index_endscan(tf->scan);
	toast_close_indexes(tf->toastidxs, tf->ntoastidxs, AccessShareLock);
	table_close(tf->toastrel, AccessShareLock);
	pfree(tf);
}
