/*
 * bm25merge.c
 *	  lance_bm25 segment merges: the merge itself (postings decoded into an
 *	  inverter, deleted docs dropped, doc ids renumbered, re-encoded as one
 *	  segment, the directory switched in one meta page update), the
 *	  policies that choose inputs, and the in-place maintenance that the
 *	  background worker and lancedb.optimize() run (worker/maint.h).
 *
 * Policies:
 *	- on the write path (aminsert, after a delta flush): tiered, merge
 *	  BM25_MERGE_FACTOR segments of one tier into one of the next tier.  With
 *	  the background worker running, merges whose inputs hold more than
 *	  lancedb.bm25_insert_merge_limit docs are left to the worker, unless the
 *	  directory is filling up;
 *	- in maintenance: the same tiers without the bound, then the small
 *	  segments (each under 1/BM25_SMALL_RATIO of the largest) merged into
 *	  one, then segments with deleted docs rewritten (left by an interrupted
 *	  VACUUM: their df counts them), and a delta with
 *	  lancedb.bm25_purge_fraction deleted records flushed.
 * Every merge's inputs are chosen so that their estimated in-memory size
 * stays within maintenance_work_mem (fewer segments at once otherwise; a
 * single segment is always allowed, as the build wrote it within the same
 * bound).
 *
 * Concurrency: a merge reads only immutable segment pages (under the
 * structure lock in share mode, so VACUUM cannot recycle them), writes its
 * output to new pages and then replaces the inputs by the output in one
 * WAL-logged meta page update.  A scan uses the directory it copied at
 * start, so it sees either all inputs or the output, never a mix.
 */
#include "postgres.h"

#include "am/bm25am.h"
#include "commands/vacuum.h"
#include "index/postings.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "worker/maint.h"

/* segments this much smaller than the largest are merged by maintenance */
#define BM25_SMALL_RATIO		8
/* rounds of one maintenance call */
#define BM25_MAINT_ROUNDS		64

int			lancedb_bm25_insert_merge_limit = 4096;
double		lancedb_bm25_purge_fraction = 0.1;
static bool bm25_preloaded = false;

void
Bm25MergeInit(void)
{
	bm25_preloaded = process_shared_preload_libraries_in_progress;
	DefineCustomIntVariable("lancedb.bm25_insert_merge_limit",
							"With the maintenance worker running, the most docs a merge on the write path of a lance_bm25 index may read (larger merges are left to the worker; -1: no limit).",
							NULL, &lancedb_bm25_insert_merge_limit, 4096, -1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("lancedb.bm25_purge_fraction",
							 "Fraction of deleted records in a lance_bm25 delta that makes maintenance flush it.",
							 NULL, &lancedb_bm25_purge_fraction, 0.1, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
}

/* Is a background worker merging for us?  Then the write path merges little. */
static bool
Bm25WorkerMerges(void)
{
	return bm25_preloaded && lancedb_maintenance &&
		lancedb_bm25_insert_merge_limit >= 0;
}

/* Rough bytes a merge needs to hold a segment in its inverter. */
static uint64
Bm25MergeMemory(const Bm25SegmentInfo *s)
{
	/* decoded postings take about 4x the encoded bytes, plus per-doc arrays */
	return s->len * 4 + (uint64) s->ndocs * 24;
}

/*
 * Merge segments (by id) into one, dropping deleted docs.  Caller holds
 * the merge lock.  Postings are decoded into an in-memory inverter with
 * doc ids renumbered in input order and re-encoded.
 */
void
Bm25MergeSegments(Relation index, const uint32 *seg_ids, int n)
{
	Bm25MetaPageData m;
	Bm25SegReader *rs = palloc0(sizeof(Bm25SegReader) * n);
	uint32	  **remap = palloc0(sizeof(uint32 *) * n);
	Bm25Inverter *inv;
	uint32		maxtier = 0;
	uint32		ids = Bm25AllocIds(index, 2);
	Bm25SegmentInfo out;
	bool		have_out;
	Buffer		metabuf;
	GenericXLogState *state;
	Page		metapage;
	Bm25MetaPageData *meta;
	PostingHooks hooks = {Bm25Palloc, Bm25Pfree, NULL, NULL};

	Bm25ReadMeta(index, &m);
	inv = Bm25InverterCreate((m.flags & BM25_META_POSITIONS) != 0);
	for (int i = 0; i < n; i++)
	{
		int			found = -1;

		for (uint32 s = 0; s < m.nsegments; s++)
			if (m.segs[s].seg_id == seg_ids[i])
				found = s;
		if (found < 0)
			elog(ERROR, "lance_bm25: segment %u to merge is gone", seg_ids[i]);
		Bm25SegOpen(&rs[i], index, &m.segs[found]);
		maxtier = Max(maxtier, m.segs[found].tier);
		remap[i] = palloc(sizeof(uint32) * Max(rs[i].hdr.ndocs, 1));
		for (uint32 d = 0; d < rs[i].hdr.ndocs; d++)
		{
			/* cost-based delay: the worker's and VACUUM's settings */
			vacuum_delay_point();
			if (Bm25SegAlive(&rs[i], d))
			{
				ItemPointerData tid;

				Bm25SegTid(&rs[i], d, &tid);
				remap[i][d] = Bm25InverterNewDoc(inv, &tid, Bm25SegDocLen(&rs[i], d));
			}
			else
				remap[i][d] = UINT32_MAX;
		}
	}
	for (int i = 0; i < n; i++)
	{
		Bm25SegReader *r = &rs[i];

		for (uint32 t = 0; t < r->hdr.nterms; t++)
		{
			Bm25DictEntry e;
			char	   *term;
			uint8	   *p;
			PostingIter it;

			vacuum_delay_point();
			Bm25StreamRead(&r->s, r->hdr.dict_off + (uint64) t * sizeof(e), &e, sizeof(e));
			if ((uint64) e.str_off + e.str_len > r->hdr.strings_len ||
				e.post_off + e.post_len > r->hdr.post_len)
				Bm25CorruptError(index, "bad dictionary entry");
			term = palloc(e.str_len + 1);
			Bm25StreamRead(&r->s, r->hdr.strings_off + e.str_off, term, e.str_len);
			p = palloc(Max(e.post_len, 1));
			Bm25StreamRead(&r->s, r->hdr.post_off + e.post_off, p, e.post_len);
			if (posting_iter_init(&it, p, e.post_len, &hooks) != POSTING_OK)
				Bm25CorruptError(index, "bad posting list");
			for (uint32 d = posting_iter_doc(&it); d != POSTING_END; d = posting_iter_next(&it))
			{
				const uint32 *pos = NULL;
				uint32		npos = posting_iter_tf(&it);

				if (d >= r->hdr.ndocs)
					Bm25CorruptError(index, "posting doc id out of range");
				if (remap[i][d] == UINT32_MAX)
					continue;
				if (inv->positions &&
					posting_iter_positions(&it, &pos, &npos) != POSTING_OK)
					Bm25CorruptError(index, "bad positions");
				Bm25InverterAddTerm(inv, remap[i][d], term, e.str_len, npos, pos);
			}
			if (it.error != POSTING_OK)
				Bm25CorruptError(index, "bad posting list");
			posting_iter_free(&it);
			pfree(p);
			pfree(term);
		}
	}
	have_out = inv->ndocs > 0;
	if (have_out)
		Bm25WriteSegment(index, inv, &out, Max(Bm25TierOf(inv->ndocs), maxtier + (n > 1 ? 1 : 0)), ids);
	for (int i = 0; i < n; i++)
		Bm25SegClose(&rs[i]);

	/* switch the directory: inputs out, output in (where the first was) */
	metabuf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	Bm25CheckPage(index, BufferGetPage(metabuf), BM25_METAPAGE_BLKNO, BM25_PAGE_META, 0);
	state = GenericXLogStart(index);
	metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
	meta = (Bm25MetaPageData *) PageGetContents(metapage);
	Bm25MetaNoteDrop(metapage);
	{
		Bm25SegmentInfo kept[BM25_MAX_SEGMENTS];
		uint32		nk = 0;
		bool		placed = !have_out;

		for (uint32 s = 0; s < meta->nsegments; s++)
		{
			bool		input = false;

			for (int i = 0; i < n; i++)
				if (meta->segs[s].seg_id == seg_ids[i])
					input = true;
			if (!input)
				kept[nk++] = meta->segs[s];
			else if (!placed)
			{
				kept[nk++] = out;
				placed = true;
			}
		}
		memcpy(meta->segs, kept, sizeof(Bm25SegmentInfo) * nk);
		meta->nsegments = nk;
		meta->merges++;
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(metabuf);
	Bm25InverterFree(inv);
}

typedef struct Bm25MergePlan
{
	int			n;
	uint32		ids[BM25_MAX_SEGMENTS];
	uint64		docs;
	const char *why;
} Bm25MergePlan;

static int
Bm25SegDocsCmp(const void *a, const void *b)
{
	const Bm25SegmentInfo *x = *(const Bm25SegmentInfo *const *) a;
	const Bm25SegmentInfo *y = *(const Bm25SegmentInfo *const *) b;

	if (x->ndocs != y->ndocs)
		return x->ndocs < y->ndocs ? -1 : 1;
	return x->seg_id < y->seg_id ? -1 : x->seg_id > y->seg_id ? 1 : 0;
}

/*
 * Add candidates (smallest first) to the plan while they fit in memory;
 * at least one always fits.  Returns the number taken.
 */
static int
Bm25PlanTake(Bm25MergePlan *p, const Bm25SegmentInfo **cand, int n, int maxn)
{
	uint64		mem = 0;
	uint64		limit = (uint64) maintenance_work_mem * 1024;

	qsort(cand, n, sizeof(*cand), Bm25SegDocsCmp);
	p->n = 0;
	p->docs = 0;
	for (int i = 0; i < n && p->n < maxn; i++)
	{
		uint64		m = Bm25MergeMemory(cand[i]);

		if (p->n > 0 && mem + m > limit)
			break;
		mem += m;
		p->ids[p->n++] = cand[i]->seg_id;
		p->docs += cand[i]->ndocs;
	}
	return p->n;
}

/*
 * Tiered: the lowest tier holding BM25_MERGE_FACTOR segments, those
 * (maxdocs > 0: only if their docs stay within it).
 */
static bool
Bm25PlanTiered(const Bm25MetaPageData *m, uint64 maxdocs, Bm25MergePlan *p)
{
	for (uint32 t = 0; t < 32; t++)
	{
		const Bm25SegmentInfo *cand[BM25_MAX_SEGMENTS];
		int			n = 0;

		for (uint32 s = 0; s < m->nsegments; s++)
			if (m->segs[s].tier == t)
				cand[n++] = &m->segs[s];
		if (n < BM25_MERGE_FACTOR)
			continue;
		if (Bm25PlanTake(p, cand, n, BM25_MERGE_FACTOR) < 2)
			continue;
		if (maxdocs > 0 && p->docs > maxdocs)
			continue;
		p->why = "tier";
		return true;
	}
	return false;
}

/* Maintenance: tiers, then small segments together, then purges. */
static bool
Bm25PlanMaint(const Bm25MetaPageData *m, Bm25MergePlan *p)
{
	const Bm25SegmentInfo *cand[BM25_MAX_SEGMENTS];
	int			n = 0;
	uint32		largest = 0;

	if (Bm25PlanTiered(m, 0, p))
		return true;
	for (uint32 s = 0; s < m->nsegments; s++)
		largest = Max(largest, m->segs[s].ndocs);
	for (uint32 s = 0; s < m->nsegments; s++)
		if ((uint64) m->segs[s].ndocs * BM25_SMALL_RATIO < largest)
			cand[n++] = &m->segs[s];
	if (n >= 2 && Bm25PlanTake(p, cand, n, BM25_MAX_SEGMENTS) >= 2)
	{
		p->why = "small";
		return true;
	}
	/*
	 * VACUUM rewrites every segment it marked docs in, and maintenance never
	 * runs beside a VACUUM of the table (both take ShareUpdateExclusiveLock):
	 * a segment with deleted docs here was left by a VACUUM that a crash or
	 * an error interrupted, and counts them in df.  Rewrite it.
	 */
	for (uint32 s = 0; s < m->nsegments; s++)
	{
		const Bm25SegmentInfo *seg = &m->segs[s];

		if (seg->ndeleted > 0)
		{
			p->n = 1;
			p->ids[0] = seg->seg_id;
			p->docs = seg->ndocs;
			p->why = "purge";
			return true;
		}
	}
	return false;
}

static bool
Bm25DeltaNeedsPurge(const Bm25MetaPageData *m)
{
	return m->delta_ndeleted > 0 &&
		m->delta_ndeleted >= lancedb_bm25_purge_fraction * m->delta_ndocs;
}

/*
 * Write-path policy, after an insert (caller holds the structure lock in
 * share mode).  Skipped if another backend is merging.
 */
void
Bm25MaybeMerge(Relation index)
{
	if (!ConditionalLockPage(index, BM25_LOCK_MERGE, ExclusiveLock))
		return;
	for (;;)
	{
		Bm25MetaPageData m;
		Bm25MergePlan p;
		uint64		maxdocs = 0;

		Bm25ReadMeta(index, &m);
		/* the worker merges, unless the directory is filling up */
		if (Bm25WorkerMerges() && m.nsegments < BM25_MAX_SEGMENTS * 3 / 4)
			maxdocs = Max(lancedb_bm25_insert_merge_limit, 1);
		if (!Bm25PlanTiered(&m, maxdocs, &p))
			break;
		Bm25MergeSegments(index, p.ids, p.n);
	}
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
}

/* ---------------- maintenance (worker/maint.h) ---------------- */

void
Bm25MaintenanceAdvice(Relation index, Relation heap, LanceMaintAdvice *advice)
{
	Bm25MetaPageData m;
	Bm25MergePlan p;
	uint64		docs;
	uint64		deleted;

	LanceMaintAdviceInit(advice);
	Bm25ReadMeta(index, &m);
	docs = m.delta_ndocs;
	deleted = m.delta_ndeleted;
	for (uint32 s = 0; s < m.nsegments; s++)
	{
		docs += m.segs[s].ndocs;
		deleted += m.segs[s].ndeleted;
	}
	advice->segments = m.nsegments;
	advice->deleted = docs > 0 ? (double) deleted / docs : 0.0;
	if (m.ndocs > m.inserted)
		advice->growth = (double) m.inserted / (m.ndocs - m.inserted);
	if (Bm25PlanMaint(&m, &p))
	{
		advice->action = LANCE_MAINT_INPLACE;
		strlcpy(advice->task, "merge", sizeof(advice->task));
		snprintf(advice->reason, sizeof(advice->reason),
				 strcmp(p.why, "tier") == 0 ?
				 "%d segments of one tier (%llu docs) to merge; %u segments" :
				 strcmp(p.why, "small") == 0 ?
				 "%d small segments (%llu docs) to merge; %u segments" :
				 "%d segment with %llu docs and deleted ones to rewrite; %u segments",
				 p.n, (unsigned long long) p.docs, m.nsegments);
	}
	else if (Bm25DeltaNeedsPurge(&m))
	{
		advice->action = LANCE_MAINT_INPLACE;
		strlcpy(advice->task, "merge", sizeof(advice->task));
		snprintf(advice->reason, sizeof(advice->reason),
				 "%u of %u docs of the delta deleted",
				 m.delta_ndeleted, m.delta_ndocs);
	}
}

/*
 * Merge in place until the maintenance policy has nothing left (bounded
 * rounds).  Holds the structure lock in share mode (VACUUM cannot recycle
 * pages being read) and waits for the merge lock (serialises with flushes,
 * write-path merges and bulk deletes); inserts go on into the delta and
 * scans go on with the directory they copied.
 */
void
Bm25Maintain(Relation index, Relation heap, LanceMaintAdvice *advice,
			 StringInfo detail)
{
	int			merged = 0;
	int			inputs = 0;
	uint64		docs = 0;
	bool		flushed = false;
	Bm25MetaPageData m;

	LockPage(index, BM25_LOCK_STRUCT, ShareLock);
	LockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
	/* first the delta, so that its segment can join the merges */
	Bm25ReadMeta(index, &m);
	if (Bm25DeltaNeedsPurge(&m))
		flushed = Bm25FlushDeltaLocked(index, 1);
	for (int round = 0; round < BM25_MAINT_ROUNDS; round++)
	{
		Bm25MergePlan p;

		CHECK_FOR_INTERRUPTS();
		Bm25ReadMeta(index, &m);
		if (!Bm25PlanMaint(&m, &p))
			break;
		Bm25MergeSegments(index, p.ids, p.n);
		merged++;
		inputs += p.n;
		docs += p.docs;
	}
	UnlockPage(index, BM25_LOCK_MERGE, ExclusiveLock);
	UnlockPage(index, BM25_LOCK_STRUCT, ShareLock);

	Bm25ReadMeta(index, &m);
	appendStringInfo(detail, "%d merges of %d segments (%llu docs); %u segments now",
					 merged, inputs, (unsigned long long) docs, m.nsegments);
	if (flushed)
		appendStringInfoString(detail, "; delta flushed");
}
