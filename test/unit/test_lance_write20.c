/*
 * test_lance_write20.c
 *	  Unit tests of the Lance 2.0 data file writer (src/fdw/lance/
 *	  lance_write20.c), read back value by value by the C reader
 *	  (lance_file20.c): every writable leaf type with nulls, pages split at
 *	  8 MB, lists (NULL items, NULL and empty lists), structs, lists of
 *	  structs and of vectors, a file whose lists hold no item at all, the
 *	  column layout (one column per field, parents included, footer 0.3) and
 *	  the refusal of a NULL struct.
 *	  Interoperability with LanceDB itself is tested in test/t/025.
 */
#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_manifest.h"
#include "fdw/lance/lance_write.h"
#include "fdw/lance/lance_pb.h"

#include <stdio.h>
#include <stdlib.h>

#include "unit_check.h"
#include "lance_write_check.h"

/* A manifest image of these fields (name, logical type, parent id). */
typedef struct FieldDef
{
	const char *name;
	const char *type;
	int			parent;
	bool		nullable;
} FieldDef;

static LanceManifest *
make_manifest(const FieldDef *defs, int n)
{
	Lancepb__Manifest pb;
	Lancepb__Field *f = calloc(n, sizeof(Lancepb__Field));
	Lancepb__Field **fp = calloc(n, sizeof(Lancepb__Field *));
	Lancepb__DataStorageFormat fmt;
	LanceError	err = {0};
	LanceManifest *m;
	uint8_t    *out;
	size_t		plen;
	int			i;

	for (i = 0; i < n; i++)
	{
		lancepb__field__init(&f[i]);
		f[i].name = (char *) defs[i].name;
		f[i].logical_type = (char *) defs[i].type;
		f[i].id = i;
		f[i].parent_id = defs[i].parent;
		f[i].nullable = defs[i].nullable;
		fp[i] = &f[i];
	}
	lancepb__manifest__init(&pb);
	lancepb__data_storage_format__init(&fmt);
	fmt.file_format = "lance";
	fmt.version = "2.0";
	pb.n_fields = n;
	pb.fields = fp;
	pb.version = 1;
	pb.data_format = &fmt;
	plen = lancepb__manifest__get_packed_size(&pb);
	out = calloc(1, plen + 20);
	out[0] = plen & 0xff;
	out[1] = (plen >> 8) & 0xff;
	out[2] = (plen >> 16) & 0xff;
	out[3] = (plen >> 24) & 0xff;
	lancepb__manifest__pack(&pb, out + 4);
	memcpy(out + plen + 4 + 8, "\0\0\2\0LANC", 8);
	m = lance_manifest_parse(out, plen + 20, "test", &err);
	if (m == NULL)
		printf("manifest: %s\n", err.msg);
	free(out);
	free(f);
	free(fp);
	return m;
}

/* Encodes, opens and describes a 2.0 file of the buffers (df of ids). */
static bool
encode_open(const LanceManifest *m, LanceColBuf *cols, int ncols, LanceBuf *file,
			LanceFileReader *f, LanceDataFile *df, int32_t *ids, int32_t *idx, const char *what)
{
	LanceError	err = {0};
	int			i;

	memset(file, 0, sizeof(*file));
	if (!lance_encode_data_file(file, m, cols, ncols, 2, 0, &err))
	{
		CHECK(false, "%s: encode: %s", what, err.msg);
		return false;
	}
	/* footer version 0.3 */
	CHECK(file->len > 40 && file->data[file->len - 8] == 0 && file->data[file->len - 6] == 3 &&
		  memcmp(file->data + file->len - 4, "LANC", 4) == 0, "%s: footer 0.3", what);
	if (!lance_file_open_mem(f, file->data, file->len, "mem", &err))
	{
		CHECK(false, "%s: open: %s", what, err.msg);
		return false;
	}
	memset(df, 0, sizeof(*df));
	df->path = "mem";
	df->nfields = lance_file20_field_ids(m, cols, ncols, ids);
	for (i = 0; i < df->nfields; i++)
		idx[i] = i;
	df->fields = ids;
	df->column_indices = idx;
	df->major = 2;
	df->minor = 0;
	CHECK(f->major == 2 && f->minor == 0 && f->ncolumns == (uint32_t) df->nfields,
		  "%s: a 2.0 file of %u columns for %d fields", what, f->ncolumns, df->nfields);
	return true;
}

/* ---- flat types ---- */

#define NFLAT	200000

static void
test_flat(void)
{
	static const FieldDef defs[] = {
		{"id", "int64", -1, false}, {"i8", "int8", -1, true}, {"u16", "uint16", -1, true},
		{"f32", "float", -1, true}, {"f64", "double", -1, true}, {"b", "bool", -1, true},
		{"s", "string", -1, true}, {"bin", "large_binary", -1, true},
		{"vec", "fixed_size_list:float:8", -1, true}, {"ts", "timestamp:us:-", -1, true},
		{"dt", "date32:day", -1, true}, {"dm", "decimal:128:20:2", -1, true},
		{"fb", "fixed_size_binary:16", -1, true}, {"nul", "int32", -1, true},
	};
	int			nf = (int) (sizeof(defs) / sizeof(defs[0]));
	LanceManifest *m = make_manifest(defs, nf);
	LanceColBuf cols[16];
	LanceError	err = {0};
	LanceBuf	file;
	LanceFileReader f;
	LanceDataFile df;
	int32_t		ids[16],
				idx[16];
	int			c;
	uint64_t	i;

	if (m == NULL)
	{
		CHECK(false, "flat manifest");
		return;
	}
	for (c = 0; c < nf; c++)
		CHECK(lance_colbuf_init(&cols[c], m, c, &err), "init %d: %s", c, err.msg);
	for (i = 0; i < NFLAT; i++)
	{
		uint8_t		v[64];
		char		s[96];

		for (c = 0; c < nf; c++)
		{
			bool		isnull = c > 0 && (i + c) % 7 == 0;
			uint64_t	len = cols[c].width;
			int			k;

			/* a column of NULLs only (an all-null page) */
			if (c == nf - 1)
				isnull = true;
			for (k = 0; k < 64; k++)
				v[k] = (uint8_t) (i * 31 + c * 7 + k);
			if (cols[c].type.kind == LANCE_T_BOOL)
				v[0] = (i % 3) == 0;
			if (cols[c].width == 0)
			{
				/* 50-90 bytes a value: the column spans two 8 MB pages */
				len = (uint64_t) snprintf(s, sizeof(s), "value-%llu-%0*d", (unsigned long long) i,
										  (int) (i % 40) + 40, c);
				if (c == 7 && i % 11 == 0)
					len = 0;	/* empty, not NULL */
				memcpy(v, s, len > 64 ? 64 : len);
				if (!lance_colbuf_push(&cols[c], s, len, isnull, &err))
					CHECK(false, "push %d: %s", c, err.msg);
				continue;
			}
			if (!lance_colbuf_push(&cols[c], v, len, isnull, &err))
				CHECK(false, "push %d: %s", c, err.msg);
		}
	}
	if (!encode_open(m, cols, nf, &file, &f, &df, ids, idx, "flat"))
		return;
	CHECK(df.nfields == nf, "flat: one field per column");
	for (c = 0; c < nf; c++)
	{
		LanceVector v;
		uint64_t	bad = 0;
		int			col = c;	/* flat fields: column i is field i */

		memset(&v, 0, sizeof(v));
		if (!lance_read_field(&f, m, &df, c, &v, &err))
		{
			CHECK(false, "flat: read %s: %s", defs[c].name, err.msg);
			memset(&err, 0, sizeof(err));
			continue;
		}
		CHECK(v.n == NFLAT, "flat: %s has %llu rows", defs[c].name, (unsigned long long) v.n);
		bad = leaf_rows_differ(&v, &cols[c], NFLAT);
		CHECK(bad == 0, "flat: %s: %llu rows differ", defs[c].name, (unsigned long long) bad);
		if (strcmp(defs[c].name, "s") == 0)
			CHECK(col >= 0 && f.columns[col].npages >= 2,
				  "flat: the string column was cut into pages (%d)", col >= 0 ? f.columns[col].npages : -1);
		lance_vector_free(&v);
	}
	lance_file_close(&f);
	lance_buf_free(&file);
	for (c = 0; c < nf; c++)
		lance_colbuf_free(&cols[c]);
	lance_manifest_free(m);
}

/* ---- lists and structs ---- */

static const FieldDef nested_defs[] = {
	{"id", "int64", -1, false},
	{"li", "list", -1, true}, {"item", "int32", 1, true},
	{"ls", "list", -1, false}, {"item", "string", 3, true},
	{"st", "struct", -1, true}, {"a", "int32", 5, true}, {"b", "string", 5, true},
	{"lst", "list", -1, true}, {"item", "struct", 8, true}, {"x", "int32", 9, true},
	{"y", "string", 9, true},
	{"lv", "list", -1, true}, {"item", "fixed_size_list:float:4", 12, true},
};

#define NNESTED	3000

/* Items of row g's lists: -1 NULL list, else a count (0 = empty). */
static int
nitems(int which, uint64_t g)
{
	if (which == 0)
		return g % 6 == 1 ? -1 : (int) (g % 5);
	if (which == 1)
		return (int) (g % 3);	/* not nullable */
	if (which == 2)
		return g % 8 == 2 ? -1 : (int) (g % 4);
	return g % 9 == 7 ? -1 : (int) (g % 3);
}

static bool
fill_nested(const LanceManifest *m, LanceColBuf *cols, int *ncols, uint64_t g0, uint64_t g1,
			bool struct_null, LanceError *err)
{
	int			n = 0,
				k;
	int			start[5];
	uint64_t	g;
	int			tops[5] = {0, 1, 3, 5, 8};

	for (k = 0; k < 5; k++)
	{
		int			r = lance_colbuf_init_field(&cols[n], m, tops[k], err);

		if (r < 0)
			return false;
		start[k] = n;
		n += r;
	}
	if (lance_colbuf_init_field(&cols[n], m, 12, err) != 1)
		return false;
	n++;
	*ncols = n;
	for (g = g0; g < g1; g++)
	{
		int64_t		id = (int64_t) g;
		int			j,
					cnt;
		char		s[32];
		int32_t		v32;

		if (!lance_colbuf_push(&cols[start[0]], &id, 8, false, err))
			return false;
		/* li: list<int32>, NULL items at k = 1 when g % 4 == 0 */
		cnt = nitems(0, g);
		if (cnt <= 0 && !lance_colbuf_list_row(&cols[start[1]], cnt < 0, err))
			return false;
		for (j = 0; j < cnt; j++)
		{
			v32 = (int32_t) (g * 10 + j);
			if (!lance_colbuf_list_item(&cols[start[1]], j == 0, &v32, 4, j == 1 && g % 4 == 0, err))
				return false;
		}
		/* ls: non-nullable list<string> */
		cnt = nitems(1, g);
		if (cnt == 0 && !lance_colbuf_list_row(&cols[start[2]], false, err))
			return false;
		for (j = 0; j < cnt; j++)
		{
			int			len = snprintf(s, sizeof(s), "w%llu-%d", (unsigned long long) g, j);

			if (!lance_colbuf_list_item(&cols[start[2]], j == 0, s, (uint64_t) len, j == 1, err))
				return false;
		}
		/* st: struct<a int32, b string> (NULL struct only when asked) */
		{
			bool		sn = struct_null && g % 7 == 6;
			int			len = snprintf(s, sizeof(s), "b%llu", (unsigned long long) g);

			v32 = (int32_t) (g * 3);
			if (!lance_colbuf_struct_push(&cols[start[3]], sn, &v32, 4, g % 5 == 0, err) ||
				!lance_colbuf_struct_push(&cols[start[3] + 1], sn, s, (uint64_t) len, g % 3 == 0, err))
				return false;
		}
		/* lst: list<struct<x int32, y string>> */
		cnt = nitems(2, g);
		if (cnt <= 0 && (!lance_colbuf_list_row(&cols[start[4]], cnt < 0, err) ||
						 !lance_colbuf_list_row(&cols[start[4] + 1], cnt < 0, err)))
			return false;
		for (j = 0; j < cnt; j++)
		{
			int			len = snprintf(s, sizeof(s), "y%llu.%d", (unsigned long long) g, j);

			v32 = (int32_t) (g * 100 + j);
			if (!lance_colbuf_list_member(&cols[start[4]], j == 0, false, &v32, 4, j == 0 && g % 4 == 1, err) ||
				!lance_colbuf_list_member(&cols[start[4] + 1], j == 0, false, s, (uint64_t) len, false, err))
				return false;
		}
		/* lv: list<vector(4)> with a NULL vector at k = 1 for odd g */
		cnt = nitems(3, g);
		if (cnt <= 0 && !lance_colbuf_list_row(&cols[n - 1], cnt < 0, err))
			return false;
		for (j = 0; j < cnt; j++)
		{
			float		v[4] = {(float) g, (float) j, 0.5f, -1.0f};

			if (!lance_colbuf_list_item(&cols[n - 1], j == 0, v, 16, j == 1 && g % 2 == 1, err))
				return false;
		}
	}
	return true;
}

/* Checks list field `field` of rows g0.. against nitems(which) and item(). */
static uint64_t
check_list(const LanceVector *v, int which, uint64_t g0)
{
	uint64_t	bad = 0;
	uint64_t	i;

	for (i = 0; i < v->n; i++)
	{
		int			cnt = nitems(which, g0 + i);

		if (cnt < 0 ? lance_vector_is_valid(v, i) :
			(!lance_vector_is_valid(v, i) || v->offsets[i + 1] - v->offsets[i] != (uint64_t) cnt))
			bad++;
	}
	return bad;
}

static void
verify_nested(const LanceManifest *m, LanceFileReader *f, const LanceDataFile *df, uint64_t g0,
			  uint64_t g1, const char *what)
{
	LanceError	err = {0};
	LanceVector v;
	uint64_t	n = g1 - g0;
	uint64_t	i,
				bad;

	/* li */
	memset(&v, 0, sizeof(v));
	if (lance_read_field(f, m, df, 1, &v, &err))
	{
		const LanceVector *it = &v.children[0];

		bad = v.n == n ? check_list(&v, 0, g0) : 1;
		for (i = 0; bad == 0 && i < n; i++)
		{
			uint64_t	k;

			for (k = v.offsets[i]; k < v.offsets[i + 1]; k++)
			{
				uint64_t	j = k - v.offsets[i];
				uint64_t	g = g0 + i;
				bool		isnull = j == 1 && g % 4 == 0;
				int32_t		x;

				memcpy(&x, it->values + 4 * k, 4);
				if (lance_vector_is_valid(it, k) == isnull || (!isnull && x != (int32_t) (g * 10 + j)))
					bad++;
			}
		}
		CHECK(bad == 0, "%s: li: %llu rows differ", what, (unsigned long long) bad);
		lance_vector_free(&v);
	}
	else
		CHECK(false, "%s: read li: %s", what, err.msg);

	/* ls */
	memset(&v, 0, sizeof(v));
	memset(&err, 0, sizeof(err));
	if (lance_read_field(f, m, df, 3, &v, &err))
	{
		const LanceVector *it = &v.children[0];

		bad = v.n == n ? check_list(&v, 1, g0) : 1;
		for (i = 0; bad == 0 && i < n; i++)
		{
			uint64_t	k;

			for (k = v.offsets[i]; k < v.offsets[i + 1]; k++)
			{
				char		s[32];
				uint64_t	j = k - v.offsets[i];
				int			len = snprintf(s, sizeof(s), "w%llu-%d", (unsigned long long) (g0 + i), (int) j);

				if (j == 1 ? lance_vector_is_valid(it, k) :
					(!lance_vector_is_valid(it, k) || it->offsets[k + 1] - it->offsets[k] != (uint64_t) len ||
					 memcmp(it->values + it->offsets[k], s, len) != 0))
					bad++;
			}
		}
		CHECK(bad == 0, "%s: ls: %llu rows differ", what, (unsigned long long) bad);
		lance_vector_free(&v);
	}
	else
		CHECK(false, "%s: read ls: %s", what, err.msg);

	/* st */
	memset(&v, 0, sizeof(v));
	memset(&err, 0, sizeof(err));
	if (lance_read_field(f, m, df, 5, &v, &err))
	{
		bad = v.n == n && v.nchildren == 2 ? 0 : 1;
		for (i = 0; bad == 0 && i < n; i++)
		{
			uint64_t	g = g0 + i;
			const LanceVector *a = &v.children[0];
			const LanceVector *b = &v.children[1];
			char		s[32];
			int			len = snprintf(s, sizeof(s), "b%llu", (unsigned long long) g);
			int32_t		x;

			memcpy(&x, a->values + 4 * i, 4);
			if (!lance_vector_is_valid(&v, i) ||
				lance_vector_is_valid(a, i) != (g % 5 != 0) || (g % 5 != 0 && x != (int32_t) (g * 3)) ||
				lance_vector_is_valid(b, i) != (g % 3 != 0) ||
				(g % 3 != 0 && (b->offsets[i + 1] - b->offsets[i] != (uint64_t) len ||
								memcmp(b->values + b->offsets[i], s, len) != 0)))
				bad++;
		}
		CHECK(bad == 0, "%s: st: %llu rows differ", what, (unsigned long long) bad);
		lance_vector_free(&v);
	}
	else
		CHECK(false, "%s: read st: %s", what, err.msg);

	/* lst */
	memset(&v, 0, sizeof(v));
	memset(&err, 0, sizeof(err));
	if (lance_read_field(f, m, df, 8, &v, &err))
	{
		const LanceVector *st = &v.children[0];

		bad = v.n == n && st->nchildren == 2 ? check_list(&v, 2, g0) : 1;
		for (i = 0; bad == 0 && i < n; i++)
		{
			uint64_t	k;
			uint64_t	g = g0 + i;

			for (k = v.offsets[i]; k < v.offsets[i + 1]; k++)
			{
				uint64_t	j = k - v.offsets[i];
				const LanceVector *x = &st->children[0];
				const LanceVector *y = &st->children[1];
				char		s[32];
				int			len = snprintf(s, sizeof(s), "y%llu.%d", (unsigned long long) g, (int) j);
				bool		xnull = j == 0 && g % 4 == 1;
				int32_t		xv;

				memcpy(&xv, x->values + 4 * k, 4);
				if (!lance_vector_is_valid(st, k) || lance_vector_is_valid(x, k) == xnull ||
					(!xnull && xv != (int32_t) (g * 100 + j)) ||
					y->offsets[k + 1] - y->offsets[k] != (uint64_t) len ||
					memcmp(y->values + y->offsets[k], s, len) != 0)
					bad++;
			}
		}
		CHECK(bad == 0, "%s: lst: %llu rows differ", what, (unsigned long long) bad);
		lance_vector_free(&v);
	}
	else
		CHECK(false, "%s: read lst: %s", what, err.msg);

	/* lv */
	memset(&v, 0, sizeof(v));
	memset(&err, 0, sizeof(err));
	if (lance_read_field(f, m, df, 12, &v, &err))
	{
		const LanceVector *it = &v.children[0];

		bad = v.n == n ? check_list(&v, 3, g0) : 1;
		for (i = 0; bad == 0 && i < n; i++)
		{
			uint64_t	k;
			uint64_t	g = g0 + i;

			for (k = v.offsets[i]; k < v.offsets[i + 1]; k++)
			{
				uint64_t	j = k - v.offsets[i];
				bool		isnull = j == 1 && g % 2 == 1;
				float		want[4] = {(float) g, (float) j, 0.5f, -1.0f};

				if (lance_vector_is_valid(it, k) == isnull ||
					(!isnull && memcmp(it->values + 16 * k, want, 16) != 0))
					bad++;
			}
		}
		CHECK(bad == 0, "%s: lv: %llu rows differ", what, (unsigned long long) bad);
		lance_vector_free(&v);
	}
	else
		CHECK(false, "%s: read lv: %s", what, err.msg);
}

static void
test_nested(void)
{
	int			nf = (int) (sizeof(nested_defs) / sizeof(nested_defs[0]));
	LanceManifest *m = make_manifest(nested_defs, nf);
	LanceColBuf cols[16];
	LanceError	err = {0};
	LanceBuf	file;
	LanceFileReader f;
	LanceDataFile df;
	int32_t		ids[16],
				idx[16];
	int			ncols = 0,
				c;
	static const int32_t want_ids[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

	if (m == NULL)
	{
		CHECK(false, "nested manifest");
		return;
	}
	memset(cols, 0, sizeof(cols));
	CHECK(fill_nested(m, cols, &ncols, 0, NNESTED, false, &err), "nested: fill: %s", err.msg);
	if (encode_open(m, cols, ncols, &file, &f, &df, ids, idx, "nested"))
	{
		/* a column per field in schema order: lists and structs have their own */
		CHECK(df.nfields == nf && memcmp(ids, want_ids, sizeof(want_ids)) == 0,
			  "nested: the file's columns are every field, depth first");
		verify_nested(m, &f, &df, 0, NNESTED, "nested");
		lance_file_close(&f);
		lance_buf_free(&file);
	}
	for (c = 0; c < ncols; c++)
		lance_colbuf_free(&cols[c]);

	/* rows whose lists have no items at all: empty item columns */
	memset(cols, 0, sizeof(cols));
	memset(&err, 0, sizeof(err));
	{
		uint64_t	g0 = 0;

		/* li empty or NULL (g % 6 in 0, 1), ls empty (g % 3 == 0), lst NULL or empty, lv empty */
		for (g0 = 0; g0 < 100000; g0++)
			if ((g0 % 6 == 1 || g0 % 5 == 0) && g0 % 3 == 0 && (g0 % 8 == 2 || g0 % 4 == 0) &&
				(g0 % 3 == 0 || g0 % 9 == 7))
				break;
		CHECK(fill_nested(m, cols, &ncols, g0, g0 + 1, false, &err), "empty: fill: %s", err.msg);
		CHECK(cols[1].n == 0 && cols[2].n == 0, "empty: row %llu has no list items",
			  (unsigned long long) g0);
		if (encode_open(m, cols, ncols, &file, &f, &df, ids, idx, "empty lists"))
		{
			verify_nested(m, &f, &df, g0, g0 + 1, "empty lists");
			lance_file_close(&f);
			lance_buf_free(&file);
		}
		for (c = 0; c < ncols; c++)
			lance_colbuf_free(&cols[c]);
	}

	/* a NULL struct cannot be stored in 2.0: an error naming the field */
	memset(cols, 0, sizeof(cols));
	memset(&err, 0, sizeof(err));
	CHECK(fill_nested(m, cols, &ncols, 0, 20, true, &err), "struct null: fill: %s", err.msg);
	memset(&file, 0, sizeof(file));
	CHECK(!lance_encode_data_file(&file, m, cols, ncols, 2, 0, &err) && strstr(err.msg, "\"st\"") &&
		  strstr(err.msg, "2.0"), "a NULL struct is refused in 2.0: %s", err.msg);
	lance_buf_free(&file);
	/* ... and is fine in 2.1 */
	memset(&err, 0, sizeof(err));
	CHECK(lance_encode_data_file(&file, m, cols, ncols, 2, 1, &err), "2.1 stores it: %s", err.msg);
	lance_buf_free(&file);
	for (c = 0; c < ncols; c++)
		lance_colbuf_free(&cols[c]);
	lance_manifest_free(m);
}

int
main(void)
{
	test_flat();
	test_nested();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
