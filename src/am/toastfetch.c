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
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heaptoast.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/toast_internals.h"
#include "am/toastfetch.h"
#include "executor/tuptable.h"
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
	result = (struct varlena *) palloc(attrsize + VARHDRSZ);
	SET_VARSIZE(result, attrsize + VARHDRSZ);
	*copied = true;

	tf->key.sk_argument = ObjectIdGetDatum(ptr.va_valueid);
	index_rescan(tf->scan, &tf->key, 1, NULL, 0);
	while (index_getnext_slot(tf->scan, ForwardScanDirection, tf->slot))
	{
		bool		isnull;
		int32		seq;
		int32		size;
		int32		want;
		char	   *data;
		bool		ok;

		seq = DatumGetInt32(slot_getattr(tf->slot, 2, &isnull));
		if (isnull)
			ok = false;
		else
		{
			Datum		d = slot_getattr(tf->slot, 3, &isnull);

			data = isnull ? NULL : lance_chunk_data((struct varlena *) DatumGetPointer(d), &size, &ok);
			ok = ok && !isnull;
		}
		want = seq == nchunks - 1 ?
			attrsize - (nchunks - 1) * (int32) TOAST_MAX_CHUNK_SIZE :
			(int32) TOAST_MAX_CHUNK_SIZE;
		if (!ok || seq != next || seq >= nchunks || size != want)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg_internal("unexpected chunk %d (expected %d of %d) of toast value %u in %s",
									 seq, next, nchunks, ptr.va_valueid,
									 RelationGetRelationName(tf->toastrel))));
		memcpy(VARDATA(result) + (Size) seq * TOAST_MAX_CHUNK_SIZE, data, size);
		next++;
	}
	ExecClearTuple(tf->slot);
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
	ExecDropSingleTupleTableSlot(tf->slot);
	index_endscan(tf->scan);
	toast_close_indexes(tf->toastidxs, tf->ntoastidxs, AccessShareLock);
	table_close(tf->toastrel, AccessShareLock);
	pfree(tf);
}
