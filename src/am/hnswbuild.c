/*
 * hnswbuild.c
 *	  lance_hnsw build: train the quantizer on a block sample of the table,
 *	  link every row into an in-memory graph of SQ codes
 *	  (maintenance_work_mem), then write meta page, quantizer and all
 *	  elements in one sequential pass (addresses are computed before the
 *	  pass, so neighbour lists are written final), WAL-logged once at the
 *	  end.
 *
 * The graph is linked on 8-bit SQ codes whatever the index stores: the
 * build is bound by memory traffic and a code is a quarter of a float32
 * vector.  With quantizer 'sq' the codes are the index's own; with 'none'
 * and 'pq' a build-only SQ is trained beside the index's quantizer and the
 * float vectors wait in the nodes' payload for the write pass.
 *
 * When the graph outgrows maintenance_work_mem the part built so far is
 * written, a NOTICE says how much memory the whole build would have
 * needed, and the remaining rows are linked into the on-disk graph one by
 * one (the aminsert path): slower, never a failure.
 *
 * Parallel build: the graph region (sized from maintenance_work_mem and the
 * row estimate), one LWLock per node and a parallel heap scan live in
 * dynamic shared memory; the leader and the workers all add nodes to the
 * same graph concurrently (src/index/hnsw_graph.c: per-node locks), then
 * the leader writes it.  Rows that found the shared graph full are linked
 * on disk by the leader afterwards.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "am/hnsw.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"
#include "optimizer/optimizer.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define HNSW_PHASE_LOAD		2
#define HNSW_PHASE_WRITE	3
#define HNSW_PHASE_INSERT	4

#define HNSW_TRAIN_SAMPLE	65536
#define HNSW_SAMPLE_RUN		8	/* contiguous heap blocks per sampled run */

#define HNSW_KEY_SHARED		UINT64CONST(0xA1F0000000000011)
#define HNSW_KEY_QUERY_TEXT	UINT64CONST(0xA1F0000000000012)

/* Shared by the leader and the workers of a parallel build. */
typedef struct HnswShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	int			tranche;
	int64		capacity;
	Size		locks_off;		/* LWLock[capacity + 1]: entry point, nodes */
	Size		region_off;
	Size		region_size;
	Size		scan_off;
	Size		quant_off;		/* the build quantizer, serialised */
	Size		quant_len;		/* 0: float graph */
	bool		payload_floats;
	uint64		seed;

	slock_t		mutex;
	double		reltuples;
	double		indtuples;
	double		rows_seen;
	double		overflow;		/* rows the full graph could not take */
} HnswShared;

#define HnswSharedPtr(shared, off)	((char *) (shared) + (off))

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswIndexInfo info;			/* built here, not from the meta page */
	HnswOptions opts;
	QuantKind	configured;
	Quantizer  *build_quant;	/* SQ the graph is linked on, or NULL */
	bool		payload_floats; /* payload: TID, then the float vector */
	char	   *payload;		/* one node's payload, being assembled */
	HnswGraphOptions go;
	HnswGraph  *graph;
	HnswShared *shared;			/* parallel build, or NULL */
	LWLock	   *locks;
	double		overflow;
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

/* payload: heap TID, then (payload_floats) the vector at this offset */
#define HNSW_PAYLOAD_FLOATS_OFF	MAXALIGN(sizeof(ItemPointerData))

static inline const float *
HnswPayloadVector(HnswBuildState *bs, int64 node)
{
	return (const float *) ((const char *) hnsw_graph_payload(bs->graph, node) +
							HNSW_PAYLOAD_FLOATS_OFF);
}

/* Add one row to the graph: its node number, or -1 when the graph is full. */
static int64
HnswGraphAddRow(HnswBuildState *bs, const float *x, ItemPointer tid)
{
	const void *payload = tid;

	if (bs->payload_floats)
	{
		memcpy(bs->payload, tid, sizeof(ItemPointerData));
		memcpy(bs->payload + HNSW_PAYLOAD_FLOATS_OFF, x,
			   sizeof(float) * bs->info.meta.dim);
		payload = bs->payload;
	}
	return hnsw_graph_add(bs->graph, x, payload);
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
	info->meta.free_head = InvalidBlockNumber;
	info->meta.data_size = HnswDataSize(info->type->elemtype, dim, QUANT_FLAT, NULL);
}

/* Block sample of the heap: reservoir over the rows of evenly spaced runs. */
typedef struct HnswSampleState
{
	HnswBuildState *bs;
	float	   *rows;
	int64		alloc;			/* rows allocated, grown up to cap */
	int64		cap;
	int64		n;
	int64		seen;
	pg_prng_state prng;
} HnswSampleState;

static void
HnswSampleCallback(Relation index, ItemPointer tid, Datum *values,
				   bool *isnull, bool tupleIsAlive, void *state)
{
	HnswSampleState *ss = (HnswSampleState *) state;
	HnswBuildState *bs = ss->bs;
	MemoryContext old;
	float	   *x;
	bool		indexable;
	int64		slot;
	int			dim = bs->info.meta.dim;

	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(bs->tmpcxt);
	x = HnswValueToFloats(&bs->info, values[0], &indexable);
	if (indexable)
	{
		/* algorithm R: a uniform sample of the rows seen */
		slot = ss->n < ss->cap ? ss->n++ :
			(int64) pg_prng_uint64_range(&ss->prng, 0, ss->seen);
		if (slot >= ss->alloc && slot < ss->cap)
		{
			ss->alloc = Min(ss->cap, ss->alloc * 2);
			ss->rows = repalloc_huge(ss->rows, sizeof(float) * dim * ss->alloc);
		}
		if (slot < ss->cap)
			memcpy(ss->rows + slot * dim, x, sizeof(float) * dim);
		ss->seen++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpcxt);
}

static float *
HnswSampleRows(HnswBuildState *bs, IndexInfo *indexInfo, int64 *nrows)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(bs->heap);
	double		per_block = nblocks > 0 ? Max(bs->est_rows, 1) / nblocks : 1;
	BlockNumber want = (BlockNumber) Min((double) nblocks,
										 ceil(1.2 * HNSW_TRAIN_SAMPLE / Max(per_block, 1e-3)));
	HnswSampleState ss;

	memset(&ss, 0, sizeof(ss));
	ss.bs = bs;
	ss.cap = HNSW_TRAIN_SAMPLE;
	ss.alloc = 1024;
	ss.rows = lance_palloc_array(float, ss.alloc * bs->info.meta.dim);
	pg_prng_seed(&ss.prng, 0x5A3B1E);
	if (want >= nblocks / 2)
		table_index_build_range_scan(bs->heap, bs->index, indexInfo, false, true,
									 false, 0, InvalidBlockNumber,
									 HnswSampleCallback, &ss, NULL);
	else
	{
		BlockNumber runs = (want + HNSW_SAMPLE_RUN - 1) / HNSW_SAMPLE_RUN;

		for (BlockNumber r = 0; r < runs; r++)
		{
			BlockNumber start = (BlockNumber) ((double) r * nblocks / runs);

			CHECK_FOR_INTERRUPTS();
			table_index_build_range_scan(bs->heap, bs->index, indexInfo, false, true,
										 false, start,
										 Min(HNSW_SAMPLE_RUN, nblocks - start),
										 HnswSampleCallback, &ss, NULL);
		}
	}
	*nrows = ss.n;
	return ss.rows;
}

static Quantizer *
HnswTrain(HnswBuildState *bs, QuantKind kind, const float *sample, int64 n)
{
	QuantOptions qo;

	memset(&qo, 0, sizeof(qo));
	qo.kind = kind;
	qo.metric = bs->info.metric->qmetric;
	qo.dim = bs->info.meta.dim;
	qo.num_bits = 8;
	qo.max_iterations = 25;
	qo.seed = 1;
	if (kind == QUANT_PQ)
		qo.num_sub_vectors = bs->opts.num_sub_vectors > 0 ?
			Min(bs->opts.num_sub_vectors, qo.dim) : Max(qo.dim / 4, 1);
	qo.interrupt_hook = LanceInterruptHook;
	qo.alloc = LanceQuantAlloc;
	qo.release = LanceQuantFree;
	return quantizer_train(&qo, sample, n);
}

/*
 * Train the index's quantizer (sq, pq) and the build's SQ on a sample of
 * the table, before any row is linked.
 */
static void
HnswTrainQuantizers(HnswBuildState *bs, IndexInfo *indexInfo)
{
	HnswIndexInfo *info = &bs->info;
	int64		n;
	float	   *sample = HnswSampleRows(bs, indexInfo, &n);

	if (n < 1)
	{
		pfree(sample);
		return;
	}
	if (bs->configured != QUANT_FLAT &&
		n < (bs->configured == QUANT_PQ ? 256 : 1))
	{
		/* codebooks need rows; an (almost) empty index stores vectors as they are */
		ereport(NOTICE,
				(errmsg("lance_hnsw index has too few rows to train quantizer \"%s\"; vectors are stored unquantized",
						bs->configured == QUANT_PQ ? "pq" : "sq"),
				 errhint("REINDEX after loading data.")));
	}
	else if (bs->configured != QUANT_FLAT)
	{
		info->quant = HnswTrain(bs, bs->configured, sample, n);
		if (info->quant == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot train the lance_hnsw quantizer with these parameters")));
		info->code_size = (int) quantizer_code_size(info->quant);
		info->num_aux = quantizer_num_aux(info->quant);
		info->meta.qkind = (uint8) bs->configured;
		info->meta.data_size = HnswDataSize(info->type->elemtype, info->meta.dim,
											bs->configured, info->quant);
	}
	if (info->quant && quantizer_kind(info->quant) == QUANT_SQ)
		bs->build_quant = info->quant;
	else
	{
		bs->build_quant = HnswTrain(bs, QUANT_SQ, sample, n);
		bs->payload_floats = bs->build_quant != NULL;
	}
	pfree(sample);
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
	float	   *dists;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WRITE);

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
	dists = lance_palloc_array(float, 2 * m);
	for (int64 i = 0; i < n; i++)
	{
		int			level = hnsw_graph_node_level(bs->graph, i);
		Size		size = HNSW_ELEM_SIZE(meta->data_size, m, level);
		HnswElementTuple tup = (HnswElementTuple) tupbuf;
		HnswSlot   *slots = HnswElementSlots(tup, meta->data_size);
		const float *v = NULL;
		OffsetNumber off;

		if ((i & 1023) == 0)
		{
			CHECK_FOR_INTERRUPTS();
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i);
		}
		memset(tupbuf, 0, size);
		tup->level = (uint8) level;
		memcpy(&tup->heaptid, hnsw_graph_payload(bs->graph, i), sizeof(ItemPointerData));
		if (bs->payload_floats)
			v = HnswPayloadVector(bs, i);
		else if (bs->build_quant == NULL)
			v = hnsw_graph_vector(bs->graph, i);
		if (v)
			HnswEncode(info, v, tup->data);
		else
		{
			/* the graph's codes are the index's (HnswEncode's layout) */
			Assert(bs->build_quant == info->quant);
			memcpy(tup->data, hnsw_graph_aux(bs->graph, i), sizeof(float) * info->num_aux);
			memcpy(tup->data + sizeof(float) * info->num_aux,
				   hnsw_graph_code(bs->graph, i), info->code_size);
		}
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

			/* exact where the floats are here, else as the graph measured */
			if (bs->payload_floats)
				for (int j = 0; j < nn; j++)
					dists[j] = HnswExactDistance(info->metric, v,
												 HnswPayloadVector(bs, nb[j]),
												 meta->dim);
			else
				hnsw_graph_neighbor_distances(bs->graph, i, nb, nn, dists);
			for (int j = 0; j < nn; j++)
			{
				BlockIdSet(&ls[j].blk, blks[nb[j]]);
				ls[j].off = offs[nb[j]];
				ls[j].dist16 = lance_f32_to_f16(dists[j]);
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
	pfree(dists);
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
	else if (indexable && bs->shared)
	{
		/* parallel: a full graph leaves the row to the leader's second pass */
		if (HnswGraphAddRow(bs, x, tid) < 0)
			bs->overflow++;
		else
			bs->indtuples++;
	}
	else if (indexable)
	{
		if (HnswGraphAddRow(bs, x, tid) < 0)
		{
			double		est = Max(bs->est_rows, bs->rows_seen);
			size_t		node = hnsw_graph_node_bytes(&bs->go);

			ereport(NOTICE,
					(errmsg("lance_hnsw graph no longer fits in maintenance_work_mem after " INT64_FORMAT " rows; continuing with slower on-disk insertion",
							hnsw_graph_size(bs->graph)),
					 errdetail("The in-memory build needs about %.0f MB for %.0f rows.",
							   ceil(node * est / (1024.0 * 1024.0)), est),
					 errhint("Increase maintenance_work_mem to build faster.")));
			HnswFlush(bs);
			bs->disk_info = HnswGetInfo(index);
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_INSERT);
			HnswInsertVector(index, bs->disk_info, x, tid);
		}
		bs->indtuples++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpcxt);
	if (((int64) bs->rows_seen & 1023) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->rows_seen);
}

/* LWLock callbacks of a shared graph: node -1 is the entry point. */
static void
HnswGraphLock(void *arg, int64_t node, bool exclusive)
{
	LWLockAcquire(&((LWLock *) arg)[node + 1], exclusive ? LW_EXCLUSIVE : LW_SHARED);
}

static void
HnswGraphUnlock(void *arg, int64_t node)
{
	LWLockRelease(&((LWLock *) arg)[node + 1]);
}

/* bs->go for this process; build_quant and payload_floats are set */
static void
HnswGraphOptionsFor(HnswBuildState *bs)
{
	HnswGraphOptions *go = &bs->go;

	memset(go, 0, sizeof(*go));
	go->dim = bs->info.meta.dim;
	go->m = bs->opts.m;
	go->ef_construction = bs->opts.ef_construction;
	go->inner_product = bs->info.metric->qmetric == QMETRIC_IP;
	go->memory_limit = (size_t) maintenance_work_mem * 1024;
	go->payload_size = bs->payload_floats ?
		HNSW_PAYLOAD_FLOATS_OFF + sizeof(float) * go->dim : sizeof(ItemPointerData);
	go->quant = bs->build_quant;
	go->seed = 0x5EED;			/* same data, same graph (serial builds) */
	go->alloc = build_alloc;
	go->release = build_release;
	go->interrupt = LanceInterruptHook;
	if (bs->payload_floats && bs->payload == NULL)
		bs->payload = palloc0(go->payload_size);
}

/* One participant's share: scan its part of the heap into the shared graph. */
static void
HnswParallelScan(HnswBuildState *bs, IndexInfo *indexInfo, bool progress)
{
	HnswShared *shared = bs->shared;
	TableScanDesc scan;
	double		reltuples;

	scan = table_beginscan_parallel(bs->heap,
									(ParallelTableScanDesc) HnswSharedPtr(shared, shared->scan_off));
	reltuples = table_index_build_scan(bs->heap, bs->index, indexInfo, true,
									   progress, HnswBuildCallback, (void *) bs, scan);
	SpinLockAcquire(&shared->mutex);
	shared->reltuples += reltuples;
	shared->indtuples += bs->indtuples;
	shared->rows_seen += bs->rows_seen;
	shared->overflow += bs->overflow;
	SpinLockRelease(&shared->mutex);
}

static void
HnswAttachShared(HnswBuildState *bs, HnswShared *shared, uint64 seed)
{
	HnswGraphOptionsFor(bs);
	bs->go.seed = seed;
	bs->go.lock = HnswGraphLock;
	bs->go.unlock = HnswGraphUnlock;
	bs->locks = (LWLock *) HnswSharedPtr(shared, shared->locks_off);
	bs->go.lock_arg = bs->locks;
	LWLockRegisterTranche(shared->tranche, "lance_hnsw_build");
	bs->shared = shared;
	bs->graph = hnsw_graph_attach(HnswSharedPtr(shared, shared->region_off), &bs->go);
}

/* Worker entry point, looked up by name by CreateParallelContext. */
extern PGDLLEXPORT void HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc);

void
HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	HnswShared *shared = shm_toc_lookup(toc, HNSW_KEY_SHARED, false);
	char	   *query = shm_toc_lookup(toc, HNSW_KEY_QUERY_TEXT, true);
	LOCKMODE	heapLockmode = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	LOCKMODE	indexLockmode = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	HnswBuildState bs;
	IndexInfo  *indexInfo;

	debug_query_string = query;
	pgstat_report_activity(STATE_RUNNING, debug_query_string);
	memset(&bs, 0, sizeof(bs));
	bs.heap = table_open(shared->heaprelid, heapLockmode);
	bs.index = index_open(shared->indexrelid, indexLockmode);
	HnswSetupInfo(&bs, TupleDescAttr(bs.index->rd_att, 0)->atttypmod);
	build_graph_cxt = CurrentMemoryContext;
	bs.tmpcxt = AllocSetContextCreate(CurrentMemoryContext, "lance_hnsw build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	if (shared->quant_len > 0)
	{
		QuantOptions ao;
		const char *err = NULL;

		memset(&ao, 0, sizeof(ao));
		ao.alloc = LanceQuantAlloc;
		ao.release = LanceQuantFree;
		bs.build_quant = quantizer_deserialize((const uint8 *) HnswSharedPtr(shared, shared->quant_off),
											   shared->quant_len, &ao, &err);
		if (bs.build_quant == NULL)
			elog(ERROR, "lance_hnsw parallel build: bad build quantizer: %s", err);
		bs.payload_floats = shared->payload_floats;
	}
	HnswAttachShared(&bs, shared, shared->seed + ParallelWorkerNumber + 1);
	indexInfo = BuildIndexInfo(bs.index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	HnswParallelScan(&bs, indexInfo, false);
	hnsw_graph_free(bs.graph);
	index_close(bs.index, indexLockmode);
	table_close(bs.heap, heapLockmode);
}

/* Rows missing from the graph (it was full): link them on disk. */
typedef struct HnswMissingState
{
	HnswBuildState *bs;
	HTAB	   *in_graph;
} HnswMissingState;

static void
HnswMissingCallback(Relation index, ItemPointer tid, Datum *values,
					bool *isnull, bool tupleIsAlive, void *state)
{
	HnswMissingState *ms = (HnswMissingState *) state;
	HnswBuildState *bs = ms->bs;
	MemoryContext old;
	float	   *x;
	bool		indexable;

	if (isnull[0] || hash_search(ms->in_graph, tid, HASH_FIND, NULL) != NULL)
		return;
	old = MemoryContextSwitchTo(bs->tmpcxt);
	x = HnswValueToFloats(&bs->info, values[0], &indexable);
	if (indexable)
	{
		HnswInsertVector(index, bs->disk_info, x, tid);
		bs->indtuples++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpcxt);
}

/*
 * The whole build with workers sharing the graph.  Returns false (nothing
 * done) when no shared memory or worker could be had.
 */
static bool
HnswParallelBuild(HnswBuildState *bs, IndexInfo *indexInfo, int nworkers,
				  double *reltuples)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		est_scan;
	Size		size;
	Size		budget = (Size) maintenance_work_mem * 1024;
	Size		per_node;
	int64		capacity;
	Size		region_size;
	HnswShared *shared;
	Size		querylen = debug_query_string ? strlen(debug_query_string) + 1 : 0;
	HTAB	   *in_graph = NULL;
	double		overflow;
	Size		quant_len;

	/* room for the estimate and a margin, within maintenance_work_mem */
	HnswGraphOptionsFor(bs);
	per_node = hnsw_graph_node_bytes(&bs->go) +
		sizeof(LWLock) + sizeof(uint32) * nworkers;
	capacity = (int64) Min((double) (budget / per_node), bs->est_rows * 1.2 + 1000);
	if (capacity < 1000)
		return false;
	region_size = hnsw_graph_region_size(&bs->go, capacity);
	quant_len = bs->build_quant ? quantizer_serialized_size(bs->build_quant) : 0;

	EnterParallelMode();
	pcxt = CreateParallelContext("lancedb", "HnswParallelBuildMain", nworkers);
	snapshot = indexInfo->ii_Concurrent ?
		RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;
	est_scan = table_parallelscan_estimate(bs->heap, snapshot);
	size = MAXALIGN(sizeof(HnswShared)) + MAXALIGN(sizeof(LWLock) * (capacity + 1)) +
		MAXALIGN(region_size) + MAXALIGN(quant_len) + est_scan;
	shm_toc_estimate_chunk(&pcxt->estimator, size);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	if (querylen)
	{
		shm_toc_estimate_chunk(&pcxt->estimator, querylen);
		shm_toc_estimate_keys(&pcxt->estimator, 1);
	}
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}
	shared = shm_toc_allocate(pcxt->toc, size);
	memset(shared, 0, sizeof(HnswShared));
	shared->heaprelid = RelationGetRelid(bs->heap);
	shared->indexrelid = RelationGetRelid(bs->index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	shared->tranche = LWLockNewTrancheId();
	shared->capacity = capacity;
	shared->locks_off = MAXALIGN(sizeof(HnswShared));
	shared->region_off = shared->locks_off + MAXALIGN(sizeof(LWLock) * (capacity + 1));
	shared->region_size = region_size;
	shared->quant_off = shared->region_off + MAXALIGN(region_size);
	shared->quant_len = quant_len;
	shared->payload_floats = bs->payload_floats;
	if (quant_len > 0)
		quantizer_serialize(bs->build_quant, (uint8 *) HnswSharedPtr(shared, shared->quant_off));
	shared->scan_off = shared->quant_off + MAXALIGN(quant_len);
	shared->seed = bs->info.meta.build_id;
	SpinLockInit(&shared->mutex);
	for (int64 i = 0; i <= capacity; i++)
		LWLockInitialize(&((LWLock *) HnswSharedPtr(shared, shared->locks_off))[i],
						 shared->tranche);
	hnsw_graph_region_init(HnswSharedPtr(shared, shared->region_off), region_size, &bs->go);
	table_parallelscan_initialize(bs->heap,
								  (ParallelTableScanDesc) HnswSharedPtr(shared, shared->scan_off),
								  snapshot);
	shm_toc_insert(pcxt->toc, HNSW_KEY_SHARED, shared);
	if (querylen)
	{
		char	   *q = shm_toc_allocate(pcxt->toc, querylen);

		memcpy(q, debug_query_string, querylen);
		shm_toc_insert(pcxt->toc, HNSW_KEY_QUERY_TEXT, q);
	}

	LaunchParallelWorkers(pcxt);
	ereport(DEBUG1,
			(errmsg("lance_hnsw parallel build: %d workers launched, graph for " INT64_FORMAT " nodes (%zu MB)",
					pcxt->nworkers_launched, capacity, size / (1024 * 1024))));

	/* the leader takes its share */
	HnswAttachShared(bs, shared, shared->seed);
	HnswParallelScan(bs, indexInfo, true);
	WaitForParallelWorkersToFinish(pcxt);

	*reltuples = shared->reltuples;
	bs->indtuples = shared->indtuples;
	bs->rows_seen = shared->rows_seen;
	overflow = shared->overflow;

	/* rows the full graph left out: remember which rows are in it */
	if (overflow > 0)
	{
		HASHCTL		hctl;
		int64		n = hnsw_graph_size(bs->graph);

		memset(&hctl, 0, sizeof(hctl));
		hctl.keysize = sizeof(ItemPointerData);
		hctl.entrysize = sizeof(ItemPointerData);
		hctl.hcxt = CurrentMemoryContext;
		in_graph = hash_create("lance_hnsw graph rows", n + 1, &hctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (int64 i = 0; i < n; i++)
			hash_search(in_graph, hnsw_graph_payload(bs->graph, i), HASH_ENTER, NULL);
	}

	/* write from shared memory, then let it go */
	HnswFlush(bs);
	bs->shared = NULL;
	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();

	if (overflow > 0)
	{
		HnswMissingState ms;
		double		est = Max(bs->est_rows, bs->rows_seen);

		ereport(NOTICE,
				(errmsg("lance_hnsw graph no longer fits in maintenance_work_mem after " INT64_FORMAT " rows; continuing with slower on-disk insertion",
						hash_get_num_entries(in_graph)),
				 errdetail("The in-memory build needs about %.0f MB for %.0f rows.",
						   ceil(per_node * est / (1024.0 * 1024.0)), est),
				 errhint("Increase maintenance_work_mem to build faster.")));
		bs->disk_info = HnswGetInfo(bs->index);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_INSERT);
		ms.bs = bs;
		ms.in_graph = in_graph;
		table_index_build_scan(bs->heap, bs->index, indexInfo, true, false,
							   HnswMissingCallback, &ms, NULL);
	}
	return true;
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result = palloc0(sizeof(IndexBuildResult));
	HnswBuildState bs;
	MemoryContext buildcxt;
	MemoryContext old;
	double		reltuples = 0;
	bool		done = false;
	int			nworkers;

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
	{
		BlockNumber pages;
		double		allvisfrac;

		estimate_rel_size(heap, NULL, &pages, &bs.est_rows, &allvisfrac);
	}
	HnswTrainQuantizers(&bs, indexInfo);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs.est_rows);

	nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	if (nworkers > 0 && bs.est_rows >= 10000)
		done = HnswParallelBuild(&bs, indexInfo, nworkers, &reltuples);
	if (!done)
	{
		HnswGraphOptionsFor(&bs);
		bs.graph = hnsw_graph_create(&bs.go, (int64) (bs.est_rows * 1.1) + 1000);
		reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										   HnswBuildCallback, &bs, NULL);
		if (!bs.flushed)
			HnswFlush(&bs);
	}

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
