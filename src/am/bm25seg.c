/*
 * bm25seg.c
 *	  Reading lance_bm25 segments: the term dictionary (binary search, and a
 *	  sorted iterator for prefix and fuzzy expansion), posting lists, exact
 *	  document lengths, the TID map and the deletion bitmap.  The delta (the
 *	  page chain of recent doc records) is read into an in-memory inverter
 *	  and then served through the same interface.
 */
#include "postgres.h"

#include "access/xact.h"
#include "am/bm25am.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/bufpage.h"
#include "text/fuzzy.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Per-backend cache of what every query of a segment reads: its exact
 * document lengths (one uint32 per doc) and its term dictionary (entries
 * and term bytes, checked once; a lookup is then an in-memory binary
 * search), or for a dictionary over BM25_DICT_CACHE_MAX a fence index
 * (every BM25_FENCE-th term: one binary search and two stream reads).
 * Queries pay these per segment and per term, so with them a few small
 * segments beside a large one cost little more than the large one alone.  Segments are immutable and
 * their ids are never reused within an index, so an entry keyed by
 * (relfilenode, segment id, root block, length) stays valid.  Past
 * BM25_CACHE_MAX no entries are added (reads then go to the pages).
 */
#define BM25_FENCE			32
#define BM25_CACHE_MAX		((Size) 256 * 1024 * 1024)
/* dictionaries up to this size are cached whole: lookups touch no page */
#define BM25_DICT_CACHE_MAX	((uint64) 8 * 1024 * 1024)

typedef struct Bm25SegCache
{
	RelFileNode node;
	uint32		seg_id;
	BlockNumber root;
	uint64		len;
	uint32	   *doclens;		/* NULL until loaded */
	bool		opened;			/* hdr, nmap, mapblocks, maps valid */
	Bm25SegHeader hdr;
	uint32		nmap;
	BlockNumber *mapblocks;
	BlockNumber **maps;			/* map pages, loaded lazily (into the cache) */
	bool		fences_loaded;
	Bm25DictEntry *dict;		/* whole dictionary (checked), or NULL */
	char	   *strs;			/* its term bytes */
	uint32		nfences;
	uint32	   *fence_off;		/* nfences + 1 offsets into fence_str */
	char	   *fence_str;
	struct Bm25SegCache *next;
} Bm25SegCache;

static MemoryContext seg_cache_cxt = NULL;
static Bm25SegCache *seg_cache = NULL;
static Size seg_cache_bytes = 0;

static Bm25SegCache *
Bm25SegCacheGet(Relation index, const Bm25SegmentInfo *info)
{
	Bm25SegCache *c;

	for (c = seg_cache; c; c = c->next)
		if (c->seg_id == info->seg_id && c->root == info->root &&
			c->len == info->len && RelFileNodeEquals(c->node, index->rd_node))
			return c;
	if (seg_cache_cxt == NULL)
		seg_cache_cxt = AllocSetContextCreate(TopMemoryContext, "lance_bm25 segment cache",
											  ALLOCSET_DEFAULT_SIZES);
	/* full: no new entries (open readers point into existing ones) */
	if (seg_cache_bytes > BM25_CACHE_MAX)
		return NULL;
	c = MemoryContextAllocZero(seg_cache_cxt, sizeof(Bm25SegCache));
	c->node = index->rd_node;
	c->seg_id = info->seg_id;
	c->root = info->root;
	c->len = info->len;
	c->next = seg_cache;
	seg_cache = c;
	return c;
}

void
Bm25SegOpen(Bm25SegReader *r, Relation index, const Bm25SegmentInfo *info)
{
	Bm25SegHeader *h = &r->hdr;

	Bm25SegCache *c;

	memset(r, 0, sizeof(*r));
	r->info = *info;
	c = Bm25SegCacheGet(index, info);
	r->cache = c;
	if (c != NULL && c->opened)
	{
		/* immutable segment seen before: no root, map or header reads */
		r->s.index = index;
		r->s.owner = info->seg_id;
		r->s.root = info->root;
		r->s.len = info->len;
		r->s.nmap = c->nmap;
		r->s.mapblocks = c->mapblocks;
		r->s.maps = c->maps;
		r->s.buf = InvalidBuffer;
		r->hdr = c->hdr;
		if (info->ndeleted > 0)
			Bm25StreamOpen(&r->dead, index, info->dead_root, info->dead_id,
						   Max((info->ndocs + 7) / 8, 1));
		return;
	}
	Bm25StreamOpen(&r->s, index, info->root, info->seg_id, info->len);
	Bm25StreamRead(&r->s, 0, h, sizeof(*h));
	if (h->magic != BM25_SEG_MAGIC || h->version != BM25_FORMAT_VERSION ||
		h->ndocs != info->ndocs ||
		h->dict_off != sizeof(*h) ||
		h->strings_off != h->dict_off + sizeof(Bm25DictEntry) * (uint64) h->nterms ||
		h->post_off != h->strings_off + h->strings_len ||
		h->doclen_off != h->post_off + h->post_len ||
		h->tid_off != h->doclen_off + sizeof(uint32) * (uint64) h->ndocs ||
		h->tid_off + sizeof(ItemPointerData) * (uint64) h->ndocs != info->len)
		Bm25CorruptError(index, "bad segment header");
	if (info->ndeleted > 0)
		Bm25StreamOpen(&r->dead, index, info->dead_root, info->dead_id,
					   Max((info->ndocs + 7) / 8, 1));
	if (c != NULL)
	{
		/* keep the checked header and map list; map pages load into the cache */
		MemoryContext old = MemoryContextSwitchTo(seg_cache_cxt);

		c->hdr = *h;
		c->nmap = r->s.nmap;
		c->mapblocks = palloc(sizeof(BlockNumber) * Max(c->nmap, 1));
		memcpy(c->mapblocks, r->s.mapblocks, sizeof(BlockNumber) * c->nmap);
		c->maps = palloc0(sizeof(BlockNumber *) * Max(c->nmap, 1));
		MemoryContextSwitchTo(old);
		seg_cache_bytes += (sizeof(BlockNumber) + sizeof(BlockNumber *)) * Max(c->nmap, 1) +
			(Size) c->nmap * sizeof(BlockNumber) * BM25_MAP_ENTRIES;
		r->s.mapblocks = c->mapblocks;
		r->s.maps = c->maps;
		c->opened = true;
	}
}

/*
 * The inverted delta of each index, kept between queries while the delta
 * does not change (its records are append-only and a deletion bumps
 * delta_ndeleted, so (delta id, records, deleted) names its content).
 * Readers count as users; an inverter replaced while it has users is
 * retired and freed when its last reader closes, or at transaction end
 * (readers that failed never close).
 */
typedef struct Bm25DeltaInv
{
	Bm25Inverter *inv;
	int			users;
} Bm25DeltaInv;

typedef struct Bm25DeltaCache
{
	RelFileNode node;
	uint32		delta_id;
	uint32		ndocs;
	uint32		ndeleted;
	BlockNumber head;
	Bm25DeltaInv cur;
	struct Bm25DeltaCache *next;
} Bm25DeltaCache;

static Bm25DeltaCache *delta_cache = NULL;
static List *delta_retired = NIL;	/* of Bm25DeltaInv * */
static bool delta_callback = false;

static void
Bm25DeltaXactCallback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	while (delta_retired != NIL)
	{
		Bm25DeltaInv *d = linitial(delta_retired);

		delta_retired = list_delete_first(delta_retired);
		Bm25InverterFree(d->inv);
		pfree(d);
	}
	for (Bm25DeltaCache *c = delta_cache; c; c = c->next)
		c->cur.users = 0;
}

/*
 * Drop a cache entry's inverter: freed now, or at transaction end if a
 * reader still uses it.  The retired list lives in seg_cache_cxt.
 */
static void
Bm25DeltaRetire(Bm25DeltaCache *c)
{
	if (c->cur.inv != NULL && c->cur.users > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(seg_cache_cxt);
		Bm25DeltaInv *d = palloc(sizeof(Bm25DeltaInv));

		*d = c->cur;
		delta_retired = lappend(delta_retired, d);
		MemoryContextSwitchTo(old);
	}
	else if (c->cur.inv != NULL)
		Bm25InverterFree(c->cur.inv);
	c->cur.inv = NULL;
	c->cur.users = 0;
}

/*
 * Forget what this backend cached about the index's relfilenode.  A build
 * into an existing relfilenode (TRUNCATE of a table created in the same
 * transaction rebuilds its indexes in place) hands out owner ids from the
 * start again, so a new delta or segment could match the key of an old
 * one's entry (same ids, head or root block and length) and be read from
 * the old contents.  No other backend can have seen such a relfilenode,
 * and no reader of the index is open (TRUNCATE refuses a table in use).
 */
void
Bm25ForgetCaches(Relation index)
{
	Bm25SegCache **link = &seg_cache;

	for (Bm25DeltaCache *d = delta_cache; d; d = d->next)
		if (RelFileNodeEquals(d->node, index->rd_node))
			Bm25DeltaRetire(d);
	while (*link)
	{
		Bm25SegCache *c = *link;

		if (!RelFileNodeEquals(c->node, index->rd_node))
		{
			link = &c->next;
			continue;
		}
		*link = c->next;
		if (c->opened)
		{
			for (uint32 m = 0; m < c->nmap; m++)
				if (c->maps[m])
					pfree(c->maps[m]);
			pfree(c->maps);
			pfree(c->mapblocks);
			seg_cache_bytes -= Min(seg_cache_bytes,
								   (sizeof(BlockNumber) + sizeof(BlockNumber *)) * Max(c->nmap, 1) +
								   (Size) c->nmap * sizeof(BlockNumber) * BM25_MAP_ENTRIES);
		}
		if (c->doclens)
		{
			pfree(c->doclens);
			seg_cache_bytes -= Min(seg_cache_bytes, sizeof(uint32) * (Size) c->hdr.ndocs);
		}
		if (c->dict)
		{
			pfree(c->dict);
			pfree(c->strs);
			seg_cache_bytes -= Min(seg_cache_bytes,
								   sizeof(Bm25DictEntry) * (Size) c->hdr.nterms + c->hdr.strings_len);
		}
		if (c->fences_loaded)
		{
			seg_cache_bytes -= Min(seg_cache_bytes,
								   sizeof(uint32) * (c->nfences + 1) + c->fence_off[c->nfences]);
			pfree(c->fence_off);
			pfree(c->fence_str);
		}
		pfree(c);
	}
	Bm25ForgetBlocks();
}

/* A reader of a cached delta closes. */
static void
Bm25DeltaRelease(Bm25Inverter *inv)
{
	ListCell   *lc;

	for (Bm25DeltaCache *c = delta_cache; c; c = c->next)
		if (c->cur.inv == inv)
		{
			if (c->cur.users > 0)
				c->cur.users--;
			return;
		}
	foreach(lc, delta_retired)
	{
		Bm25DeltaInv *d = lfirst(lc);

		if (d->inv == inv)
		{
			if (--d->users <= 0)
			{
				delta_retired = foreach_delete_current(delta_retired, lc);
				Bm25InverterFree(d->inv);
				pfree(d);
			}
			return;
		}
	}
}

static void Bm25ReadDelta(Bm25SegReader *r, Relation index,
						  const Bm25MetaPageData *meta);

void
Bm25SegOpenDelta(Bm25SegReader *r, Relation index, const Bm25MetaPageData *meta)
{
	Bm25DeltaCache *c;
	MemoryContext old;

	for (c = delta_cache; c; c = c->next)
		if (RelFileNodeEquals(c->node, index->rd_node))
			break;
	if (c != NULL && c->cur.inv != NULL && c->delta_id == meta->delta_id &&
		c->ndocs == meta->delta_ndocs && c->ndeleted == meta->delta_ndeleted &&
		c->head == meta->delta_head)
	{
		memset(r, 0, sizeof(*r));
		r->in_memory = true;
		r->shared_inv = true;
		r->inv = c->cur.inv;
		c->cur.users++;
		r->info.ndocs = r->inv->ndocs;
		r->hdr.ndocs = r->inv->ndocs;
		r->hdr.nterms = r->inv->nterms;
		r->hdr.flags = r->inv->positions ? BM25_META_POSITIONS : 0;
		return;
	}
	Bm25ReadDelta(r, index, meta);
	if (seg_cache_cxt == NULL)
		seg_cache_cxt = AllocSetContextCreate(TopMemoryContext, "lance_bm25 segment cache",
											  ALLOCSET_DEFAULT_SIZES);
	if (!delta_callback)
	{
		RegisterXactCallback(Bm25DeltaXactCallback, NULL);
		delta_callback = true;
	}
	old = MemoryContextSwitchTo(seg_cache_cxt);
	if (c == NULL)
	{
		c = palloc0(sizeof(Bm25DeltaCache));
		c->node = index->rd_node;
		c->next = delta_cache;
		delta_cache = c;
	}
	MemoryContextSwitchTo(old);
	Bm25DeltaRetire(c);
	MemoryContextSetParent(r->inv->mcxt, seg_cache_cxt);
	c->cur.inv = r->inv;
	c->cur.users = 1;
	c->delta_id = meta->delta_id;
	c->ndocs = meta->delta_ndocs;
	c->ndeleted = meta->delta_ndeleted;
	c->head = meta->delta_head;
	r->shared_inv = true;
}

/*
 * Read the delta records (skipping deleted ones) into an inverter.
 *
 * The caller's meta copy is a snapshot, and inserts keep appending to the
 * chain after it was taken (extending the index for new pages).  Read only
 * the snapshot's records: they are the first delta_ndocs records in chain
 * order and end on delta_tail, all on blocks that existed when the meta page
 * was copied, i.e. below the size read here.
 */
static void
Bm25ReadDelta(Bm25SegReader *r, Relation index, const Bm25MetaPageData *meta)
{
	BlockNumber blk = meta->delta_head;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	uint32		seen = 0;
	uint32		nrec = 0;

	memset(r, 0, sizeof(*r));
	r->in_memory = true;
	r->inv = Bm25InverterCreate((meta->flags & BM25_META_POSITIONS) != 0);
	while (blk != InvalidBlockNumber && nrec < meta->delta_ndocs)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		if (blk >= nblocks || blk == BM25_METAPAGE_BLKNO || ++seen > nblocks)
			Bm25CorruptError(index, "delta chain points outside the index");
		buf = ReadBuffer(index, blk);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		Bm25CheckPage(index, page, blk, BM25_PAGE_DELTA, meta->delta_id);
		maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber;
			 off <= maxoff && nrec < meta->delta_ndocs; off++)
		{
			ItemId		iid = PageGetItemId(page, off);
			char	   *p;
			Size		len;
			Bm25DeltaRecord rec;
			Size		pos;
			uint32		doc;

			if (!ItemIdIsNormal(iid))
				continue;
			nrec++;
			p = PageGetItem(page, iid);
			len = ItemIdGetLength(iid);
			if (len < sizeof(rec))
			{
				UnlockReleaseBuffer(buf);
				Bm25CorruptError(index, "delta record too short");
			}
			memcpy(&rec, p, sizeof(rec));
			if (rec.deleted)
				continue;
			doc = Bm25InverterNewDoc(r->inv, &rec.tid, rec.doclen);
			pos = sizeof(rec);
			for (uint32 t = 0; t < rec.nterms; t++)
			{
				uint16		tl;
				uint32		tf;
				const char *term;
				uint32		posbuf[256];
				uint32	   *pp = posbuf;
				bool		has_pos = r->inv->positions;

				if (pos + 2 > len)
					goto corrupt;
				memcpy(&tl, p + pos, 2);
				pos += 2;
				if (pos + tl + 4 > len)
					goto corrupt;
				term = p + pos;
				pos += tl;
				memcpy(&tf, p + pos, 4);
				pos += 4;
				if (tf == 0 || tf > rec.doclen)
					goto corrupt;
				if (has_pos)
				{
					if (pos + (Size) tf * 4 > len)
						goto corrupt;
					if (tf > lengthof(posbuf))
						pp = palloc(sizeof(uint32) * tf);
					memcpy(pp, p + pos, (Size) tf * 4);
					pos += (Size) tf * 4;
					for (uint32 k = 1; k < tf; k++)
						if (pp[k] <= pp[k - 1])
							goto corrupt;
				}
				Bm25InverterAddTerm(r->inv, doc, term, tl, tf, has_pos ? pp : NULL);
				if (pp != posbuf)
					pfree(pp);
			}
			continue;
	corrupt:
			UnlockReleaseBuffer(buf);
			Bm25CorruptError(index, "bad delta record");
		}
		blk = blk == meta->delta_tail ? InvalidBlockNumber :
			Bm25PageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
	}
	r->info.ndocs = r->inv->ndocs;
	r->hdr.ndocs = r->inv->ndocs;
	r->hdr.nterms = r->inv->nterms;
	r->hdr.flags = r->inv->positions ? BM25_META_POSITIONS : 0;
}

void
Bm25SegClose(Bm25SegReader *r)
{
	if (r->in_memory)
	{
		if (r->inv && r->shared_inv)
			Bm25DeltaRelease(r->inv);
		else if (r->inv)
			Bm25InverterFree(r->inv);
		r->inv = NULL;
		return;
	}
	Bm25StreamClose(&r->s);
	if (r->info.ndeleted > 0)
		Bm25StreamClose(&r->dead);
}

bool
Bm25SegHasPositions(Bm25SegReader *r)
{
	return (r->hdr.flags & BM25_META_POSITIONS) != 0;
}

static void
Bm25ReadDictEntry(Bm25SegReader *r, uint32 i, Bm25DictEntry *e)
{
	Bm25StreamRead(&r->s, r->hdr.dict_off + (uint64) i * sizeof(Bm25DictEntry),
				   e, sizeof(*e));
	if ((uint64) e->str_off + e->str_len > r->hdr.strings_len ||
		e->post_off + e->post_len > r->hdr.post_len ||
		e->df == 0 || e->df > r->hdr.ndocs || e->str_len > 65535)
		Bm25CorruptError(r->s.index, "bad dictionary entry");
}

static int
Bm25CmpTerm(const char *a, uint32 alen, const char *b, uint32 blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static void
Bm25LoadFences(Bm25SegReader *r, Bm25SegCache *c)
{
	uint32		n = (r->hdr.nterms + BM25_FENCE - 1) / BM25_FENCE;
	uint32	   *off;
	StringInfoData buf;
	MemoryContext old;

	initStringInfo(&buf);
	off = palloc(sizeof(uint32) * (n + 1));
	for (uint32 k = 0; k < n; k++)
	{
		Bm25DictEntry e;

		Bm25ReadDictEntry(r, k * BM25_FENCE, &e);
		off[k] = buf.len;
		enlargeStringInfo(&buf, e.str_len);
		Bm25StreamRead(&r->s, r->hdr.strings_off + e.str_off, buf.data + buf.len, e.str_len);
		buf.len += e.str_len;
	}
	off[n] = buf.len;
	old = MemoryContextSwitchTo(seg_cache_cxt);
	c->fence_off = palloc(sizeof(uint32) * (n + 1));
	memcpy(c->fence_off, off, sizeof(uint32) * (n + 1));
	c->fence_str = palloc(Max(buf.len, 1));
	memcpy(c->fence_str, buf.data, buf.len);
	MemoryContextSwitchTo(old);
	c->nfences = n;
	c->fences_loaded = true;
	seg_cache_bytes += sizeof(uint32) * (n + 1) + buf.len;
	pfree(off);
	pfree(buf.data);
}

/*
 * Lower bound with the fence index: the last fence <= key picks a block of
 * BM25_FENCE terms, read (entries and strings) in two stream reads.
 */
static uint32
Bm25LowerBoundFenced(Bm25SegReader *r, Bm25SegCache *c, const char *key,
					 uint32 keylen)
{
	uint32		lo = 0,
				hi = c->nfences;
	uint32		start,
				end;
	Bm25DictEntry ents[BM25_FENCE];
	char	   *strs;
	uint64		sbase,
				slen;
	uint32		res;

	/* first fence > key */
	while (lo < hi)
	{
		uint32		mid = lo + (hi - lo) / 2;

		if (Bm25CmpTerm(c->fence_str + c->fence_off[mid],
						c->fence_off[mid + 1] - c->fence_off[mid], key, keylen) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return 0;
	start = (lo - 1) * BM25_FENCE;
	end = Min(start + BM25_FENCE, r->hdr.nterms);
	Bm25StreamRead(&r->s, r->hdr.dict_off + (uint64) start * sizeof(Bm25DictEntry),
				   ents, sizeof(Bm25DictEntry) * (end - start));
	sbase = ents[0].str_off;
	for (uint32 i = 0; i < end - start; i++)
	{
		if ((uint64) ents[i].str_off + ents[i].str_len > r->hdr.strings_len ||
			ents[i].str_off < sbase || ents[i].str_len > 65535)
			Bm25CorruptError(r->s.index, "bad dictionary entry");
	}
	slen = (uint64) ents[end - start - 1].str_off + ents[end - start - 1].str_len - sbase;
	if (slen > (uint64) BM25_FENCE * 65536)
		Bm25CorruptError(r->s.index, "bad dictionary block");
	strs = palloc(Max(slen, 1));
	Bm25StreamRead(&r->s, r->hdr.strings_off + sbase, strs, slen);
	res = end;
	for (uint32 i = 0; i < end - start; i++)
	{
		if (ents[i].str_off - sbase + ents[i].str_len > slen)
			Bm25CorruptError(r->s.index, "bad dictionary entry");
		if (Bm25CmpTerm(strs + (ents[i].str_off - sbase), ents[i].str_len, key, keylen) >= 0)
		{
			res = start + i;
			break;
		}
	}
	pfree(strs);
	return res;
}

/* Read and check the whole dictionary into the cache. */
static void
Bm25LoadDict(Bm25SegReader *r, Bm25SegCache *c)
{
	uint64		dlen = sizeof(Bm25DictEntry) * (uint64) r->hdr.nterms;
	Bm25DictEntry *dict = MemoryContextAllocHuge(seg_cache_cxt, Max(dlen, 1));
	char	   *strs = MemoryContextAllocHuge(seg_cache_cxt, Max(r->hdr.strings_len, 1));

	Bm25StreamRead(&r->s, r->hdr.dict_off, dict, dlen);
	Bm25StreamRead(&r->s, r->hdr.strings_off, strs, r->hdr.strings_len);
	for (uint32 i = 0; i < r->hdr.nterms; i++)
	{
		Bm25DictEntry *e = &dict[i];

		if ((uint64) e->str_off + e->str_len > r->hdr.strings_len ||
			e->post_off + e->post_len > r->hdr.post_len ||
			e->df == 0 || e->df > r->hdr.ndocs || e->str_len > 65535)
		{
			pfree(dict);
			pfree(strs);
			Bm25CorruptError(r->s.index, "bad dictionary entry");
		}
	}
	c->dict = dict;
	c->strs = strs;
	seg_cache_bytes += dlen + r->hdr.strings_len;
}

/* Use the cached dictionary if there is (or can be) one. */
static Bm25SegCache *
Bm25CachedDict(Bm25SegReader *r)
{
	Bm25SegCache *c = r->cache;

	if (c == NULL || r->in_memory)
		return NULL;
	if (c->dict == NULL &&
		sizeof(Bm25DictEntry) * (uint64) r->hdr.nterms + r->hdr.strings_len <= BM25_DICT_CACHE_MAX &&
		seg_cache_bytes <= BM25_CACHE_MAX)
		Bm25LoadDict(r, c);
	return c->dict ? c : NULL;
}

/* First dictionary index whose term is >= key (nterms if none). */
static uint32
Bm25LowerBound(Bm25SegReader *r, const char *key, uint32 keylen)
{
	uint32		lo = 0;
	uint32		hi = r->hdr.nterms;
	char		sbuf[512];
	Bm25SegCache *c = Bm25CachedDict(r);

	if (c != NULL)
	{
		while (lo < hi)
		{
			uint32		mid = lo + (hi - lo) / 2;
			const Bm25DictEntry *e = &c->dict[mid];

			if (Bm25CmpTerm(c->strs + e->str_off, e->str_len, key, keylen) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo;
	}
	c = r->cache;
	if (c != NULL && r->hdr.nterms > BM25_FENCE)
	{
		if (!c->fences_loaded)
			Bm25LoadFences(r, c);
		return Bm25LowerBoundFenced(r, c, key, keylen);
	}
	while (lo < hi)
	{
		uint32		mid = lo + (hi - lo) / 2;
		Bm25DictEntry e;
		char	   *s = sbuf;
		int			c;

		Bm25ReadDictEntry(r, mid, &e);
		if (e.str_len > sizeof(sbuf))
			s = palloc(e.str_len);
		Bm25StreamRead(&r->s, r->hdr.strings_off + e.str_off, s, e.str_len);
		c = Bm25CmpTerm(s, e.str_len, key, keylen);
		if (s != sbuf)
			pfree(s);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int64
Bm25SegFind(Bm25SegReader *r, const char *term, uint32 len, Bm25DictEntry *e)
{
	uint32		i;
	char		sbuf[512];
	char	   *s = sbuf;
	bool		eq;
	Bm25SegCache *c;

	if (r->hdr.nterms == 0 || len > 65535)
		return -1;
	i = Bm25LowerBound(r, term, len);
	if (i >= r->hdr.nterms)
		return -1;
	c = Bm25CachedDict(r);
	if (c != NULL)
	{
		*e = c->dict[i];
		return e->str_len == len && memcmp(c->strs + e->str_off, term, len) == 0 ?
			(int64) i : -1;
	}
	Bm25ReadDictEntry(r, i, e);
	if (e->str_len != len)
		return -1;
	if (len > sizeof(sbuf))
		s = palloc(len);
	Bm25StreamRead(&r->s, r->hdr.strings_off + e->str_off, s, len);
	eq = memcmp(s, term, len) == 0;
	if (s != sbuf)
		pfree(s);
	return eq ? (int64) i : -1;
}

/* The posting list of a term (palloc'd copy), or NULL if absent. */
uint8 *
Bm25SegPostings(Bm25SegReader *r, const char *term, uint32 len, size_t *plen,
				uint32 *df)
{
	Bm25DictEntry e;
	uint8	   *p;

	if (r->in_memory)
	{
		Bm25InvTerm *t = Bm25InverterLookup(r->inv, term, len);

		if (t == NULL)
			return NULL;
		*df = t->ndocs;
		return Bm25InvTermEncode(r->inv, t, plen);
	}
	if (Bm25SegFind(r, term, len, &e) < 0)
		return NULL;
	p = palloc(Max(e.post_len, 1));
	Bm25StreamRead(&r->s, r->hdr.post_off + e.post_off, p, e.post_len);
	*plen = e.post_len;
	*df = e.df;
	return p;
}

/* Docs of the segment containing term (deleted ones included), 0 if none. */
uint32
Bm25SegDf(Bm25SegReader *r, const char *term, uint32 len)
{
	Bm25DictEntry e;

	if (r->in_memory)
	{
		Bm25InvTerm *t = Bm25InverterLookup(r->inv, term, len);

		return t ? t->ndocs : 0;
	}
	return Bm25SegFind(r, term, len, &e) < 0 ? 0 : e.df;
}

uint32
Bm25SegDocLen(Bm25SegReader *r, uint32 doc)
{
	uint32		dl;

	if (doc >= r->hdr.ndocs)
		Bm25CorruptError(r->s.index, "doc id out of range");
	if (r->in_memory)
		return r->inv->doclens[doc];
	if (r->cache != NULL)
	{
		Bm25SegCache *c = r->cache;

		if (c->doclens == NULL)
		{
			uint32	   *dls = MemoryContextAllocHuge(seg_cache_cxt,
													 sizeof(uint32) * Max(r->hdr.ndocs, 1));

			Bm25StreamRead(&r->s, r->hdr.doclen_off, dls,
						   sizeof(uint32) * (Size) r->hdr.ndocs);
			c->doclens = dls;	/* only once fully read */
			seg_cache_bytes += sizeof(uint32) * (Size) r->hdr.ndocs;
		}
		return c->doclens[doc];
	}
	Bm25StreamRead(&r->s, r->hdr.doclen_off + (uint64) doc * 4, &dl, 4);
	return dl;
}

void
Bm25SegTid(Bm25SegReader *r, uint32 doc, ItemPointer tid)
{
	if (doc >= r->hdr.ndocs)
		Bm25CorruptError(r->s.index, "doc id out of range");
	if (r->in_memory)
	{
		*tid = r->inv->tids[doc];
		return;
	}
	Bm25StreamRead(&r->s, r->hdr.tid_off + (uint64) doc * sizeof(ItemPointerData),
				   tid, sizeof(ItemPointerData));
	if (!ItemPointerIsValid(tid))
		Bm25CorruptError(r->s.index, "invalid heap TID");
}

bool
Bm25SegAlive(Bm25SegReader *r, uint32 doc)
{
	uint8		byte;

	if (r->in_memory || r->info.ndeleted == 0)
		return true;
	Bm25StreamRead(&r->dead, doc / 8, &byte, 1);
	return (byte & (1 << (doc % 8))) == 0;
}

/* ---------------- term iterator for prefix / fuzzy expansion ---------------- */

static bool
Bm25IterLoad(Bm25SegReader *r, const char **term, size_t *termlen)
{
	if (r->in_memory)
	{
		if (r->iter_pos >= r->inv->nterms)
			return false;
		*term = r->sorted[r->iter_pos]->term;
		*termlen = r->sorted[r->iter_pos]->len;
		return true;
	}
	else
	{
		Bm25DictEntry e;

		if (r->iter_pos >= r->hdr.nterms)
			return false;
		Bm25ReadDictEntry(r, r->iter_pos, &e);
		if (e.str_len + 1 > r->iter_cap)
		{
			r->iter_cap = Max(e.str_len + 1, 256);
			r->iter_buf = r->iter_buf ? repalloc(r->iter_buf, r->iter_cap) :
				palloc(r->iter_cap);
		}
		Bm25StreamRead(&r->s, r->hdr.strings_off + e.str_off, r->iter_buf, e.str_len);
		r->iter_buf[e.str_len] = '\0';
		*term = r->iter_buf;
		*termlen = e.str_len;
		return true;
	}
}

static bool
Bm25IterSeek(void *arg, const char *key, size_t keylen, const char **term,
			 size_t *termlen)
{
	Bm25SegReader *r = arg;

	CHECK_FOR_INTERRUPTS();
	if (r->in_memory)
	{
		uint32		lo = 0,
					hi = r->inv->nterms;

		while (lo < hi)
		{
			uint32		mid = lo + (hi - lo) / 2;

			if (Bm25CmpTerm(r->sorted[mid]->term, r->sorted[mid]->len, key, keylen) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		r->iter_pos = lo;
	}
	else
		r->iter_pos = Bm25LowerBound(r, key, (uint32) Min(keylen, 65536));
	return Bm25IterLoad(r, term, termlen);
}

static bool
Bm25IterNext(void *arg, const char **term, size_t *termlen)
{
	Bm25SegReader *r = arg;

	r->iter_pos++;
	return Bm25IterLoad(r, term, termlen);
}

void
Bm25SegTermIter(Bm25SegReader *r, void *iter)
{
	LanceTermIter *it = iter;

	if (r->in_memory && r->sorted == NULL)
		r->sorted = Bm25InverterSorted(r->inv);
	it->arg = r;
	it->seek = Bm25IterSeek;
	it->next = Bm25IterNext;
}
