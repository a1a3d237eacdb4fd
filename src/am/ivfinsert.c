/*
 * ivfinsert.c
 *	  aminsert for lance_ivf: encode the new row against the cached
 *	  quantizer and append it to its nearest list, WAL-logged with
 *	  GenericXLog.
 */
#include "postgres.h"

#include "am/ivf.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

void
IvfPutEntry(Page page, const IvfListLayout *layout, int slot,
			const uint8 *code, const float *aux, ItemPointer tid)
{
	Size		auxbytes = sizeof(float) * layout->num_aux;

	memcpy((char *) page + layout->aux_off + auxbytes * slot, aux, auxbytes);
	quantizer_code_put(layout->quant, (uint8 *) page + layout->code_off, slot,
					   code);
	memcpy((char *) page + layout->tid_off + sizeof(ItemPointerData) * slot,
		   tid, sizeof(ItemPointerData));
}

/*
 * Is the structure the meta page points to still the one with this
 * build_id?  In-place rebalancing (ivfrebalance.c) switches to a new
 * directory and centroid blob while holding every directory page
 * exclusively, so a caller holding one of them gets a stable answer.
 */
static bool
IvfStructureIs(Relation index, uint64 build_id)
{
	Buffer		buf = ReadBuffer(index, IVF_METAPAGE_BLKNO);
	IvfMetaPageData meta;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	IvfCheckPage(index, BufferGetPage(buf), IVF_METAPAGE_BLKNO, IVF_PAGE_META);
	memcpy(&meta, PageGetContents(BufferGetPage(buf)), sizeof(meta));
	UnlockReleaseBuffer(buf);
	return meta.build_id == build_id;
}

/*
 * Append one entry to a list.  Lock order, shared with vacuum and
 * rebalancing: the list's directory page first, then the meta page or list
 * pages in chain order.  The directory entry's insert_page lets inserts
 * reuse room that VACUUM freed before extending the chain.
 *
 * Returns false, changing nothing, when the structure was rebalanced since
 * the caller chose the list (meta->build_id is stale): the caller reloads
 * the centroids and chooses again, so no entry lands in a retired list.
 */
bool
IvfAppendToList(Relation index, const IvfMetaPageData *meta,
				const IvfListLayout *layout, uint32 list,
				const uint8 *code, const float *aux, ItemPointer tid,
				float radius)
{
	BlockNumber dirblk;
	int			diroff;
	Buffer		dirbuf;
	IvfListInfo info;
	BlockNumber blkno;
	Buffer		buf = InvalidBuffer;
	Buffer		newbuf = InvalidBuffer;
	GenericXLogState *state;
	Page		dirpage;
	Page		page;
	IvfListPageHeader *hdr;

	IvfDirectoryLocate(list, meta->dir_start, &dirblk, &diroff);
	dirbuf = ReadBuffer(index, dirblk);
	LockBuffer(dirbuf, BUFFER_LOCK_EXCLUSIVE);
	/* before looking at the page: a retired directory page may be reused */
	if (!IvfStructureIs(index, meta->build_id))
	{
		UnlockReleaseBuffer(dirbuf);
		return false;
	}
	IvfCheckPage(index, BufferGetPage(dirbuf), dirblk, IVF_PAGE_DIRECTORY);
	memcpy(&info, PageGetContents(BufferGetPage(dirbuf)) + sizeof(IvfListInfo) * diroff,
		   sizeof(IvfListInfo));

	/* find a page with room, from the hint to the tail */
	blkno = info.insert_page != InvalidBlockNumber ? info.insert_page : info.tail;
	while (blkno != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		IvfCheckPage(index, page, blkno, IVF_PAGE_LIST);
		hdr = (IvfListPageHeader *) PageGetContents(page);
		if (hdr->nitems < hdr->capacity)
			break;
		if (blkno == info.tail)
			break;				/* full tail: extend below, keeping it locked */
		blkno = IvfPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
		buf = InvalidBuffer;
	}

	/* one WAL record: directory entry, list page(s) */
	state = GenericXLogStart(index);
	dirpage = GenericXLogRegisterBuffer(state, dirbuf, 0);
	if (BufferIsValid(buf) &&
		((IvfListPageHeader *) PageGetContents(BufferGetPage(buf)))->nitems <
		((IvfListPageHeader *) PageGetContents(BufferGetPage(buf)))->capacity)
	{
		page = GenericXLogRegisterBuffer(state, buf, 0);
		hdr = (IvfListPageHeader *) PageGetContents(page);
		IvfPutEntry(page, layout, hdr->nitems, code, aux, tid);
		hdr->nitems++;
		info.insert_page = BufferGetBlockNumber(buf);
	}
	else
	{
		/* extend the chain: a new tail linked from the old one */
		Page		newpage;

		newbuf = IvfNewBuffer(index, MAIN_FORKNUM);
		newpage = GenericXLogRegisterBuffer(state, newbuf, GENERIC_XLOG_FULL_IMAGE);
		IvfInitListPage(newpage, list, layout);
		hdr = (IvfListPageHeader *) PageGetContents(newpage);
		IvfPutEntry(newpage, layout, 0, code, aux, tid);
		hdr->nitems = 1;
		if (BufferIsValid(buf))
		{
			Page		tailpage = GenericXLogRegisterBuffer(state, buf, 0);

			IvfPageGetOpaque(tailpage)->next = BufferGetBlockNumber(newbuf);
		}
		else
			info.head = BufferGetBlockNumber(newbuf);
		info.tail = info.insert_page = BufferGetBlockNumber(newbuf);
	}

	info.count++;
	info.inserted++;
	if (radius > info.radius)
		info.radius = radius;
	memcpy(PageGetContents(dirpage) + sizeof(IvfListInfo) * diroff, &info,
		   sizeof(IvfListInfo));
	GenericXLogFinish(state);

	if (BufferIsValid(newbuf))
		UnlockReleaseBuffer(newbuf);
	if (BufferIsValid(buf))
		UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(dirbuf);
	return true;
}

bool
ivfinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		  Relation heap, IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
		  bool indexUnchanged,
#endif
		  IndexInfo *indexInfo)
{
	MemoryContext insertctx;
	MemoryContext old;
	IvfIndexCache *cache;
	float	   *x;
	int			dim;
	uint32		list;
	float		radius;
	uint8	   *code;
	float	   *aux;
	float	   *rows;
	int			nrows;

	/* NULL vectors are not indexed */
	if (isnull[0])
		return false;

	insertctx = AllocSetContextCreate(CurrentMemoryContext,
									  "lance_ivf insert",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(insertctx);

	cache = IvfGetCache(index);
	rows = LanceDatumToRows(values[0], cache->type, &dim, &nrows);
	if (nrows > 0 && dim != cache->meta.dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", cache->meta.dim, dim)));
	code = palloc(cache->layout.code_size);
	aux = palloc(sizeof(float) * Max(cache->layout.num_aux, 1));
	/* a multivector's elements become entries under the same TID */
	for (int r = 0; r < nrows; r++)
	{
		x = rows + (Size) r * dim;
		if (cache->metric->normalize)
			LanceNormalize(x, dim);

		for (;;)
		{
			list = IvfNearestList(cache, x, &radius);
			if (quantizer_wants_residuals(cache->quant))
			{
				const float *c = cache->centroids + (Size) list * dim;
				float	   *res = palloc(sizeof(float) * dim);

				for (int j = 0; j < dim; j++)
					res[j] = x[j] - c[j];
				quantizer_encode(cache->quant, res, code, aux);
				pfree(res);
			}
			else
				quantizer_encode(cache->quant, x, code, aux);

			if (IvfAppendToList(index, &cache->meta, &cache->layout, list,
								code, aux, heap_tid, radius))
				break;
			/* rebalanced meanwhile: the new centroids decide */
			cache = IvfGetCache(index);
		}
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(insertctx);
	return false;
}
