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
 * value is assembled in one buffer reused by every fetch of the scan, and
 * the backend remembers the chunk TIDs of the values it read, so that the
 * next read of a value skips the toast index (see ToastTids below).
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
#include "common/hashfn.h"
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
	Oid			relnumber;		/* toast relfilenode, for the TID cache */
	BlockNumber nblocks;		/* toast blocks at the first cache hit */
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
#if PG_VERSION_NUM >= 160000
	tf->relnumber = tf->toastrel->rd_locator.relNumber;
#else
	tf->relnumber = tf->toastrel->rd_node.relNode;
#endif
	tf->nblocks = InvalidBlockNumber;
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
 * Copy chunk number next of the value into result if it is that chunk: its
 * value id, sequence number and payload size must be the expected ones, and
 * with tend (the end of the tuple on its page) its payload must lie in the
 * tuple.  ok is false when an attribute was NULL.
 */
static bool
toast_take_chunk(struct varatt_external *ptr, struct varlena *result,
				 int32 attrsize, int32 nchunks, int32 next, bool ok, Oid id,
				 int32 seq, struct varlena *chunk, char *tend)
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
		return false;
	memcpy(VARDATA(result) + (Size) seq * TOAST_MAX_CHUNK_SIZE, data, size);
	return true;
}

static void
toast_bad_chunk(LanceToastFetch *tf, struct varatt_external *ptr, int32 seq,
				int32 next, int32 nchunks)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg_internal("unexpected chunk %d (expected %d of %d) of toast value %u in %s",
							 seq, next, nchunks, ptr->va_valueid,
							 RelationGetRelationName(tf->toastrel))));
}

/* what toast_read_chunk found */
typedef enum
{
	CHUNK_NONE,					/* no tuple visible to the toast snapshot */
	CHUNK_OK,					/* the expected chunk, copied */
	CHUNK_BAD					/* a tuple that is not the expected chunk */
} ChunkRead;

/*
 * Read the toast tuple at tid (the chunk visible to the toast snapshot,
 * pinned in tf->buf) and take it as chunk number next of the value (*seq
 * says which chunk it claimed to be, -1 if none).
 */
static ChunkRead
toast_read_chunk(LanceToastFetch *tf, ItemPointer tid, struct varatt_external *ptr,
				 struct varlena *result, int32 attrsize, int32 nchunks,
				 int32 next, int32 *seq)
{
	TupleDesc	desc = RelationGetDescr(tf->toastrel);
	ItemPointerData t = *tid;
	HeapTupleData tuple;
	bool		found;
	bool		isnull;
	char	   *tend;
	Datum		id,
				sq = (Datum) 0,
				data = (Datum) 0;

	*seq = -1;
	found = lance_hot_search_pinned(tf->toastrel, &tf->buf, &tf->blkno, &t,
									&tf->snapshot, &tuple);
	if (!found)
		return CHUNK_NONE;
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
		sq = heap_getattr(&tuple, 2, desc, &isnull);
	if (!isnull)
		data = heap_getattr(&tuple, 3, desc, &isnull);
	if (!isnull)
		*seq = DatumGetInt32(sq);
	return toast_take_chunk(ptr, result, attrsize, nchunks, next, !isnull,
							DatumGetObjectId(id), DatumGetInt32(sq),
							(struct varlena *) DatumGetPointer(data), tend) ?
		CHUNK_OK : CHUNK_BAD;
}

/*
 * Chunk TIDs of recently read values, so that reading a value again skips
 * the toast index: a backend-local direct-mapped table keyed by (toast
 * relation, relfilenode, value id), values of up to TOAST_TIDS_MAX chunks.
 * A cached TID is only a guess: the chunk read there must be visible to the
 * toast snapshot and carry the value id, the sequence number and the size
 * expected, else the value is read through the index.  That is enough
 * because the row being re-ranked is visible, so its value's chunks are
 * live, and a value id is never given to a new value while any chunk of an
 * old one with that id remains (GetNewOidWithIndex checks with
 * SnapshotAny): a visible tuple with that id and sequence number is this
 * value's chunk.  TIDs past the relation's length at the scan's start
 * (VACUUM may have truncated it before; it cannot while the scan holds its
 * lock) are not read.
 */
#define TOAST_TIDS_SLOTS	(1 << 15)
#define TOAST_TIDS_MAX		8

typedef struct ToastTids
{
	Oid			toastrelid;		/* InvalidOid: empty slot */
	Oid			relnumber;
	Oid			valueid;
	int32		nchunks;
	ItemPointerData tids[TOAST_TIDS_MAX];
} ToastTids;

static ToastTids *toast_tids;

static inline ToastTids *
toast_tids_slot(LanceToastFetch *tf, Oid valueid)
{
	if (toast_tids == NULL)
		toast_tids = MemoryContextAllocZero(TopMemoryContext,
											TOAST_TIDS_SLOTS * sizeof(ToastTids));
	return &toast_tids[murmurhash32(valueid ^ (tf->relnumber * 0x9E3779B1u)) &
					   (TOAST_TIDS_SLOTS - 1)];
}

/* Read the value through its cached chunk TIDs; false when it must be read through the index. */
static bool
toast_read_cached(LanceToastFetch *tf, struct varatt_external *ptr,
				  struct varlena *result, int32 attrsize, int32 nchunks)
{
	ToastTids  *e;
	int32		seq;

	if (nchunks > TOAST_TIDS_MAX)
		return false;
	e = toast_tids_slot(tf, ptr->va_valueid);
	if (e->toastrelid != RelationGetRelid(tf->toastrel) ||
		e->relnumber != tf->relnumber || e->valueid != ptr->va_valueid ||
		e->nchunks != nchunks)
		return false;
	if (tf->nblocks == InvalidBlockNumber)
		tf->nblocks = RelationGetNumberOfBlocks(tf->toastrel);
	for (int32 k = 0; k < nchunks; k++)
	{
		if (ItemPointerGetBlockNumber(&e->tids[k]) >= tf->nblocks ||
			toast_read_chunk(tf, &e->tids[k], ptr, result, attrsize, nchunks, k, &seq) != CHUNK_OK)
		{
			e->toastrelid = InvalidOid;
			return false;
		}
	}
	return true;
}

/*
 * The chunks of the value the index scan was rescanned for, read from the
 * heapam toast table without a slot; returns how many were copied and
 * remembers their TIDs.
 */
static int32
toast_read_direct(LanceToastFetch *tf, struct varatt_external *ptr,
				  struct varlena *result, int32 attrsize, int32 nchunks)
{
	ItemPointerData tids[TOAST_TIDS_MAX];
	ItemPointer tid;
	int32		next = 0;
	int32		seq;

	while ((tid = index_getnext_tid(tf->scan, ForwardScanDirection)) != NULL)
	{
		ChunkRead	r = toast_read_chunk(tf, tid, ptr, result, attrsize, nchunks,
										 next, &seq);

		if (r == CHUNK_NONE)
			continue;
		if (r == CHUNK_BAD)
			toast_bad_chunk(tf, ptr, seq, next, nchunks);
		if (next < TOAST_TIDS_MAX)
			tids[next] = *tid;
		next++;
	}
	if (next == nchunks && nchunks <= TOAST_TIDS_MAX && nchunks > 0)
	{
		ToastTids  *e = toast_tids_slot(tf, ptr->va_valueid);

		e->toastrelid = RelationGetRelid(tf->toastrel);
		e->relnumber = tf->relnumber;
		e->valueid = ptr->va_valueid;
		e->nchunks = nchunks;
		memcpy(e->tids, tids, nchunks * sizeof(ItemPointerData));
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

	if (tf->direct && toast_read_cached(tf, &ptr, result, attrsize, nchunks))
		return result;
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

			if (!toast_take_chunk(&ptr, result, attrsize, nchunks, next, !isnull,
								  DatumGetObjectId(id), DatumGetInt32(seq),
								  (struct varlena *) DatumGetPointer(data), NULL))
				toast_bad_chunk(tf, &ptr, isnull ? -1 : DatumGetInt32(seq), next, nchunks);
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
