/*
 * bm25store.c
 *	  lance_bm25 pages: allocation (FSM first), checks, the meta page and
 *	  "streams", logical byte arrays spread over data pages through a root
 *	  page and map pages, so that a segment can be written page by page and
 *	  read at any offset without contiguous blocks.
 */
#include "postgres.h"

#include "access/transam.h"
#include "am/bm25am.h"
#include "miscadmin.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

void
Bm25CorruptError(Relation index, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("lance_bm25 index \"%s\" is corrupted: %s",
					RelationGetRelationName(index), what),
			 errhint("REINDEX the index.")));
}

void
Bm25InitPage(Page page, uint16 page_type, uint32 owner)
{
	Bm25PageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(Bm25PageOpaqueData));
	opaque = Bm25PageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->owner = owner;
	opaque->page_type = page_type;
	opaque->page_id = BM25_PAGE_ID;
}

void
Bm25CheckPage(Relation index, Page page, BlockNumber blkno, uint16 page_type,
			  uint32 owner)
{
	Bm25PageOpaque opaque;

	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(Bm25PageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("lance_bm25 index \"%s\" contains unexpected page at block %u",
						RelationGetRelationName(index), blkno)));
	opaque = Bm25PageGetOpaque(page);
	if (opaque->page_id != BM25_PAGE_ID || opaque->page_type != page_type ||
		opaque->owner != owner)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("lance_bm25 index \"%s\" has a page of type %u owned by %u at block %u where type %u of %u was expected",
						RelationGetRelationName(index), opaque->page_type,
						opaque->owner, blkno, page_type, owner)));
}

/*
 * A page to fill: one VACUUM recycled if the FSM has any, else a new one.
 * Returned pinned and exclusively locked.
 */
Buffer
Bm25NewBuffer(Relation index)
{
	Buffer		buf;

	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Page		page;

		if (blkno == InvalidBlockNumber)
			break;
		buf = ReadBuffer(index, blkno);
		if (ConditionalLockBuffer(buf))
		{
			page = BufferGetPage(buf);
			if (PageIsNew(page) ||
				(PageGetSpecialSize(page) == MAXALIGN(sizeof(Bm25PageOpaqueData)) &&
				 Bm25PageGetOpaque(page)->page_id == BM25_PAGE_ID &&
				 Bm25PageGetOpaque(page)->page_type == BM25_PAGE_FREE))
				return buf;
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buf);
	}
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

/* Write a whole new page (full-page image in the WAL). */
void
Bm25WriteNewPage(Relation index, uint16 type, uint32 owner,
				 const char *data, Size len, BlockNumber *blkno)
{
	Buffer		buf = Bm25NewBuffer(index);
	GenericXLogState *state;
	Page		page;

	Assert(len <= BM25_PAGE_USABLE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	Bm25InitPage(page, type, owner);
	memcpy(PageGetContents(page), data, len);
	((PageHeader) page)->pd_lower = (PageGetContents(page) - (char *) page) + len;
	GenericXLogFinish(state);
	*blkno = BufferGetBlockNumber(buf);
	UnlockReleaseBuffer(buf);
}

/* ---------------- meta page ---------------- */

void
Bm25CheckMeta(Relation index, const Bm25MetaPageData *meta)
{
	if (meta->magic != BM25_MAGIC)
		Bm25CorruptError(index, "bad meta page magic");
	if (meta->version != BM25_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lance_bm25 index \"%s\" has format version %u; this library reads version %u",
						RelationGetRelationName(index), meta->version,
						BM25_FORMAT_VERSION),
				 errhint("REINDEX the index.")));
	if (meta->nsegments > BM25_MAX_SEGMENTS)
		Bm25CorruptError(index, "too many segments in the meta page");
	if (meta->delta_ndeleted > meta->delta_ndocs)
		Bm25CorruptError(index, "bad delta counters");
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		const Bm25SegmentInfo *s = &meta->segs[i];

		if (s->ndeleted > s->ndocs || s->len < sizeof(Bm25SegHeader))
			Bm25CorruptError(index, "bad segment entry in the meta page");
	}
}

void
Bm25ReadMeta(Relation index, Bm25MetaPageData *meta)
{
	Buffer		buf;
	Page		page;

	buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	Bm25CheckPage(index, page, BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	memcpy(meta, PageGetContents(page), sizeof(Bm25MetaPageData));
	UnlockReleaseBuffer(buf);
	Bm25CheckMeta(index, meta);
}

/*
 * The directory of the meta page (registered in a GenericXLog record by
 * the caller) is about to drop owners: note when.  The meta page of an
 * index from before drop_xid existed gets pd_lower past it, so the
 * change is in the WAL record.
 */
void
Bm25MetaNoteDrop(Page metapage)
{
	Bm25MetaPageData *meta = (Bm25MetaPageData *) PageGetContents(metapage);
	Size		end = ((char *) meta + sizeof(Bm25MetaPageData)) - (char *) metapage;

	meta->drop_xid = U64FromFullTransactionId(ReadNextFullTransactionId());
	if (((PageHeader) metapage)->pd_lower < end)
		((PageHeader) metapage)->pd_lower = end;
}

/* Hand out n owner ids (a WAL-logged meta update). */
uint32
Bm25AllocIds(Relation index, int n)
{
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
	Bm25MetaPageData *meta;
	uint32		first;

	buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	Bm25CheckPage(index, BufferGetPage(buf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	meta = (Bm25MetaPageData *) PageGetContents(page);
	first = meta->next_id;
	meta->next_id += n;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return first;
}

/* ---------------- stream writer ---------------- */

void
Bm25StreamWriterInit(Bm25StreamWriter *w, Relation index, uint32 owner)
{
	w->index = index;
	w->owner = owner;
	w->page = palloc(BM25_PAGE_DATA_BYTES);
	w->used = 0;
	w->len = 0;
	w->cap = 64;
	w->nblocks = 0;
	w->blocks = palloc(sizeof(BlockNumber) * w->cap);
}

static void
Bm25StreamFlushPage(Bm25StreamWriter *w)
{
	BlockNumber blkno;

	if (w->nblocks == w->cap)
	{
		w->cap *= 2;
		w->blocks = repalloc_huge(w->blocks, sizeof(BlockNumber) * w->cap);
	}
	Bm25WriteNewPage(w->index, BM25_PAGE_DATA, w->owner, w->page, w->used, &blkno);
	w->blocks[w->nblocks++] = blkno;
	w->used = 0;
	CHECK_FOR_INTERRUPTS();
}

void
Bm25StreamWrite(Bm25StreamWriter *w, const void *data, Size len)
{
	const char *p = data;

	while (len > 0)
	{
		Size		n = Min(len, BM25_PAGE_DATA_BYTES - w->used);

		memcpy(w->page + w->used, p, n);
		w->used += n;
		w->len += n;
		p += n;
		len -= n;
		if (w->used == BM25_PAGE_DATA_BYTES)
			Bm25StreamFlushPage(w);
	}
}

void
Bm25StreamWriteZeros(Bm25StreamWriter *w, Size len)
{
	char		zeros[1024];

	memset(zeros, 0, sizeof(zeros));
	while (len > 0)
	{
		Size		n = Min(len, sizeof(zeros));

		Bm25StreamWrite(w, zeros, n);
		len -= n;
	}
}

/* Write the last data page, the map pages and the root; returns the root. */
BlockNumber
Bm25StreamFinish(Bm25StreamWriter *w, uint64 *len)
{
	uint32		nmap;
	BlockNumber *maps;
	char	   *buf = palloc0(BM25_PAGE_USABLE);
	BlockNumber root;

	if (w->used > 0)
		Bm25StreamFlushPage(w);
	nmap = (w->nblocks + BM25_MAP_ENTRIES - 1) / BM25_MAP_ENTRIES;
	if (nmap > BM25_MAP_ENTRIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lance_bm25 segment too large")));
	maps = palloc(sizeof(BlockNumber) * Max(nmap, 1));
	for (uint32 m = 0; m < nmap; m++)
	{
		uint32		n = Min(BM25_MAP_ENTRIES, w->nblocks - m * BM25_MAP_ENTRIES);

		memset(buf, 0, BM25_PAGE_USABLE);
		memcpy(buf, &n, sizeof(uint32));
		memcpy(buf + 16, w->blocks + (Size) m * BM25_MAP_ENTRIES, sizeof(BlockNumber) * n);
		Bm25WriteNewPage(w->index, BM25_PAGE_MAP, w->owner, buf,
						 16 + sizeof(BlockNumber) * n, &maps[m]);
	}
	memset(buf, 0, BM25_PAGE_USABLE);
	memcpy(buf, &w->len, sizeof(uint64));
	memcpy(buf + 8, &nmap, sizeof(uint32));
	memcpy(buf + 16, maps, sizeof(BlockNumber) * nmap);
	Bm25WriteNewPage(w->index, BM25_PAGE_ROOT, w->owner, buf,
					 16 + sizeof(BlockNumber) * nmap, &root);
	*len = w->len;
	pfree(buf);
	pfree(maps);
	pfree(w->page);
	pfree(w->blocks);
	return root;
}

/* ---------------- stream reader ---------------- */

/*
 * Block numbers read from pages must lie inside the index.  The size is
 * asked of the kernel only when a block is past the size last seen for
 * this relfilenode (an index shrinks under the same relfilenode only when
 * TRUNCATE rebuilds it in place: the build calls Bm25ForgetBlocks).
 */
static RelFileNode known_node;
static BlockNumber known_nblocks = 0;

/* A build into an existing relfilenode may have shrunk it (bm25seg.c). */
void
Bm25ForgetBlocks(void)
{
	known_nblocks = 0;
}

static void
Bm25CheckBlock(Relation index, BlockNumber blkno)
{
	if (blkno == InvalidBlockNumber || blkno == BM25_METAPAGE_BLKNO)
		Bm25CorruptError(index, "stream points outside the index");
	if (blkno < known_nblocks && RelFileNodeEquals(known_node, index->rd_node))
		return;
	known_node = index->rd_node;
	known_nblocks = RelationGetNumberOfBlocks(index);
	if (blkno >= known_nblocks)
		Bm25CorruptError(index, "stream points outside the index");
}

void
Bm25StreamOpen(Bm25Stream *s, Relation index, BlockNumber root, uint32 owner,
			   uint64 len)
{
	Buffer		buf;
	Page		page;
	char	   *c;
	uint64		rlen;
	uint32		nmap;

	memset(s, 0, sizeof(*s));
	s->index = index;
	s->owner = owner;
	s->root = root;
	s->buf = InvalidBuffer;
	Bm25CheckBlock(index, root);
	buf = ReadBuffer(index, root);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	Bm25CheckPage(index, page, root, BM25_PAGE_ROOT, owner);
	c = PageGetContents(page);
	memcpy(&rlen, c, sizeof(uint64));
	memcpy(&nmap, c + 8, sizeof(uint32));
	if (rlen != len || nmap > BM25_MAP_ENTRIES ||
		(uint64) nmap * BM25_MAP_ENTRIES * BM25_PAGE_DATA_BYTES < len)
	{
		UnlockReleaseBuffer(buf);
		Bm25CorruptError(index, "bad stream root page");
	}
	s->len = len;
	s->nmap = nmap;
	s->mapblocks = palloc(sizeof(BlockNumber) * Max(nmap, 1));
	memcpy(s->mapblocks, c + 16, sizeof(BlockNumber) * nmap);
	s->maps = palloc0(sizeof(BlockNumber *) * Max(nmap, 1));
	UnlockReleaseBuffer(buf);
}

BlockNumber
Bm25StreamLocate(Bm25Stream *s, uint64 off, uint32 *pageoff)
{
	uint64		idx = off / BM25_PAGE_DATA_BYTES;
	uint64		m = idx / BM25_MAP_ENTRIES;
	uint32		e = idx % BM25_MAP_ENTRIES;
	BlockNumber *map;

	if (m >= s->nmap)
		Bm25CorruptError(s->index, "stream offset past its map");
	map = s->maps[m];
	if (map == NULL)
	{
		Buffer		buf;
		Page		page;
		uint32		n;

		Bm25CheckBlock(s->index, s->mapblocks[m]);
		buf = ReadBuffer(s->index, s->mapblocks[m]);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		Bm25CheckPage(s->index, page, s->mapblocks[m], BM25_PAGE_MAP, s->owner);
		memcpy(&n, PageGetContents(page), sizeof(uint32));
		if (n > BM25_MAP_ENTRIES)
		{
			UnlockReleaseBuffer(buf);
			Bm25CorruptError(s->index, "bad map page");
		}
		map = MemoryContextAllocZero(GetMemoryChunkContext(s->maps),
									 sizeof(BlockNumber) * BM25_MAP_ENTRIES);
		memcpy(map, PageGetContents(page) + 16, sizeof(BlockNumber) * n);
		for (uint32 i = n; i < BM25_MAP_ENTRIES; i++)
			map[i] = InvalidBlockNumber;
		UnlockReleaseBuffer(buf);
		s->maps[m] = map;
	}
	*pageoff = (uint32) (off % BM25_PAGE_DATA_BYTES);
	if (map[e] == InvalidBlockNumber)
		Bm25CorruptError(s->index, "stream map has a hole");
	return map[e];
}

void
Bm25StreamRead(Bm25Stream *s, uint64 off, void *dst, Size len)
{
	char	   *d = dst;

	if (off > s->len || len > s->len - off)
		Bm25CorruptError(s->index, "read past the end of a stream");
	while (len > 0)
	{
		uint32		po;
		BlockNumber blk = Bm25StreamLocate(s, off, &po);
		Size		n = Min(len, BM25_PAGE_DATA_BYTES - po);
		Page		page;
		PageHeader	ph;

		if (s->buf == InvalidBuffer || s->bufblk != blk)
		{
			if (s->buf != InvalidBuffer)
				ReleaseBuffer(s->buf);
			s->buf = InvalidBuffer;
			Bm25CheckBlock(s->index, blk);
			s->buf = ReadBuffer(s->index, blk);
			s->bufblk = blk;
		}
		LockBuffer(s->buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(s->buf);
		ph = (PageHeader) page;
		Bm25CheckPage(s->index, page, blk, BM25_PAGE_DATA, s->owner);
		if ((Size) ph->pd_lower < (Size) (PageGetContents(page) - (char *) page) + po + n)
		{
			LockBuffer(s->buf, BUFFER_LOCK_UNLOCK);
			Bm25CorruptError(s->index, "stream data page too short");
		}
		memcpy(d, PageGetContents(page) + po, n);
		LockBuffer(s->buf, BUFFER_LOCK_UNLOCK);
		d += n;
		off += n;
		len -= n;
	}
}

void
Bm25StreamClose(Bm25Stream *s)
{
	if (s->buf != InvalidBuffer)
		ReleaseBuffer(s->buf);
	s->buf = InvalidBuffer;
}
