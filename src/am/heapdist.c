/*
 * heapdist.c
 *	  Exact distances read from the table (see heapdist.h).
 */
#include "postgres.h"

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

bool
lance_heapdist_get(LanceHeapDist *hd, Snapshot snapshot, ItemPointer tid,
				   Datum query, double *value)
{
	bool		call_again = false;
	bool		all_dead = false;
	ItemPointerData t = *tid;
	Datum		datum;
	bool		isnull;

	if (!table_index_fetch_tuple(hd->fetch, &t, snapshot, hd->slot,
								 &call_again, &all_dead))
		return false;

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
	if (!isnull)
	{
		bool		copied = false;
		struct varlena *v = (struct varlena *) DatumGetPointer(datum);

		if (hd->heapattno != 0)
			v = lance_toast_fetch(hd->toast, v, &copied);
		*value = DatumGetFloat8(FunctionCall2Coll(hd->distproc, hd->collation,
												  PointerGetDatum(v), query));
		if (copied)
			pfree(v);
	}
	ExecClearTuple(hd->slot);
	return !isnull;
}

struct varlena *
lance_heapdist_value(LanceHeapDist *hd, Snapshot snapshot, ItemPointer tid)
{
	bool		call_again = false;
	bool		all_dead = false;
	ItemPointerData t = *tid;
	Datum		datum;
	bool		isnull;
	struct varlena *out = NULL;

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
	if (!isnull)
	{
		bool		copied = false;
		struct varlena *v = (struct varlena *) DatumGetPointer(datum);

		if (hd->heapattno != 0)
			v = lance_toast_fetch(hd->toast, v, &copied);
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
