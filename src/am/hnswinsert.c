/*
 * hnswinsert.c
 *	  lance_hnsw aminsert: link one element into the on-disk graph.
 *
 * The element is first placed with empty neighbour slots (unreachable,
 * so harmless if we crash), then the graph is searched from the entry
 * point (16 candidates wide above its levels, ef_construction on its
 * own), its own slots are filled by the neighbour heuristic, and each
 * chosen neighbour gets a back link: into a free slot, or, when its list
 * is full, the neighbour heuristic chooses the list again among its
 * members and the new element (as the build does).  Every page change is one
 * GenericXLog record; an interrupted insert leaves a valid graph.
 */
#include "postgres.h"

#include "am/hnsw.h"
#include "common/pg_prng.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Reuse a free element at least as large as tup (one of the same or a
 * higher level) from the first few pages of the free list: false if there
 * is none.  The meta page stays locked throughout, so the list does not
 * change under us.  A page leaves the list when it is found at the head
 * with no free element left.
 */
#define HNSW_FREE_LIST_PROBES	8

/* candidates kept on the levels above an inserted element's own */
#define HNSW_INSERT_UPPER_EF	16

static bool
HnswReuseFree(Relation index, HnswElementTuple tup, Size size, ItemPointer tid)
{
	Buffer		metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	BlockNumber blk;
	BlockNumber nblocks;
	bool		done = false;
	bool		head = true;

	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	blk = ((HnswMetaPageData *) PageGetContents(BufferGetPage(metabuf)))->free_head;
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);
	if (!HnswFreeHeadValid(blk))
	{
		ReleaseBuffer(metabuf);
		return false;
	}
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	blk = ((HnswMetaPageData *) PageGetContents(BufferGetPage(metabuf)))->free_head;
	nblocks = RelationGetNumberOfBlocks(index);
	for (int probe = 0; probe < HNSW_FREE_LIST_PROBES && !done; probe++)
	{
		Buffer		buf;
		bool		popped = false;
		Page		page;
		OffsetNumber best = InvalidOffsetNumber;
		Size		bestlen = 0;
		int			nfree = 0;
		BlockNumber next;

		if (!HnswFreeHeadValid(blk) || blk >= nblocks)
			break;
		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		HnswCheckPage(index, page, blk, HNSW_PAGE_ELEMENT);
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			Size		len = ItemIdGetLength(iid);

			if (!ItemIdIsNormal(iid) ||
				!(((HnswElementTuple) PageGetItem(page, iid))->flags & HNSW_ELEM_FREE))
				continue;
			nfree++;
			if (len >= size && (best == InvalidOffsetNumber || len < bestlen))
			{
				best = off;
				bestlen = len;
			}
		}
		next = HnswPageGetOpaque(page)->next;
		if (best != InvalidOffsetNumber || (head && nfree == 0))
		{
			GenericXLogState *state = GenericXLogStart(index);
			HnswMetaPageData *meta;

			meta = (HnswMetaPageData *) PageGetContents(GenericXLogRegisterBuffer(state, metabuf, 0));
			page = GenericXLogRegisterBuffer(state, buf, 0);
			if (best != InvalidOffsetNumber)
			{
				char	   *item = PageGetItem(page, PageGetItemId(page, best));

				memset(item, 0, bestlen);
				memcpy(item, tup, size);
				if (meta->n_free > 0)
					meta->n_free--;
				nfree--;
				ItemPointerSet(tid, blk, best);
				done = true;
			}
			if (head && nfree == 0)
			{
				/* empty head: off the list; the next page is the head now */
				meta->free_head = next == HNSW_FREE_LIST_END ? InvalidBlockNumber : next;
				HnswPageGetOpaque(page)->next = InvalidBlockNumber;
				popped = true;
			}
			GenericXLogFinish(state);
		}
		UnlockReleaseBuffer(buf);
		blk = next;
		head = popped;			/* the next page is the head now */
	}
	UnlockReleaseBuffer(metabuf);
	return done;
}

/* Put tup in a free element, on the insert page or on a new one. */
static ItemPointerData
HnswPlaceElement(Relation index, HnswElementTuple tup, Size size)
{
	ItemPointerData tid;

	ItemPointerSetInvalid(&tid);
	if (HnswReuseFree(index, tup, size, &tid))
		return tid;
	for (;;)
	{
		Buffer		metabuf;
		Page		metapage;
		HnswMetaPageData *meta;
		BlockNumber target;

		metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_SHARE);
		target = ((HnswMetaPageData *) PageGetContents(BufferGetPage(metabuf)))->insert_page;
		UnlockReleaseBuffer(metabuf);

		if (target != InvalidBlockNumber)
		{
			Buffer		buf = ReadBuffer(index, target);
			Page		page;

			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			HnswCheckPage(index, BufferGetPage(buf), target, HNSW_PAGE_ELEMENT);
			if (PageGetFreeSpace(BufferGetPage(buf)) >= MAXALIGN(size))
			{
				GenericXLogState *state = GenericXLogStart(index);
				OffsetNumber off;

				page = GenericXLogRegisterBuffer(state, buf, 0);
				off = PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false);
				if (off == InvalidOffsetNumber)
					elog(ERROR, "failed to add element to \"%s\"", RelationGetRelationName(index));
				GenericXLogFinish(state);
				UnlockReleaseBuffer(buf);
				ItemPointerSet(&tid, target, off);
				return tid;
			}
			UnlockReleaseBuffer(buf);
		}

		/* extend, unless someone else did meanwhile */
		metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		metapage = BufferGetPage(metabuf);
		meta = (HnswMetaPageData *) PageGetContents(metapage);
		if (meta->insert_page == target)
		{
			Buffer		buf = HnswNewBuffer(index);
			BlockNumber blkno = BufferGetBlockNumber(buf);
			GenericXLogState *state = GenericXLogStart(index);
			Page		page;
			OffsetNumber off;

			page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
			HnswInitPage(page, HNSW_PAGE_ELEMENT);
			off = PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false);
			if (off == InvalidOffsetNumber)
				elog(ERROR, "failed to add element to \"%s\"", RelationGetRelationName(index));
			metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
			((HnswMetaPageData *) PageGetContents(metapage))->insert_page = blkno;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			UnlockReleaseBuffer(metabuf);
			ItemPointerSet(&tid, blkno, off);
			return tid;
		}
		UnlockReleaseBuffer(metabuf);
	}
}

/* Selection needs distances between candidates: their decoded vectors. */
typedef struct PairCtx
{
	float	   *vecs;			/* n x dim */
	int			dim;
	const LanceMetricSupport *metric;
} PairCtx;

static float
pair_dist(void *arg, HnswKey a, HnswKey b)
{
	PairCtx    *p = arg;

	return HnswExactDistance(p->metric, p->vecs + (size_t) a * p->dim,
							 p->vecs + (size_t) b * p->dim, p->dim);
}

static void
HnswReadVector(Relation index, const HnswIndexInfo *info, HnswKey key, float *out)
{
	BlockNumber blk = HnswKeyBlock(key);
	Buffer		buf = HnswReadBufferCached(index, blk);
	HnswElementTuple tup;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(key),
						 info->meta.data_size, info->meta.m);
	HnswDecode(info, tup->data, out);
	UnlockReleaseBuffer(buf);
}

/* Like HnswReadVector, but false (and nothing read) for a freed element. */
static bool
HnswReadVectorIfUsed(Relation index, const HnswIndexInfo *info, HnswKey key,
					 float *out)
{
	BlockNumber blk = HnswKeyBlock(key);
	Buffer		buf;
	HnswElementTuple tup;
	bool		used;

	if (blk == HNSW_METAPAGE_BLKNO || blk >= RelationGetNumberOfBlocks(index))
		return false;
	buf = HnswReadBufferCached(index, blk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(key),
						 info->meta.data_size, info->meta.m);
	used = (tup->flags & HNSW_ELEM_FREE) == 0;
	if (used)
		HnswDecode(info, tup->data, out);
	UnlockReleaseBuffer(buf);
	return used;
}

static inline void
SlotSet(HnswSlot *s, HnswKey key, float dist)
{
	BlockIdSet(&s->blk, HnswKeyBlock(key));
	s->off = HnswKeyOffset(key);
	s->dist16 = lance_f32_to_f16(dist);
}

static inline void
SlotClear(HnswSlot *s)
{
	BlockIdSet(&s->blk, InvalidBlockNumber);
	s->off = InvalidOffsetNumber;
	s->dist16 = 0;
}

/*
 * The level-lc list of `to` is full and key is not in it: choose the list
 * again among its members and key by the neighbour heuristic, as the build
 * does (replacing the farthest member instead would drop the long links
 * that keep the graph navigable, one insert at a time).  The vectors are
 * read without holding `to`'s page; the result is applied only if the
 * list did not change meanwhile.  Returns 1 if key was kept (the list is
 * rewritten), 0 if the heuristic left it out, -1 if the list changed.
 */
static int
HnswPruneBackLink(Relation index, const HnswIndexInfo *info, HnswKey to,
				  int lc, HnswKey key, const HnswSlot *seen)
{
	const HnswMetaPageData *meta = &info->meta;
	int			dim = meta->dim;
	int			cap = hnsw_level_capacity(meta->m, lc);
	BlockNumber blk = HnswKeyBlock(to);
	float	   *tv = palloc(sizeof(float) * dim);
	float	   *vecs = palloc(sizeof(float) * dim * (cap + 1));
	HnswCandidate *cands = palloc(sizeof(HnswCandidate) * (cap + 1));
	HnswKey    *keys = palloc(sizeof(HnswKey) * (cap + 1));
	PairCtx		pc = {vecs, dim, info->metric};
	int			n = 0;
	int			nsel;
	bool		kept = false;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	HnswElementTuple tup;
	HnswSlot   *slots;
	int			result;

	HnswReadVector(index, info, to, tv);
	for (int i = 0; i <= cap; i++)
	{
		HnswKey		k;

		if (i < cap)
		{
			BlockNumber nb = BlockIdGetBlockNumber(&seen[i].blk);

			if (nb == InvalidBlockNumber)
				continue;
			k = HnswKeyFromTid(nb, seen[i].off);
		}
		else
			k = key;
		/* a freed member is no neighbour: it just goes */
		if (!HnswReadVectorIfUsed(index, info, k, vecs + (size_t) n * dim))
			continue;
		keys[n] = k;
		cands[n].key = n;
		cands[n].dist = HnswExactDistance(info->metric, tv, vecs + (size_t) n * dim, dim);
		cands[n].deleted = false;
		n++;
	}
	nsel = hnsw_select_neighbors(cands, n, cap, pair_dist, &pc);
	for (int i = 0; i < nsel; i++)
		kept |= keys[cands[i].key] == key;
	if (!kept)
	{
		pfree(tv);
		pfree(vecs);
		pfree(cands);
		pfree(keys);
		return 0;
	}

	buf = HnswReadBufferCached(index, blk);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
	tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(to),
						 meta->data_size, meta->m);
	slots = HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(meta->m, lc);
	if ((tup->flags & HNSW_ELEM_FREE) || lc > tup->level ||
		memcmp(slots, seen, sizeof(HnswSlot) * cap) != 0)
		result = -1;
	else
	{
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		tup = HnswGetElement(index, page, blk, HnswKeyOffset(to),
							 meta->data_size, meta->m);
		slots = HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(meta->m, lc);
		for (int i = 0; i < cap; i++)
		{
			if (i < nsel)
				SlotSet(&slots[i], keys[cands[i].key], cands[i].dist);
			else
				SlotClear(&slots[i]);
		}
		GenericXLogFinish(state);
		result = 1;
	}
	UnlockReleaseBuffer(buf);
	pfree(tv);
	pfree(vecs);
	pfree(cands);
	pfree(keys);
	return result;
}

/*
 * Add `key` at distance dist to the level-lc list of element `to`: a free
 * slot, or when the list is full, the heuristic over the list and key
 * decides (with force, if it leaves key out, key replaces the farthest
 * member, as it does if the list keeps changing).  Returns whether
 * `to` links to key now.
 */
static bool
HnswAddBackLink(Relation index, const HnswIndexInfo *info, HnswKey to,
				int lc, HnswKey key, float dist, bool force)
{
	const HnswMetaPageData *meta = &info->meta;
	BlockNumber blk = HnswKeyBlock(to);
	int			cap = hnsw_level_capacity(meta->m, lc);
	HnswSlot	seen[2 * HNSW_MAX_M];

	for (int attempt = 0;; attempt++)
	{
		Buffer		buf = HnswReadBufferCached(index, blk);
		GenericXLogState *state;
		Page		page;
		HnswElementTuple tup;
		HnswSlot   *slots;
		int			target = -1;
		float		worst = -get_float4_infinity();

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		HnswCheckPage(index, BufferGetPage(buf), blk, HNSW_PAGE_ELEMENT);
		tup = HnswGetElement(index, BufferGetPage(buf), blk, HnswKeyOffset(to),
							 meta->data_size, meta->m);
		if (lc > tup->level || (tup->flags & HNSW_ELEM_FREE))
		{
			UnlockReleaseBuffer(buf);
			return false;
		}
		slots = HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(meta->m, lc);
		for (int i = 0; i < cap; i++)
		{
			BlockNumber nb = BlockIdGetBlockNumber(&slots[i].blk);

			if (nb == InvalidBlockNumber)
			{
				if (target < 0 || worst < get_float4_infinity())
				{
					target = i;
					worst = get_float4_infinity();
				}
				continue;
			}
			if (HnswKeyFromTid(nb, slots[i].off) == key)
			{
				UnlockReleaseBuffer(buf);
				return true;
			}
			if (lance_f16_to_f32(slots[i].dist16) > worst)
			{
				worst = lance_f16_to_f32(slots[i].dist16);
				target = i;
			}
		}
		if (target >= 0 && (worst == get_float4_infinity() || attempt >= 3))
		{
			if (!(dist < worst))
			{
				UnlockReleaseBuffer(buf);
				return false;
			}
			/* a free slot (or, forced, the farthest member) takes key */
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, 0);
			tup = HnswGetElement(index, page, blk, HnswKeyOffset(to),
								 meta->data_size, meta->m);
			slots = HnswElementSlots(tup, meta->data_size) + hnsw_level_offset(meta->m, lc);
			SlotSet(&slots[target], key, dist);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			return true;
		}
		memcpy(seen, slots, sizeof(HnswSlot) * cap);
		UnlockReleaseBuffer(buf);
		if (target < 0)
			return false;
		switch (HnswPruneBackLink(index, info, to, lc, key, seen))
		{
			case 1:
				return true;
			case 0:
				if (!force)
					return false;
				/* forced: the farthest member goes after all */
				attempt = 3;
				break;
			default:
				break;			/* the list changed: look again */
		}
	}
}

/* Write the forward slots of the element at self (all levels at once). */
static void
HnswWriteSlots(Relation index, const HnswIndexInfo *info, HnswKey self,
			   const HnswSlot *src, int nslots)
{
	const HnswMetaPageData *meta = &info->meta;
	BlockNumber blk = HnswKeyBlock(self);
	Buffer		buf = HnswReadBufferCached(index, blk);
	GenericXLogState *state;
	Page		page;
	HnswElementTuple tup;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	tup = HnswGetElement(index, page, blk, HnswKeyOffset(self),
						 meta->data_size, meta->m);
	memcpy(HnswElementSlots(tup, meta->data_size), src, sizeof(HnswSlot) * nslots);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* Make self the entry point if the graph is empty or self is higher. */
static bool
HnswMaybeSetEntry(Relation index, HnswKey self, int level, bool only_if_empty)
{
	Buffer		metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPageData *meta;
	bool		set = false;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = (HnswMetaPageData *) PageGetContents(BufferGetPage(metabuf));
	if (meta->entry_blkno == InvalidBlockNumber ||
		(!only_if_empty && level > meta->entry_level))
	{
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, metabuf, 0);

		meta = (HnswMetaPageData *) PageGetContents(page);
		meta->entry_blkno = HnswKeyBlock(self);
		meta->entry_offno = HnswKeyOffset(self);
		meta->entry_level = (int16) level;
		GenericXLogFinish(state);
		set = true;
	}
	UnlockReleaseBuffer(metabuf);
	return set;
}

void
HnswInsertVector(Relation index, HnswIndexInfo *info, const float *x,
				 ItemPointer heaptid)
{
	const HnswMetaPageData *meta = &info->meta;
	int			m = meta->m;
	int			dim = meta->dim;
	int			level = hnsw_random_level(1.0 - pg_prng_double(&pg_global_prng_state), m);
	int			nslots = hnsw_total_slots(m, level);
	Size		size = HNSW_ELEM_SIZE(meta->data_size, m, level);
	HnswElementTuple tup = palloc0(size);
	HnswSlot   *slots = HnswElementSlots(tup, meta->data_size);
	HnswKey		self;
	ItemPointerData tid;
	HnswDiskSearch *ds;
	HnswCandidate ep;
	int			top;
	int			efc = Max(meta->ef_construction, 2 * m);
	int			upper_ef = Min(efc, HNSW_INSERT_UPPER_EF);
	HnswCandidate *w = palloc(sizeof(HnswCandidate) * efc);
	HnswCandidate *sel = palloc(sizeof(HnswCandidate) * efc);
	float	   *vecs = palloc(sizeof(float) * dim * efc);
	HnswCandidate **chosen = palloc0(sizeof(HnswCandidate *) * (level + 1));
	int		   *nchosen = palloc0(sizeof(int) * (level + 1));
	int			nw;
	PairCtx		pc = {vecs, dim, info->metric};
	float	   *xd = NULL;		/* the new vector decoded, if quantized */

	if (size > BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(HnswPageOpaqueData)) - sizeof(ItemIdData))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lance_hnsw element of %zu bytes does not fit in a page", size),
				 errhint("Use quantizer 'sq' or 'pq', a halfvec column, or a smaller m.")));

	tup->level = (uint8) level;
	tup->heaptid = *heaptid;
	HnswEncode(info, x, tup->data);

	/*
	 * Rows whose code equals the new row's (copies of one vector) are taken
	 * at their decoded distance to its decoded self, as their lists see each
	 * other in HnswPruneBackLink (0 under L2): then the heuristic keeps up to
	 * half the list of them (see hnsw_select_neighbors).  Measured from the
	 * original vector every copy after the first would be redundant, and
	 * copies of one vector would get about one in-link each.  Other rows are
	 * measured from the original vector: a decoded outlier can land far from
	 * where it is (pq).
	 */
	if (info->quant != NULL)
	{
		xd = palloc(sizeof(float) * dim);
		HnswDecode(info, tup->data, xd);
	}
	for (int i = 0; i < nslots; i++)
		SlotClear(&slots[i]);
	tid = HnswPlaceElement(index, tup, size);
	self = HnswKeyFromTid(ItemPointerGetBlockNumber(&tid),
						  ItemPointerGetOffsetNumber(&tid));

	ds = HnswDiskSearchBegin(index, info, x);
	top = HnswDiskEntry(ds, &ep);
	if (top < 0 || ep.key == self)
	{
		if (HnswMaybeSetEntry(index, self, level, true) || ep.key == self)
		{
			HnswDiskSearchEnd(ds);
			return;
		}
		top = HnswDiskEntry(ds, &ep);	/* someone else came first */
	}

	/*
	 * Above the element's own levels, too, the search keeps a few
	 * candidates instead of the single nearest one: a greedy descent ends
	 * in a local minimum often enough on data of low intrinsic dimension
	 * (rows inserted along a curve) that whole runs of new elements were
	 * linked only to each other and a distant element, found by no query
	 * at any ef_search.  16 candidates strand ~40x fewer rows than 1 (one
	 * in 20000 against one in 500 on regress hnsw_insert's data) at a cost
	 * within the noise of the insert benchmark; ef_construction (none in
	 * 30 runs) cost about a third of the insert rate.
	 */
	HnswDiskSearchReset(ds);
	w[0] = ep;
	nw = 1;
	for (int lc = top; lc > level; lc--)
	{
		int			n = HnswDiskLevelSearch(ds, w, nw, upper_ef, lc, w);

		if (n > 0)
			nw = n;
		else
		{
			/* only tombstones: they still lead somewhere */
			for (int i = 0; i < nw; i++)
				w[i].deleted = false;
		}
		HnswDiskSearchReset(ds);
	}
	if (top <= level)
		w[0].deleted = false;	/* as above: a tombstone entry still leads */
	for (int lc = Min(level, top); lc >= 0; lc--)
	{
		int			nsel;

		HnswDiskSearchReset(ds);
		nw = HnswDiskLevelSearch(ds, w, nw, efc, lc, w);
		/* drop self (it may be reachable from a concurrent back link) */
		for (int i = 0; i < nw; i++)
			if (w[i].key == self)
			{
				memmove(&w[i], &w[i + 1], sizeof(HnswCandidate) * (nw - i - 1));
				nw--;
				break;
			}
		if (nw == 0)
			break;
		for (int i = 0; i < nw; i++)
		{
			HnswReadVector(index, info, w[i].key, vecs + (size_t) i * dim);
			sel[i].key = i;
			/* exact in the float space of the decoded vectors */
			if (xd && memcmp(xd, vecs + (size_t) i * dim, sizeof(float) * dim) == 0)
				sel[i].dist = HnswExactDistance(info->metric, xd, xd, dim);
			else
				sel[i].dist = HnswExactDistance(info->metric, x, vecs + (size_t) i * dim, dim);
			sel[i].deleted = false;
		}
		nsel = hnsw_select_neighbors(sel, nw, m, pair_dist, &pc);
		chosen[lc] = palloc(sizeof(HnswCandidate) * nsel);
		for (int i = 0; i < nsel; i++)
		{
			chosen[lc][i].key = w[sel[i].key].key;
			chosen[lc][i].dist = sel[i].dist;
			SlotSet(&slots[hnsw_level_offset(m, lc) + i], chosen[lc][i].key, sel[i].dist);
		}
		nchosen[lc] = nsel;
		CHECK_FOR_INTERRUPTS();
	}
	HnswDiskSearchEnd(ds);

	HnswWriteSlots(index, info, self, slots, nslots);
	for (int lc = Min(level, top); lc >= 0; lc--)
	{
		bool		linked = false;

		for (int i = 0; i < nchosen[lc]; i++)
			linked |= HnswAddBackLink(index, info, chosen[lc][i].key, lc, self,
									  chosen[lc][i].dist, false);

		/*
		 * Every neighbour had closer ones (a point of a new region): the
		 * nearest takes it anyway, in place of its farthest, or nothing
		 * would lead to it.
		 */
		if (!linked && nchosen[lc] > 0)
			HnswAddBackLink(index, info, chosen[lc][0].key, lc, self,
							chosen[lc][0].dist, true);
	}
	if (level > top)
		HnswMaybeSetEntry(index, self, level, false);
}

bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	MemoryContext cxt;
	MemoryContext old;
	HnswIndexInfo *info;
	float	   *x;
	bool		indexable;

	if (isnull[0])
		return false;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lance_hnsw insert",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	info = HnswGetInfo(index);
	x = HnswValueToFloats(info, values[0], &indexable);
	if (indexable)
	{
		/* VACUUM waits for us before it frees what we may link to */
		LockPage(index, HNSW_INSERT_LOCK, ShareLock);
		HnswInsertVector(index, info, x, heap_tid);
		UnlockPage(index, HNSW_INSERT_LOCK, ShareLock);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
