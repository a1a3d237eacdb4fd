/*
 * lance_legacy.c
 *	  Reading legacy Lance data files (data storage version 0.1, footer
 *	  version 0.1 / 0.2), which LanceDB still writes on request.
 *
 * Such a file holds the rows in batches.  Each (field, batch) has one page,
 * found through the page table: (u64 position, u64 length) for every field
 * id from the data file's first field id to its largest, batch by batch.
 * Fixed-width values (numbers, dates, timestamps, decimals, fixed-size
 * lists) are stored plain, `length` values without validity (LanceDB reads
 * them back as they are); bools are a bitmap; strings and binaries are
 * length + 1 u64 file positions, an empty value of a nullable field
 * being NULL; structs are their children.  Lists and dictionary types
 * are refused with an error naming the column.
 */
#include "lance_file.h"
#include "lance_page.h"
#include "lance_pb.h"

#include <string.h>

/* Largest legacy metadata message and batch count accepted. */
#define LEGACY_MAX_BATCHES	(1u << 20)

bool
lance_legacy_open(LanceFileReader *f, uint64_t meta_pos, LanceError *err)
{
	uint8_t		lenb[4];
	uint64_t	len;
	uint8_t    *raw;
	Lancepb__LegacyMetadata *md;
	size_t		i;
	bool		ok = true;

	if (!lance_range_ok(meta_pos, 4, f->r.size - 16))
		return lance_fail(err, "file \"%s\": legacy metadata position %llu is outside the file",
						  f->r.name, (unsigned long long) meta_pos);
	if (!lance_reader_read(&f->r, meta_pos, 4, lenb, err))
		return false;
	len = lance_le32(lenb);
	if (!lance_range_ok(meta_pos + 4, len, f->r.size - 16) || len > LANCE_MAX_PB_BYTES)
		return lance_fail(err, "file \"%s\": corrupt legacy metadata", f->r.name);
	raw = lance_reader_read_alloc(&f->r, meta_pos + 4, len, err);
	if (raw == NULL)
		return false;
	md = lancepb__legacy_metadata__unpack(&lance_pb_allocator, len, raw);
	lance_free(raw);
	if (md == NULL)
		return lance_fail(err, "file \"%s\": invalid legacy metadata", f->r.name);
	if (md->n_batch_offsets < 1 || md->n_batch_offsets > LEGACY_MAX_BATCHES + 1)
		ok = lance_fail(err, "file \"%s\": legacy metadata with %zu batch offsets",
						f->r.name, md->n_batch_offsets);
	else
	{
		f->nbatches = (uint32_t) (md->n_batch_offsets - 1);
		f->batch_start = lance_alloc_array(md->n_batch_offsets, sizeof(uint64_t), err);
		ok = f->batch_start != NULL;
	}
	for (i = 0; ok && i < md->n_batch_offsets; i++)
	{
		if (md->batch_offsets[i] < 0 || (i > 0 && md->batch_offsets[i] < md->batch_offsets[i - 1]))
			ok = lance_fail(err, "file \"%s\": legacy batch offsets out of order", f->r.name);
		else
			f->batch_start[i] = (uint64_t) md->batch_offsets[i];
	}
	if (ok && f->batch_start[0] != 0)
		ok = lance_fail(err, "file \"%s\": first legacy batch starts at row %llu", f->r.name,
						(unsigned long long) f->batch_start[0]);
	if (ok)
	{
		f->nrows = f->batch_start[f->nbatches];
		f->page_table_pos = md->page_table_position;
	}
	lancepb__legacy_metadata__free_unpacked(md, &lance_pb_allocator);
	return ok;
}

/* Position and length of the page of field id `fid` in batch b. */
static bool
page_of(LanceFileReader *f, const LanceDataFile *df, int32_t fid, uint32_t b,
		uint64_t *pos, uint64_t *len, LanceError *err)
{
	int32_t		lo = df->fields[0];
	int32_t		hi = lo;
	int			j;
	uint64_t	ent;
	uint8_t		buf[16];

	for (j = 0; j < df->nfields; j++)
		if (df->fields[j] > hi)
			hi = df->fields[j];
	if (fid < lo || fid > hi)
		return lance_fail(err, "field id %d is not in the page table", fid);
	ent = ((uint64_t) (fid - lo) * f->nbatches + b) * 16;
	if (!lance_range_ok(f->page_table_pos, ent + 16, f->r.size))
		return lance_fail(err, "page table entry of field id %d lies outside the file", fid);
	if (!lance_reader_read(&f->r, f->page_table_pos + ent, 16, buf, err))
		return false;
	*pos = lance_le64(buf);
	*len = lance_le64(buf + 8);
	return true;
}

static bool
grow(uint8_t **p, uint64_t *cap, uint64_t need, LanceError *err)
{
	uint64_t	ncap = *cap ? *cap : 256;
	uint8_t    *np;

	if (need <= *cap)
		return true;
	while (ncap < need)
	{
		if (ncap > (UINT64_C(1) << 62))
			return lance_fail(err, "legacy column too large");
		ncap *= 2;
	}
	np = lance_realloc(*p, ncap, err);
	if (np == NULL)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

/* Field idx for the rows of batches [b0, b1) into out (n rows). */
static bool
read_batches(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df, int idx,
			 uint32_t b0, uint32_t b1, LanceVector *out, int depth, LanceError *err)
{
	const LanceField *fld = &m->fields[idx];
	uint64_t	n = f->batch_start[b1] - f->batch_start[b0];
	uint64_t	cap = 0;
	uint32_t	b;
	int			i;

	memset(out, 0, sizeof(*out));
	out->type = fld->type;
	out->n = n;
	if (depth > 32)
		return lance_fail(err, "column \"%s\" nested too deeply", fld->name);
	switch (fld->type.kind)
	{
		case LANCE_T_STRUCT:
			out->children = lance_alloc_array(fld->nchildren > 0 ? fld->nchildren : 1,
											  sizeof(LanceVector), err);
			if (out->children == NULL)
				return false;
			out->nchildren = fld->nchildren;
			for (i = 0; i < fld->nchildren; i++)
				if (!read_batches(f, m, df, fld->children[i], b0, b1, &out->children[i], depth + 1, err))
					return false;
			return true;
		case LANCE_T_LIST:
		case LANCE_T_LARGE_LIST:
		case LANCE_T_UNSUPPORTED:
			return lance_fail(err, "column \"%s\" of type %s in a legacy (0.1) data file is not supported",
							  fld->name, fld->logical_type);
		default:
			break;
	}
	if (fld->type.kind == LANCE_T_STRING || fld->type.kind == LANCE_T_LARGE_STRING ||
		fld->type.kind == LANCE_T_BINARY || fld->type.kind == LANCE_T_LARGE_BINARY)
	{
		uint64_t	row = 0;

		out->offsets = lance_alloc_array(n + 1, sizeof(uint64_t), err);
		if (out->offsets == NULL)
			return false;
		out->offsets[0] = 0;
		for (b = b0; b < b1; b++)
		{
			uint64_t	rows = f->batch_start[b + 1] - f->batch_start[b];
			uint64_t	pos,
						len,
						k;
			uint8_t    *posv;
			uint64_t	first,
						last;

			if (!page_of(f, df, fld->id, b, &pos, &len, err))
				return false;
			if (len != rows)
				return lance_fail(err, "column \"%s\": page of %llu values in a batch of %llu rows",
								  fld->name, (unsigned long long) len, (unsigned long long) rows);
			if (!lance_range_ok(pos, (rows + 1) * 8, f->r.size))
				return lance_fail(err, "column \"%s\": positions lie outside the file", fld->name);
			posv = lance_reader_read_alloc(&f->r, pos, (rows + 1) * 8, err);
			if (posv == NULL)
				return false;
			first = lance_le64(posv);
			last = lance_le64(posv + rows * 8);
			if (first > last || !lance_range_ok(first, last - first, f->r.size) ||
				!grow(&out->values, &cap, out->values_len + (last - first), err) ||
				(last > first && !lance_reader_read(&f->r, first, last - first,
													out->values + out->values_len, err)))
			{
				lance_free(posv);
				if (err && !err->set)
					lance_fail(err, "column \"%s\": value positions out of range", fld->name);
				return false;
			}
			for (k = 0; k < rows; k++, row++)
			{
				uint64_t	s = lance_le64(posv + k * 8);
				uint64_t	e = lance_le64(posv + (k + 1) * 8);

				if (s > e || s < first || e > last)
				{
					lance_free(posv);
					return lance_fail(err, "column \"%s\": value positions out of order", fld->name);
				}
				out->offsets[row + 1] = out->values_len + (e - first);
				if (s == e && fld->nullable && !lance_vector_set_null(out, row, n, err))
				{
					lance_free(posv);
					return false;
				}
			}
			out->values_len += last - first;
			lance_free(posv);
		}
		if (out->values == NULL && (out->values = lance_alloc(1, err)) == NULL)
			return false;
		return true;
	}
	else
	{
		uint32_t	w;
		bool		isbool = fld->type.kind == LANCE_T_BOOL;

		if (!lance_leaf_width(&fld->type, &w, err))
			return false;
		out->width = w;
		if (!grow(&out->values, &cap, n * (uint64_t) w + 1, err))
			return false;
		for (b = b0; b < b1; b++)
		{
			uint64_t	rows = f->batch_start[b + 1] - f->batch_start[b];
			uint64_t	pos,
						len,
						bytes;

			if (!page_of(f, df, fld->id, b, &pos, &len, err))
				return false;
			if (len != rows)
				return lance_fail(err, "column \"%s\": page of %llu values in a batch of %llu rows",
								  fld->name, (unsigned long long) len, (unsigned long long) rows);
			bytes = isbool ? (rows + 7) / 8 : rows * w;
			if (!lance_range_ok(pos, bytes, f->r.size))
				return lance_fail(err, "column \"%s\": page lies outside the file", fld->name);
			if (isbool)
			{
				uint8_t    *bm = lance_reader_read_alloc(&f->r, pos, bytes ? bytes : 1, err);
				uint64_t	k;

				if (bm == NULL)
					return false;
				for (k = 0; k < rows; k++)
					out->values[out->values_len + k] = (bm[k >> 3] >> (k & 7)) & 1;
				lance_free(bm);
			}
			else if (bytes > 0 && !lance_reader_read(&f->r, pos, bytes, out->values + out->values_len, err))
				return false;
			out->values_len += rows * w;
		}
		return true;
	}
}

bool
lance_read_legacy_field(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df,
						int idx, uint64_t start, uint64_t end, LanceVector *out, uint64_t *span,
						LanceError *err)
{
	uint32_t	b0 = 0,
				b1;

	memset(out, 0, sizeof(*out));
	if (f->batch_start == NULL || df->nfields < 1)
		return lance_fail(err, "file \"%s\" is not an open legacy file", f->r.name);
	if (start > end || end > f->nrows)
		return lance_fail(err, "file \"%s\" has %llu rows, rows [%llu, %llu) were asked for",
						  f->r.name, (unsigned long long) f->nrows, (unsigned long long) start,
						  (unsigned long long) end);
	/* the batches holding [start, end) (at least one, for an empty range) */
	while (b0 + 1 < f->nbatches && f->batch_start[b0 + 1] <= start)
		b0++;
	b1 = b0 + 1;
	while (b1 < f->nbatches && f->batch_start[b1] < end)
		b1++;
	if (f->nbatches == 0)
		b1 = b0;
	*span = f->batch_start[b0];
	if (!read_batches(f, m, df, idx, b0, b1, out, 0, err))
	{
		lance_vector_free(out);
		lance_error_prefix(err, "file \"%s\": ", f->r.name);
		return false;
	}
	return true;
}
