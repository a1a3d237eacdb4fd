/*
 * test_lance.c
 *	  Unit tests of the plain-C Lance reader (src/fdw/lance): codecs,
 *	  discovery and manifests, and a row-by-row comparison with what the real
 *	  LanceDB reads back from datasets made by test/lance/gen_datasets.mjs
 *	  (directory in LANCE_TEST_DATA; those tests are skipped without it).
 *	  Corruption tests truncate and flip bytes of real files: every case must
 *	  end in success or a clean error.
 */
#include "fdw/lance/lance_file.h"
#include "fdw/lance/lance_manifest.h"
#include "fdw/lance/lance.pb-c.h"

#include <dirent.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_check.h"

/* Joins path pieces; paths in the tests are far below the buffer size. */
static void
pjoin(char *buf, size_t len, const char *a, const char *b)
{
	size_t		la = strlen(a),
				lb = strlen(b);

	if (la + lb + 1 > len)
	{
		buf[0] = '\0';
		return;
	}
	memmove(buf, a, la);
	memcpy(buf + la, b, lb + 1);
}

/* ---- FastLanes: reference packer, round trip ---- */

static const int order[8] = {0, 4, 2, 6, 1, 5, 3, 7};

static void
fl_pack(const uint64_t *in, int t, int w, uint8_t *out)
{
	int			lanes = 1024 / t;
	int			lane,
				row;

	memset(out, 0, (size_t) 128 * w);
	for (lane = 0; lane < lanes; lane++)
		for (row = 0; row < t; row++)
		{
			uint64_t	v = in[order[row / 8] * 16 + (row % 8) * 128 + lane];
			int			b;

			/* bit by bit: slow and obviously right */
			for (b = 0; b < w; b++)
			{
				int			bit = row * w + b;
				int			word = bit / t;
				int			sh = bit % t;
				uint64_t	idx = (uint64_t) lanes * word + lane;

				if ((v >> b) & 1)
					out[idx * (t / 8) + sh / 8] |= (uint8_t) (1 << (sh % 8));
			}
		}
}

static void
test_fastlanes(void)
{
	static const int ts[4] = {8, 16, 32, 64};
	int			ti;
	uint64_t	in[1024],
				out[1024];
	uint8_t		packed[128 * 64];

	srand(42);
	for (ti = 0; ti < 4; ti++)
	{
		int			t = ts[ti];
		int			w;
		int			bad = 0;

		for (w = 0; w <= t; w++)
		{
			int			i;
			uint64_t	mask = w == 64 ? UINT64_MAX : ((UINT64_C(1) << w) - 1);

			for (i = 0; i < 1024; i++)
				in[i] = (((uint64_t) rand() << 40) ^ ((uint64_t) rand() << 20) ^ (uint64_t) rand()) & mask;
			fl_pack(in, t, w, packed);
			lance_fastlanes_unpack(packed, t, w, out);
			if (memcmp(in, out, sizeof(in)) != 0)
				bad++;
		}
		CHECK(bad == 0, "fastlanes round trip T=%d: %d widths wrong", t, bad);
	}
}

/* ---- small pure functions ---- */

static void
test_json_and_types(void)
{
	const char *j = "{\"branch\":null,\"version\":3,\"manifestSize\":794,\"x\":{\"version\":9}}";
	const char *j2 = "{\"note\":\"\\\"version\\\":7\", \"manifest_size\": 12, \"version\" : 5}";
	uint64_t	v = 0;
	LanceType	t;

	CHECK(lance_json_get_u64(j, strlen(j), "version", &v) && v == 3, "json version");
	CHECK(lance_json_get_u64(j, strlen(j), "manifestSize", &v) && v == 794, "json manifestSize");
	CHECK(lance_json_get_u64(j2, strlen(j2), "version", &v) && v == 5, "json key in string ignored");
	CHECK(lance_json_get_u64(j2, strlen(j2), "manifest_size", &v) && v == 12, "json manifest_size");
	CHECK(!lance_json_get_u64(j, strlen(j) - 30, "manifestSize", &v), "json truncated");
	CHECK(!lance_json_get_u64("{\"version\":null}", 16, "version", &v), "json null");

	lance_parse_logical_type("fixed_size_list:float:128", &t);
	CHECK(t.kind == LANCE_T_FSL && t.elem == LANCE_T_FLOAT && t.width == 128, "fsl type");
	lance_parse_logical_type("fixed_size_list:halffloat:8", &t);
	CHECK(t.kind == LANCE_T_FSL && t.elem == LANCE_T_HALF && t.width == 8, "fsl half");
	lance_parse_logical_type("timestamp:us:-", &t);
	CHECK(t.kind == LANCE_T_TIMESTAMP && t.unit == 2 && t.tz[0] == '\0', "timestamp");
	lance_parse_logical_type("timestamp:ns:Europe/Paris", &t);
	CHECK(t.kind == LANCE_T_TIMESTAMP && t.unit == 3 && strcmp(t.tz, "Europe/Paris") == 0, "timestamp tz");
	lance_parse_logical_type("decimal:128:12:2", &t);
	CHECK(t.kind == LANCE_T_DECIMAL128 && t.precision == 12 && t.scale == 2, "decimal");
	lance_parse_logical_type("fixed_size_binary:16", &t);
	CHECK(t.kind == LANCE_T_FIXED_BINARY && t.width == 16, "fixed binary");
	lance_parse_logical_type("fixed_size_list:float:0", &t);
	CHECK(t.kind == LANCE_T_UNSUPPORTED, "fsl dim 0 rejected");
	lance_parse_logical_type("fixed_size_list:float:99999999999", &t);
	CHECK(t.kind == LANCE_T_UNSUPPORTED, "fsl huge dim rejected");
	lance_parse_logical_type("dict:string:int32:false", &t);
	CHECK(t.kind == LANCE_T_UNSUPPORTED, "dict not yet supported");
}

static void
test_fsst(void)
{
	uint8_t		table[2312];
	LanceFsst	f;
	LanceError	err = {0};
	uint8_t		out[64];
	uint64_t	olen = 0;
	const uint8_t in[] = {0, 255, '!', 1, 0};

	/* two symbols: "hello" and " " */
	memset(table, 0, sizeof(table));
	table[0] = 2;
	memcpy(table + 4, "TSSF", 4);
	memcpy(table + 8, "hello", 5);
	memcpy(table + 16, " ", 1);
	table[24] = 5;
	table[25] = 1;
	CHECK(lance_fsst_parse(table, sizeof(table), &f, &err), "fsst parse: %s", err.msg);
	CHECK(lance_fsst_decode(&f, in, sizeof(in), out, sizeof(out), &olen) &&
		  olen == 12 && memcmp(out, "hello! hello", 12) == 0, "fsst decode");
	CHECK(!lance_fsst_decode(&f, in, sizeof(in), out, 8, &olen), "fsst out of room");
	CHECK(!lance_fsst_decode(&f, in, 2, out, sizeof(out), &olen), "fsst dangling escape");
	out[0] = 7;
	CHECK(!lance_fsst_decode(&f, out, 1, out + 1, 16, &olen), "fsst unused code");
	table[25] = 9;
	CHECK(!lance_fsst_parse(table, sizeof(table), &f, &err), "fsst bad length rejected");
	/* no symbols: stored raw */
	table[0] = 0;
	CHECK(lance_fsst_parse(table, sizeof(table), &f, &err) &&
		  lance_fsst_decode(&f, (const uint8_t *) "abc", 3, out, sizeof(out), &olen) &&
		  olen == 3 && memcmp(out, "abc", 3) == 0, "fsst without symbols");
	table[0] = 254;
	CHECK(!lance_fsst_parse(table, 100, &f, &err), "fsst truncated table");
}

static void
touch(const char *dir, const char *name)
{
	char		p[1024];
	FILE	   *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fp = fopen(p, "w");
	if (fp)
		fclose(fp);
}

static void
test_versions(void)
{
	char		tmpl[] = "/tmp/lance_test_XXXXXX";
	char	   *d = mkdtemp(tmpl);
	char		vd[1024],
				path[1024];
	LanceVersionList l;
	LanceError	err = {0};
	uint64_t	v = 0;

	if (d == NULL)
	{
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(vd, sizeof(vd), "%s/_versions", d);
	mkdir(vd, 0700);
	touch(vd, "18446744073709551614.manifest");	/* v1 */
	touch(vd, "18446744073709551612.manifest");	/* v3 */
	touch(vd, "18446744073709551610.manifest-5e1d5c1c");	/* staging */
	touch(vd, "d18446744073709551600.manifest");	/* detached */
	touch(vd, "latest_version_hint.json");
	CHECK(lance_list_versions(d, &l, &err) && l.n == 2 && l.versions[1] == 3 && l.v2_naming,
		  "v2 listing: %s", err.msg);
	lance_version_list_free(&l);
	CHECK(lance_manifest_path(d, 0, path, sizeof(path), &v, &err) && v == 3 &&
		  strstr(path, "/18446744073709551612.manifest"), "latest path");
	memset(&err, 0, sizeof(err));
	CHECK(!lance_manifest_path(d, 2, path, sizeof(path), &v, &err) && strstr(err.msg, "does not exist"),
		  "missing version: %s", err.msg);
	touch(vd, "7.manifest");
	memset(&err, 0, sizeof(err));
	CHECK(!lance_list_versions(d, &l, &err) && strstr(err.msg, "mixes"), "mixed naming refused");
	memset(&err, 0, sizeof(err));
	CHECK(!lance_tag_lookup(d, "../x", &v, &v, &err), "tag name with .. refused");
	{
		char		cmd[1200];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
		if (system(cmd) != 0)
			printf("warning: could not remove %s\n", d);
	}
}

/* ---- formatting values like the generator's dump ---- */

typedef struct Str
{
	char	   *p;
	size_t		len,
				cap;
} Str;

static void
str_add(Str *s, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
str_add(Str *s, const char *fmt,...)
{
	va_list		ap;
	int			n;

	for (;;)
	{
		size_t		room = s->cap - s->len;

		va_start(ap, fmt);
		n = vsnprintf(s->p + s->len, room, fmt, ap);
		va_end(ap);
		if ((size_t) n < room)
		{
			s->len += (size_t) n;
			return;
		}
		s->cap = s->cap * 2 + (size_t) n + 64;
		s->p = realloc(s->p, s->cap);
	}
}

static void
fmt_scalar(Str *s, LanceTypeKind k, const uint8_t *p)
{
	switch (k)
	{
		case LANCE_T_INT8:
			str_add(s, "%d", (int8_t) p[0]);
			break;
		case LANCE_T_UINT8:
			str_add(s, "%u", p[0]);
			break;
		case LANCE_T_INT16:
			str_add(s, "%d", (int16_t) lance_le16(p));
			break;
		case LANCE_T_UINT16:
			str_add(s, "%u", lance_le16(p));
			break;
		case LANCE_T_INT32:
		case LANCE_T_DATE32:
			str_add(s, "%d", (int32_t) lance_le32(p));
			break;
		case LANCE_T_UINT32:
			str_add(s, "%u", lance_le32(p));
			break;
		case LANCE_T_INT64:
		case LANCE_T_TIMESTAMP:
		case LANCE_T_DATE64:
			str_add(s, "%" PRId64, (int64_t) lance_le64(p));
			break;
		case LANCE_T_UINT64:
			str_add(s, "%" PRIu64, lance_le64(p));
			break;
		case LANCE_T_HALF:
			str_add(s, "h%04x", lance_le16(p));
			break;
		case LANCE_T_FLOAT:
			str_add(s, "f%08x", lance_le32(p));
			break;
		case LANCE_T_DOUBLE:
			str_add(s, "d%016" PRIx64, lance_le64(p));
			break;
		case LANCE_T_BOOL:
			str_add(s, "%c", p[0] ? 't' : 'f');
			break;
		case LANCE_T_DECIMAL128:
			{
				int			i;

				str_add(s, "m");
				for (i = 0; i < 16; i++)
					str_add(s, "%02x", p[i]);
				break;
			}
		default:
			str_add(s, "?");
			break;
	}
}

static void
fmt_value(Str *s, const LanceVector *v, uint64_t i)
{
	uint64_t	k;

	if (!lance_vector_is_valid(v, i))
	{
		str_add(s, "N");
		return;
	}
	switch (v->type.kind)
	{
		case LANCE_T_STRING:
		case LANCE_T_LARGE_STRING:
		case LANCE_T_BINARY:
		case LANCE_T_LARGE_BINARY:
			str_add(s, "x");
			for (k = v->offsets[i]; k < v->offsets[i + 1]; k++)
				str_add(s, "%02x", v->values[k]);
			break;
		case LANCE_T_FIXED_BINARY:
			str_add(s, "x");
			for (k = 0; k < v->width; k++)
				str_add(s, "%02x", v->values[i * v->width + k]);
			break;
		case LANCE_T_FSL:
			{
				uint32_t	ew = lance_type_fixed_width(v->type.elem);

				str_add(s, "[");
				for (k = 0; k < v->type.width; k++)
				{
					if (k)
						str_add(s, ",");
					fmt_scalar(s, v->type.elem, v->values + i * v->width + k * ew);
				}
				str_add(s, "]");
				break;
			}
		case LANCE_T_LIST:
		case LANCE_T_LARGE_LIST:
			str_add(s, "[");
			for (k = v->offsets[i]; k < v->offsets[i + 1]; k++)
			{
				if (k > v->offsets[i])
					str_add(s, ",");
				fmt_value(s, &v->children[0], k);
			}
			str_add(s, "]");
			break;
		case LANCE_T_STRUCT:
			{
				int			c;

				str_add(s, "{");
				for (c = 0; c < v->nchildren; c++)
				{
					if (c)
						str_add(s, ",");
					fmt_value(s, &v->children[c], i);
				}
				str_add(s, "}");
				break;
			}
		default:
			fmt_scalar(s, v->type.kind, v->values + i * v->width);
			break;
	}
}

/* ---- comparing a dataset version with LanceDB's dump ---- */

static char *
slurp(const char *path, size_t *len)
{
	FILE	   *fp = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (fread(buf, 1, (size_t) n, fp) != (size_t) n)
		n = 0;
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t) n;
	return buf;
}

/* First leaf id under field idx (a data file lists leaf ids in 2.1+). */
static int32_t
first_leaf_id(const LanceManifest *m, int idx)
{
	while (m->fields[idx].nchildren > 0)
		idx = m->fields[idx].children[0];
	return m->fields[idx].id;
}

static const LanceDataFile *
file_with_field(const LanceFragment *fr, int32_t id);

/* The file holding field idx: by its first leaf, else the leaf's nearest ancestor (packed). */
static const LanceDataFile *
file_of_field(const LanceManifest *m, const LanceFragment *fr, int idx)
{
	const LanceDataFile *df = file_with_field(fr, first_leaf_id(m, idx));
	int			leaf = idx;

	while (m->fields[leaf].nchildren > 0)
		leaf = m->fields[leaf].children[0];
	while (df == NULL && leaf != idx)
	{
		leaf = m->fields[leaf].parent;
		df = file_with_field(fr, m->fields[leaf].id);
	}
	return df;
}

static const LanceDataFile *
file_with_field(const LanceFragment *fr, int32_t id)
{
	int			i,
				j;

	for (i = 0; i < fr->nfiles; i++)
		for (j = 0; j < fr->files[i].nfields; j++)
			if (fr->files[i].fields[j] == id)
				return &fr->files[i];
	return NULL;
}

static long rows_compared;

/*
 * Reads version `version` of `dataset` and compares it with the tsv dump.
 * Returns the number of mismatching rows (first few printed), -1 on error.
 */
static long
compare_version(const char *dataset, uint64_t version, const char *tsv, char *errbuf, size_t errlen)
{
	char		mpath[4096];
	uint64_t	vfound;
	LanceError	err = {0};
	LanceManifest *m = NULL;
	size_t		tlen;
	char	   *text = slurp(tsv, &tlen);
	char	   *line,
			   *save = NULL;
	char	   *names[64];
	int			ncols = 0;
	int			colfield[64];
	bool		rowid_col[64];
	long		bad = 0;
	int			fi;
	Str			s = {0};

	if (text == NULL)
	{
		snprintf(errbuf, errlen, "cannot read %.500s", tsv);
		return -1;
	}
	if (!lance_manifest_path(dataset, version, mpath, sizeof(mpath), &vfound, &err) ||
		(m = lance_manifest_load(mpath, &err)) == NULL)
	{
		snprintf(errbuf, errlen, "%s", err.msg);
		free(text);
		return -1;
	}
	/* header: column names */
	line = strtok_r(text, "\n", &save);
	{
		char	   *tok,
				   *s2 = NULL;

		for (tok = strtok_r(line, "\t", &s2); tok && ncols < 64; tok = strtok_r(NULL, "\t", &s2))
		{
			int			k;

			names[ncols] = tok;
			colfield[ncols] = -1;
			rowid_col[ncols] = strcmp(tok, "_rowid") == 0;
			for (k = 0; k < m->nfields; k++)
				if (m->fields[k].parent < 0 && strcmp(m->fields[k].name, tok) == 0)
					colfield[ncols] = k;
			ncols++;
		}
	}
	s.cap = 4096;
	s.p = malloc(s.cap);
	for (fi = 0; fi < m->nfragments && bad >= 0; fi++)
	{
		LanceFragment *fr = &m->fragments[fi];
		LanceVector vecs[64];
		LanceFileReader files[8];
		int			nopen = 0;
		uint8_t    *del = NULL;
		uint64_t   *rowids = NULL;
		int			c;
		uint64_t	r;

		memset(vecs, 0, sizeof(vecs));
		if (fr->deletion.present &&
			(del = lance_deletion_load(dataset, fr->id, &fr->deletion, fr->physical_rows, &err)) == NULL)
		{
			snprintf(errbuf, errlen, "%s", err.msg);
			bad = -1;
			break;
		}
		if (fr->row_ids)
		{
			rowids = malloc(sizeof(uint64_t) * (fr->physical_rows + 1));
			if (!lance_row_ids_decode(fr->row_ids, fr->row_ids_len, fr->physical_rows, rowids, &err))
			{
				snprintf(errbuf, errlen, "%s", err.msg);
				bad = -1;
			}
		}
		for (c = 0; c < ncols && bad >= 0; c++)
		{
			const LanceDataFile *df;
			int			k;

			if (rowid_col[c])
				continue;
			if (colfield[c] < 0)
			{
				snprintf(errbuf, errlen, "column %s not in manifest", names[c]);
				bad = -1;
				break;
			}
			df = file_of_field(m, fr, colfield[c]);
			if (df == NULL)
			{
				snprintf(errbuf, errlen, "column %s not in fragment", names[c]);
				bad = -1;
				break;
			}
			k = (int) (df - fr->files);
			if (k >= nopen)
			{
				char		fpath[4096];

				snprintf(fpath, sizeof(fpath), "%s/data/%s", dataset, df->path);
				for (; nopen <= k; nopen++)
					memset(&files[nopen], 0, sizeof(files[nopen]));
				if (!lance_file_open(&files[k], fpath, &err))
				{
					snprintf(errbuf, errlen, "%s", err.msg);
					bad = -1;
					break;
				}
			}
			if (!lance_read_field(&files[k], m, df, colfield[c], &vecs[c], &err))
			{
				snprintf(errbuf, errlen, "%s", err.msg);
				bad = -1;
				break;
			}
			if (vecs[c].n != fr->physical_rows)
			{
				snprintf(errbuf, errlen, "column %s: %" PRIu64 " rows, fragment has %" PRIu64,
						 names[c], vecs[c].n, fr->physical_rows);
				bad = -1;
				break;
			}
		}
		for (r = 0; bad >= 0 && r < fr->physical_rows; r++)
		{
			char	   *want;

			if (del && (del[r >> 3] >> (r & 7)) & 1)
				continue;
			s.len = 0;
			s.p[0] = '\0';
			for (c = 0; c < ncols; c++)
			{
				if (c)
					str_add(&s, "\t");
				if (rowid_col[c])
					str_add(&s, "%" PRIu64, rowids ? rowids[r] : ((fr->id << 32) | r));
				else
					fmt_value(&s, &vecs[c], r);
			}
			want = strtok_r(NULL, "\n", &save);
			rows_compared++;
			if (want == NULL || strcmp(want, s.p) != 0)
			{
				if (bad < 3)
				{
					int			col = 0;
					size_t		p = 0;

					if (want)
						for (p = 0; want[p] && want[p] == s.p[p]; p++)
							if (want[p] == '\t')
								col++;
					printf("  %s v%" PRIu64 " frag %" PRIu64 " row %" PRIu64 " column %s differs:\n"
						   "    lancedb: %.160s\n    ours:    %.160s\n",
						   dataset, version, fr->id, r, names[col < ncols ? col : 0],
						   want ? want + p : "(missing)", s.p + p);
				}
				bad++;
			}
		}
		for (c = 0; c < 64; c++)
			lance_vector_free(&vecs[c]);
		for (c = 0; c < nopen; c++)
			lance_file_close(&files[c]);
		lance_free(del);
		free(rowids);
	}
	if (bad >= 0 && strtok_r(NULL, "\n", &save) != NULL)
	{
		snprintf(errbuf, errlen, "LanceDB returned more rows than we did");
		bad = bad ? bad : 1;
	}
	free(s.p);
	free(text);
	lance_manifest_free(m);
	return bad;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Encoding coverage: which encodings the reader met in the datasets of each
 * file format version (2.0 / 2.1 / 2.2; from the table name's _vNN suffix,
 * else the library's default), printed as a matrix and checked against what
 * LanceDB writes (issue 5's list).
 */
#define COV_MAX 64
static const char *cov_names[COV_MAX];
static unsigned cov_seen[COV_MAX];	/* bit v = version index (0: 2.0, 1: 2.1, 2: 2.2) */
static int	cov_n;

static void
cov_collect(int vi)
{
	const char *const *names;
	const uint64_t *counts;
	int			n = lance_census_get(&names, &counts);
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		for (j = 0; j < cov_n && strcmp(cov_names[j], names[i]) != 0; j++)
			;
		if (j == cov_n && cov_n < COV_MAX)
			cov_names[cov_n++] = names[i];
		if (j < cov_n && counts[i] > 0)
			cov_seen[j] |= 1u << vi;
	}
	lance_census_reset();
}

static bool
cov_has(const char *name, int vi)
{
	int			j;

	for (j = 0; j < cov_n; j++)
		if (strcmp(cov_names[j], name) == 0)
			return (cov_seen[j] >> vi) & 1;
	return false;
}

static void
cov_check(void)
{
	static const char *const v21[] = {"mini-block", "mini-block dictionary", "full-zip fixed",
		"full-zip variable", "constant layout", "flat", "flat bitmap", "variable",
		"inline bit-packing", "fsst", "rle", "fixed_size_list", "fixed_size_list item validity",
		"full-zip fixed_size_list item validity", "rep/def levels", "general zstd", "general lz4",
		"byte_stream_split", "packed_struct", NULL};
	static const char *const v22[] = {"mini-block u32 chunk sizes (2.2)", "out-of-line bit-packing", NULL};
	static const char *const v20[] = {"2.0 flat", "2.0 nullable some_nulls", "2.0 nullable no_nulls",
		"2.0 nullable all_nulls", "2.0 fixed_size_list", "2.0 list", "2.0 binary",
		"2.0 dictionary", "2.0 flat zstd", "2.0 flat lz4 (or other)", "2.0 fsst",
		"2.0 packed_struct", NULL};
	static const char *const vnames[] = {"2.0", "2.1", "2.2"};
	int			j,
				k;

	printf("encoding coverage of the LanceDB datasets (x = decoded):\n");
	printf("  %-42s 2.0 2.1 2.2\n", "encoding");
	for (j = 0; j < cov_n; j++)
		printf("  %-42s  %c   %c   %c\n", cov_names[j], (cov_seen[j] & 1) ? 'x' : '.',
			   (cov_seen[j] & 2) ? 'x' : '.', (cov_seen[j] & 4) ? 'x' : '.');
	for (k = 0; v20[k]; k++)
		CHECK(cov_has(v20[k], 0), "LanceDB's %s datasets use %s", vnames[0], v20[k]);
	for (k = 0; v21[k]; k++)
	{
		CHECK(cov_has(v21[k], 1), "LanceDB's %s datasets use %s", vnames[1], v21[k]);
		CHECK(cov_has(v21[k], 2), "LanceDB's %s datasets use %s", vnames[2], v21[k]);
	}
	for (k = 0; v22[k]; k++)
		CHECK(cov_has(v22[k], 2), "LanceDB's %s datasets use %s", vnames[2], v22[k]);
}

static void
test_real_datasets(const char *root)
{
	static const char *libs[] = {"v37", "v39"};
	int			li;

	for (li = 0; li < 2; li++)
	{
		char		dir[2048];
		DIR		   *d;
		struct dirent *de;
		char	   *tsvs[512];
		int			ntsv = 0;
		int			i;

		snprintf(dir, sizeof(dir), "%s/%s", root, libs[li]);
		d = opendir(dir);
		if (d == NULL)
		{
			printf("skip: %s not found\n", dir);
			continue;
		}
		while ((de = readdir(d)) != NULL && ntsv < 512)
			if (strstr(de->d_name, ".tsv"))
				tsvs[ntsv++] = strdup(de->d_name);
		closedir(d);
		qsort(tsvs, ntsv, sizeof(char *), cmp_str);
		/* every forced storage version must have been written and dumped */
		{
			static const char *const need[] = {"alltypes_v20.v1.tsv", "alltypes_v21.v1.tsv",
			"alltypes_v22.v1.tsv"};
			int			k,
						j;

			for (k = 0; k < 3; k++)
			{
				bool		found = false;

				for (j = 0; j < ntsv; j++)
					found = found || strcmp(tsvs[j], need[k]) == 0;
				CHECK(found, "%s: %s was generated", libs[li], need[k]);
			}
		}
		for (i = 0; i < ntsv; i++)
		{
			char		table[256],
						dataset[2048],
						tsv[2048],
						errbuf[600] = "";
			char	   *dot = strstr(tsvs[i], ".v");
			uint64_t	version = strtoull(dot + 2, NULL, 10);
			long		bad;

			snprintf(table, sizeof(table), "%.*s", (int) (dot - tsvs[i]), tsvs[i]);
			pjoin(dataset, sizeof(dataset), dir, "/");
			pjoin(dataset, sizeof(dataset), dataset, table);
			pjoin(dataset, sizeof(dataset), dataset, ".lance");
			pjoin(tsv, sizeof(tsv), dir, "/");
			pjoin(tsv, sizeof(tsv), tsv, tsvs[i]);
			lance_census_reset();
			bad = compare_version(dataset, version, tsv, errbuf, sizeof(errbuf));
			cov_collect(strstr(table, "_v20") ? 0 : strstr(table, "_v21") ? 1 :
						strstr(table, "_v22") ? 2 : li == 0 ? 1 : 2);
			CHECK(bad == 0, "%s/%s v%" PRIu64 ": %s%ld rows differ", libs[li], table, version,
				  errbuf[0] ? errbuf : "", bad);
			free(tsvs[i]);
		}
		/* tags resolve to the versions LanceDB lists */
		{
			char		tags[2048];
			size_t		len;
			char	   *text;

			pjoin(tags, sizeof(tags), dir, "/alltypes.tags");
			text = slurp(tags, &len);
			if (text)
			{
				char	   *save = NULL;
				char	   *line;

				for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
				{
					char	   *tab = strchr(line, '\t');
					uint64_t	v = 0,
								msize = 0;
					LanceError	err = {0};
					char		dataset[2048];

					if (!tab)
						continue;
					*tab = '\0';
					pjoin(dataset, sizeof(dataset), dir, "/alltypes.lance");
					CHECK(lance_tag_lookup(dataset, line, &v, &msize, &err) &&
						  v == strtoull(tab + 1, NULL, 10) && msize > 0,
						  "tag %s: %s", line, err.msg);
				}
				free(text);
			}
		}
	}
	printf("compared %ld rows with LanceDB\n", rows_compared);
	cov_check();
}

/* ---- corruption ---- */

/* Reads every field of a data file image; the outcome does not matter. */
static void
read_all_fields(const uint8_t *data, size_t len, const LanceManifest *m, const LanceDataFile *df)
{
	LanceFileReader f;
	LanceError	err = {0};
	int			k;

	if (!lance_file_open_mem(&f, data, len, "mem", &err))
		return;
	for (k = 0; k < m->nfields; k++)
	{
		LanceVector v;

		if (m->fields[k].parent >= 0)
			continue;
		memset(&err, 0, sizeof(err));
		if (lance_read_field(&f, m, df, k, &v, &err))
			lance_vector_free(&v);
	}
	lance_file_close(&f);
}

static void
corrupt_dataset(const char *dataset, int flips)
{
	char		mpath[4096],
				fpath[4096];
	uint64_t	ver;
	LanceError	err = {0};
	LanceManifest *m;
	uint8_t    *man,
			   *dat,
			   *copy;
	size_t		mlen,
				dlen,
				cut;
	int			i,
				ok_trunc = 0;
	const LanceDataFile *df;

	if (!lance_manifest_path(dataset, 0, mpath, sizeof(mpath), &ver, &err) ||
		(m = lance_manifest_load(mpath, &err)) == NULL)
	{
		printf("skip corruption of %s: %s\n", dataset, err.msg);
		return;
	}
	man = (uint8_t *) slurp(mpath, &mlen);
	df = &m->fragments[0].files[0];
	snprintf(fpath, sizeof(fpath), "%s/data/%s", dataset, df->path);
	dat = (uint8_t *) slurp(fpath, &dlen);

	/* every truncation of the manifest is an error */
	for (cut = 0; cut < mlen; cut++)
	{
		LanceManifest *t;

		copy = malloc(cut + 1);
		memcpy(copy, man, cut);
		memset(&err, 0, sizeof(err));
		t = lance_manifest_parse(copy, cut, "trunc", &err);
		if (t == NULL && err.set)
			ok_trunc++;
		lance_manifest_free(t);
		free(copy);
	}
	CHECK(ok_trunc == (int) mlen, "%s: %d of %zu manifest truncations rejected", dataset, ok_trunc, mlen);

	/* truncations of the data file: no crash; reading all fields */
	for (cut = 0; cut < dlen; cut += (dlen > 4096 ? dlen / 2048 : 1))
	{
		copy = malloc(cut + 1);
		memcpy(copy, dat, cut);
		read_all_fields(copy, cut, m, df);
		free(copy);
	}
	/* the last 4 KiB (footer, metadata) byte by byte */
	for (cut = dlen > 4096 ? dlen - 4096 : 0; cut < dlen; cut++)
	{
		copy = malloc(cut + 1);
		memcpy(copy, dat, cut);
		read_all_fields(copy, cut, m, df);
		free(copy);
	}

	/* random byte flips */
	srand(7);
	copy = malloc(mlen > dlen ? mlen : dlen);
	for (i = 0; i < flips; i++)
	{
		LanceManifest *t;
		int			n = 1 + rand() % 4,
					k;

		memcpy(copy, man, mlen);
		for (k = 0; k < n; k++)
			copy[rand() % mlen] ^= (uint8_t) (1 + rand() % 255);
		memset(&err, 0, sizeof(err));
		t = lance_manifest_parse(copy, mlen, "flip", &err);
		lance_manifest_free(t);

		memcpy(copy, dat, dlen);
		for (k = 0; k < n; k++)
		{
			/* bias flips towards the metadata at the end */
			size_t		pos = (rand() % 2) ? (size_t) rand() % dlen : dlen - 1 - (size_t) rand() % (dlen < 8192 ? dlen : 8192);

			copy[pos] ^= (uint8_t) (1 + rand() % 255);
		}
		read_all_fields(copy, dlen, m, df);
	}
	free(copy);
	CHECK(1, "corruption of %s survived", dataset);
	free(man);
	free(dat);
	lance_manifest_free(m);
}

static void
test_alloc_cap(const char *root)
{
	char		dataset[2048],
				mpath[4096];
	uint64_t	ver;
	LanceError	err = {0};
	LanceManifest *m;

	pjoin(dataset, sizeof(dataset), root, "/v37/alltypes.lance");
	if (!lance_manifest_path(dataset, 0, mpath, sizeof(mpath), &ver, &err))
		return;
	lance_set_max_alloc(64);
	m = lance_manifest_load(mpath, &err);
	CHECK(m == NULL && err.set && strstr(err.msg, "refusing to allocate"), "allocation cap: %s", err.msg);
	lance_manifest_free(m);
	lance_set_max_alloc(UINT64_C(1) << 30);
}

/* Row i of a and row j of b hold the same value (recursively). */
static bool
rows_equal(const LanceVector *a, uint64_t i, const LanceVector *b, uint64_t j)
{
	int			c;

	if (i >= a->n || j >= b->n)
		return false;
	if (lance_vector_is_valid(a, i) != lance_vector_is_valid(b, j))
		return false;
	if (!lance_vector_is_valid(a, i))
		return true;
	if (a->type.kind == LANCE_T_STRUCT)
	{
		for (c = 0; c < a->nchildren; c++)
			if (!rows_equal(&a->children[c], i, &b->children[c], j))
				return false;
		return a->nchildren == b->nchildren;
	}
	if (a->offsets)
	{
		uint64_t	la = a->offsets[i + 1] - a->offsets[i];
		uint64_t	lb = b->offsets[j + 1] - b->offsets[j];
		uint64_t	k;

		if (la != lb || b->offsets == NULL)
			return false;
		if (a->nchildren == 1)
		{
			for (k = 0; k < la; k++)
				if (!rows_equal(&a->children[0], a->offsets[i] + k, &b->children[0], b->offsets[j] + k))
					return false;
			return true;
		}
		return memcmp(a->values + a->offsets[i], b->values + b->offsets[j], la) == 0;
	}
	return a->width == b->width &&
		memcmp(a->values + i * a->width, b->values + j * b->width, a->width) == 0;
}

/*
 * Row-range reads (what the FDW does, a batch at a time) return the rows of
 * a whole read, for every field of every data file, in chunks of several
 * sizes: pages shared by two chunks, lists, structs and 2.0 list children
 * cut to exact ranges.
 */
static void
test_ranges(const char *root)
{
	static const char *const libs[] = {"v37", "v39"};
	static const char *const tables[] = {"alltypes", "alltypes_v20", "alltypes_v21",
	"alltypes_v22", "stable", "vec768", "nested", "nested_v20", "legacy", "vecnull_v22",
	"meta_v20", "meta_v21", "lstx_v22"};
	static const uint64_t chunks[] = {1, 7, 999};
	long		checked = 0;
	long		bad = 0;
	int			li,
				ti;

	for (li = 0; li < 2; li++)
		for (ti = 0; ti < (int) (sizeof(tables) / sizeof(tables[0])); ti++)
		{
			char		dataset[2048],
						mpath[2048];
			LanceError	err = {0};
			LanceManifest *m;
			uint64_t	vfound;
			int			fi;

			snprintf(dataset, sizeof(dataset), "%s/%s/%s.lance", root, libs[li], tables[ti]);
			if (!lance_manifest_path(dataset, 0, mpath, sizeof(mpath), &vfound, &err) ||
				(m = lance_manifest_load(mpath, &err)) == NULL)
			{
				CHECK(false, "ranges: %s: %s", dataset, err.msg);
				continue;
			}
			for (fi = 0; fi < m->nfragments; fi++)
			{
				const LanceFragment *fr = &m->fragments[fi];
				int			di;

				for (di = 0; di < fr->nfiles; di++)
				{
					const LanceDataFile *df = &fr->files[di];
					LanceFileReader f;
					char		path[4200];
					int			k;

					snprintf(path, sizeof(path), "%.2047s/data/%.2047s", dataset, df->path);
					if (!lance_file_open(&f, path, &err))
					{
						CHECK(false, "ranges: open %s: %s", path, err.msg);
						continue;
					}
					for (k = 0; k < m->nfields; k++)
					{
						LanceVector whole;
						int			ci;

						if (m->fields[k].parent >= 0 || file_of_field(m, fr, k) != df)
							continue;
						if (!lance_read_field(&f, m, df, k, &whole, &err))
						{
							CHECK(false, "ranges: %s %s: %s", path, m->fields[k].name, err.msg);
							continue;
						}
						/* single rows only for the flat tables: slow enough already */
						for (ci = ti >= 6 ? 1 : 0; ci < 3; ci++)
						{
							uint64_t	start;

							for (start = 0; start < f.nrows; start += chunks[ci])
							{
								uint64_t	end = start + chunks[ci] < f.nrows ? start + chunks[ci] : f.nrows;
								LanceVector part;
								uint64_t	span,
											r;

								if (!lance_read_field_range(&f, m, df, k, start, end, &part, &span, &err))
								{
									CHECK(false, "ranges: %s %s [%llu,%llu): %s", path, m->fields[k].name,
										  (unsigned long long) start, (unsigned long long) end, err.msg);
									bad++;
									break;
								}
								for (r = start; r < end; r++)
									if (!rows_equal(&whole, r, &part, r - span))
									{
										if (bad++ < 5)
											CHECK(false, "ranges: %s %s row %llu differs (chunk %llu)", path,
												  m->fields[k].name, (unsigned long long) r,
												  (unsigned long long) chunks[ci]);
									}
								checked += end - start;
								lance_vector_free(&part);
							}
						}
						lance_vector_free(&whole);
					}
					lance_file_close(&f);
				}
			}
			lance_manifest_free(m);
		}
	CHECK(bad == 0 && checked > 0, "row-range reads equal whole reads (%ld rows, %ld differ)", checked, bad);
}

/* Prepends `tag` and the varint `len` before position *pos of buf. */
static void
prepend_field(uint8_t *buf, size_t *pos, uint8_t tag, size_t len)
{
	uint8_t		v[10];
	int			n = 0;

	do
	{
		v[n++] = (uint8_t) ((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len > 0);
	while (n > 0)
		buf[--(*pos)] = v[--n];
	buf[--(*pos)] = tag;
}

/*
 * 2.0 pages built by hand: a nullable int32 page decodes; a hostile
 * encoding nested 5000 deep fails cleanly (protobuf-c would recurse that
 * deep without a check).
 */
static void
test_v20_pages(void)
{
	LanceError	err = {0};
	LanceType	t;
	/* nullable{some_nulls{validity: flat 1 bit buf 0, values: flat 32 buf 1}} */
	static const uint8_t enc[] = {0x12, 0x14, 0x12, 0x12,
		0x0a, 0x06, 0x0a, 0x04, 0x08, 0x01, 0x12, 0x00,
	0x12, 0x08, 0x0a, 0x06, 0x08, 0x20, 0x12, 0x02, 0x08, 0x01};
	uint8_t		validity[1] = {0x05};
	uint8_t		values[12] = {1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0};
	const uint8_t *bufs[2] = {validity, values};
	uint64_t	lens[2] = {1, 12};
	size_t		cap = 5000 * 12 + 16;
	uint8_t    *deep = malloc(cap);
	size_t		pos = cap;
	int			i;

	lance_parse_logical_type("int32", &t);
	CHECK(lance_fuzz_decode_page20(enc, sizeof(enc), bufs, lens, 2, 3, &t, &err),
		  "2.0 nullable int32 page decodes: %s", err.msg);
	lens[1] = 8;
	memset(&err, 0, sizeof(err));
	CHECK(!lance_fuzz_decode_page20(enc, sizeof(enc), bufs, lens, 2, 3, &t, &err) && err.set,
		  "2.0 page with a short values buffer is refused");
	lens[1] = 12;

	/* innermost flat{bits 32, buffer 1}, then 5000 x nullable{no_nulls{values}} */
	memcpy(deep + cap - 6, (const uint8_t[]) {0x08, 0x20, 0x12, 0x02, 0x08, 0x01}, 6);
	pos = cap - 6;
	prepend_field(deep, &pos, 0x0a, 6);
	for (i = 0; i < 5000; i++)
	{
		prepend_field(deep, &pos, 0x0a, cap - pos);	/* NoNull.values */
		prepend_field(deep, &pos, 0x0a, cap - pos);	/* Nullable.no_nulls */
		prepend_field(deep, &pos, 0x12, cap - pos);	/* ArrayEncoding.nullable */
	}
	memset(&err, 0, sizeof(err));
	CHECK(!lance_fuzz_decode_page20(deep + pos, cap - pos, bufs, lens, 2, 3, &t, &err) &&
		  strstr(err.msg, "nested too deeply") != NULL,
		  "2.0 encoding nested 5000 deep is refused: %s", err.msg);
	free(deep);

	/*
	 * bitpacked_for_non_neg (LanceDB writes it for 2.1+ only, so built from
	 * the spec): 1500 uint32 values at 11 bits in two FastLanes blocks, the
	 * second zero-padded.
	 */
	{
		Lancepb__E20BitpackedForNonNeg bp = LANCEPB__E20_BITPACKED_FOR_NON_NEG__INIT;
		Lancepb__E20Buffer pbuf = LANCEPB__E20_BUFFER__INIT;
		Lancepb__E20ArrayEncoding ae = LANCEPB__E20_ARRAY_ENCODING__INIT;
		uint64_t	in[2048] = {0};
		uint8_t		packed[2 * 128 * 11];
		uint8_t		pe[64];
		size_t		plen;
		const uint8_t *pb[1] = {packed};
		uint64_t	pl[1] = {sizeof(packed)};
		LanceVector v;
		int			bad = 0;

		for (i = 0; i < 1500; i++)
			in[i] = ((uint64_t) i * 2654435761u) & 0x7ff;
		fl_pack(in, 32, 11, packed);
		fl_pack(in + 1024, 32, 11, packed + 128 * 11);
		pbuf.buffer_index = 0;
		bp.compressed_bits_per_value = 11;
		bp.uncompressed_bits_per_value = 32;
		bp.buffer = &pbuf;
		ae.array_encoding_case = LANCEPB__E20_ARRAY_ENCODING__ARRAY_ENCODING_BITPACKED_FOR_NON_NEG;
		ae.bitpacked_for_non_neg = &bp;
		plen = lancepb__e20_array_encoding__pack(&ae, pe);
		lance_parse_logical_type("uint32", &t);
		memset(&err, 0, sizeof(err));
		CHECK(lance_decode_page20(pe, plen, pb, pl, 1, 1500, &t, &v, &err) && v.n == 1500,
			  "2.0 bitpacked_for_non_neg page decodes: %s", err.msg);
		for (i = 0; i < 1500 && v.values; i++)
			bad += lance_le32(v.values + 4 * i) != (uint32_t) in[i];
		CHECK(v.values && bad == 0, "2.0 bitpacked_for_non_neg: %d of 1500 values differ", bad);
		lance_vector_free(&v);
		/* a buffer one block short, and a width above the type, are refused */
		pl[0] = 128 * 11;
		memset(&err, 0, sizeof(err));
		CHECK(!lance_decode_page20(pe, plen, pb, pl, 1, 1500, &t, &v, &err) && err.set,
			  "2.0 bitpacked_for_non_neg with a short buffer is refused");
		pl[0] = sizeof(packed);
		bp.compressed_bits_per_value = 33;
		plen = lancepb__e20_array_encoding__pack(&ae, pe);
		memset(&err, 0, sizeof(err));
		CHECK(!lance_decode_page20(pe, plen, pb, pl, 1, 1500, &t, &v, &err) && err.set,
			  "2.0 bitpacked_for_non_neg wider than its type is refused: %s", err.msg);
	}
}

/*
 * Stable row ids kept in an external file: a RowIdSequence at an offset of
 * a file under the dataset directory.
 */
static void
test_external_row_ids(void)
{
	char		dir[] = "/tmp/lance_rowids_XXXXXX";
	char		path[4096];
	Lancepb__RangeSegment rs = LANCEPB__RANGE_SEGMENT__INIT;
	Lancepb__U64Segment seg = LANCEPB__U64_SEGMENT__INIT;
	Lancepb__U64Segment *segs[1] = {&seg};
	Lancepb__RowIdSequence seq = LANCEPB__ROW_ID_SEQUENCE__INIT;
	uint8_t		buf[256];
	size_t		len;
	FILE	   *fp;
	LanceFragment fr;
	LanceError	err = {0};
	uint64_t	ids[10];
	int			i;
	bool		ok;

	if (mkdtemp(dir) == NULL)
	{
		CHECK(false, "mkdtemp");
		return;
	}
	rs.start = 1000;
	rs.end = 1010;
	seg.segment_case = LANCEPB__U64_SEGMENT__SEGMENT_RANGE;
	seg.range = &rs;
	seq.n_segments = 1;
	seq.segments = segs;
	len = lancepb__row_id_sequence__pack(&seq, buf);
	snprintf(path, sizeof(path), "%s/ids.bin", dir);
	fp = fopen(path, "wb");
	fwrite("0123456789", 1, 10, fp);
	fwrite(buf, 1, len, fp);
	fclose(fp);

	memset(&fr, 0, sizeof(fr));
	fr.id = 3;
	fr.physical_rows = 10;
	fr.external_row_ids = true;
	fr.row_ids_path = "ids.bin";
	fr.row_ids_offset = 10;
	fr.row_ids_size = len;
	ok = lance_row_ids_load(dir, &fr, ids, &err);
	CHECK(ok, "external row ids: %s", err.msg);
	for (i = 0; ok && i < 10; i++)
		CHECK(ids[i] == (uint64_t) (1000 + i), "external row id %d = %llu", i, (unsigned long long) ids[i]);

	/* a range beyond the file, a wrong count, a missing file: errors naming the file */
	fr.row_ids_offset = 11;
	memset(&err, 0, sizeof(err));
	CHECK(!lance_row_ids_load(dir, &fr, ids, &err) && strstr(err.msg, "ids.bin") != NULL,
		  "external row ids beyond the file: %s", err.msg);
	fr.row_ids_offset = 10;
	fr.physical_rows = 9;
	memset(&err, 0, sizeof(err));
	CHECK(!lance_row_ids_load(dir, &fr, ids, &err) && strstr(err.msg, "ids.bin") != NULL,
		  "external row ids of the wrong count: %s", err.msg);
	fr.row_ids_path = "nope.bin";
	memset(&err, 0, sizeof(err));
	CHECK(!lance_row_ids_load(dir, &fr, ids, &err) && strstr(err.msg, "nope.bin") != NULL,
		  "missing external row id file: %s", err.msg);
	unlink(path);
	rmdir(dir);
}

/*
 * The manifest side of external row ids: a real stable-row-id manifest with
 * its inline sequences moved to files parses, and the ids read back equal
 * the inline ones.
 */
static void
test_external_row_ids_manifest(const char *root)
{
	char		dataset[2048];
	char		mpath[2048];
	char		dir[] = "/tmp/lance_extids_XXXXXX";
	char		sub[4096];
	LanceError	err = {0};
	uint8_t    *raw;
	uint64_t	rawlen = 0;
	Lancepb__Manifest *pb;
	Lancepb__ExternalFile *ext;
	LanceManifest *orig,
			   *moved;
	size_t		f;
	uint8_t    *out;
	size_t		plen;
	char		names[16][32];
	uint64_t	ver = 0;

	pjoin(dataset, sizeof(dataset), root, "/v37/stable.lance");
	if (!lance_manifest_path(dataset, 0, mpath, sizeof(mpath), &ver, &err) ||
		(raw = lance_read_file(mpath, UINT64_C(1) << 30, &rawlen, &err)) == NULL ||
		mkdtemp(dir) == NULL)
	{
		CHECK(false, "external row ids: cannot read %s: %s", dataset, err.msg);
		return;
	}
	orig = lance_manifest_parse(raw, rawlen, mpath, &err);
	pb = lancepb__manifest__unpack(NULL, lance_le32(raw + lance_le64(raw + rawlen - 16)),
								   raw + lance_le64(raw + rawlen - 16) + 4);
	if (orig == NULL || pb == NULL || pb->n_fragments == 0 || pb->n_fragments > 16)
	{
		CHECK(false, "external row ids: cannot parse %s", mpath);
		return;
	}
	snprintf(sub, sizeof(sub), "%s/ext", dir);
	mkdir(sub, 0700);
	ext = calloc(pb->n_fragments, sizeof(Lancepb__ExternalFile));
	for (f = 0; f < pb->n_fragments; f++)
	{
		Lancepb__DataFragment *df = pb->fragments[f];
		char		fpath[4200];
		FILE	   *fp;

		CHECK(df->row_id_sequence_case == LANCEPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS,
			  "stable fragment %zu has inline row ids", f);
		snprintf(names[f], sizeof(names[f]), "ext/%zu.bin", f);
		snprintf(fpath, sizeof(fpath), "%s/%s", dir, names[f]);
		fp = fopen(fpath, "wb");
		fwrite("pad", 1, 3, fp);
		fwrite(df->inline_row_ids.data, 1, df->inline_row_ids.len, fp);
		fclose(fp);
		lancepb__external_file__init(&ext[f]);
		ext[f].path = names[f];
		ext[f].offset = 3;
		ext[f].size = df->inline_row_ids.len;
		df->row_id_sequence_case = LANCEPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_EXTERNAL_ROW_IDS;
		df->external_row_ids = &ext[f];
	}
	plen = lancepb__manifest__get_packed_size(pb);
	out = calloc(1, plen + 4 + 16);
	out[0] = plen & 0xff;
	out[1] = (plen >> 8) & 0xff;
	out[2] = (plen >> 16) & 0xff;
	out[3] = (plen >> 24) & 0xff;
	lancepb__manifest__pack(pb, out + 4);
	memcpy(out + plen + 4 + 8, "\0\0\2\0LANC", 8);
	moved = lance_manifest_parse(out, plen + 20, "moved", &err);
	CHECK(moved != NULL, "manifest with external row ids: %s", err.msg);
	for (f = 0; moved != NULL && f < (size_t) moved->nfragments; f++)
	{
		const LanceFragment *a = &orig->fragments[f];
		const LanceFragment *b = &moved->fragments[f];
		uint64_t   *x = malloc(sizeof(uint64_t) * (a->physical_rows + 1));
		uint64_t   *y = malloc(sizeof(uint64_t) * (a->physical_rows + 1));

		CHECK(b->external_row_ids && b->row_ids == NULL, "fragment %zu: external", f);
		CHECK(lance_row_ids_load(dataset, a, x, &err) && lance_row_ids_load(dir, b, y, &err) &&
			  memcmp(x, y, sizeof(uint64_t) * a->physical_rows) == 0,
			  "fragment %zu: external row ids equal the inline ones (%s)", f, err.msg);
		free(x);
		free(y);
	}
	if (moved)
		lance_manifest_free(moved);
	lance_manifest_free(orig);
	/* protobuf-c must not free the stack-owned external files */
	for (f = 0; f < pb->n_fragments; f++)
	{
		char		fpath[4200];

		pb->fragments[f]->row_id_sequence_case = LANCEPB__DATA_FRAGMENT__ROW_ID_SEQUENCE__NOT_SET;
		snprintf(fpath, sizeof(fpath), "%s/%s", dir, names[f]);
		unlink(fpath);
	}
	lancepb__manifest__free_unpacked(pb, NULL);
	free(ext);
	free(out);
	lance_free(raw);
	rmdir(sub);
	rmdir(dir);
}

int
main(void)
{
	const char *root = getenv("LANCE_TEST_DATA");

	test_fastlanes();
	test_json_and_types();
	test_fsst();
	test_versions();
	test_v20_pages();
	test_external_row_ids();
	if (root == NULL || access(root, R_OK) != 0)
		printf("skip: LANCE_TEST_DATA not set (generate with test/lance/gen_datasets.mjs)\n");
	else
	{
		char		ds[2048];
		const char *flip = getenv("LANCE_TEST_FLIPS");
		int			flips = flip ? atoi(flip) : 300;

		test_real_datasets(root);
		test_alloc_cap(root);
		test_ranges(root);
		test_external_row_ids_manifest(root);
		pjoin(ds, sizeof(ds), root, "/v37/v1names.lance");
		corrupt_dataset(ds, flips);
		pjoin(ds, sizeof(ds), root, "/v39/alltypes.lance");
		corrupt_dataset(ds, flips / 10);
		/* nested lists and structs: levels assembled from corrupt pages */
		pjoin(ds, sizeof(ds), root, "/v39/nested.lance");
		corrupt_dataset(ds, flips / 3);
		/* legacy (0.1) files: page table, positions, batch offsets */
		pjoin(ds, sizeof(ds), root, "/v37/legacy.lance");
		corrupt_dataset(ds, flips / 3);
		/* full-zip vectors with item validity, packed structs */
		pjoin(ds, sizeof(ds), root, "/v39/vecnull_v22.lance");
		corrupt_dataset(ds, flips / 10);
		pjoin(ds, sizeof(ds), root, "/v37/meta_v20.lance");
		corrupt_dataset(ds, flips / 10);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
