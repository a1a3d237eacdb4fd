/*
 * hnswbuild.c
 *	  lance_hnsw build: link every row into an in-memory graph (exact
 *	  distances, maintenance_work_mem), train the quantizer on the graph's
 *	  vectors, then write meta page, quantizer and all elements in one
 *	  sequential pass (addresses are computed before the pass, so
 *	  neighbour lists are written final), WAL-logged once at the end.
 *
 * When the graph outgrows maintenance_work_mem the part built so far is
 * written, a NOTICE says how much memory the whole build would have
 * needed, and the remaining rows are linked into the on-disk graph one by
 * one (the aminsert path): slower, never a failure.
 */
#include "postgres.h"

#include <math.h>

#include "access/tableam.h"
#include "am/hnsw.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define HNSW_PHASE_LOAD		2
#define HNSW_PHASE_WRITE	3
#define HNSW_PHASE_INSERT	4

#define HNSW_TRAIN_SAMPLE	65536

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswIndexInfo info;			/* built here, not from the meta page */
	HnswOptions opts;
	QuantKind	configured;
	HnswGraph  *graph;
	ItemPointerData *tids;		/* heap TID per graph node */
	int64		tids_cap;
	bool		flushed;		/* graph written: insert on disk now */
	HnswIndexInfo *disk_info;	/* after the flush */
	double		indtuples;
	double		rows_seen;
	MemoryContext tmpcxt;
	double		est_rows;		/* planner's estimate of the heap's rows */
} HnswBuildState;

/* the graph lives in the build context, whatever the callback runs in */
static MemoryContext build_graph_cxt = NULL;

static void *
build_alloc(size_t size)
{
	return MemoryContextAllocHuge(build_graph_cxt, size);
}

static void
build_release(void *p)
{
	pfree(p);
}

static void
HnswSetupInfo(HnswBuildState *bs, int dim)
{
	HnswIndexInfo *info = &bs->info;
	HnswOptions *o = (HnswOptions *) bs->index->rd_options;

	memset(info, 0, sizeof(*info));
	info->type = LanceGetTypeSupport(bs->index, IVF_TYPE_PROC);
	info->metric = LanceGetMetricSupport(bs->index, IVF_METRIC_PROC);
	if (info->type->elemtype == LANCE_ELEM_BIT || info->metric->hamming)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lance_hnsw does not index bit vectors"),
				 errhint("Use lance_ivf with bit_hamming_ops.")));
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with a type modifier, e.g. vector(128).")));
	if (dim > info->type->maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for lance_hnsw index",
						info->type->maxdim)));
	bs->opts.m = o ? o->m : HNSW_DEFAULT_M;
	bs->opts.ef_construction = o ? o->ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
	bs->opts.num_sub_vectors = o ? o->num_sub_vectors : 0;
	bs->configured = o ? (QuantKind) o->quantizer : QUANT_FLAT;
	if (bs->opts.ef_construction < bs->opts.m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to m")));

	info->meta.magic = HNSW_MAGIC;
	info->meta.version = HNSW_FORMAT_VERSION;
	info->meta.build_id = pg_prng_uint64(&pg_global_prng_state);
	info->meta.dim = (uint16) dim;
	info->meta.elemtype = (uint8) info->type->elemtype;
	info->meta.qkind = QUANT_FLAT;
	info->meta.m = (uint16) bs->opts.m;
	info->meta.ef_construction = (uint16) bs->opts.ef_construction;
	info->meta.quant_start = InvalidBlockNumber;
	info->meta.entry_blkno = InvalidBlockNumber;
	info->meta.entry_offno = InvalidOffsetNumber;
	info->meta.entry_level = -1;
	info->meta.insert_page = InvalidBlockNumber;
	info->meta.data_size = HnswDataSize(info->type->elemtype, dim, QUANT_FLAT, NULL);
}

/* Train sq/pq on an evenly spaced sample of the graph's vectors. */
static void
HnswTrainQuantizer(HnswBuildState *bs)
{
	HnswIndexInfo *info = &bs->info;
	int64		n = bs->graph ? hnsw_graph_size(bs->graph) : 0;
	int			dim = info->meta.dim;
	int64		ns;
	float	   *sample;
	QuantOptions qo;

	if (bs->configured == QUANT_FLAT)
		return;
	/* codebooks need rows; an (almost) empty index stores vectors as they are */
	if (n < (bs->configured == QUANT_PQ ? 256 : 1))
	{
		ereport(NOTICE,
				(errmsg("lance_hnsw index has too few rows to train quantizer \"%s\"; vectors are stored unquantized",
						bs->configured == QUANT_PQ ? "pq" : "sq"),
				 errhint("REINDEX after loading data.")));
		return;
	}
	ns = Min(n, HNSW_TRAIN_SAMPLE);
	sample = lance_palloc_array(float, ns * dim);
	for (int64 i = 0; i < ns; i++)
		memcpy(sample + i * dim, hnsw_graph_vector(bs->graph, i * n / ns),
			   sizeof(float) * dim);
	memset(&qo, 0, sizeof(qo));
	qo.kind = bs->configured;
	qo.metric = info->metric->qmetric;
	qo.dim = dim;
	qo.num_bits = 8;
	qo.max_iterations = 25;
	qo.seed = 1;
	if (qo.kind == QUANT_PQ)
		qo.num_sub_vectors = bs->opts.num_sub_vectors > 0 ?
			Min(bs->opts.num_sub_vectors, dim) : Max(dim / 4, 1);
	qo.interrupt_hook = LanceInterruptHook;
	qo.alloc = LanceQuantAlloc;
	qo.release = LanceQuantFree;
	info->quant = quantizer_train(&qo, sample, ns);
	if (info->quant == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot train the lance_hnsw quantizer with these parameters")));
	pfree(sample);
	info->code_size = (int) quantizer_code_size(info->quant);
	info->num_aux = quantizer_num_aux(info->quant);
	info->meta.qkind = (uint8) bs->configured;
	info->meta.data_size = HnswDataSize(info->type->elemtype, dim, bs->configured,
										info->quant);
}

static Buffer
HnswBuildNewPage(Relation index, uint16 type)
{
	Buffer		buf = HnswNewBuffer(index);

	HnswInitPage(BufferGetPage(buf), type);
	return buf;
}

static void
HnswFinishPage(Buffer buf)
{
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* Write meta, quantizer blob and every graph node; no WAL yet. */
static void
HnswWriteGraph(HnswBuildState *bs)
{
	Relation	index = bs->index;
	HnswIndexInfo *info = &bs->info;
	HnswMetaPageData *meta = &info->meta;
	int64		n = bs->graph ? hnsw_graph_size(bs->graph) : 0;
	int			m = meta->m;
	Buffer		metabuf;
	Buffer		buf = InvalidBuffer;
	BlockNumber *blks;
	OffsetNumber *offs;
	BlockNumber blk;
	Size		lower;
	Size		upper;
	const Size	page_upper = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData));
	char	   *tupbuf;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WRITE);
	HnswTrainQuantizer(bs);

	metabuf = HnswBuildNewPage(index, HNSW_PAGE_META);
	Assert(BufferGetBlockNumber(metabuf) == HNSW_METAPAGE_BLKNO);

	if (info->quant)
	{
		size_t		len = quantizer_serialized_size(info->quant);
		uint8	   *blob = palloc(len);
		size_t		done = 0;
		Buffer		prev = InvalidBuffer;
		const size_t per = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(HnswPageOpaqueData)) - sizeof(uint32);

		quantizer_serialize(info->quant, blob);
		meta->quant_len = (uint32) len;
		while (done < len)
		{
			Buffer		b = HnswBuildNewPage(index, HNSW_PAGE_BLOB);
			uint32		c = (uint32) Min(per, len - done);
			Page		p = BufferGetPage(b);

			memcpy(PageGetContents(p), &c, sizeof(uint32));
			memcpy(PageGetContents(p) + sizeof(uint32), blob + done, c);
			((PageHeader) p)->pd_lower = (PageGetContents(p) + sizeof(uint32) + c) - (char *) p;
			if (BufferIsValid(prev))
			{
				HnswPageGetOpaque(BufferGetPage(prev))->next = BufferGetBlockNumber(b);
				HnswFinishPage(prev);
			}
			else
				meta->quant_start = BufferGetBlockNumber(b);
			prev = b;
			done += c;
		}
		HnswFinishPage(prev);
		pfree(blob);
	}

	/* element addresses first: neighbour slots are then written final */
	blks = lance_palloc_array(BlockNumber, Max(n, 1));
	offs = lance_palloc_array(OffsetNumber, Max(n, 1));
	blk = RelationGetNumberOfBlocks(index);
	lower = upper = 0;
	for (int64 i = 0; i < n; i++)
	{
		Size		sz = MAXALIGN(HNSW_ELEM_SIZE(meta->data_size, m,
											 hnsw_graph_node_level(bs->graph, i)));

		if (i == 0 || lower + sizeof(ItemIdData) + sz > upper)
		{
			if (i > 0)
				blk++;
			lower = SizeOfPageHeaderData;
			upper = page_upper;
			offs[i] = FirstOffsetNumber;
		}
		else
			offs[i] = offs[i - 1] + 1;
		if (lower + sizeof(ItemIdData) + sz > upper)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("lance_hnsw element of %zu bytes does not fit in a page", sz),
					 errhint("Use quantizer 'sq' or 'pq', a halfvec column, or a smaller m.")));
		blks[i] = blk;
		lower += sizeof(ItemIdData);
		upper -= sz;
	}

	tupbuf = palloc0(HNSW_ELEM_SIZE(meta->data_size, m, HNSW_MAX_LEVEL));
	for (int64 i = 0; i < n; i++)
	{
		int			level = hnsw_graph_node_level(bs->graph, i);
		Size		size = HNSW_ELEM_SIZE(meta->data_size, m, level);
		HnswElementTuple tup = (HnswElementTuple) tupbuf;
		HnswSlot   *slots = HnswElementSlots(tup, meta->data_size);
		const float *v = hnsw_graph_vector(bs->graph, i);
		OffsetNumber off;

		if ((i & 1023) == 0)
		{
			CHECK_FOR_INTERRUPTS();
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i);
		}
		memset(tupbuf, 0, size);
		tup->level = (uint8) level;
		tup->heaptid = bs->tids[i];
		HnswEncode(info, v, tup->data);
		for (int s = 0; s < hnsw_total_slots(m, level); s++)
		{
			BlockIdSet(&slots[s].blk, InvalidBlockNumber);
			slots[s].off = InvalidOffsetNumber;
		}
		for (int lc = 0; lc <= level; lc++)
		{
			const int32 *nb;
			int			nn = hnsw_graph_neighbors(bs->graph, i, lc, &nb);
			HnswSlot   *ls = slots + hnsw_level_offset(m, lc);

			for (int j = 0; j < nn; j++)
			{
				BlockIdSet(&ls[j].blk, blks[nb[j]]);
				ls[j].off = offs[nb[j]];
				ls[j].dist16 = lance_f32_to_f16(hnsw_graph_distance(bs->graph, v, nb[j]));
			}
		}
		if (!BufferIsValid(buf) || BufferGetBlockNumber(buf) != blks[i])
		{
			if (BufferIsValid(buf))
				HnswFinishPage(buf);
			buf = HnswBuildNewPage(index, HNSW_PAGE_ELEMENT);
			if (BufferGetBlockNumber(buf) != blks[i])
				elog(ERROR, "lance_hnsw build: page %u where %u was planned",
					 BufferGetBlockNumber(buf), blks[i]);
		}
		off = PageAddItem(BufferGetPage(buf), (Item) tup, size, InvalidOffsetNumber,
						  false, false);
		if (off != offs[i])
			elog(ERROR, "lance_hnsw build: element at offset %u where %u was planned",
				 off, offs[i]);
	}
	if (BufferIsValid(buf))
	{
		meta->insert_page = BufferGetBlockNumber(buf);
		HnswFinishPage(buf);
	}
	if (n > 0)
	{
		int64		e = hnsw_graph_entry(bs->graph);

		meta->entry_blkno = blks[e];
		meta->entry_offno = offs[e];
		meta->entry_level = (int16) hnsw_graph_node_level(bs->graph, e);
	}
	meta->rows_built = n;
	memcpy(PageGetContents(BufferGetPage(metabuf)), meta, sizeof(*meta));
	((PageHeader) BufferGetPage(metabuf))->pd_lower =
		(PageGetContents(BufferGetPage(metabuf)) + sizeof(*meta)) - (char *) BufferGetPage(metabuf);
	HnswFinishPage(metabuf);
	pfree(blks);
	pfree(offs);
	pfree(tupbuf);
}

static void
HnswFlush(HnswBuildState *bs)
{
	HnswWriteGraph(bs);
	if (RelationNeedsWAL(bs->index))
		log_newpage_range(bs->index, MAIN_FORKNUM, 0,
						  RelationGetNumberOfBlocks(bs->index), true);
	if (bs->graph)
	{
		hnsw_graph_free(bs->graph);
		bs->graph = NULL;
	}
	bs->flushed = true;
}

static void
HnswBuildCallback(Relation index, ItemPointer tid, Datum *values,
				  bool *isnull, bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext old;
	float	   *x;
	bool		indexable;

	if (isnull[0])
		return;
	bs->rows_seen++;
	old = MemoryContextSwitchTo(bs->tmpcxt);
	x = HnswValueToFloats(&bs->info, values[0], &indexable);
	if (indexable && bs->flushed)
	{
		HnswInsertVector(index, bs->disk_info, x, tid);
		bs->indtuples++;
	}
	else if (indexable)
	{
		int64		id;

		MemoryContextSwitchTo(old);
		id = hnsw_graph_add(bs->graph, x);
		if (id < 0)
		{
			double		est = Max(bs->est_rows, bs->rows_seen);
			size_t		node = hnsw_graph_node_bytes(bs->info.meta.dim, bs->opts.m) +
			sizeof(ItemPointerData);

			ereport(NOTICE,
					(errmsg("lance_hnsw graph no longer fits in maintenance_work_mem after " INT64_FORMAT " rows; continuing with slower on-disk insertion",
							hnsw_graph_size(bs->graph)),
					 errdetail("The in-memory build needs about %.0f MB for %.0f rows.",
							   ceil(node * est / (1024.0 * 1024.0)), est),
					 errhint("Increase maintenance_work_mem to build faster.")));
			HnswFlush(bs);
			bs->disk_info = HnswGetInfo(index);
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_INSERT);
			MemoryContextSwitchTo(bs->tmpcxt);
			HnswInsertVector(index, bs->disk_info, x, tid);
		}
		else
		{
			if (id >= bs->tids_cap)
			{
				bs->tids_cap *= 2;
				bs->tids = repalloc_huge(bs->tids, sizeof(ItemPointerData) * bs->tids_cap);
			}
			bs->tids[id] = *tid;
		}
		bs->indtuples++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpcxt);
	if (((int64) bs->rows_seen & 1023) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->rows_seen);
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result = palloc0(sizeof(IndexBuildResult));
	HnswBuildState bs;
	HnswGraphOptions go;
	MemoryContext buildcxt;
	MemoryContext old;
	double		reltuples;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	memset(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	HnswSetupInfo(&bs, TupleDescAttr(index->rd_att, 0)->atttypmod);

	buildcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_hnsw build",
									 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(buildcxt);
	build_graph_cxt = buildcxt;
	bs.tmpcxt = AllocSetContextCreate(buildcxt, "lance_hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	memset(&go, 0, sizeof(go));
	go.dim = bs.info.meta.dim;
	go.m = bs.opts.m;
	go.ef_construction = bs.opts.ef_construction;
	go.inner_product = bs.info.metric->qmetric == QMETRIC_IP;
	go.memory_limit = (size_t) maintenance_work_mem * 1024;
	go.seed = 0x5EED;			/* same data, same graph */
	go.alloc = build_alloc;
	go.release = build_release;
	go.interrupt = LanceInterruptHook;
	bs.graph = hnsw_graph_create(&go);
	bs.tids_cap = 1024;
	bs.tids = palloc(sizeof(ItemPointerData) * bs.tids_cap);

	{
		BlockNumber pages;
		double		allvisfrac;

		estimate_rel_size(heap, NULL, &pages, &bs.est_rows, &allvisfrac);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs.est_rows);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   HnswBuildCallback, &bs, NULL);
	if (!bs.flushed)
		HnswFlush(&bs);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(buildcxt);
	build_graph_cxt = NULL;
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* Unlogged tables: an empty index in the init fork. */
void
hnswbuildempty(Relation index)
{
	HnswBuildState bs;
	Buffer		buf;
	Page		page;

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	HnswSetupInfo(&bs, TupleDescAttr(index->rd_att, 0)->atttypmod);
	buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	HnswInitPage(page, HNSW_PAGE_META);
	memcpy(PageGetContents(page), &bs.info.meta, sizeof(HnswMetaPageData));
	((PageHeader) page)->pd_lower =
		(PageGetContents(page) + sizeof(HnswMetaPageData)) - (char *) page;
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	UnlockReleaseBuffer(buf);
}
