/*
 * lance_compact.c
 *	  Planning a compaction the way LanceDB's compact_files chooses
 *	  fragments, and encoding the row ids that rewritten rows keep.
 *
 * Fragments stay in manifest order: only runs of adjacent candidates are
 * merged, so rows keep their relative order and a merged fragment replaces
 * its run in place.
 */
#include "lance_write.h"

#include "lance_pb.h"

static uint64_t
deleted_rows(const LanceFragment *f)
{
	if (!f->deletion.present)
		return 0;
	return f->deletion.num_deleted_rows < f->physical_rows ?
		f->deletion.num_deleted_rows : f->physical_rows;
}

/* Deletions worth materializing on their own. */
static bool
too_many_deleted(const LanceFragment *f, const LanceCompactOptions *opt)
{
	uint64_t	d = deleted_rows(f);

	return opt->materialize_deletions && d > 0 && f->physical_rows > 0 &&
		(double) d / (double) f->physical_rows > opt->deletion_threshold;
}

bool
lance_compact_candidate(const LanceFragment *f, const LanceCompactOptions *opt)
{
	return f->physical_rows - deleted_rows(f) < opt->target_rows || too_many_deleted(f, opt);
}

int
lance_compact_plan(const LanceManifest *m, const LanceCompactOptions *opt,
				   LanceCompactBin **bins, LanceError *err)
{
	LanceCompactBin *out;
	int			nbins = 0;
	int			i = 0;

	*bins = NULL;
	out = lance_alloc0(sizeof(LanceCompactBin) * (m->nfragments + 1), err);
	if (out == NULL)
		return -1;
	while (i < m->nfragments)
	{
		LanceCompactBin b;
		bool		materialize = false;

		if (!lance_compact_candidate(&m->fragments[i], opt))
		{
			i++;
			continue;
		}
		/* a bin: adjacent candidates until about target rows */
		b.first = i;
		b.n = 0;
		b.live_rows = 0;
		while (i < m->nfragments && lance_compact_candidate(&m->fragments[i], opt) &&
			   (b.n == 0 || b.live_rows < opt->target_rows))
		{
			const LanceFragment *f = &m->fragments[i];

			b.live_rows += f->physical_rows - deleted_rows(f);
			materialize |= too_many_deleted(f, opt);
			b.n++;
			i++;
		}
		if (b.n > 1 || materialize)
			out[nbins++] = b;
	}
	*bins = out;
	return nbins;
}

/* ---- row id sequences ---- */

static bool
add_segment(Lancepb__RowIdSequence *seq, Lancepb__U64Segment *seg, LanceError *err)
{
	Lancepb__U64Segment **p = lance_realloc(seq->segments,
											sizeof(void *) * (seq->n_segments + 1), err);

	if (p == NULL)
		return false;
	seq->segments = p;
	seq->segments[seq->n_segments++] = seg;
	return true;
}

/* Runs shorter than this go into an array segment with their neighbours. */
#define MIN_RANGE_RUN	8

bool
lance_row_ids_encode(const uint64_t *ids, uint64_t n, uint8_t **out, uint64_t *outlen,
					 LanceError *err)
{
	Lancepb__RowIdSequence seq;
	uint64_t	i = 0;
	uint64_t	arr_start = 0;
	size_t		size;
	bool		ok = true;

	*out = NULL;
	*outlen = 0;
	lancepb__row_id_sequence__init(&seq);
	while (ok && i <= n)
	{
		uint64_t	run = 1;

		if (i < n)
			while (i + run < n && ids[i + run] == ids[i] + run)
				run++;
		/* flush pending singles before a long run or at the end */
		if ((i == n || run >= MIN_RANGE_RUN) && arr_start < i)
		{
			Lancepb__U64Segment *seg = lance_alloc0(sizeof(*seg), err);
			Lancepb__EncodedU64Array *ea = lance_alloc0(sizeof(*ea), err);
			Lancepb__U64Array *ua = lance_alloc0(sizeof(*ua), err);

			if (!seg || !ea || !ua)
				return false;
			lancepb__u64_array__init(ua);
			ua->values.data = (uint8_t *) (ids + arr_start);	/* little-endian host */
			ua->values.len = (i - arr_start) * 8;
			lancepb__encoded_u64_array__init(ea);
			ea->array_case = LANCEPB__ENCODED_U64_ARRAY__ARRAY_U64_ARRAY;
			ea->u64_array = ua;
			lancepb__u64_segment__init(seg);
			seg->segment_case = LANCEPB__U64_SEGMENT__SEGMENT_ARRAY;
			seg->array = ea;
			ok = add_segment(&seq, seg, err);
		}
		if (i == n)
			break;
		if (run >= MIN_RANGE_RUN)
		{
			Lancepb__U64Segment *seg = lance_alloc0(sizeof(*seg), err);
			Lancepb__RangeSegment *rs = lance_alloc0(sizeof(*rs), err);

			if (!seg || !rs)
				return false;
			lancepb__range_segment__init(rs);
			rs->start = ids[i];
			rs->end = ids[i] + run;
			lancepb__u64_segment__init(seg);
			seg->segment_case = LANCEPB__U64_SEGMENT__SEGMENT_RANGE;
			seg->range = rs;
			ok = add_segment(&seq, seg, err);
			i += run;
			arr_start = i;
		}
		else
			i += run;
	}
	if (!ok)
		return false;
	size = protobuf_c_message_get_packed_size(&seq.base);
	*out = lance_alloc(size + 1, err);
	if (*out == NULL)
		return false;
	*outlen = protobuf_c_message_pack(&seq.base, *out);
	return true;
}
