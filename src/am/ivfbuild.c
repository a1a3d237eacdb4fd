/*
 * ivfbuild.c
 *	  Build a lance_ivf index: sample the table (reservoir), train the lists
 *	  with k-means and the quantizer on the sample, then assign and encode
 *	  every row in batches (OpenBLAS sgemm) into per-list spools that are
 *	  flushed to list pages.  Pages are written without WAL and logged once
 *	  at the end.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "am/ivf.h"
#include "am/toastfetch.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "index/hugepages.h"
#include "index/kmeans.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/bufmgr.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"


#define IVF_BATCH_ROWS		1024

/* shm_toc keys of a parallel build */
#define IVF_KEY_SHARED		UINT64CONST(0xA1F0000000000001)
#define IVF_KEY_QUERY_TEXT	UINT64CONST(0xA1F0000000000002)

/*
 * Shared by the leader and the workers of a parallel build.  The trained
 * quantizer and the centroids follow the struct; the list directory is
 * shared because any participant may append to any list (one at a time:
 * see writer_busy), and the parallel heap scan comes last.
 */
typedef struct IvfShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	int			dim;
	int			nlists;
	Size		quant_len;
	Size		quant_off;
	Size		centroid_off;
	Size		dir_off;
	Size		scan_off;
	Size		spool_budget;

	slock_t		mutex;
	bool		writer_busy;	/* a participant is writing list pages */
	int			nparticipantsdone;
	double		reltuples;
	double		indtuples;
	ConditionVariable writer_cv;
	ConditionVariable done_cv;
} IvfShared;

#define IvfSharedPtr(shared, off)	((char *) (shared) + (off))

typedef struct IvfSpool
{
	char	   *data;
	int			n;
	int			cap;
} IvfSpool;

typedef struct IvfBuildState
{
	Relation	heap;
	Relation	index;
	const LanceTypeSupport *type;
	const LanceMetricSupport *metric;
	int			dim;
	MemoryContext tmpctx;
	LanceToastFetch *toast;		/* out-of-line values, one open toast scan */

	/* pass 1: reservoir sample */
	float	   *sample;
	ItemPointerData *sample_tids;	/* row of each sample entry */
	int64		sample_cap;
	int64		sample_n;
	int64		rows_seen;
	double		heap_tuples;	/* live table rows (NULLs too), for reltuples */
	uint64		rng;

	/* trained structure */
	int			nlists;
	bool		trained;
	QuantKind	qkind;
	float	   *centroids;
	Quantizer  *quant;
	bool		residuals;
	IvfListLayout layout;
	Size		entry_size;
	KMeansParams kparams;

	/* pass 2: batches and spools */
	float	   *batch;
	ItemPointerData *batch_tids;
	int			batch_n;
	int32	   *assign;
	float	   *assign_dist;
	float	   *resid;
	IvfSpool   *spools;
	Size		spool_bytes;
	Size		spool_budget;
	IvfListInfo *dir;
	float	   *radius;			/* per list, merged into dir when flushing */
	int64		indtuples;
	IvfShared  *shared;			/* parallel build, or NULL */
	int32	   *sample_assign;	/* nearest list of each sample row */
	float	   *sample_dist;	/* its squared distance to that centroid */
	bool		sample_residual;	/* sample rows hold x - centroid(x) */
	double		mean_residual;	/* their mean distance to it */
} IvfBuildState;

static uint64
splitmix64(uint64 *state)
{
	uint64		z = (*state += UINT64CONST(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/*
 * The indexed value as rows of floats (one row; one per element of a
 * multivector), unit length under cosine.
 */
static float *
IvfBuildRows(IvfBuildState *bs, Datum value, int *nrows)
{
	int			dim;
	float	   *x;

	/*
	 * An out-of-line value through the build's open toast scan: the generic
	 * detoast opens the toast table and its index again for every row.
	 */
	if (bs->toast != NULL && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value)))
	{
		bool		copied;

		value = PointerGetDatum(lance_toast_fetch(bs->toast,
												  (struct varlena *) DatumGetPointer(value),
												  &copied));
	}
	x = LanceDatumToRows(value, bs->type, &dim, nrows);

	if (*nrows > 0 && dim != bs->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", bs->dim, dim)));
	if (bs->metric->normalize)
		for (int r = 0; r < *nrows; r++)
			LanceNormalize(x + (Size) r * dim, dim);
	return x;
}

static void
IvfSampleCallback(Relation index, ItemPointer tid, Datum *values,
				  bool *isnull, bool tupleIsAlive, void *state)
{
	IvfBuildState *bs = (IvfBuildState *) state;
	MemoryContext old;
	float	   *x;
	int64		slot;
	int			nrows;

	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpctx);
	x = IvfBuildRows(bs, values[0], &nrows);
	for (int r = 0; r < nrows; r++)
	{
		bs->rows_seen++;
		/* reservoir sampling (algorithm R): a uniform sample of every entry */
		if (bs->sample_n < bs->sample_cap)
			slot = bs->sample_n++;
		else
		{
			slot = (int64) (splitmix64(&bs->rng) % (uint64) bs->rows_seen);
			if (slot >= bs->sample_cap)
				slot = -1;
		}
		if (slot >= 0)
		{
			memcpy(bs->sample + slot * bs->dim, x + (Size) r * bs->dim,
				   sizeof(float) * bs->dim);
			bs->sample_tids[slot] = *tid;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);

	if ((bs->rows_seen & 1023) == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->rows_seen);
}

/* ---- list pages ---- */

static Buffer
IvfBuildNewListPage(IvfBuildState *bs, uint32 list)
{
	Buffer		buf = IvfNewBuffer(bs->index, MAIN_FORKNUM);

	IvfInitListPage(BufferGetPage(buf), list, &bs->layout);
	MarkBufferDirty(buf);
	return buf;
}

/* Append a spool's entries to its list's chain (no WAL during build). */
static void
IvfFlushSpool(IvfBuildState *bs, uint32 list)
{
	IvfSpool   *sp = &bs->spools[list];
	IvfListInfo *info = &bs->dir[list];
	const IvfListLayout *lay = &bs->layout;
	Size		auxbytes = sizeof(float) * lay->num_aux;
	Buffer		buf;
	int			done = 0;

	if (sp->n == 0)
		return;

	if (info->tail == InvalidBlockNumber)
	{
		buf = IvfBuildNewListPage(bs, list);
		info->head = info->tail = info->insert_page = BufferGetBlockNumber(buf);
	}
	else
	{
		buf = ReadBuffer(bs->index, info->tail);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	}

	while (done < sp->n)
	{
		Page		page = BufferGetPage(buf);
		IvfListPageHeader *hdr = (IvfListPageHeader *) PageGetContents(page);

		if (hdr->nitems >= hdr->capacity)
		{
			Buffer		nbuf = IvfBuildNewListPage(bs, list);

			IvfPageGetOpaque(page)->next = BufferGetBlockNumber(nbuf);
			MarkBufferDirty(buf);
			UnlockReleaseBuffer(buf);
			buf = nbuf;
			info->tail = BufferGetBlockNumber(buf);
			continue;
		}
		while (hdr->nitems < hdr->capacity && done < sp->n)
		{
			const char *e = sp->data + (Size) done * bs->entry_size;

			IvfPutEntry(page, lay, hdr->nitems, (const uint8 *) (e + auxbytes),
						(const float *) e,
						(ItemPointer) (e + auxbytes + lay->code_size));
			hdr->nitems++;
			done++;
		}
		MarkBufferDirty(buf);
	}
	UnlockReleaseBuffer(buf);

	info->count += sp->n;
	bs->spool_bytes -= (Size) sp->n * bs->entry_size;
	sp->n = 0;
}

static void
IvfFlushAllSpools(IvfBuildState *bs)
{
	IvfShared  *shared = bs->shared;

	/* participants take turns: list chains and the directory are shared */
	if (shared)
	{
		for (;;)
		{
			bool		mine = false;

			SpinLockAcquire(&shared->mutex);
			if (!shared->writer_busy)
				shared->writer_busy = mine = true;
			SpinLockRelease(&shared->mutex);
			if (mine)
				break;
			ConditionVariableSleep(&shared->writer_cv, PG_WAIT_EXTENSION);
		}
		ConditionVariableCancelSleep();
	}

	for (int l = 0; l < bs->nlists; l++)
	{
		if (bs->radius[l] > bs->dir[l].radius)
			bs->dir[l].radius = bs->radius[l];
		IvfFlushSpool(bs, l);
		CHECK_FOR_INTERRUPTS();
	}

	if (shared)
	{
		SpinLockAcquire(&shared->mutex);
		shared->writer_busy = false;
		SpinLockRelease(&shared->mutex);
		ConditionVariableBroadcast(&shared->writer_cv);
	}
}

static void
IvfSpoolAdd(IvfBuildState *bs, uint32 list, const uint8 *code,
			const float *aux, ItemPointer tid)
{
	IvfSpool   *sp = &bs->spools[list];
	Size		auxbytes = sizeof(float) * bs->layout.num_aux;
	char	   *e;

	if (sp->n == sp->cap)
	{
		int			ncap = Max(16, sp->cap * 2);

		sp->data = sp->data ?
			repalloc_huge(sp->data, (Size) ncap * bs->entry_size) :
			MemoryContextAllocHuge(CurrentMemoryContext, (Size) ncap * bs->entry_size);
		sp->cap = ncap;
	}
	e = sp->data + (Size) sp->n * bs->entry_size;
	memcpy(e, aux, auxbytes);
	memcpy(e + auxbytes, code, bs->layout.code_size);
	memcpy(e + auxbytes + bs->layout.code_size, tid, sizeof(ItemPointerData));
	sp->n++;
	bs->spool_bytes += bs->entry_size;
}

/*
 * Encode a row of list (v: the row, or its residual when the quantizer
 * wants residuals; sqdist: its squared distance to the centroid) into the
 * list's spool; code and aux are scratch.
 */
static void
IvfSpoolRow(IvfBuildState *bs, uint32 list, float sqdist, const float *v,
			ItemPointer tid, uint8 *code, float *aux)
{
	float		radius = sqrtf(Max(sqdist, 0.0f));

	quantizer_encode(bs->quant, v, code, aux);
	if (radius > bs->radius[list])
		bs->radius[list] = radius;
	IvfSpoolAdd(bs, list, code, aux, tid);
}

/* Assign and encode the batched rows, then spool them. */
static void
IvfProcessBatch(IvfBuildState *bs)
{
	int			dim = bs->dim;
	uint8	   *code;
	float	   *aux;

	if (bs->batch_n == 0)
		return;
	code = palloc(bs->layout.code_size);
	aux = palloc(sizeof(float) * Max(bs->layout.num_aux, 1));

	if (bs->nlists > 1)
		kmeans_assign(bs->batch, bs->batch_n, dim, bs->centroids, bs->nlists,
					  bs->assign, bs->assign_dist, &bs->kparams);
	else
	{
		for (int i = 0; i < bs->batch_n; i++)
		{
			bs->assign[i] = 0;
			bs->assign_dist[i] = lance_kernels->l2sq_f32(bs->batch + (Size) i * dim,
																 bs->centroids, dim);
		}
	}

	for (int i = 0; i < bs->batch_n; i++)
	{
		const float *x = bs->batch + (Size) i * dim;
		uint32		list = (uint32) bs->assign[i];

		if (bs->residuals)
		{
			const float *c = bs->centroids + (Size) list * dim;

			for (int j = 0; j < dim; j++)
				bs->resid[j] = x[j] - c[j];
			x = bs->resid;
		}
		IvfSpoolRow(bs, list, bs->assign_dist[i], x, &bs->batch_tids[i], code, aux);
	}
	bs->indtuples += bs->batch_n;
	bs->batch_n = 0;
	pfree(code);
	pfree(aux);

	if (bs->spool_bytes > bs->spool_budget)
		IvfFlushAllSpools(bs);
}

static void
IvfEncodeCallback(Relation index, ItemPointer tid, Datum *values,
				  bool *isnull, bool tupleIsAlive, void *state)
{
	IvfBuildState *bs = (IvfBuildState *) state;
	MemoryContext old;
	float	   *x;
	int			nrows;

	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpctx);
	x = IvfBuildRows(bs, values[0], &nrows);
	/* a multivector's elements become entries under the same TID */
	for (int r = 0; r < nrows; r++)
	{
		memcpy(bs->batch + (Size) bs->batch_n * bs->dim, x + (Size) r * bs->dim,
			   sizeof(float) * bs->dim);
		bs->batch_tids[bs->batch_n] = *tid;
		bs->batch_n++;
		if (bs->batch_n == IVF_BATCH_ROWS)
		{
			MemoryContextSwitchTo(old);
			IvfProcessBatch(bs);
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->indtuples);
			MemoryContextSwitchTo(bs->tmpctx);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);
}

/* ---- blobs, directory, meta ---- */

/* Write bytes as a chain of contiguous blob pages; returns the first block. */
static BlockNumber
IvfWriteBlob(Relation index, const char *data, uint32 len, ForkNumber fork)
{
	Size		per = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(IvfPageOpaqueData)) - sizeof(uint32);
	BlockNumber first = InvalidBlockNumber;
	Buffer		prev = InvalidBuffer;
	uint32		done = 0;

	do
	{
		Buffer		buf = IvfNewBuffer(index, fork);
		Page		page = BufferGetPage(buf);
		uint32		n = Min((uint32) per, len - done);

		IvfInitPage(page, IVF_PAGE_BLOB, 0);
		memcpy(PageGetContents(page), &n, sizeof(uint32));
		memcpy(PageGetContents(page) + sizeof(uint32), data + done, n);
		((PageHeader) page)->pd_lower =
			(PageGetContents(page) - (char *) page) + sizeof(uint32) + n;
		done += n;
		MarkBufferDirty(buf);
		if (first == InvalidBlockNumber)
			first = BufferGetBlockNumber(buf);
		if (BufferIsValid(prev))
		{
			IvfPageGetOpaque(BufferGetPage(prev))->next = BufferGetBlockNumber(buf);
			MarkBufferDirty(prev);
			UnlockReleaseBuffer(prev);
		}
		prev = buf;
	} while (done < len);
	UnlockReleaseBuffer(prev);
	return first;
}

static BlockNumber
IvfAllocDirectory(Relation index, int nlists, uint32 *npages, ForkNumber fork)
{
	int			per = IvfDirEntriesPerPage();
	BlockNumber first = InvalidBlockNumber;

	*npages = (nlists + per - 1) / per;
	for (uint32 p = 0; p < *npages; p++)
	{
		Buffer		buf = IvfNewBuffer(index, fork);

		IvfInitPage(BufferGetPage(buf), IVF_PAGE_DIRECTORY, 0);
		MarkBufferDirty(buf);
		if (p == 0)
			first = BufferGetBlockNumber(buf);
		else if (BufferGetBlockNumber(buf) != first + p)
			elog(ERROR, "lance_ivf directory pages are not contiguous");
		UnlockReleaseBuffer(buf);
	}
	return first;
}

static void
IvfWriteDirectory(Relation index, BlockNumber start, uint32 npages,
				  const IvfListInfo *dir, int nlists, ForkNumber fork)
{
	int			per = IvfDirEntriesPerPage();

	for (uint32 p = 0; p < npages; p++)
	{
		Buffer		buf = ReadBufferExtended(index, fork, start + p, RBM_NORMAL, NULL);
		Page		page;
		int			n = Min(per, nlists - (int) p * per);

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		memcpy(PageGetContents(page), dir + p * per, sizeof(IvfListInfo) * n);
		((PageHeader) page)->pd_lower =
			(PageGetContents(page) - (char *) page) + sizeof(IvfListInfo) * per;
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
}

static void
IvfWriteMeta(Relation index, const IvfMetaPageData *meta, ForkNumber fork)
{
	Buffer		buf = ReadBufferExtended(index, fork, IVF_METAPAGE_BLKNO,
										 RBM_NORMAL, NULL);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	IvfInitPage(page, IVF_PAGE_META, 0);
	memcpy(PageGetContents(page), meta, sizeof(IvfMetaPageData));
	((PageHeader) page)->pd_lower =
		(PageGetContents(page) - (char *) page) + sizeof(IvfMetaPageData);
	MarkBufferDirty(buf);
	UnlockReleaseBuffer(buf);
}

/* ---- training ---- */

static int
IvfAutoLists(int64 rows)
{
	/* LanceDB: num_partitions ~ sqrt(rows) */
	double		l = sqrt((double) Max(rows, 1));

	return (int) Max(1, Min(65535, (int64) (l + 0.5)));
}

/*
 * A uniform subset of want of the n sample rows at src, in their order
 * (selection sampling, Knuth's algorithm S), copied to dst (dst may be src:
 * a row only moves toward the front).  tids, when given, follow the rows.
 */
static void
IvfSubsample(IvfBuildState *bs, const float *src, float *dst,
			 ItemPointerData *tids, int64 n, int64 want)
{
	int64		taken = 0;

	for (int64 i = 0; i < n && taken < want; i++)
	{
		double		u = (double) (splitmix64(&bs->rng) >> 11) * (1.0 / 9007199254740992.0);

		if (u * (double) (n - i) >= (double) (want - taken))
			continue;
		if (dst + taken * bs->dim != src + i * bs->dim)
			memmove(dst + taken * bs->dim, src + i * bs->dim, sizeof(float) * bs->dim);
		if (tids)
			tids[taken] = tids[i];
		taken++;
	}
	Assert(taken == want);
}

static void
IvfTrain(IvfBuildState *bs, const IvfOptions *opts)
{
	QuantOptions qopts;
	int			dim = bs->dim;
	int			lists = opts && opts->lists > 0 ? opts->lists : IvfAutoLists(bs->rows_seen);
	QuantKind	qkind = opts ? (QuantKind) opts->quantizer_offset : QUANT_RQ;
	int64		nsample = bs->sample_n;
	int			sample_rate = opts ? opts->sample_rate : IVF_DEFAULT_SAMPLE_RATE;

	memset(&bs->kparams, 0, sizeof(bs->kparams));
	bs->kparams.max_iterations = opts ? opts->max_iterations : IVF_DEFAULT_MAX_ITERATIONS;
	bs->kparams.tolerance = 1e-3;	/* partitions, not exact clusters */
	bs->kparams.spherical = bs->metric->normalize;
	/* high dimensions: cluster a random projection (partitions barely change) */
	if (dim > 256)
		bs->kparams.project_dim = Max(128, dim / 8);
	bs->kparams.seed = 0x6c616e6365ULL;
	bs->kparams.interrupt_hook = LanceInterruptHook;
	bs->kparams.alloc = LanceQuantAlloc;
	bs->kparams.release = LanceQuantFree;

	if (bs->metric->hamming && qkind != QUANT_FLAT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("bit_hamming_ops supports only quantizer = flat")));

	/* rows were left out of the sample (memory), and too few are in it */
	if (bs->rows_seen > nsample && nsample < (int64) sample_rate * lists)
		ereport(NOTICE,
				(errmsg("lance_ivf trains on %lld rows, fewer than sample_rate x lists = %lld",
						(long long) nsample, (long long) sample_rate * lists),
				 errhint("Increase maintenance_work_mem to sample more.")));

	/*
	 * Too few rows to train: one exhaustive list of exact vectors, which the
	 * background worker (or a REINDEX) trains once the table has grown.
	 */
	bs->trained = nsample >= 2 * (int64) lists && nsample > 0;
	if (!bs->trained)
	{
		lists = 1;
		qkind = QUANT_FLAT;
	}
	/* bit vectors are stored as bits and compared by popcount, exactly */
	if (bs->metric->hamming)
		qkind = QUANT_BINARY;
	bs->nlists = lists;
	bs->qkind = qkind;
	bs->kparams.k = lists;

	/*
	 * k-means trains on sample_rate rows a list, as the option says; the
	 * reservoir may hold more (it was sized from an estimate).  Rows that
	 * will not be encoded from the sample are dropped; when it holds every
	 * row (pass 2 encodes from it), training takes a copy of the subset.
	 */
	if (bs->trained && nsample > (int64) sample_rate * lists &&
		bs->rows_seen > nsample)
	{
		IvfSubsample(bs, bs->sample, bs->sample, bs->sample_tids, nsample,
					 (int64) sample_rate * lists);
		nsample = bs->sample_n = (int64) sample_rate * lists;
	}

	bs->centroids = lance_palloc0_array(float, (Size) lists * dim);
	if (bs->trained && lists > 1)
	{
		KMeansResult kres;
		int64		ntrain = Min(nsample, (int64) sample_rate * lists);
		float	   *train = bs->sample;

		if (ntrain < nsample)
		{
			train = lance_palloc_array(float, (Size) ntrain * dim);
			IvfSubsample(bs, bs->sample, train, NULL, nsample, ntrain);
		}
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_TRAINING);
		if (!kmeans_train(train, ntrain, dim, &bs->kparams,
						  bs->centroids, &kres))
			elog(ERROR, "lance_ivf: k-means training failed");
		if (train != bs->sample)
			pfree(train);
		ereport(DEBUG1,
				(errmsg("lance_ivf k-means: %lld rows, %d lists, %d iterations%s",
						(long long) ntrain, lists, kres.iterations,
						bs->kparams.project_dim ? " (on a random projection)" : "")));
	}
	else if (bs->trained)
	{
		/* one list: its centroid is the mean */
		for (int64 i = 0; i < nsample; i++)
			for (int j = 0; j < dim; j++)
				bs->centroids[j] += bs->sample[i * dim + j] / nsample;
	}

	/*
	 * Where the sample falls: its nearest centroids (the residual
	 * quantizers train on x - centroid) and the mean distance, kept in the
	 * meta page to detect drift later.
	 */
	if (bs->trained && nsample > 0)
	{
		float	   *dist = lance_palloc_array(float, nsample);
		double		sum = 0;

		bs->sample_assign = lance_palloc_array(int32, nsample);
		if (lists > 1)
			kmeans_assign(bs->sample, nsample, dim, bs->centroids, lists,
						  bs->sample_assign, dist, &bs->kparams);
		else
			for (int64 i = 0; i < nsample; i++)
			{
				bs->sample_assign[i] = 0;
				dist[i] = lance_kernels->l2sq_f32(bs->sample + i * dim, bs->centroids, dim);
			}
		for (int64 i = 0; i < nsample; i++)
			sum += sqrt(Max(dist[i], 0.0f));
		bs->mean_residual = sum / nsample;
		bs->sample_dist = dist;
	}

	memset(&qopts, 0, sizeof(qopts));
	qopts.kind = qkind;
	qopts.metric = bs->metric->qmetric;
	qopts.dim = dim;
	qopts.num_bits = opts ? opts->num_bits : 0;
	if (qkind == QUANT_PQ)
	{
		int			m = opts ? opts->num_sub_vectors : 0;

		if (m <= 0)
			m = (dim % 16 == 0) ? dim / 16 : Max(1, dim / 8);
		if (m > dim)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("num_sub_vectors must be at most the number of dimensions (%d)", dim)));
		qopts.num_sub_vectors = m;
		if (qopts.num_bits == 0)
			qopts.num_bits = 8;
		if (qopts.num_bits != 4 && qopts.num_bits != 8)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("num_bits must be 4 or 8 for quantizer \"pq\"")));
	}
	else if (qkind == QUANT_RQ)
	{
		/*
		 * 1 bit per dimension estimates well from a few hundred dimensions
		 * up; below, 2 bits tighten the bound enough to halve the rows
		 * re-ranked from the table (bench/ivf: 1.6x QPS at 128-d).
		 */
		if (qopts.num_bits == 0)
			qopts.num_bits = dim <= 256 ? 2 : 1;
	}
	else if (qkind == QUANT_SQ)
		qopts.num_bits = 8;
	qopts.max_iterations = bs->kparams.max_iterations;
	qopts.seed = bs->kparams.seed;
	qopts.interrupt_hook = LanceInterruptHook;
	qopts.alloc = LanceQuantAlloc;
	qopts.release = LanceQuantFree;

	/* residual quantizers train on x - centroid(x) */
	bs->sample_residual = qkind == QUANT_PQ || qkind == QUANT_RQ;
	if (bs->sample_residual)
	{
		if (nsample > 0 && lists > 1)
		{
			for (int64 i = 0; i < nsample; i++)
			{
				const float *c = bs->centroids + (Size) bs->sample_assign[i] * dim;

				for (int j = 0; j < dim; j++)
					bs->sample[i * dim + j] -= c[j];
			}
		}
		else
		{
			for (int64 i = 0; i < nsample; i++)
				for (int j = 0; j < dim; j++)
					bs->sample[i * dim + j] -= bs->centroids[j];
		}
	}
	bs->quant = quantizer_train(&qopts, bs->sample, nsample);
	bs->residuals = quantizer_wants_residuals(bs->quant);
	IvfListLayoutInit(&bs->layout, bs->quant);
	bs->entry_size = sizeof(float) * bs->layout.num_aux + bs->layout.code_size +
		sizeof(ItemPointerData);
}

/* Buffers for assigning and encoding rows in batches. */
static void
IvfPrepareAssign(IvfBuildState *bs, Size spool_budget)
{
	bs->spools = lance_palloc0_array(IvfSpool, bs->nlists);
	bs->radius = lance_palloc0_array(float, bs->nlists);
	bs->spool_budget = spool_budget;
	bs->batch = lance_palloc_array(float, (Size) IVF_BATCH_ROWS * bs->dim);
	bs->batch_tids = lance_palloc_array(ItemPointerData, IVF_BATCH_ROWS);
	bs->assign = lance_palloc_array(int32, IVF_BATCH_ROWS);
	bs->assign_dist = lance_palloc_array(float, IVF_BATCH_ROWS);
	bs->resid = lance_palloc_array(float, bs->dim);
}

/*
 * Pass 2 without reading the table again, when the sample holds every row
 * (no reservoir replacement happened, so it is in scan order): training
 * already assigned each row to its list, and the residual quantizers'
 * sample already holds x - centroid.  Not for CREATE INDEX CONCURRENTLY,
 * whose second scan must see the rows committed since the first.
 */
static void
IvfEncodeSample(IvfBuildState *bs, Size spool_budget)
{
	uint8	   *code = palloc(bs->layout.code_size);
	float	   *aux = palloc(sizeof(float) * Max(bs->layout.num_aux, 1));

	IvfPrepareAssign(bs, spool_budget);
	for (int64 i = 0; i < bs->sample_n; i++)
	{
		if ((i & 1023) == 0)
		{
			CHECK_FOR_INTERRUPTS();
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, i);
		}
		IvfSpoolRow(bs, (uint32) bs->sample_assign[i], bs->sample_dist[i],
					bs->sample + i * bs->dim, &bs->sample_tids[i], code, aux);
		bs->indtuples++;
		if (bs->spool_bytes > bs->spool_budget)
			IvfFlushAllSpools(bs);
	}
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->sample_n);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_WRITING);
	IvfFlushAllSpools(bs);
	pfree(code);
	pfree(aux);
}

/*
 * One participant's share of pass 2: scan its part of the heap, assign,
 * encode and flush.  Runs in the leader and in every worker.
 */
static void
IvfParallelScanAndEncode(IvfBuildState *bs, IvfShared *shared,
						 IndexInfo *indexInfo, bool progress)
{
	TableScanDesc scan;
	double		reltuples;

	IvfPrepareAssign(bs, shared->spool_budget);
	scan = table_beginscan_parallel(bs->heap,
									(ParallelTableScanDesc) IvfSharedPtr(shared, shared->scan_off));
	reltuples = table_index_build_scan(bs->heap, bs->index, indexInfo, true,
									   progress, IvfEncodeCallback,
									   (void *) bs, scan);
	IvfProcessBatch(bs);
	if (progress)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_WRITING);
	IvfFlushAllSpools(bs);
	ereport(DEBUG1,
			(errmsg_internal("lance_ivf parallel build: %s encoded %lld rows",
							 progress ? "leader" : "worker", (long long) bs->indtuples)));

	SpinLockAcquire(&shared->mutex);
	shared->nparticipantsdone++;
	shared->reltuples += reltuples;
	shared->indtuples += bs->indtuples;
	SpinLockRelease(&shared->mutex);
	ConditionVariableSignal(&shared->done_cv);
}

/* Worker entry point, looked up by name by CreateParallelContext. */
extern PGDLLEXPORT void IvfParallelBuildMain(dsm_segment *seg, shm_toc *toc);

void
IvfParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	IvfShared  *shared = shm_toc_lookup(toc, IVF_KEY_SHARED, false);
	char	   *query = shm_toc_lookup(toc, IVF_KEY_QUERY_TEXT, true);
	LOCKMODE	heapLockmode = shared->isconcurrent ? ShareUpdateExclusiveLock : ShareLock;
	LOCKMODE	indexLockmode = shared->isconcurrent ? RowExclusiveLock : AccessExclusiveLock;
	IvfBuildState bs;
	IndexInfo  *indexInfo;
	QuantOptions qopts;
	const char *err = NULL;

	debug_query_string = query;
	pgstat_report_activity(STATE_RUNNING, debug_query_string);

	memset(&bs, 0, sizeof(bs));
	bs.heap = table_open(shared->heaprelid, heapLockmode);
	bs.index = index_open(shared->indexrelid, indexLockmode);
	bs.type = LanceGetTypeSupport(bs.index, IVF_TYPE_PROC);
	bs.metric = LanceGetMetricSupport(bs.index, IVF_METRIC_PROC);
	bs.dim = shared->dim;
	bs.nlists = shared->nlists;
	bs.trained = true;
	bs.tmpctx = AllocSetContextCreate(CurrentMemoryContext, "lance_ivf build tuple",
									  ALLOCSET_DEFAULT_SIZES);
	memset(&qopts, 0, sizeof(qopts));
	qopts.alloc = LanceQuantAlloc;
	qopts.release = LanceQuantFree;
	bs.quant = quantizer_deserialize((const uint8 *) IvfSharedPtr(shared, shared->quant_off),
									 shared->quant_len, &qopts, &err);
	if (bs.quant == NULL)
		elog(ERROR, "lance_ivf parallel build: bad quantizer: %s", err ? err : "?");
	bs.residuals = quantizer_wants_residuals(bs.quant);
	IvfListLayoutInit(&bs.layout, bs.quant);
	bs.entry_size = sizeof(float) * bs.layout.num_aux + bs.layout.code_size +
		sizeof(ItemPointerData);
	bs.centroids = (float *) IvfSharedPtr(shared, shared->centroid_off);
	bs.dir = (IvfListInfo *) IvfSharedPtr(shared, shared->dir_off);
	bs.shared = shared;
	memset(&bs.kparams, 0, sizeof(bs.kparams));
	bs.kparams.k = bs.nlists;
	bs.kparams.interrupt_hook = LanceInterruptHook;
	bs.kparams.alloc = LanceQuantAlloc;
	bs.kparams.release = LanceQuantFree;
	kmeans_set_threads(1);

	indexInfo = BuildIndexInfo(bs.index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	bs.toast = lance_toast_fetch_begin(bs.heap);
	IvfParallelScanAndEncode(&bs, shared, indexInfo, false);
	lance_toast_fetch_end(bs.toast);

	index_close(bs.index, indexLockmode);
	table_close(bs.heap, heapLockmode);
}

/*
 * Pass 2 with parallel workers: the leader shares the trained structure
 * and a parallel heap scan, participates itself, and collects the
 * directory when every participant is done.  Falls back to the serial
 * path when no worker can be launched.  parallel_leader_participation =
 * off leaves the scan to the workers, as for btree, unless none started.
 */
static void
IvfParallelAssign(IvfBuildState *bs, IndexInfo *indexInfo, int nworkers,
				  const char *qblob, Size qlen, Size budget)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		size;
	Size		est_scan;
	IvfShared  *shared;
	int			nparticipants;
	bool		leader_participates;
	char	   *querycopy;
	Size		querylen = debug_query_string ? strlen(debug_query_string) + 1 : 0;

	EnterParallelMode();
	pcxt = CreateParallelContext("lancedb", "IvfParallelBuildMain", nworkers);

	snapshot = indexInfo->ii_Concurrent ?
		RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;
	est_scan = table_parallelscan_estimate(bs->heap, snapshot);

	size = MAXALIGN(sizeof(IvfShared));
	size += MAXALIGN(qlen);
	size += MAXALIGN(sizeof(float) * (Size) bs->nlists * bs->dim);
	size += MAXALIGN(sizeof(IvfListInfo) * bs->nlists);
	size += est_scan;
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
		/* no shared memory for it: do it alone */
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		IvfPrepareAssign(bs, Max(budget / 2, (Size) 1024 * 1024));
		table_index_build_scan(bs->heap, bs->index, indexInfo, true, true,
							   IvfEncodeCallback, (void *) bs, NULL);
		IvfProcessBatch(bs);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_WRITING);
		IvfFlushAllSpools(bs);
		return;
	}

	shared = shm_toc_allocate(pcxt->toc, size);
	memset(shared, 0, sizeof(IvfShared));
	shared->heaprelid = RelationGetRelid(bs->heap);
	shared->indexrelid = RelationGetRelid(bs->index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	shared->dim = bs->dim;
	shared->nlists = bs->nlists;
	shared->quant_len = qlen;
	shared->quant_off = MAXALIGN(sizeof(IvfShared));
	shared->centroid_off = shared->quant_off + MAXALIGN(qlen);
	shared->dir_off = shared->centroid_off + MAXALIGN(sizeof(float) * (Size) bs->nlists * bs->dim);
	shared->scan_off = shared->dir_off + MAXALIGN(sizeof(IvfListInfo) * bs->nlists);
	SpinLockInit(&shared->mutex);
	ConditionVariableInit(&shared->writer_cv);
	ConditionVariableInit(&shared->done_cv);
	memcpy(IvfSharedPtr(shared, shared->quant_off), qblob, qlen);
	memcpy(IvfSharedPtr(shared, shared->centroid_off), bs->centroids,
		   sizeof(float) * (Size) bs->nlists * bs->dim);
	memcpy(IvfSharedPtr(shared, shared->dir_off), bs->dir,
		   sizeof(IvfListInfo) * bs->nlists);
	table_parallelscan_initialize(bs->heap,
								  (ParallelTableScanDesc) IvfSharedPtr(shared, shared->scan_off),
								  snapshot);
	shm_toc_insert(pcxt->toc, IVF_KEY_SHARED, shared);
	if (querylen)
	{
		querycopy = shm_toc_allocate(pcxt->toc, querylen);
		memcpy(querycopy, debug_query_string, querylen);
		shm_toc_insert(pcxt->toc, IVF_KEY_QUERY_TEXT, querycopy);
	}

	/* each participant may spool this much before writing */
	shared->spool_budget = Max(budget / 2 / (nworkers + 1), (Size) 1024 * 1024);

	LaunchParallelWorkers(pcxt);
	leader_participates = parallel_leader_participation ||
		pcxt->nworkers_launched == 0;
	nparticipants = pcxt->nworkers_launched + (leader_participates ? 1 : 0);

	/* the leader takes its share */
	bs->shared = shared;
	bs->dir = (IvfListInfo *) IvfSharedPtr(shared, shared->dir_off);
	if (leader_participates)
		IvfParallelScanAndEncode(bs, shared, indexInfo, true);

	/*
	 * A worker that failed to start never signals done_cv: error out
	 * instead of waiting for it forever (as btree does).
	 */
	WaitForParallelWorkersToAttach(pcxt);

	for (;;)
	{
		int			done;

		SpinLockAcquire(&shared->mutex);
		done = shared->nparticipantsdone;
		SpinLockRelease(&shared->mutex);
		if (done >= nparticipants)
			break;
		ConditionVariableSleep(&shared->done_cv, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	WaitForParallelWorkersToFinish(pcxt);

	/* the directory and counters outlive the shared memory */
	bs->dir = lance_palloc_array(IvfListInfo, bs->nlists);
	memcpy(bs->dir, IvfSharedPtr(shared, shared->dir_off),
		   sizeof(IvfListInfo) * bs->nlists);
	bs->indtuples = (int64) shared->indtuples;
	bs->shared = NULL;

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
}

static int
IvfColumnDims(Relation index, const LanceTypeSupport *type)
{
	int32		typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	if (typmod < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with a dimension, e.g. vector(768).")));
	if (typmod > type->maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for lance_ivf",
						type->maxdim)));
	return typmod;
}

/*
 * The planner's row estimate of the table: reltuples scaled to its current
 * size, or a guess from its size and row width when it was never vacuumed
 * or analyzed.  Never below reltuples.
 */
static double
IvfEstimateRows(Relation heap)
{
	BlockNumber pages;
	double		tuples;
	double		allvisfrac;

	estimate_rel_size(heap, NULL, &pages, &tuples, &allvisfrac);
	return Max(Max(tuples, heap->rd_rel->reltuples), 0);
}

static void
IvfBuildIndex(Relation heap, Relation index, IndexInfo *indexInfo,
			  IvfBuildState *bs, ForkNumber fork)
{
	IvfOptions *opts = (IvfOptions *) index->rd_options;
	MemoryContext buildctx = AllocSetContextCreate(CurrentMemoryContext,
												   "lance_ivf build",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(buildctx);
	Size		budget = (Size) maintenance_work_mem * 1024;
	IvfMetaPageData meta;
	char	   *qblob;
	Size		qlen;
	Buffer		metabuf;
	int			sample_rate = opts ? opts->sample_rate : IVF_DEFAULT_SAMPLE_RATE;
	int64		max_lists;
	int64		cap;
	bool		from_sample;
	instr_time	t_start,
				t_sampled,
				t_trained,
				t_encoded,
				t_done;

	memset(bs, 0, sizeof(*bs));
	bs->heap = heap;
	bs->index = index;
	bs->type = LanceGetTypeSupport(index, IVF_TYPE_PROC);
	bs->metric = LanceGetMetricSupport(index, IVF_METRIC_PROC);
	bs->dim = IvfColumnDims(index, bs->type);
	bs->tmpctx = AllocSetContextCreate(buildctx, "lance_ivf build tuple",
									   ALLOCSET_DEFAULT_SIZES);
	bs->rng = 0x5eed;

	/* block 0 is the meta page; filled in at the end */
	metabuf = IvfNewBuffer(index, fork);
	Assert(BufferGetBlockNumber(metabuf) == IVF_METAPAGE_BLKNO);
	IvfInitPage(BufferGetPage(metabuf), IVF_PAGE_META, 0);
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	/*
	 * reservoir: sample_rate per list, for the largest list count we may
	 * pick.  The row count is the planner's estimate, which also covers a
	 * table never vacuumed or analyzed (reltuples -1) and one that grew since.
	 */
	if (opts && opts->lists > 0)
		max_lists = opts->lists;
	else
		max_lists = IvfAutoLists((int64) IvfEstimateRows(heap) * 2 + 1000);
	cap = Min((int64) sample_rate * max_lists,
			  (int64) (budget / 2 / (sizeof(float) * bs->dim)));
	bs->sample_cap = Max(cap, 1);

	INSTR_TIME_SET_CURRENT(t_start);
	if (fork == MAIN_FORKNUM)
	{
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_SAMPLING);
		bs->sample = lance_palloc_array(float, (Size) bs->sample_cap * bs->dim);
		/* filled row by row: one fault per 2 MB instead of per 4 kB */
		lance_advise_huge(bs->sample, sizeof(float) * (Size) bs->sample_cap * bs->dim);
		bs->sample_tids = lance_palloc_array(ItemPointerData, bs->sample_cap);
		bs->toast = lance_toast_fetch_begin(heap);
		bs->heap_tuples = table_index_build_scan(heap, index, indexInfo, true, true,
												 IvfSampleCallback, (void *) bs, NULL);
	}
	else
		bs->sample = palloc(sizeof(float) * bs->dim);

	INSTR_TIME_SET_CURRENT(t_sampled);
	/* OpenBLAS may use the cores the build is allowed (leader + workers) */
	if (fork == MAIN_FORKNUM)
		kmeans_set_threads(1 + plan_create_index_workers(RelationGetRelid(heap),
														 RelationGetRelid(index)));
	IvfTrain(bs, opts);
	kmeans_set_threads(1);
	INSTR_TIME_SET_CURRENT(t_trained);
	from_sample = fork == MAIN_FORKNUM && bs->trained &&
		bs->sample_n == bs->rows_seen && bs->sample_assign != NULL &&
		bs->sample_residual == bs->residuals && !indexInfo->ii_Concurrent;
	if (!from_sample)
	{
		pfree(bs->sample);
		bs->sample = NULL;
	}

	/* structure pages: quantizer, centroids, directory */
	qlen = quantizer_serialized_size(bs->quant);
	qblob = palloc(qlen);
	quantizer_serialize(bs->quant, (uint8 *) qblob);

	memset(&meta, 0, sizeof(meta));
	meta.magic = IVF_MAGIC;
	meta.version = IVF_FORMAT_VERSION;
	meta.build_id = ((uint64) GetCurrentTransactionId() << 32) ^
		(uint64) GetCurrentTimestamp() ^ (uint64) MyProcPid;
	meta.dim = bs->dim;
	meta.elemtype = bs->type->elemtype;
	meta.qkind = bs->qkind;
	meta.configured_qkind = opts ? opts->quantizer_offset : QUANT_RQ;
	meta.trained = bs->trained;
	meta.num_aux = bs->layout.num_aux;
	meta.code_size = bs->layout.code_size;
	meta.nlists = bs->nlists;
	meta.lists_built = bs->nlists;
	meta.quant_len = qlen;
	meta.quant_start = IvfWriteBlob(index, qblob, qlen, fork);
	meta.centroid_len = sizeof(float) * bs->nlists * bs->dim;
	meta.centroid_start = IvfWriteBlob(index, (const char *) bs->centroids,
									   meta.centroid_len, fork);
	meta.dir_start = IvfAllocDirectory(index, bs->nlists, &meta.dir_pages, fork);

	bs->dir = lance_palloc_array(IvfListInfo, bs->nlists);
	for (int l = 0; l < bs->nlists; l++)
	{
		bs->dir[l].head = bs->dir[l].tail = bs->dir[l].insert_page = InvalidBlockNumber;
		bs->dir[l].count = 0;
		bs->dir[l].inserted = 0;
		bs->dir[l].radius = 0;
	}

	/* pass 2: assign, encode, spool, flush; in parallel when allowed */
	if (fork == MAIN_FORKNUM)
	{
		int			nworkers = plan_create_index_workers(RelationGetRelid(heap),
														 RelationGetRelid(index));

		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_ASSIGNING);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, bs->rows_seen);
		if (from_sample)
			IvfEncodeSample(bs, Max(budget / 2, (Size) 1024 * 1024));
		else if (nworkers > 0 && bs->trained && bs->rows_seen > 10000)
			IvfParallelAssign(bs, indexInfo, nworkers, qblob, qlen, budget);
		else
		{
			IvfPrepareAssign(bs, Max(budget / 2, (Size) 1024 * 1024));
			table_index_build_scan(heap, index, indexInfo, true, true,
								   IvfEncodeCallback, (void *) bs, NULL);
			IvfProcessBatch(bs);
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, IVF_PHASE_WRITING);
			IvfFlushAllSpools(bs);
		}
	}

	lance_toast_fetch_end(bs->toast);
	bs->toast = NULL;

	INSTR_TIME_SET_CURRENT(t_encoded);
	IvfWriteDirectory(index, meta.dir_start, meta.dir_pages, bs->dir,
					  bs->nlists, fork);
	meta.rows_built = bs->indtuples;
	meta.mean_residual = bs->trained ? bs->mean_residual : 0;
	IvfWriteMeta(index, &meta, fork);

	if (RelationNeedsWAL(index) || fork == INIT_FORKNUM)
		log_newpage_range(index, fork, 0,
						  RelationGetNumberOfBlocksInFork(index, fork), true);

	INSTR_TIME_SET_CURRENT(t_done);
	INSTR_TIME_SUBTRACT(t_done, t_encoded);
	INSTR_TIME_SUBTRACT(t_encoded, t_trained);
	INSTR_TIME_SUBTRACT(t_trained, t_sampled);
	INSTR_TIME_SUBTRACT(t_sampled, t_start);
	ereport(DEBUG1,
			(errmsg("lance_ivf build of \"%s\": %lld rows, %d lists; sampling %.3f s, training %.3f s, assigning and encoding %.3f s, writing %.3f s",
					RelationGetRelationName(index), (long long) bs->indtuples,
					bs->nlists, INSTR_TIME_GET_DOUBLE(t_sampled),
					INSTR_TIME_GET_DOUBLE(t_trained),
					INSTR_TIME_GET_DOUBLE(t_encoded),
					INSTR_TIME_GET_DOUBLE(t_done))));

	MemoryContextSwitchTo(old);
	/* keep the counters, drop everything else */
	bs->sample = NULL;
	bs->spools = NULL;
	MemoryContextDelete(buildctx);
}

IndexBuildResult *
ivfbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result = palloc(sizeof(IndexBuildResult));
	IvfBuildState bs;

	IvfBuildIndex(heap, index, indexInfo, &bs, MAIN_FORKNUM);
	result->heap_tuples = bs.heap_tuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/* Unlogged tables: an empty, untrained index in the init fork. */
void
ivfbuildempty(Relation index)
{
	IvfBuildState bs;

	IvfBuildIndex(NULL, index, NULL, &bs, INIT_FORKNUM);
}
