/*
 * heapdist.c
 *	  Exact distances read from the table (see heapdist.h).
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/tableam.h"
#include "am/heapdist.h"
#include "am/ivf.h"
#include "am/toastfetch.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "utils/rel.h"

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
	{
		struct varlena *raw = (struct varlena *) DatumGetPointer(datum);

		if (valueid != NULL && VARATT_IS_EXTERNAL_ONDISK(raw))
		{
			struct varatt_external ptr;

			VARATT_EXTERNAL_GET_POINTER(ptr, raw);
			*toastrelid = ptr.va_toastrelid;
			*valueid = ptr.va_valueid;
		}
		return lance_toast_fetch(hd->toast, raw, copied);
	}
	return (struct varlena *) DatumGetPointer(datum);
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
	table_index_fetch_end(hd->fetch);
	ExecDropSingleTupleTableSlot(hd->slot);
	if (hd->estate)
		FreeExecutorState(hd->estate);
	pfree(hd);
}
