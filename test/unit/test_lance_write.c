/*
 * test_lance_write.c
 *	  Unit tests of the Lance writer (src/fdw/lance/lance_write.c,
 *	  lance_commit.c): data files of format 2.1 and 2.2 read back by the C
 *	  reader value by value (many chunks, nulls, strings, vectors, bools), and
 *	  an append committed onto a copy of the LanceDB-written fixture: new
 *	  version, fragment id, row count, concurrent-commit rebase; a rewrite
 *	  (compaction) commit and its conflict; row id sequences; the compaction
 *	  plan; nested fields of LanceDB datasets (lists of lists, structs
 *	  holding lists, lists of structs) re-encoded and compared row by row,
 *	  and long runs of NULL and empty lists split over pages.
 *	  Interoperability with LanceDB itself is tested in test/t/025.
 */
#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_manifest.h"
#include "fdw/lance/lance_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "unit_check.h"
#include "lance_write_check.h"

#define NROWS 10000

static int
field_by_name(const LanceManifest *m, const char *name)
{
	int			i;

	for (i = 0; i < m->nfields; i++)
		if (strcmp(m->fields[i].name, name) == 0)
			return i;
	return -1;
}

/* Fills the fixture's four columns (id, label, vec, hv) with NROWS rows. */
static bool
fill(const LanceManifest *m, LanceColBuf *cols, LanceError *err)
{
	const char *names[4] = {"id", "label", "vec", "hv"};
	int			c;
	uint64_t	i;

	for (c = 0; c < 4; c++)
	{
		int			f = field_by_name(m, names[c]);

		if (f < 0 || !lance_colbuf_init(&cols[c], m, f, err))
			return false;
	}
	for (i = 0; i < NROWS; i++)
	{
		int64_t		id = (int64_t) i * 7 - 3;
		char		s[64];
		float		v[4];
		uint16_t	h[4];
		int			k;

		snprintf(s, sizeof(s), "label-%llu%s", (unsigned long long) i,
				 i % 13 == 0 ? "-with-a-longer-tail-to-vary-sizes" : "");
		for (k = 0; k < 4; k++)
		{
			v[k] = (float) i + k * 0.25f;
			h[k] = (uint16_t) (0x3c00 + k);
		}
		if (!lance_colbuf_push(&cols[0], &id, 8, false, err) ||
			!lance_colbuf_push(&cols[1], s, strlen(s), i % 5 == 0, err) ||
			!lance_colbuf_push(&cols[2], v, 16, i % 7 == 3, err) ||
			!lance_colbuf_push(&cols[3], h, 8, false, err))
			return false;
	}
	return true;
}

/* Reads every field of data file df back and compares with the buffers. */
static void
verify(LanceFileReader *f, const LanceManifest *m, const LanceDataFile *df, LanceColBuf *cols,
	   const char *what)
{
	int			c;

	for (c = 0; c < 4; c++)
	{
		LanceVector v;
		LanceError	err = {0};
		uint64_t	bad;

		memset(&v, 0, sizeof(v));
		if (!lance_read_field(f, m, df, cols[c].field, &v, &err))
		{
			CHECK(false, "%s: read column %d: %s", what, c, err.msg);
			continue;
		}
		CHECK(v.n == NROWS, "%s: column %d has %llu rows", what, c, (unsigned long long) v.n);
		bad = leaf_rows_differ(&v, &cols[c], NROWS);
		CHECK(bad == 0, "%s: column %d: %llu rows differ", what, c, (unsigned long long) bad);
		lance_vector_free(&v);
	}
}

static void
test_roundtrip(const LanceManifest *m, uint16_t minor)
{
	LanceColBuf cols[4];
	LanceBuf	file = {0};
	LanceError	err = {0};
	LanceFileReader f;
	LanceDataFile df;
	int32_t		ids[4];
	int32_t		idx[4] = {0, 1, 2, 3};
	char		what[32];
	int			c;

	snprintf(what, sizeof(what), "roundtrip 2.%u", minor);
	CHECK(fill(m, cols, &err), "%s: fill: %s", what, err.msg);
	CHECK(lance_encode_data_file(&file, m, cols, 4, 2, minor, &err), "%s: encode: %s", what, err.msg);
	CHECK(lance_file_open_mem(&f, file.data, file.len, "mem", &err), "%s: open: %s", what, err.msg);
	if (err.set)
		return;
	CHECK(f.nrows == NROWS && f.ncolumns == 4 && f.minor == minor, "%s: footer", what);
	for (c = 0; c < 4; c++)
		ids[c] = m->fields[cols[c].field].id;
	memset(&df, 0, sizeof(df));
	df.path = "mem";
	df.nfields = 4;
	df.fields = ids;
	df.column_indices = idx;
	df.major = 2;
	df.minor = minor;
	verify(&f, m, &df, cols, what);
	lance_file_close(&f);
	lance_buf_free(&file);
	for (c = 0; c < 4; c++)
		lance_colbuf_free(&cols[c]);

	/* a format it does not write (2.3) is refused with a message, not written wrongly */
	memset(&err, 0, sizeof(err));
	CHECK(!lance_encode_data_file(&file, m, cols, 0, 2, 3, &err) && err.set, "2.3 refused");
	lance_buf_free(&file);
}

/* Compaction commits: the two appended fragments replaced by one, then a conflict. */
static void
test_rewrite(const char *ds, const LanceManifest *m, const LanceNewFragment *nf)
{
	LanceError	err = {0};
	LanceRewriteGroup g;
	LanceCommitResult res;
	uint64_t	old[2];
	uint64_t	v;
	char		mpath[1024];
	LanceManifest *m3;
	int			dropped = 0;
	bool		conflict = false;

	old[0] = m->fragments[m->nfragments - 2].id;
	old[1] = m->fragments[m->nfragments - 1].id;
	g.nold = 2;
	g.old_ids = old;
	g.nnew = 1;
	g.new_frags = nf;
	CHECK(lance_commit_rewrite(ds, m->version, &g, 1, "lancedb-pg", "test", &res, &dropped,
							   &conflict, &err), "rewrite: %s", err.msg);
	CHECK(res.version == m->version + 1 && dropped == 0, "rewrite version %llu",
		  (unsigned long long) res.version);
	CHECK(lance_manifest_path(ds, 0, mpath, sizeof(mpath), &v, &err), "latest: %s", err.msg);
	m3 = lance_manifest_load(mpath, &err);
	CHECK(m3 != NULL, "reload: %s", err.msg);
	if (m3)
	{
		const LanceFragment *f = &m3->fragments[m3->nfragments - 1];

		CHECK(m3->nfragments == m->nfragments - 1, "fragments after rewrite %d", m3->nfragments);
		CHECK(f->id == old[1] + 1 && f->physical_rows == NROWS, "new fragment id %llu",
			  (unsigned long long) f->id);
		lance_manifest_free(m3);
	}
	/* the same rewrite from the old version: its fragments are gone */
	CHECK(!lance_commit_rewrite(ds, m->version, &g, 1, "lancedb-pg", "test", &res, &dropped,
								&conflict, &err) && conflict && strstr(err.msg, "removed") != NULL,
		  "conflicting rewrite: %s", err.msg);
	/* and nothing was committed by it */
	CHECK(lance_manifest_path(ds, 0, mpath, sizeof(mpath), &v, &err) && v == m->version + 1,
		  "latest after conflict %llu", (unsigned long long) v);
}

/* Row ids: encode, decode, same ids; ranges where runs are long. */
static void
test_row_ids(void)
{
	static uint64_t ids[5000];
	uint64_t	back[5000];
	uint8_t    *buf;
	uint64_t	len,
				i;
	int			k;
	LanceError	err = {0};

	for (k = 0; k < 3; k++)
	{
		uint64_t	n = 5000;

		for (i = 0; i < n; i++)
			ids[i] = k == 0 ? 100 + i			/* one range */
				: k == 1 ? 7 * i + (i % 3)		/* scattered */
				: (i < 2000 ? i : i < 2010 ? 90000 + 3 * i : i + 50);	/* mixed */
		CHECK(lance_row_ids_encode(ids, n, &buf, &len, &err), "encode: %s", err.msg);
		memset(back, 0, sizeof(back));
		CHECK(lance_row_ids_decode(buf, len, n, back, &err), "decode %d: %s", k, err.msg);
		CHECK(memcmp(ids, back, n * 8) == 0, "row ids round trip %d", k);
		if (k == 0)
			CHECK(len < 16, "a single range is a few bytes, not %llu", (unsigned long long) len);
		CHECK(!lance_row_ids_decode(buf, len, n - 1, back, &err), "count mismatch detected");
		lance_free(buf);
	}
}

/* Arrow IPC deletion files read back by the reader. */
static void
test_arrow_deletions(void)
{
	static uint32_t offs[4999];
	LanceError	err = {0};
	uint32_t	counts[] = {1, 2, 7, 100, 4999};
	int			k;

	for (k = 0; k < 5; k++)
	{
		uint32_t	n = counts[k];
		uint64_t	nrows = 20000;
		LanceBuf	b = {0};
		uint8_t    *bits;
		uint32_t	i;
		uint64_t	r,
					set = 0;
		bool		same = true;

		for (i = 0; i < n; i++)
			offs[i] = 3 * i + (uint32_t) k;
		CHECK(lance_arrow_deletion_encode(offs, n, &b, &err), "arrow encode: %s", err.msg);
		CHECK(b.len % 8 == 0 || memcmp(b.data + b.len - 6, "ARROW1", 6) == 0, "arrow trailer");
		bits = lance_deletion_parse(b.data, b.len, LANCE_DELETION_ARROW, nrows, "test", &err);
		CHECK(bits != NULL, "arrow parse %u: %s", n, err.msg);
		if (bits)
		{
			for (r = 0; r < nrows; r++)
			{
				bool		want = r % 3 == (uint64_t) k % 3 && r >= (uint64_t) k &&
					(r - k) / 3 < n;

				if (((bits[r >> 3] >> (r & 7)) & 1) != want)
					same = false;
				set += (bits[r >> 3] >> (r & 7)) & 1;
			}
			CHECK(same && set == n, "arrow deletions %u read back (%llu set)", n,
				  (unsigned long long) set);
			lance_free(bits);
		}
		lance_buf_free(&b);
	}
}

/* The compaction plan on made-up fragments. */
static void
test_plan(void)
{
	LanceManifest m;
	LanceFragment f[12];
	LanceCompactOptions opt = {1000, true, 0.1};
	LanceCompactBin *bins;
	LanceError	err = {0};
	int			n,
				i;
	static const uint64_t rows1[] = {100, 2000, 100, 100, 50};

	memset(&m, 0, sizeof(m));
	memset(f, 0, sizeof(f));
	m.fragments = f;
	/* small runs merge; a lone small fragment between big ones stays */
	for (i = 0; i < 5; i++)
	{
		f[i].id = i;
		f[i].physical_rows = rows1[i];
	}
	m.nfragments = 5;
	n = lance_compact_plan(&m, &opt, &bins, &err);
	CHECK(n == 1 && bins[0].first == 2 && bins[0].n == 3 && bins[0].live_rows == 250,
		  "plan 1: %d bins", n);
	lance_free(bins);
	/* many deletions: rewritten alone, unless materialize_deletions is off */
	f[1].deletion.present = true;
	f[1].deletion.num_deleted_rows = 500;
	m.nfragments = 2;
	f[0].physical_rows = 5000;
	n = lance_compact_plan(&m, &opt, &bins, &err);
	CHECK(n == 1 && bins[0].first == 1 && bins[0].n == 1 && bins[0].live_rows == 1500,
		  "plan 2: %d bins", n);
	lance_free(bins);
	opt.materialize_deletions = false;
	n = lance_compact_plan(&m, &opt, &bins, &err);
	CHECK(n == 0, "plan 3: %d bins", n);
	lance_free(bins);
	opt.materialize_deletions = true;
	/* ten fragments of 300 rows, target 1000: bins of 4, 4 and 2 */
	memset(f, 0, sizeof(f));
	for (i = 0; i < 10; i++)
	{
		f[i].id = i;
		f[i].physical_rows = 300;
	}
	m.nfragments = 10;
	n = lance_compact_plan(&m, &opt, &bins, &err);
	CHECK(n == 3 && bins[0].n == 4 && bins[1].n == 4 && bins[2].n == 2 && bins[2].first == 8,
		  "plan 4: %d bins", n);
	lance_free(bins);
}

static void
test_commit(const char *fixture)
{
	char		dir[256],
				cmd[1024],
				ds[512],
				path[1024],
				mpath[1024],
				name[80];
	LanceError	err = {0};
	LanceManifest *m,
			   *m2;
	LanceColBuf cols[4];
	LanceNewFragment nf;
	LanceCommitResult res;
	int32_t		ids[4];
	uint64_t	v0,
				size = 0;
	bool		conflict;
	int			c;

	snprintf(dir, sizeof(dir), "/tmp/test_lance_write.%d", (int) getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s && cp -r %s %s/", dir, dir, fixture, dir);
	if (system(cmd) != 0)
	{
		CHECK(false, "copy fixture");
		return;
	}
	snprintf(ds, sizeof(ds), "%s/items.lance", dir);
	CHECK(lance_manifest_path(ds, 0, mpath, sizeof(mpath), &v0, &err), "latest: %s", err.msg);
	m = lance_manifest_load(mpath, &err);
	CHECK(m != NULL, "load: %s", err.msg);
	if (m == NULL)
		return;
	CHECK(fill(m, cols, &err), "fill: %s", err.msg);
	lance_random_hex(name, 16);
	strcat(name, ".lance");
	snprintf(path, sizeof(path), "%s/data/%s", ds, name);
	CHECK(lance_write_data_file(path, m, cols, 4, 2, 1, &size, &err), "write: %s", err.msg);
	for (c = 0; c < 4; c++)
		ids[c] = m->fields[cols[c].field].id;
	memset(&nf, 0, sizeof(nf));
	nf.file = name;
	nf.nrows = NROWS;
	nf.size_bytes = size;
	nf.nfields = 4;
	nf.field_ids = ids;
	nf.major = 2;
	nf.minor = 1;

	/* first commit: version v0 + 1 */
	CHECK(lance_commit_append(ds, v0, &nf, 1, "lancedb-pg", "test", &res, &conflict, &err),
		  "commit: %s", err.msg);
	CHECK(res.version == v0 + 1 && res.retries == 0, "version %llu retries %d",
		  (unsigned long long) res.version, res.retries);
	/* a second append still based on v0 rebases over the first */
	CHECK(lance_commit_append(ds, v0, &nf, 1, "lancedb-pg", "test", &res, &conflict, &err),
		  "rebase commit: %s", err.msg);
	CHECK(res.version == v0 + 2, "rebased version %llu", (unsigned long long) res.version);

	CHECK(lance_manifest_path(ds, 0, mpath, sizeof(mpath), &v0, &err), "latest: %s", err.msg);
	m2 = lance_manifest_load(mpath, &err);
	CHECK(m2 != NULL, "reload: %s", err.msg);
	if (m2)
		test_rewrite(ds, m2, &nf);
	if (m2)
	{
		const LanceFragment *a = &m2->fragments[m2->nfragments - 2];
		const LanceFragment *b = &m2->fragments[m2->nfragments - 1];
		LanceFileReader f;

		CHECK(m2->nfragments == m->nfragments + 2, "fragments %d", m2->nfragments);
		CHECK(b->id == a->id + 1 && a->physical_rows == NROWS, "fragment ids %llu %llu",
			  (unsigned long long) a->id, (unsigned long long) b->id);
		CHECK(strcmp(m2->writer_library, "lancedb-pg") == 0, "writer");
		snprintf(path, sizeof(path), "%s/data/%s", ds, b->files[0].path);
		CHECK(lance_file_open(&f, path, &err), "open: %s", err.msg);
		if (!err.set)
		{
			verify(&f, m2, &b->files[0], cols, "committed");
			lance_file_close(&f);
		}
		lance_manifest_free(m2);
	}
	for (c = 0; c < 4; c++)
		lance_colbuf_free(&cols[c]);
	lance_manifest_free(m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void) system(cmd);
}

/* ---- nested fields: lists of lists, structs holding lists, long runs ---- */

/* Whether row i of a equals row j of b (same field), recursively. */
static bool
vec_row_equal(const LanceVector *a, uint64_t i, const LanceVector *b, uint64_t j)
{
	int			k;

	if (i >= a->n || j >= b->n)
		return false;
	if (lance_vector_is_valid(a, i) != lance_vector_is_valid(b, j))
		return false;
	if (!lance_vector_is_valid(a, i))
		return true;
	switch (a->type.kind)
	{
		case LANCE_T_LIST:
		case LANCE_T_LARGE_LIST:
			{
				uint64_t	n = a->offsets[i + 1] - a->offsets[i];
				uint64_t	q;

				if (b->offsets == NULL || b->offsets[j + 1] - b->offsets[j] != n ||
					a->nchildren != 1 || b->nchildren != 1)
					return false;
				for (q = 0; q < n; q++)
					if (!vec_row_equal(&a->children[0], a->offsets[i] + q,
									   &b->children[0], b->offsets[j] + q))
						return false;
				return true;
			}
		case LANCE_T_STRUCT:
			if (a->nchildren != b->nchildren)
				return false;
			for (k = 0; k < a->nchildren; k++)
				if (!vec_row_equal(&a->children[k], i, &b->children[k], j))
					return false;
			return true;
		default:
			if (a->offsets != NULL)
			{
				uint64_t	n = a->offsets[i + 1] - a->offsets[i];

				return b->offsets != NULL && b->offsets[j + 1] - b->offsets[j] == n &&
					memcmp(a->values + a->offsets[i], b->values + b->offsets[j], n) == 0;
			}
			return a->width == b->width &&
				memcmp(a->values + i * a->width, b->values + j * b->width, a->width) == 0;
	}
}

/*
 * Encodes columns cols[0..ncols) (leaves of top-level field `field`) as a
 * file of format 2.minor, reads the field back into *out.
 */
static bool
encode_and_read(const LanceManifest *m, int field, LanceColBuf *cols, int ncols, uint16_t minor,
				LanceVector *out, uint64_t *pages, LanceError *err)
{
	LanceBuf	file = {0};
	LanceFileReader f;
	LanceDataFile df;
	int32_t		ids[64];
	int32_t		idx[64];
	int			c;
	bool		ok;

	if (ncols > 64)
		return lance_fail(err, "too many columns");
	for (c = 0; c < ncols; c++)
	{
		ids[c] = m->fields[cols[c].field].id;
		idx[c] = c;
	}
	if (!lance_encode_data_file(&file, m, cols, ncols, 2, minor, err) ||
		!lance_file_open_mem(&f, file.data, file.len, "mem", err))
	{
		lance_buf_free(&file);
		return false;
	}
	memset(&df, 0, sizeof(df));
	df.path = "mem";
	df.nfields = ncols;
	df.fields = ids;
	df.column_indices = idx;
	df.major = 2;
	df.minor = minor;
	memset(out, 0, sizeof(*out));
	ok = lance_read_field(&f, m, &df, field, out, err);
	if (pages != NULL)
		*pages = f.ncolumns > 0 ? f.columns[0].npages : 0;
	lance_file_close(&f);
	lance_buf_free(&file);
	return ok;
}

/*
 * Every nested field of a LanceDB-written dataset (its first fragment)
 * re-encoded by the writer, read back by the reader, compared row by row.
 */
static void
test_nested_dataset(const char *ds, uint16_t minor)
{
	char		mpath[2048];
	char		fpath[2048];
	uint64_t	v;
	LanceError	err = {0};
	LanceManifest *m;
	LanceFileReader f;
	const LanceFragment *fr;
	int			i;

	if (!lance_manifest_path(ds, 0, mpath, sizeof(mpath), &v, &err) ||
		(m = lance_manifest_load(mpath, &err)) == NULL)
	{
		CHECK(false, "%s: %s", ds, err.msg);
		return;
	}
	fr = &m->fragments[0];
	snprintf(fpath, sizeof(fpath), "%s/data/%s", ds, fr->files[0].path);
	if (!lance_file_open(&f, fpath, &err))
	{
		CHECK(false, "%s: %s", fpath, err.msg);
		lance_manifest_free(m);
		return;
	}
	for (i = 0; i < m->nfields; i++)
	{
		const LanceField *fl = &m->fields[i];
		LanceColBuf *cols;
		LanceVector src,
					back;
		int			n,
					c;
		uint64_t	r,
					bad = 0;

		if (fl->parent_id != -1 || (fl->type.kind != LANCE_T_LIST && fl->type.kind != LANCE_T_STRUCT))
			continue;
		memset(&src, 0, sizeof(src));
		memset(&err, 0, sizeof(err));
		if (!lance_read_field(&f, m, &fr->files[0], i, &src, &err))
		{
			CHECK(false, "%s %s: read: %s", ds, fl->name, err.msg);
			continue;
		}
		cols = calloc(m->nfields, sizeof(LanceColBuf));
		n = lance_colbuf_init_field(cols, m, i, &err);
		CHECK(n > 0, "%s %s: init: %s", ds, fl->name, err.msg);
		{
			/* the fixed shapes (a 2.0 encoder's) are told from deeper nesting */
			bool		deep = strcmp(fl->name, "ll") == 0 || strcmp(fl->name, "lls") == 0 ||
				strcmp(fl->name, "sl") == 0 || strcmp(fl->name, "lsl") == 0;
			int			simple = 0;

			for (c = 0; c < n; c++)
				simple += lance_colbuf_simple_shape(&cols[c], m);
			CHECK(deep ? simple < n : simple == n, "%s %s: %d of %d columns of a simple shape",
				  ds, fl->name, simple, n);
		}
		for (c = 0; c < n; c++)
			for (r = 0; r < src.n && !err.set; r++)
				lance_colbuf_push_vector(&cols[c], m, &src, r, &err);
		CHECK(!err.set, "%s %s: push: %s", ds, fl->name, err.msg);
		if (n > 0 && !err.set && encode_and_read(m, i, cols, n, minor, &back, NULL, &err))
		{
			CHECK(back.n == src.n, "%s %s: %llu rows back of %llu", ds, fl->name,
				  (unsigned long long) back.n, (unsigned long long) src.n);
			for (r = 0; r < src.n && r < back.n; r++)
				bad += !vec_row_equal(&src, r, &back, r);
			CHECK(bad == 0 && src.n > 100, "%s %s (%s): %llu of %llu rows differ", ds, fl->name,
				  fl->logical_type, (unsigned long long) bad, (unsigned long long) src.n);
			lance_vector_free(&back);
		}
		else
			CHECK(false, "%s %s: encode/read: %s", ds, fl->name, err.msg);
		for (c = 0; c < (n > 0 ? n : 0); c++)
			lance_colbuf_free(&cols[c]);
		free(cols);
		lance_vector_free(&src);
	}
	lance_file_close(&f);
	lance_manifest_free(m);
}

/*
 * Long runs of NULL and empty lists (beyond one 32 KiB 2.1 chunk), alone and
 * between items, in a list<int32> and a list<list<int32>>: rows pushed
 * level by level, read back and checked against the pattern.
 */
static int
run_kind(uint64_t r, int pattern)
{
	/* 0 NULL list, 1 empty list, 2 items */
	switch (pattern)
	{
		case 0:
			return 0;
		case 1:
			return 1;
		case 2:
			return r < 100000 ? 0 : (r < 200000 ? 1 : 2);
		default:
			return (r % 50000) == 7 ? 2 : (int) ((r / 9000) % 2);
	}
}

static void
test_long_runs(const char *ds, uint16_t minor, const char *fname, uint64_t nrows)
{
	char		mpath[2048];
	uint64_t	v;
	LanceError	err = {0};
	LanceManifest *m;
	int			field;
	int			pattern;

	if (!lance_manifest_path(ds, 0, mpath, sizeof(mpath), &v, &err) ||
		(m = lance_manifest_load(mpath, &err)) == NULL)
	{
		CHECK(false, "%s: %s", ds, err.msg);
		return;
	}
	field = field_by_name(m, fname);
	for (pattern = 0; pattern < 4 && field >= 0; pattern++)
	{
		LanceColBuf c;
		LanceVector back;
		uint64_t	r,
					bad = 0,
					pages = 0;
		bool		ll;

		memset(&err, 0, sizeof(err));
		if (lance_colbuf_init_field(&c, m, field, &err) != 1)
		{
			CHECK(false, "%s %s: init: %s", ds, fname, err.msg);
			break;
		}
		ll = c.nlists == 2;
		for (r = 0; r < nrows && !err.set; r++)
		{
			int			kind = run_kind(r, pattern);
			int32_t		x = (int32_t) r;

			/* list<list>: a NULL or empty outer list, or [[r, NULL], []] */
			if (kind < 2)
				lance_colbuf_level(&c, c.nlists, lance_colbuf_def(&c, 0, kind == 1), NULL, 0, &err);
			else if (!ll)
			{
				lance_colbuf_level(&c, 1, 0, &x, 4, &err);
				lance_colbuf_level(&c, 0, 1, NULL, 0, &err);
			}
			else
			{
				lance_colbuf_level(&c, 2, 0, &x, 4, &err);
				lance_colbuf_level(&c, 0, 1, NULL, 0, &err);
				lance_colbuf_level(&c, 1, lance_colbuf_def(&c, 1, true), NULL, 0, &err);
			}
		}
		CHECK(!err.set && lance_colbuf_rows(&c) == nrows, "%s %s pattern %d: push: %s", ds, fname,
			  pattern, err.msg);
		if (encode_and_read(m, field, &c, 1, minor, &back, &pages, &err))
		{
			for (r = 0; r < nrows && r < back.n; r++)
			{
				int			kind = run_kind(r, pattern);
				bool		valid = lance_vector_is_valid(&back, r);
				uint64_t	n = back.offsets[r + 1] - back.offsets[r];

				if (kind == 0)
					bad += valid;
				else if (kind == 1)
					bad += !valid || n != 0;
				else if (!valid || n != (ll ? 2u : 2u))
					bad++;
				else if (!ll)
				{
					const LanceVector *it = &back.children[0];
					uint64_t	o = back.offsets[r];

					bad += !lance_vector_is_valid(it, o) || lance_vector_is_valid(it, o + 1) ||
						memcmp(it->values + o * 4, &(int32_t) {(int32_t) r}, 4) != 0;
				}
				else
				{
					const LanceVector *in = &back.children[0];
					const LanceVector *it = &in->children[0];
					uint64_t	o = back.offsets[r];
					uint64_t	io = in->offsets[o];

					bad += in->offsets[o + 1] - io != 2 || in->offsets[o + 2] != in->offsets[o + 1] ||
						!lance_vector_is_valid(in, o + 1) ||
						!lance_vector_is_valid(it, io) || lance_vector_is_valid(it, io + 1) ||
						memcmp(it->values + io * 4, &(int32_t) {(int32_t) r}, 4) != 0;
				}
			}
			CHECK(back.n == nrows && bad == 0 && pages > 1,
				  "2.%u %s pattern %d: %llu rows back, %llu bad, %llu pages", minor, fname, pattern,
				  (unsigned long long) back.n, (unsigned long long) bad, (unsigned long long) pages);
			lance_vector_free(&back);
		}
		else
			CHECK(false, "2.%u %s pattern %d: encode/read: %s", minor, fname, pattern, err.msg);
		lance_colbuf_free(&c);
	}
	CHECK(field >= 0, "%s: no field %s", ds, fname);
	lance_manifest_free(m);
}

int
main(void)
{
	const char *fixture = "../lance/fixture/items.lance";
	char		mpath[1024];
	uint64_t	v;
	LanceError	err = {0};
	LanceManifest *m;

	if (!lance_manifest_path(fixture, 0, mpath, sizeof(mpath), &v, &err) ||
		(m = lance_manifest_load(mpath, &err)) == NULL)
	{
		printf("fixture: %s\n0 passed, 1 failed\n", err.msg);
		return 1;
	}
	test_roundtrip(m, 1);
	test_roundtrip(m, 2);
	lance_manifest_free(m);
	test_commit(fixture);
	test_row_ids();
	test_plan();
	test_arrow_deletions();
	if (getenv("LANCE_TEST_DATA") == NULL)
		printf("skip: LANCE_TEST_DATA not set (nested fields of LanceDB datasets)\n");
	else
	{
		const char *root = getenv("LANCE_TEST_DATA");
		char		ds[2048];

		snprintf(ds, sizeof(ds), "%s/v37/nested_v21.lance", root);
		test_nested_dataset(ds, 1);
		test_long_runs(ds, 1, "ll", 300000);
		snprintf(ds, sizeof(ds), "%s/v39/nested_v22.lance", root);
		test_nested_dataset(ds, 2);
		test_long_runs(ds, 2, "ll", 300000);
		snprintf(ds, sizeof(ds), "%s/v37/alltypes_v21.lance", root);
		test_nested_dataset(ds, 1);
		test_long_runs(ds, 1, "li", 300000);
		snprintf(ds, sizeof(ds), "%s/v39/alltypes_v22.lance", root);
		test_nested_dataset(ds, 2);
		test_long_runs(ds, 2, "li", 300000);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
