/*
 * hnswsearch.c
 *	  Searching the on-disk lance_hnsw graph: the HnswSearchOps callbacks
 *	  of src/index/hnsw_graph.c over element pages.  Each element is read
 *	  under a short share lock; neighbour blocks are prefetched before
 *	  their distances are computed.
 */
#include "postgres.h"

#include <math.h>

#include "am/hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

typedef struct VisitedEntry
{
	uint64		key;
	ItemPointerData heaptid;	/* set once its distance is computed */
	char		status;
	uint32		gen;			/* visited in search number gen */
	float		lower;			/* lower bound of its distance */
} VisitedEntry;

static inline uint32
hnsw_key_hash(uint64 k)
{
	/* splitmix64 finaliser */
	k ^= k >> 30;
	k *= UINT64CONST(0xbf58476d1ce4e5b9);
	k ^= k >> 27;
	k *= UINT64CONST(0x94d049bb133111eb);
	k ^= k >> 31;
	return (uint32) k;
}

#define SH_PREFIX visited
#define SH_ELEMENT_TYPE VisitedEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, key) hnsw_key_hash(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

/* block -> the buffer that held it, for the last few indexes searched */
typedef struct HnswBufMap
{
	RelFileNode node;
	BlockNumber n;
	Buffer	   *bufs;
} HnswBufMap;

#define HNSW_BUFMAPS	4
static HnswBufMap bufmaps[HNSW_BUFMAPS];
static int	bufmap_last;
static int	bufmap_victim;

static Buffer *
bufmap_entry(Relation index, BlockNumber blk)
{
	HnswBufMap *bm = &bufmaps[bufmap_last];

	if (bm->bufs == NULL || !RelFileNodeEquals(bm->node, index->rd_node))
	{
		int			i;

		for (i = 0; i < HNSW_BUFMAPS; i++)
			if (bufmaps[i].bufs && RelFileNodeEquals(bufmaps[i].node, index->rd_node))
				break;
		if (i == HNSW_BUFMAPS)
		{
			i = bufmap_victim;
			bufmap_victim = (bufmap_victim + 1) % HNSW_BUFMAPS;
			if (bufmaps[i].bufs)
				pfree(bufmaps[i].bufs);
			bufmaps[i].node = index->rd_node;
			bufmaps[i].n = Max(1024, RelationGetNumberOfBlocks(index) + 64);
			bufmaps[i].bufs = MemoryContextAllocZero(TopMemoryContext,
													 sizeof(Buffer) * bufmaps[i].n);
		}
		bufmap_last = i;
		bm = &bufmaps[i];
	}
	if (blk >= bm->n)
	{
		BlockNumber n = Max(blk + 64, bm->n * 2);

		bm->bufs = repalloc(bm->bufs, sizeof(Buffer) * n);
		memset(bm->bufs + bm->n, 0, sizeof(Buffer) * (n - bm->n));
		bm->n = n;
	}
	return &bm->bufs[blk];
}

struct HnswDiskSearch
{
	Relation	index;
	HnswIndexInfo *info;
	HnswQuery	hq;
	visited_hash *visited;		/* never emptied: resets bump gen */
	uint32		gen;
	MemoryContext cxt;
	int64		nvisited;
	BlockNumber nblocks;
	HnswSearchOps ops;
};

static void *
search_alloc(size_t size)
{
	return palloc(size);
}

static void
search_release(void *p)
{
	pfree(p);
}

static bool
disk_visit(void *arg, HnswKey key)
{
	HnswDiskSearch *ds = arg;
	bool		found;
	VisitedEntry *e = visited_insert(ds->visited, key, &found);

	if (found && e->gen == ds->gen)
		return false;
	if (!found)
		ItemPointerSetInvalid(&e->heaptid);
	e->gen = ds->gen;
	ds->nvisited++;
	return true;
}

/* Pin blk: the buffer it was in last time if it is still there. */
static inline Buffer
read_buffer_cached(Relation index, BlockNumber blk, Buffer recent)
{
	Buffer	   *e = bufmap_entry(index, blk);
	Buffer		buf;

	if (BufferIsValid(*e) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blk, *e))
		return *e;
	if (BufferIsValid(recent) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blk, recent))
		buf = recent;
	else
		buf = ReadBuffer(index, blk);
	*e = buf;
	return buf;
}

static inline Buffer
search_read_buffer(HnswDiskSearch *ds, BlockNumber blk, Buffer recent)
{
	return read_buffer_cached(ds->index, blk, recent);
}

/* ReadBuffer of an element page through the backend's buffer map. */
Buffer
HnswReadBufferCached(Relation index, BlockNumber blk)
{
	return read_buffer_cached(index, blk, InvalidBuffer);
}

static void
check_block(HnswDiskSearch *ds, BlockNumber blk)
{
	if (blk == HNSW_METAPAGE_BLKNO || blk >= ds->nblocks)
	{
		/* the relation may have grown since we looked */
		ds->nblocks = RelationGetNumberOfBlocks(ds->index);
		if (blk == HNSW_METAPAGE_BLKNO || blk >= ds->nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" refers to block %u beyond its end",
							RelationGetRelationName(ds->index), blk)));
	}
}

static int
disk_neighbors(void *arg, HnswKey key, int level, HnswKey *out, int cap)
{
	HnswDiskSearch *ds = arg;
	const HnswMetaPageData *meta = &ds->info->meta;
	BlockNumber blk = HnswKeyBlock(key);
	Buffer		buf;
	Page		page;
	HnswElementTuple tup;
	int			n = 0;

	check_block(ds, blk);
	buf = search_read_buffer(ds, blk, InvalidBuffer);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	HnswCheckPage(ds->index, page, blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(ds->index, page, blk, HnswKeyOffset(key),
						 meta->data_size, meta->m);
	if (level <= tup->level)
	{
		HnswSlot   *slots = HnswElementSlots(tup, meta->data_size) +
		hnsw_level_offset(meta->m, level);
		int			lcap = hnsw_level_capacity(meta->m, level);

		for (int i = 0; i < lcap && n < cap; i++)
		{
			BlockNumber nb = BlockIdGetBlockNumber(&slots[i].blk);

			if (nb == InvalidBlockNumber)
				continue;
			out[n++] = HnswKeyFromTid(nb, slots[i].off);
		}
	}
	UnlockReleaseBuffer(buf);
	return n;
}

static void
disk_distances(void *arg, const HnswKey *keys, int n, float *dist, bool *deleted)
{
	HnswDiskSearch *ds = arg;
	const HnswMetaPageData *meta = &ds->info->meta;
	Buffer		bufs[2 * HNSW_MAX_M + 1];

	/*
	 * Pin every page first and prefetch the cache lines each element read
	 * touches (page header, its line pointer, the special space): the
	 * search is bound by memory latency, not by arithmetic.
	 */
	Buffer		recent[2 * HNSW_MAX_M + 1];
	unsigned	prefetch_bytes = Min(HNSW_ELEM_HDR + meta->data_size, 1024);

	Assert(n <= lengthof(bufs));
	for (int i = 0; i < n; i++)
	{
		BlockNumber blk = HnswKeyBlock(keys[i]);

		check_block(ds, blk);
		recent[i] = InvalidBuffer;
		if (!BufferIsValid(*bufmap_entry(ds->index, blk)))
			recent[i] = PrefetchBuffer(ds->index, MAIN_FORKNUM, blk).recent_buffer;
	}
	for (int i = 0; i < n; i++)
	{
		char	   *p;

		bufs[i] = search_read_buffer(ds, HnswKeyBlock(keys[i]), recent[i]);
		p = (char *) BufferGetPage(bufs[i]);
		__builtin_prefetch(p);
		__builtin_prefetch(p + SizeOfPageHeaderData +
						   sizeof(ItemIdData) * (HnswKeyOffset(keys[i]) - 1));
		__builtin_prefetch(p + BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData)));
	}

	/*
	 * Then every element's header and payload, all in flight at once.  The
	 * line pointers are read without the content lock: only a hint, kept
	 * inside the page (element line pointers never move).
	 */
	for (int i = 0; i < n; i++)
	{
		Page		np = BufferGetPage(bufs[i]);
		OffsetNumber noff = HnswKeyOffset(keys[i]);

		if (noff >= FirstOffsetNumber && noff <= PageGetMaxOffsetNumber(np))
		{
			unsigned	o = ItemIdGetOffset(PageGetItemId(np, noff));

			for (unsigned b = 0; b < prefetch_bytes && o + b < BLCKSZ; b += 64)
				__builtin_prefetch((char *) np + o + b);
		}
	}
	for (int i = 0; i < n; i++)
	{
		BlockNumber blk = HnswKeyBlock(keys[i]);
		Buffer		buf = bufs[i];
		Page		page;
		HnswElementTuple tup;
		VisitedEntry *e;
		float		lower;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		HnswCheckPage(ds->index, page, blk, HNSW_PAGE_ELEMENT);
		tup = HnswGetElement(ds->index, page, blk, HnswKeyOffset(keys[i]),
							 meta->data_size, meta->m);
		if (tup->flags & HNSW_ELEM_FREE)
		{
			/* freed by VACUUM: neither a result nor a way through */
			dist[i] = get_float4_nan();
			deleted[i] = true;
			UnlockReleaseBuffer(buf);
			continue;
		}
		dist[i] = HnswQueryDistanceBound(&ds->hq, tup->data, &lower);
		deleted[i] = (tup->flags & HNSW_ELEM_DELETED) != 0;
		e = visited_lookup(ds->visited, keys[i]);
		if (e)
		{
			e->heaptid = tup->heaptid;
			e->lower = lower;
		}
		UnlockReleaseBuffer(buf);
	}
}

static void
disk_interrupt(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

HnswDiskSearch *
HnswDiskSearchBegin(Relation index, HnswIndexInfo *info, const float *q)
{
	HnswDiskSearch *ds = palloc0(sizeof(HnswDiskSearch));

	ds->index = index;
	ds->info = info;
	ds->cxt = CurrentMemoryContext;
	HnswQueryInit(&ds->hq, info, q);
	ds->visited = visited_create(CurrentMemoryContext, 1024, NULL);
	ds->gen = 1;
	ds->nblocks = RelationGetNumberOfBlocks(index);
	ds->ops.visit = disk_visit;
	ds->ops.neighbors = disk_neighbors;
	ds->ops.distances = disk_distances;
	ds->ops.arg = ds;
	ds->ops.alloc = search_alloc;
	ds->ops.release = search_release;
	ds->ops.interrupt = disk_interrupt;
	ds->ops.max_degree = 2 * info->meta.m;
	return ds;
}

void
HnswDiskSearchEnd(HnswDiskSearch *ds)
{
	visited_destroy(ds->visited);
	if (ds->hq.qq)
		quantizer_query_free(ds->hq.qq);
	pfree(ds);
}

/* A new search: O(1), where emptying the hash table would cost its size. */
void
HnswDiskSearchReset(HnswDiskSearch *ds)
{
	ds->gen++;
}

int64
HnswDiskSearchVisited(HnswDiskSearch *ds)
{
	return ds->nvisited;
}

bool
HnswDiskHeapTid(HnswDiskSearch *ds, HnswKey key, ItemPointer tid)
{
	VisitedEntry *e = visited_lookup(ds->visited, key);

	if (e == NULL || !ItemPointerIsValid(&e->heaptid))
		return false;
	*tid = e->heaptid;
	return true;
}

float
HnswDiskLower(HnswDiskSearch *ds, HnswKey key)
{
	VisitedEntry *e = visited_lookup(ds->visited, key);

	return e ? e->lower : -get_float4_infinity();
}

/*
 * The entry point from the current meta page with its distance; returns
 * its level, or -1 when the graph is empty.  Resets the visited set.
 */
int
HnswDiskEntry(HnswDiskSearch *ds, HnswCandidate *entry)
{
	HnswMetaPageData meta;
	HnswKey		key;
	float		d;
	bool		del;

	/*
	 * An entry point VACUUM freed after we read the meta page (it moves the
	 * entry first): read it again.
	 */
	for (int tries = 0;; tries++)
	{
		meta = HnswReadMeta(ds->index);
		HnswDiskSearchReset(ds);
		if (meta.entry_blkno == InvalidBlockNumber)
			return -1;
		key = HnswKeyFromTid(meta.entry_blkno, meta.entry_offno);
		disk_visit(ds, key);
		disk_distances(ds, &key, 1, &d, &del);
		if (!isnan(d) || tries >= 3)
			break;
	}
	entry->key = key;
	entry->dist = d;
	entry->deleted = del;
	return meta.entry_level;
}

/*
 * One level's search from entries (marked visited by the caller, or not:
 * they are marked here).  Resets nothing.
 */
int
HnswDiskLevelSearch(HnswDiskSearch *ds, HnswCandidate *entries, int nentries,
					int ef, int level, HnswCandidate *out)
{
	for (int i = 0; i < nentries; i++)
		disk_visit(ds, entries[i].key);
	return hnsw_search_layer(&ds->ops, entries, nentries, ef, level, out, NULL);
}

/*
 * Entries the level above the searched one hands down: a few instead of
 * one, so a descent that ends in a local minimum of a sparse region (data
 * of low intrinsic dimension, a graph rewired after many deletes) still
 * has ways into the right part of the level below.
 */
#define HNSW_DESCENT_ENTRIES	4

/*
 * The usual search: greedy descent to min_level + 1 (a few entries wide on
 * that level), then ef-wide search on min_level.  Returns the number of
 * results in out (ascending); *top_level is the entry's level (-1: empty
 * graph).
 */
int
HnswDiskSearchRun(HnswDiskSearch *ds, int ef, int min_level,
				  HnswCandidate *out, int *top_level)
{
	HnswCandidate eps[HNSW_DESCENT_ENTRIES];
	int			neps = 1;
	int			level = HnswDiskEntry(ds, &eps[0]);

	*top_level = level;
	if (level < 0)
		return 0;
	for (int lc = level; lc > min_level; lc--)
	{
		HnswCandidate best[HNSW_DESCENT_ENTRIES];
		int			width = lc == min_level + 1 ? HNSW_DESCENT_ENTRIES : 1;
		int			n;

		/* a tombstone entry still leads somewhere: keep it if nothing better */
		for (int i = 0; i < neps; i++)
			eps[i].deleted = false;
		n = hnsw_search_layer(&ds->ops, eps, neps, width, lc, best, NULL);
		if (n > 0)
		{
			memcpy(eps, best, sizeof(HnswCandidate) * n);
			neps = n;
		}
		HnswDiskSearchReset(ds);
		for (int i = 0; i < neps; i++)
			disk_visit(ds, eps[i].key);
	}
	{
		/* the entries' true deleted state matters on the last level */
		HnswKey		keys[HNSW_DESCENT_ENTRIES];
		float		d[HNSW_DESCENT_ENTRIES];
		bool		del[HNSW_DESCENT_ENTRIES];

		for (int i = 0; i < neps; i++)
			keys[i] = eps[i].key;
		disk_distances(ds, keys, neps, d, del);
		for (int i = 0; i < neps; i++)
			eps[i].deleted = del[i];
	}
	return hnsw_search_layer(&ds->ops, eps, neps, ef, min_level, out, NULL);
}
