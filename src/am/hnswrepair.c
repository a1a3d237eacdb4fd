/*
 * hnswrepair.c
 *	  Rewiring a lance_hnsw graph around dead elements, for VACUUM and for
 *	  the maintenance worker.
 *
 * The lists that point to a dead element are found by one sequential read
 * of the element pages that tests every slot against the dead set (a
 * bitmap over block and offset: no distance work, no hash lookups for the
 * common case); only those lists are rewired, so the distance work and the
 * WAL are proportional to what was deleted, not to the index.  A repaired
 * list drops its links to dead elements, keeps its live ones and refills
 * the freed slots by the neighbour heuristic from the live elements
 * reachable through the dead (their neighbours, and theirs when those
 * died too); only when a dead neighbour leads to no live element at all
 * does it search from the entry point, as pgvector does for every
 * affected element.
 *
 * Every list change is one GenericXLog record under a short exclusive
 * buffer lock, taken against the list as it is at that moment, so
 * concurrent inserts and searches go on.
 */
#include "postgres.h"

#include "am/hnsw.h"
#include "commands/vacuum.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

typedef struct DeadElement
{
	HnswKey		key;			/* hash key */
	int			level;
	bool		needs_repair;	/* false: repaired before (REPAIRED flag) */
	HnswSlot   *slots;			/* copy of its neighbour slots */
} DeadElement;

/* offsets below this are in the bitmap; the rest only in the hash */
#define DEAD_BITS_PER_BLOCK		512

struct HnswDeadSet
{
	const HnswIndexInfo *info;
	MemoryContext cxt;
	HTAB	   *hash;
	uint64	   *bits;			/* nblocks x DEAD_BITS_PER_BLOCK */
	BlockNumber nblocks;
	bool		any_repair;		/* some member needs its in-links repaired */
};

static inline bool
dead_bit_slot(const HnswDeadSet *set, HnswKey key, uint64 *word, uint64 *mask)
{
	BlockNumber blk = HnswKeyBlock(key);
	OffsetNumber off = HnswKeyOffset(key);
	uint64		bit;

	if (blk >= set->nblocks || off >= DEAD_BITS_PER_BLOCK)
		return false;
	bit = (uint64) blk * DEAD_BITS_PER_BLOCK + off;
	*word = bit / 64;
	*mask = UINT64CONST(1) << (bit % 64);
	return true;
}

typedef struct RepairKey
{
	HnswKey		key;
	int			level;
} RepairKey;

static inline HnswKey
SlotKey(const HnswSlot *s)
{
	BlockNumber b = BlockIdGetBlockNumber(&s->blk);

	return b == InvalidBlockNumber ? 0 : HnswKeyFromTid(b, s->off);
}

HnswDeadSet *
HnswDeadSetCreate(const HnswIndexInfo *info, BlockNumber nblocks)
{
	HnswDeadSet *set = palloc0(sizeof(HnswDeadSet));
	HASHCTL		hctl;

	set->info = info;
	set->cxt = CurrentMemoryContext;
	set->nblocks = nblocks;
	set->bits = MemoryContextAllocHuge(CurrentMemoryContext,
									   (Size) nblocks * DEAD_BITS_PER_BLOCK / 8 + 8);
	memset(set->bits, 0, (Size) nblocks * DEAD_BITS_PER_BLOCK / 8 + 8);
	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = sizeof(HnswKey);
	hctl.entrysize = sizeof(DeadElement);
	hctl.hcxt = CurrentMemoryContext;
	set->hash = hash_create("lance_hnsw dead elements", 1024, &hctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	return set;
}

void
HnswDeadSetAdd(HnswDeadSet *set, HnswKey key, HnswElementTuple tup,
			   bool needs_repair)
{
	int			m = set->info->meta.m;
	bool		found;
	DeadElement *d = hash_search(set->hash, &key, HASH_ENTER, &found);

	uint64		word;
	uint64		mask;

	if (found)
		return;
	if (dead_bit_slot(set, key, &word, &mask))
		set->bits[word] |= mask;
	set->any_repair |= needs_repair;
	d->level = tup->level;
	d->needs_repair = needs_repair;
	d->slots = NULL;
	if (needs_repair)
	{
		int			ns = hnsw_total_slots(m, tup->level);

		d->slots = MemoryContextAlloc(set->cxt, sizeof(HnswSlot) * ns);
		memcpy(d->slots, HnswElementSlots(tup, set->info->meta.data_size),
			   sizeof(HnswSlot) * ns);
	}
}

int64
HnswDeadSetCount(HnswDeadSet *set)
{
	return hash_get_num_entries(set->hash);
}

bool
HnswDeadSetContains(HnswDeadSet *set, HnswKey key)
{
	uint64		word;
	uint64		mask;

	if (key == 0)
		return false;
	if (dead_bit_slot(set, key, &word, &mask))
		return (set->bits[word] & mask) != 0;
	return hash_search(set->hash, &key, HASH_FIND, NULL) != NULL;
}

/* Set flags on elements of one page (one WAL record). */
void
HnswMarkDeleted(Relation index, const HnswIndexInfo *info, BlockNumber blk,
				const OffsetNumber *offs, int n, uint8 flags,
				BufferAccessStrategy strategy)
{
	Buffer		buf;
	GenericXLogState *state;
	Page		page;

	if (n == 0)
		return;
	buf = ReadBufferExtended(index, MAIN_FORKNUM, blk, RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	for (int i = 0; i < n; i++)
	{
		HnswElementTuple tup = HnswGetElement(index, page, blk, offs[i],
											  info->meta.data_size, info->meta.m);

		if (!(tup->flags & HNSW_ELEM_FREE))
			tup->flags |= flags;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* A dead entry point: best_live (the highest live element) takes over. */
void
HnswMoveEntryOffDead(Relation index, HnswDeadSet *set, HnswKey best_live,
					 int best_level)
{
	Buffer		metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPageData *meta;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = (HnswMetaPageData *) PageGetContents(BufferGetPage(metabuf));
	if (meta->entry_blkno != InvalidBlockNumber &&
		HnswDeadSetContains(set, HnswKeyFromTid(meta->entry_blkno, meta->entry_offno)))
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, metabuf, 0);

		meta = (HnswMetaPageData *) PageGetContents(page);
		if (best_level >= 0)
		{
			meta->entry_blkno = HnswKeyBlock(best_live);
			meta->entry_offno = HnswKeyOffset(best_live);
			meta->entry_level = (int16) best_level;
		}
		else
		{
			meta->entry_blkno = InvalidBlockNumber;
			meta->entry_offno = InvalidOffsetNumber;
			meta->entry_level = -1;
		}
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(metabuf);
}

/* Copy a live element's decoded vector and level; false if dead or free. */
static bool
ReadLive(Relation index, const HnswIndexInfo *info, BlockNumber *nblocks,
		 HnswKey key, float *vec, int *level)
{
	BlockNumber blk = HnswKeyBlock(key);
	Buffer		buf;
	HnswElementTuple tup;
	bool		live;

	if (blk >= *nblocks)
		*nblocks = RelationGetNumberOfBlocks(index);	/* grown meanwhile? */
	if (blk == HNSW_METAPAGE_BLKNO || blk >= *nblocks)
		return false;
	buf = ReadBuffer(index, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(key),
						 info->meta.data_size, info->meta.m);
	live = (tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_FREE)) == 0;
	if (live)
	{
		HnswDecode(info, tup->data, vec);
		*level = tup->level;
	}
	UnlockReleaseBuffer(buf);
	return live;
}

typedef struct RepairWork
{
	Relation	index;
	const HnswIndexInfo *info;
	HnswDeadSet *set;
	int			dim;
	float	   *vec;			/* the repaired element's vector */
	HnswSlot   *cur;			/* its list as read */
	int			cap;
	HnswKey		self;
	/* the pool: live neighbours kept and candidates, with their vectors */
	HnswKey    *keys;
	float	   *vecs;
	HnswCandidate *pool;
	int			npool;
	int			maxpool;
	HnswKey		seen[4 * HNSW_MAX_M];	/* dead elements already expanded */
	int8		seen_depth[4 * HNSW_MAX_M];	/* ... with this depth left */
	int			nseen;
	BlockNumber nblocks;
	int64		searches;		/* lists that needed a search */
} RepairWork;

static bool
InPool(RepairWork *w, HnswKey k)
{
	for (int t = 0; t < w->npool; t++)
		if (w->keys[t] == k)
			return true;
	return false;
}

/* Add live element k (at least on level lc) to the pool; false if not. */
static bool
AddToPool(RepairWork *w, HnswKey k, int lc)
{
	int			level;

	if (k == 0 || k == w->self || InPool(w, k))
		return false;
	if (w->npool == w->maxpool)
	{
		w->maxpool *= 2;
		w->keys = repalloc(w->keys, sizeof(HnswKey) * w->maxpool);
		w->vecs = repalloc(w->vecs, sizeof(float) * w->dim * w->maxpool);
		w->pool = repalloc(w->pool, sizeof(HnswCandidate) * w->maxpool);
	}
	if (!ReadLive(w->index, w->info, &w->nblocks, k, w->vecs + (size_t) w->npool * w->dim, &level) ||
		level < lc)
		return false;
	w->keys[w->npool] = k;
	w->pool[w->npool].key = w->npool;
	w->pool[w->npool].dist = HnswExactDistance(w->info->metric, w->vec,
											   w->vecs + (size_t) w->npool * w->dim,
											   w->dim);
	w->pool[w->npool].deleted = false;
	w->npool++;
	return true;
}

/*
 * Add the live level-lc neighbours of dead element d as candidates (and,
 * depth permitting, those of its dead neighbours).  Returns whether d
 * leads to any live element at all.
 */
static bool
AddCandidatesVia(RepairWork *w, DeadElement *d, int lc, int depth)
{
	int			m = w->info->meta.m;
	bool		any = false;
	int			t;

	if (lc > d->level || d->slots == NULL)
		return false;

	/*
	 * Expanded before with as much depth left: counted there.  With less
	 * (reached first as a dead neighbour of another dead element), expand
	 * again: its own dead neighbours were not looked through, and they can
	 * be the only way across a deleted stretch.
	 */
	for (t = 0; t < w->nseen; t++)
		if (w->seen[t] == d->key)
		{
			if (w->seen_depth[t] >= depth)
				return true;
			w->seen_depth[t] = depth;
			break;
		}
	if (t == w->nseen && w->nseen < lengthof(w->seen))
	{
		w->seen[w->nseen] = d->key;
		w->seen_depth[w->nseen++] = depth;
	}
	for (int j = 0; j < hnsw_level_capacity(m, lc); j++)
	{
		HnswKey		c = SlotKey(&d->slots[hnsw_level_offset(m, lc) + j]);
		DeadElement *cd;

		if (c == 0 || c == w->self)
			continue;
		if (HnswDeadSetContains(w->set, c))
		{
			/* a dead neighbour of the dead: look one step further */
			if (depth > 0 &&
				(cd = hash_search(w->set->hash, &c, HASH_FIND, NULL)) != NULL)
				any |= AddCandidatesVia(w, cd, lc, depth - 1);
			continue;
		}
		any |= AddToPool(w, c, lc) || InPool(w, c);
	}
	return any;
}

/*
 * A dead neighbour that led to no live element (a whole neighbourhood
 * died): search the level for the element's own vector from the entry
 * point, as an insert would, so the list reaches across the hole.
 */
static void
AddCandidatesBySearch(RepairWork *w, int lc)
{
	int			ef = Max(w->info->meta.ef_construction, w->cap);
	HnswCandidate *out = palloc(sizeof(HnswCandidate) * ef);
	HnswDiskSearch *ds = HnswDiskSearchBegin(w->index, (HnswIndexInfo *) w->info, w->vec);
	int			top;
	int			n = HnswDiskSearchRun(ds, ef, lc, out, &top);

	HnswDiskSearchEnd(ds);
	for (int i = 0; i < n; i++)
		if (!HnswDeadSetContains(w->set, out[i].key))
			AddToPool(w, out[i].key, lc);
	pfree(out);
	w->searches++;
}

static float
pool_pair(void *arg, HnswKey a, HnswKey b)
{
	RepairWork *w = arg;

	return HnswExactDistance(w->info->metric, w->vecs + (size_t) a * w->dim,
							 w->vecs + (size_t) b * w->dim, w->dim);
}

/*
 * Rebuild the level-lc list of live element `key`, which links to dead
 * elements.  Its live neighbours stay (they include the long links that
 * make the graph navigable, which a fresh selection would drop); the
 * slots of the dead go to the live elements reachable through them, taken
 * by the usual neighbour heuristic against the neighbours already kept
 * (so only directions the list lost are refilled; closer elements of a
 * direction it still covers would only crowd out future links).
 */
static bool
RepairList(RepairWork *w, HnswKey key, int lc)
{
	Relation	index = w->index;
	const HnswMetaPageData *meta = &w->info->meta;
	int			m = meta->m;
	BlockNumber blk = HnswKeyBlock(key);
	bool		any = false;
	bool		hole = false;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	HnswElementTuple tup;
	HnswSlot   *slots;
	HnswSlot   *fresh;
	int			nkept;
	int			nsel;
	int			nfresh = 0;

	w->cap = hnsw_level_capacity(m, lc);
	w->self = key;
	w->npool = 0;
	w->nseen = 0;

	buf = ReadBuffer(index, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(key),
						 meta->data_size, m);
	if (lc <= tup->level && (tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_FREE)) == 0)
	{
		memcpy(w->cur, HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(m, lc),
			   sizeof(HnswSlot) * w->cap);
		HnswDecode(w->info, tup->data, w->vec);
		any = true;
	}
	UnlockReleaseBuffer(buf);
	if (!any)
		return false;

	/* its live neighbours first, then what the dead ones lead to */
	any = false;
	for (int i = 0; i < w->cap; i++)
	{
		HnswKey		k = SlotKey(&w->cur[i]);

		if (HnswDeadSetContains(w->set, k))
			any = true;
		else
			AddToPool(w, k, lc);
	}
	if (!any)
		return false;
	nkept = w->npool;
	for (int i = 0; i < w->cap; i++)
	{
		HnswKey		k = SlotKey(&w->cur[i]);
		DeadElement *d;

		if (HnswDeadSetContains(w->set, k) &&
			(d = hash_search(w->set->hash, &k, HASH_FIND, NULL)) != NULL &&
			!AddCandidatesVia(w, d, lc, 1))
			hole = true;
	}
	if (hole)
		AddCandidatesBySearch(w, lc);

	/*
	 * The heuristic over the candidates, in ascending distance, against
	 * the kept neighbours and those taken so far; the taken move to
	 * pool[nkept..nsel).
	 */
	hnsw_sort_candidates(w->pool + nkept, w->npool - nkept);
	hnsw_shuffle_ties(w->pool + nkept, w->npool - nkept);
	nsel = nkept;
	for (int i = nkept; i < w->npool && nsel < w->cap; i++)
	{
		bool		good = true;
		int			ties = 0;

		/* as hnsw_select_neighbors: copies of one vector fill half a list */
		for (int j = 0; j < nsel; j++)
			ties += w->pool[j].dist == w->pool[i].dist;
		if (ties >= Max(w->cap / 2, 1))
			continue;
		for (int j = 0; j < nsel && good; j++)
			good = pool_pair(w, w->pool[i].key, w->pool[j].key) >= w->pool[i].dist;
		if (good)
		{
			HnswCandidate t = w->pool[nsel];

			w->pool[nsel++] = w->pool[i];
			w->pool[i] = t;
		}
	}

	/* apply under the exclusive lock, against the list as it is now */
	fresh = palloc(sizeof(HnswSlot) * w->cap);
	buf = ReadBuffer(index, blk);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	tup = HnswGetElement(index, page, blk, HnswKeyOffset(key), meta->data_size, m);
	if (lc > tup->level || (tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_FREE)) != 0)
	{
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		pfree(fresh);
		return false;
	}
	slots = HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(m, lc);
	/* every live link stays, those a concurrent insert added included */
	for (int i = 0; i < w->cap; i++)
	{
		HnswKey		k = SlotKey(&slots[i]);

		if (k != 0 && !HnswDeadSetContains(w->set, k))
			fresh[nfresh++] = slots[i];
	}
	for (int i = nkept; i < nsel && nfresh < w->cap; i++)
	{
		HnswKey		k = w->keys[w->pool[i].key];
		bool		dup = false;

		for (int t = 0; t < nfresh && !dup; t++)
			dup = SlotKey(&fresh[t]) == k;
		if (dup)
			continue;
		BlockIdSet(&fresh[nfresh].blk, HnswKeyBlock(k));
		fresh[nfresh].off = HnswKeyOffset(k);
		fresh[nfresh].dist16 = lance_f32_to_f16(w->pool[i].dist);
		nfresh++;
	}
	for (int i = nfresh; i < w->cap; i++)
	{
		BlockIdSet(&fresh[i].blk, InvalidBlockNumber);
		fresh[i].off = InvalidOffsetNumber;
		fresh[i].dist16 = 0;
	}
	memcpy(slots, fresh, sizeof(HnswSlot) * w->cap);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	pfree(fresh);
	return true;
}

/*
 * Repair every live list that links to a dead element needing it; returns
 * the number of lists changed.  Dead elements repaired before (by the
 * maintenance worker) are in the set only so that new links to them are
 * replaced too; they alone do not start the scan.
 */
int64
HnswRepairDead(Relation index, const HnswIndexInfo *info, HnswDeadSet *set)
{
	int			m = info->meta.m;
	int64		nrepaired = 0;
	BlockNumber nblocks;
	RepairWork	w;
	RepairKey  *pending = NULL;
	int64		npending = 0;
	int64		maxpending = 0;

	if (!set->any_repair)
		return 0;
	memset(&w, 0, sizeof(w));
	w.index = index;
	w.info = info;
	w.set = set;
	w.dim = info->meta.dim;
	w.vec = palloc(sizeof(float) * w.dim);
	w.cur = palloc(sizeof(HnswSlot) * hnsw_level_capacity(m, 0));
	w.maxpool = 4 * hnsw_level_capacity(m, 0);
	w.keys = palloc(sizeof(HnswKey) * w.maxpool);
	w.vecs = palloc(sizeof(float) * w.dim * w.maxpool);
	w.pool = palloc(sizeof(HnswCandidate) * w.maxpool);

	/* the lists pointing to dead elements: one read of the element pages */
	nblocks = RelationGetNumberOfBlocks(index);
	w.nblocks = nblocks;
	for (BlockNumber blk = HNSW_METAPAGE_BLKNO + 1; blk < nblocks; blk++)
	{
		Buffer		buf;
		Page		page;

		vacuum_delay_point();
		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsNew(page) || HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID ||
			HnswPageGetOpaque(page)->page_type != HNSW_PAGE_ELEMENT)
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswElementTuple tup = HnswGetElement(index, page, blk, off,
												  info->meta.data_size, m);
			HnswSlot   *slots = HnswElementSlots(tup, info->meta.data_size);

			if (tup->flags & (HNSW_ELEM_DELETED | HNSW_ELEM_FREE))
				continue;
			for (int lc = 0; lc <= tup->level; lc++)
			{
				HnswSlot   *ls = slots + hnsw_level_offset(m, lc);

				for (int j = 0; j < hnsw_level_capacity(m, lc); j++)
				{
					if (!HnswDeadSetContains(set, SlotKey(&ls[j])))
						continue;
					if (npending == maxpending)
					{
						maxpending = Max(1024, maxpending * 2);
						pending = pending ? repalloc_huge(pending, sizeof(RepairKey) * maxpending) :
							MemoryContextAllocHuge(CurrentMemoryContext, sizeof(RepairKey) * maxpending);
					}
					pending[npending].key = HnswKeyFromTid(blk, off);
					pending[npending].level = lc;
					npending++;
					break;
				}
			}
		}
		UnlockReleaseBuffer(buf);
	}

	for (int64 i = 0; i < npending; i++)
	{
		vacuum_delay_point();
		if (RepairList(&w, pending[i].key, pending[i].level))
			nrepaired++;
	}
	ereport(DEBUG1,
			(errmsg("lance_hnsw repair of \"%s\": " INT64_FORMAT " of " INT64_FORMAT " neighbour lists rewired, " INT64_FORMAT " through a search",
					RelationGetRelationName(index), nrepaired, npending, w.searches)));
	if (pending)
		pfree(pending);
	pfree(w.vec);
	pfree(w.cur);
	pfree(w.keys);
	pfree(w.vecs);
	pfree(w.pool);
	return nrepaired;
}
