/*
 * test_lance_write.c
 *	  Unit tests of the Lance writer (src/fdw/lance/lance_write.c,
 *	  lance_commit.c): data files of format 2.1 and 2.2 read back by the C
 *	  reader value by value (many chunks, nulls, strings, vectors, bools), and
 *	  an append committed onto a copy of the LanceDB-written fixture: new
 *	  version, fragment id, row count, concurrent-commit rebase; a rewrite
 *	  (compaction) commit and its conflict; row id sequences; the compaction
 *	  plan.
 *	  Interoperability with LanceDB itself is tested in test/t/025.
 */
#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_manifest.h"
#include "fdw/lance/lance_write.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int	passed;
static int	failed;

#define CHECK(cond, ...) \
	do { \
		if (cond) \
			passed++; \
		else \
		{ \
			failed++; \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

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
		uint64_t	i,
					bad = 0;

		memset(&v, 0, sizeof(v));
		if (!lance_read_field(f, m, df, cols[c].field, &v, &err))
		{
			CHECK(false, "%s: read column %d: %s", what, c, err.msg);
			continue;
		}
		CHECK(v.n == NROWS, "%s: column %d has %llu rows", what, c, (unsigned long long) v.n);
		for (i = 0; i < v.n && i < NROWS; i++)
		{
			bool		valid = cols[c].valid.data[i] != 0;

			if (lance_vector_is_valid(&v, i) != valid)
				bad++;
			else if (!valid)
				continue;
			else if (cols[c].width == 0)
			{
				const uint64_t *o = (const uint64_t *) cols[c].offsets.data;
				uint64_t	len = o[i + 1] - o[i];

				if (v.offsets[i + 1] - v.offsets[i] != len ||
					memcmp(v.values + v.offsets[i], cols[c].data.data + o[i], len) != 0)
					bad++;
			}
			else if (memcmp(v.values + i * cols[c].width,
							cols[c].data.data + i * cols[c].width, cols[c].width) != 0)
				bad++;
		}
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
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
