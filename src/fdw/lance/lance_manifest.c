/*
 * lance_manifest.c
 *	  Dataset discovery (_versions/, tags) and manifest parsing.
 *
 * A manifest file ends with a 16-byte trailer (i64 position of the manifest
 * message, i16 major, i16 minor, "LANC"); at that position sits a u32 length
 * and the Manifest protobuf.  Optional sections (index, transaction) come
 * earlier in the file and are not needed for reading rows.
 */
#include "lance_manifest.h"
#include "lance_pb.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_NESTING		64
#define MAX_TAG_FILE	(64 * 1024)

/* ---- logical types ---- */

static LanceTypeKind
simple_kind(const char *s)
{
	static const struct
	{
		const char *name;
		LanceTypeKind kind;
	}			map[] = {
		{"bool", LANCE_T_BOOL}, {"int8", LANCE_T_INT8}, {"int16", LANCE_T_INT16},
		{"int32", LANCE_T_INT32}, {"int64", LANCE_T_INT64}, {"uint8", LANCE_T_UINT8},
		{"uint16", LANCE_T_UINT16}, {"uint32", LANCE_T_UINT32}, {"uint64", LANCE_T_UINT64},
		{"halffloat", LANCE_T_HALF}, {"float", LANCE_T_FLOAT}, {"double", LANCE_T_DOUBLE},
		{"string", LANCE_T_STRING}, {"large_string", LANCE_T_LARGE_STRING},
		{"binary", LANCE_T_BINARY}, {"large_binary", LANCE_T_LARGE_BINARY},
		{"list", LANCE_T_LIST}, {"large_list", LANCE_T_LARGE_LIST},
		/* a list of structs (its item field is the struct) */
		{"list.struct", LANCE_T_LIST}, {"large_list.struct", LANCE_T_LARGE_LIST},
		{"struct", LANCE_T_STRUCT}, {"date32:day", LANCE_T_DATE32},
		{"date64:ms", LANCE_T_DATE64},
	};
	size_t		i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i].name) == 0)
			return map[i].kind;
	return LANCE_T_UNSUPPORTED;
}

/* Parses a decimal number that must end at `end`; -1 on error. */
static long
parse_num(const char *s, const char *end)
{
	long		v = 0;

	if (s >= end)
		return -1;
	for (; s < end; s++)
	{
		if (!isdigit((unsigned char) *s) || v > 100000000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

void
lance_parse_logical_type(const char *s, LanceType *t)
{
	memset(t, 0, sizeof(*t));
	t->kind = simple_kind(s);
	if (t->kind != LANCE_T_UNSUPPORTED)
		return;

	if (strncmp(s, "fixed_size_list:", 16) == 0)
	{
		const char *elem = s + 16;
		const char *colon = strrchr(elem, ':');
		char		buf[64];
		long		dim;

		if (colon == NULL || (size_t) (colon - elem) >= sizeof(buf))
			return;
		dim = parse_num(colon + 1, colon + strlen(colon));
		memcpy(buf, elem, colon - elem);
		buf[colon - elem] = '\0';
		t->elem = simple_kind(buf);
		if (dim <= 0 || dim > (1 << 20) || t->elem == LANCE_T_UNSUPPORTED ||
			(lance_type_fixed_width(t->elem) == 0 && t->elem != LANCE_T_BOOL))
			return;
		t->kind = LANCE_T_FSL;
		t->width = (uint32_t) dim;
	}
	else if (strncmp(s, "fixed_size_binary:", 18) == 0)
	{
		long		w = parse_num(s + 18, s + strlen(s));

		if (w > 0 && w <= (1 << 20))
		{
			t->kind = LANCE_T_FIXED_BINARY;
			t->width = (uint32_t) w;
		}
	}
	else if (strncmp(s, "timestamp:", 10) == 0)
	{
		static const char *const units[] = {"s", "ms", "us", "ns"};
		const char *u = s + 10;
		const char *colon = strchr(u, ':');
		int			i;

		if (colon == NULL)
			return;
		for (i = 0; i < 4; i++)
			if ((size_t) (colon - u) == strlen(units[i]) && strncmp(u, units[i], colon - u) == 0)
				break;
		if (i == 4 || strlen(colon + 1) >= sizeof(t->tz))
			return;
		t->kind = LANCE_T_TIMESTAMP;
		t->unit = i;
		/* "-" means no time zone */
		if (strcmp(colon + 1, "-") != 0)
			strcpy(t->tz, colon + 1);
	}
	else if (strncmp(s, "decimal:", 8) == 0)
	{
		/* decimal:<bits>:<precision>:<scale> */
		const char *a = s + 8;
		const char *b = strchr(a, ':');
		const char *c = b ? strchr(b + 1, ':') : NULL;
		long		bits,
					p,
					sc;

		if (c == NULL)
			return;
		bits = parse_num(a, b);
		p = parse_num(b + 1, c);
		sc = parse_num(c + 1, c + strlen(c));
		if (p <= 0 || p > 76 || sc < 0 || sc > p)
			return;
		t->precision = (int) p;
		t->scale = (int) sc;
		if (bits == 128)
			t->kind = LANCE_T_DECIMAL128;
		else if (bits == 256)
			t->kind = LANCE_T_DECIMAL256;
	}
}

uint32_t
lance_type_fixed_width(LanceTypeKind kind)
{
	switch (kind)
	{
		case LANCE_T_INT8:
		case LANCE_T_UINT8:
			return 1;
		case LANCE_T_INT16:
		case LANCE_T_UINT16:
		case LANCE_T_HALF:
			return 2;
		case LANCE_T_INT32:
		case LANCE_T_UINT32:
		case LANCE_T_FLOAT:
		case LANCE_T_DATE32:
			return 4;
		case LANCE_T_INT64:
		case LANCE_T_UINT64:
		case LANCE_T_DOUBLE:
		case LANCE_T_TIMESTAMP:
		case LANCE_T_DATE64:
			return 8;
		case LANCE_T_DECIMAL128:
			return 16;
		case LANCE_T_DECIMAL256:
			return 32;
		default:
			return 0;
	}
}

const char *
lance_type_name(LanceTypeKind kind)
{
	static const char *const names[] = {
		"unsupported", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
		"uint32", "uint64", "halffloat", "float", "double", "string", "large_string",
		"binary", "large_binary", "fixed_size_binary", "fixed_size_list", "list",
		"large_list", "struct", "timestamp", "date32", "date64", "decimal128", "decimal256"
	};

	if ((int) kind < 0 || (size_t) kind >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[kind];
}

/* ---- manifest ---- */

static bool
safe_relative_path(const char *p)
{
	const char *s;

	if (p[0] == '\0' || p[0] == '/')
		return false;
	/* no ".." component: a manifest must not point outside the dataset */
	for (s = p; *s; s++)
	{
		if ((s == p || s[-1] == '/') && s[0] == '.' && s[1] == '.' &&
			(s[2] == '/' || s[2] == '\0'))
			return false;
	}
	return true;
}

static bool
build_fields(LanceManifest *m, Lancepb__Field **pf, size_t n, const char *name, LanceError *err)
{
	size_t		i;

	if (n > 100000)
		return lance_fail(err, "manifest \"%s\" has too many fields (%zu)", name, n);
	m->nfields = (int) n;
	m->fields = lance_alloc_array(n, sizeof(LanceField), err);
	if (m->fields == NULL)
		return false;
	for (i = 0; i < n; i++)
	{
		LanceField *f = &m->fields[i];
		int			depth = 0;
		int			p;

		f->name = pf[i]->name;
		f->id = pf[i]->id;
		f->parent_id = pf[i]->parent_id;
		f->logical_type = pf[i]->logical_type;
		f->nullable = pf[i]->nullable;
		lance_parse_logical_type(f->logical_type, &f->type);
		f->parent = -1;
		if (f->id < 0)
			return lance_fail(err, "manifest \"%s\": field \"%s\" has negative id %d", name, f->name, f->id);
		if (lance_manifest_field_index(m, f->id) != (int) i)
			return lance_fail(err, "manifest \"%s\": duplicate field id %d", name, f->id);
		if (f->parent_id >= 0)
		{
			/* fields are depth-first, so the parent precedes its children */
			p = lance_manifest_field_index(m, f->parent_id);
			if (p < 0 || p >= (int) i)
				return lance_fail(err, "manifest \"%s\": field \"%s\" has unknown parent %d",
								  name, f->name, f->parent_id);
			f->parent = p;
			m->fields[p].nchildren++;
			for (; p >= 0; p = m->fields[p].parent)
				if (++depth > MAX_NESTING)
					return lance_fail(err, "manifest \"%s\": fields nested too deeply", name);
		}
		else if (f->parent_id != -1)
			return lance_fail(err, "manifest \"%s\": field \"%s\" has invalid parent %d",
							  name, f->name, f->parent_id);
	}
	for (i = 0; i < n; i++)
	{
		LanceField *f = &m->fields[i];

		if (f->nchildren)
		{
			f->children = lance_alloc_array(f->nchildren, sizeof(int), err);
			if (f->children == NULL)
				return false;
			f->nchildren = 0;
		}
	}
	for (i = 0; i < n; i++)
	{
		LanceField *f = &m->fields[i];

		if (f->parent >= 0)
			m->fields[f->parent].children[m->fields[f->parent].nchildren++] = (int) i;
	}
	return true;
}

static bool
build_fragments(LanceManifest *m, Lancepb__Manifest *pb, const char *name, LanceError *err)
{
	size_t		i,
				j;

	m->nfragments = (int) pb->n_fragments;
	if (pb->n_fragments > INT32_MAX / 2)
		return lance_fail(err, "manifest \"%s\": too many fragments", name);
	m->fragments = lance_alloc_array(pb->n_fragments, sizeof(LanceFragment), err);
	if (m->fragments == NULL)
		return false;
	for (i = 0; i < pb->n_fragments; i++)
	{
		Lancepb__DataFragment *pf = pb->fragments[i];
		LanceFragment *f = &m->fragments[i];

		f->id = pf->id;
		f->physical_rows = pf->physical_rows;
		if (pf->physical_rows > (UINT64_C(1) << 32))
			return lance_fail(err, "manifest \"%s\": fragment %" PRIu64 " has %" PRIu64 " rows",
							  name, pf->id, pf->physical_rows);
		f->nfiles = (int) pf->n_files;
		f->files = lance_alloc_array(pf->n_files, sizeof(LanceDataFile), err);
		if (f->files == NULL)
			return false;
		for (j = 0; j < pf->n_files; j++)
		{
			Lancepb__DataFile *d = pf->files[j];
			LanceDataFile *df = &f->files[j];

			if (!safe_relative_path(d->path))
				return lance_fail(err, "manifest \"%s\": invalid data file path \"%s\"", name, d->path);
			if (d->_base_id_case == LANCEPB__DATA_FILE___BASE_ID_BASE_ID)
				return lance_fail(err, "manifest \"%s\": data file \"%s\" lives under another base path, which is not supported",
								  name, d->path);
			if (d->n_column_indices != 0 && d->n_column_indices != d->n_fields)
				return lance_fail(err, "manifest \"%s\": data file \"%s\" has %zu fields but %zu column indices",
								  name, d->path, d->n_fields, d->n_column_indices);
			df->path = d->path;
			df->nfields = (int) d->n_fields;
			df->fields = d->fields;
			df->column_indices = d->n_column_indices ? d->column_indices : NULL;
			df->major = (uint32_t) (d->file_major_version > UINT32_MAX ? UINT32_MAX : d->file_major_version);
			df->minor = (uint32_t) (d->file_minor_version > UINT32_MAX ? UINT32_MAX : d->file_minor_version);
			df->size_bytes = d->file_size_bytes;
		}
		if (pf->deletion_file)
		{
			if (pf->deletion_file->_base_id_case == LANCEPB__DELETION_FILE___BASE_ID_BASE_ID)
				return lance_fail(err, "manifest \"%s\": deletion file under another base path is not supported", name);
			if (pf->deletion_file->file_type != LANCE_DELETION_ARROW &&
				pf->deletion_file->file_type != LANCE_DELETION_BITMAP)
				return lance_fail(err, "manifest \"%s\": unknown deletion file type %d",
								  name, pf->deletion_file->file_type);
			f->deletion.present = true;
			f->deletion.file_type = pf->deletion_file->file_type;
			f->deletion.read_version = pf->deletion_file->read_version;
			f->deletion.id = pf->deletion_file->id;
			f->deletion.num_deleted_rows = pf->deletion_file->num_deleted_rows;
		}
		if (pf->row_id_sequence_case == LANCEPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS)
		{
			f->row_ids = pf->inline_row_ids.data;
			f->row_ids_len = pf->inline_row_ids.len;
		}
		else if (pf->row_id_sequence_case == LANCEPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_EXTERNAL_ROW_IDS)
		{
			const Lancepb__ExternalFile *ef = pf->external_row_ids;

			if (ef->path == NULL || ef->path[0] == '\0' || ef->path[0] == '/' ||
				strstr(ef->path, "..") != NULL || ef->size > LANCE_MAX_PB_BYTES)
				return lance_fail(err, "manifest \"%s\": invalid external row id file of fragment %llu",
								  name, (unsigned long long) f->id);
			f->external_row_ids = true;
			f->row_ids_path = ef->path;
			f->row_ids_offset = ef->offset;
			f->row_ids_size = ef->size;
		}
	}
	return true;
}

LanceManifest *
lance_manifest_parse(const uint8_t *data, uint64_t size, const char *name, LanceError *err)
{
	LanceManifest *m;
	Lancepb__Manifest *pb;
	int64_t		pos;
	uint32_t	len;
	uint64_t	unknown;

	if (size < 20)
	{
		lance_fail(err, "manifest \"%s\" is too short (%llu bytes)", name, (unsigned long long) size);
		return NULL;
	}
	if (memcmp(data + size - 4, "LANC", 4) != 0)
	{
		lance_fail(err, "manifest \"%s\" has no Lance trailer", name);
		return NULL;
	}
	pos = (int64_t) lance_le64(data + size - 16);
	if (pos < 0 || (uint64_t) pos > size - 20)
	{
		lance_fail(err, "manifest \"%s\": invalid manifest position %lld", name, (long long) pos);
		return NULL;
	}
	len = lance_le32(data + pos);
	if (len > size - 20 - (uint64_t) pos || len > LANCE_MAX_PB_BYTES)
	{
		lance_fail(err, "manifest \"%s\": manifest length %u exceeds the file", name, len);
		return NULL;
	}
	pb = lancepb__manifest__unpack(&lance_pb_allocator, len, data + pos + 4);
	if (pb == NULL)
	{
		lance_fail(err, "manifest \"%s\": invalid Manifest protobuf", name);
		return NULL;
	}
	m = lance_alloc0(sizeof(LanceManifest), err);
	if (m == NULL)
	{
		lancepb__manifest__free_unpacked(pb, &lance_pb_allocator);
		return NULL;
	}
	m->pb = pb;
	m->version = pb->version;
	if (pb->timestamp)
	{
		m->timestamp_sec = pb->timestamp->seconds;
		m->timestamp_nsec = pb->timestamp->nanos;
	}
	m->reader_flags = pb->reader_feature_flags;
	m->writer_flags = pb->writer_feature_flags;
	m->next_row_id = pb->next_row_id;
	m->tag = pb->tag;
	m->writer_library = pb->writer_version ? pb->writer_version->library : "";
	m->writer_version = pb->writer_version ? pb->writer_version->version : "";
	m->file_format = pb->data_format ? pb->data_format->file_format : "";
	m->format_version = pb->data_format ? pb->data_format->version : "";

	unknown = m->reader_flags & ~LANCE_SUPPORTED_READER_FLAGS;
	if (unknown)
	{
		lance_fail(err, "dataset version %llu of \"%s\" needs reader features this reader does not implement (flags 0x%llx)%s",
				   (unsigned long long) m->version, name, (unsigned long long) unknown,
				   (unknown & LANCE_FLAG_BASE_PATHS) ? ": base paths (data outside the dataset directory)" : "");
		lance_manifest_free(m);
		return NULL;
	}
	if (!build_fields(m, pb->fields, pb->n_fields, name, err) ||
		!build_fragments(m, pb, name, err))
	{
		lance_manifest_free(m);
		return NULL;
	}
	return m;
}

LanceManifest *
lance_manifest_load(const char *path, LanceError *err)
{
	uint64_t	size = 0;
	uint8_t    *data = lance_read_file(path, LANCE_MAX_PB_BYTES, &size, err);
	LanceManifest *m;

	if (data == NULL)
		return NULL;
	/* the protobuf copies everything it keeps, so the image can go */
	m = lance_manifest_parse(data, size, path, err);
	lance_free(data);
	return m;
}

void
lance_manifest_free(LanceManifest *m)
{
	int			i;

	if (m == NULL)
		return;
	if (m->fields)
		for (i = 0; i < m->nfields; i++)
			lance_free(m->fields[i].children);
	lance_free(m->fields);
	if (m->fragments)
		for (i = 0; i < m->nfragments; i++)
			lance_free(m->fragments[i].files);
	lance_free(m->fragments);
	if (m->pb)
		lancepb__manifest__free_unpacked(m->pb, &lance_pb_allocator);
	lance_free(m);
}

int
lance_manifest_field_index(const LanceManifest *m, int32_t id)
{
	int			i;

	for (i = 0; i < m->nfields; i++)
		if (m->fields[i].id == id)
			return i;
	return -1;
}

/* ---- dataset directory ---- */

/*
 * Parses a _versions/ entry: "<N>.manifest" (V1) or a 20-digit
 * "<u64::MAX - N>.manifest" (V2).  Returns 0 for names to ignore, 1 (V1) or
 * 2 (V2).
 */
static int
parse_version_name(const char *name, uint64_t *version)
{
	size_t		len = strlen(name);
	size_t		ndig = len - 9;
	uint64_t	v = 0;
	size_t		i;

	/* staging files carry a suffix after .manifest; detached ones start with d */
	if (len <= 9 || strcmp(name + ndig, ".manifest") != 0 || ndig > 20)
		return 0;
	for (i = 0; i < ndig; i++)
	{
		if (!isdigit((unsigned char) name[i]) ||
			!lance_mul_u64(v, 10, &v) || !lance_add_u64(v, (uint64_t) (name[i] - '0'), &v))
			return 0;
	}
	if (ndig == 20)
	{
		if (v == UINT64_MAX)
			return 0;
		*version = UINT64_MAX - v;
		return 2;
	}
	*version = v;
	return v == 0 ? 0 : 1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

bool
lance_list_versions(const char *dataset, LanceVersionList *out, LanceError *err)
{
	char		path[4096];
	DIR		   *dir;
	struct dirent *de;
	int			cap = 0;
	bool		seen_v1 = false;
	bool		seen_v2 = false;

	memset(out, 0, sizeof(*out));
	if (snprintf(path, sizeof(path), "%s/_versions", dataset) >= (int) sizeof(path))
		return lance_fail(err, "dataset path too long");
	dir = opendir(path);
	if (dir == NULL)
		return lance_fail(err, "could not open \"%s\": %s (not a Lance dataset?)", path, strerror(errno));
	while ((de = readdir(dir)) != NULL)
	{
		uint64_t	v;
		int			kind = parse_version_name(de->d_name, &v);

		if (kind == 0)
			continue;
		if (kind == 1)
			seen_v1 = true;
		else
			seen_v2 = true;
		if (out->n == cap)
		{
			uint64_t   *nv;

			cap = cap ? cap * 2 : 64;
			nv = lance_realloc(out->versions, (uint64_t) cap * sizeof(uint64_t), err);
			if (nv == NULL)
			{
				closedir(dir);
				lance_version_list_free(out);
				return false;
			}
			out->versions = nv;
		}
		out->versions[out->n++] = v;
	}
	closedir(dir);
	if (seen_v1 && seen_v2)
	{
		lance_version_list_free(out);
		return lance_fail(err, "dataset \"%s\" mixes V1 and V2 manifest naming", dataset);
	}
	if (out->n == 0)
	{
		lance_version_list_free(out);
		return lance_fail(err, "dataset \"%s\" has no committed versions", dataset);
	}
	out->v2_naming = seen_v2;
	qsort(out->versions, out->n, sizeof(uint64_t), cmp_u64);
	return true;
}

void
lance_version_list_free(LanceVersionList *l)
{
	lance_free(l->versions);
	l->versions = NULL;
	l->n = 0;
}

bool
lance_manifest_path(const char *dataset, uint64_t version, char *buf, size_t buflen,
					uint64_t *version_out, LanceError *err)
{
	LanceVersionList l;
	bool		v2;
	int			i;
	int			n;

	if (!lance_list_versions(dataset, &l, err))
		return false;
	v2 = l.v2_naming;
	if (version == 0)
		version = l.versions[l.n - 1];
	else
	{
		for (i = 0; i < l.n; i++)
			if (l.versions[i] == version)
				break;
		if (i == l.n)
		{
			uint64_t	latest = l.versions[l.n - 1];

			lance_version_list_free(&l);
			return lance_fail(err, "version %llu of dataset \"%s\" does not exist (latest is %llu)",
							  (unsigned long long) version, dataset, (unsigned long long) latest);
		}
	}
	lance_version_list_free(&l);
	if (v2)
		n = snprintf(buf, buflen, "%s/_versions/%020llu.manifest", dataset,
					 (unsigned long long) (UINT64_MAX - version));
	else
		n = snprintf(buf, buflen, "%s/_versions/%llu.manifest", dataset, (unsigned long long) version);
	if (n < 0 || (size_t) n >= buflen)
		return lance_fail(err, "dataset path too long");
	*version_out = version;
	return true;
}

/*
 * Minimal JSON scanner: walks the top-level object and returns the value of
 * `key` if it is a non-negative integer.  Strings are skipped with their
 * escapes so that a key inside a string value cannot match.
 */
bool
lance_json_get_u64(const char *json, size_t len, const char *key, uint64_t *out)
{
	size_t		i = 0;
	int			depth = 0;
	size_t		klen = strlen(key);
	bool		expect_key = false;

	while (i < len)
	{
		char		c = json[i];

		if (c == '"')
		{
			size_t		start = ++i;

			while (i < len && json[i] != '"')
				i += (json[i] == '\\') ? 2 : 1;
			if (i >= len)
				return false;
			if (depth == 1 && expect_key && i - start == klen &&
				memcmp(json + start, key, klen) == 0)
			{
				uint64_t	v = 0;
				bool		any = false;

				i++;
				while (i < len && isspace((unsigned char) json[i]))
					i++;
				if (i >= len || json[i] != ':')
					return false;
				i++;
				while (i < len && isspace((unsigned char) json[i]))
					i++;
				while (i < len && isdigit((unsigned char) json[i]))
				{
					if (v > (UINT64_MAX - 9) / 10)
						return false;
					v = v * 10 + (uint64_t) (json[i] - '0');
					any = true;
					i++;
				}
				if (!any)
					return false;
				*out = v;
				return true;
			}
			expect_key = false;
			i++;
			continue;
		}
		if (c == '{' || c == '[')
		{
			depth++;
			expect_key = (c == '{' && depth == 1);
		}
		else if (c == '}' || c == ']')
			depth--;
		else if (c == ',' && depth == 1)
			expect_key = true;
		i++;
	}
	return false;
}

static bool
valid_tag_name(const char *tag)
{
	const char *s;

	if (tag[0] == '\0' || tag[0] == '.' || strlen(tag) > 255)
		return false;
	for (s = tag; *s; s++)
		if (!(isalnum((unsigned char) *s) || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return strstr(tag, "..") == NULL;
}

bool
lance_tag_lookup(const char *dataset, const char *tag, uint64_t *version,
				 uint64_t *manifest_size, LanceError *err)
{
	char		path[4096];
	uint8_t    *data;
	uint64_t	size = 0;
	bool		ok;

	if (!valid_tag_name(tag))
		return lance_fail(err, "invalid tag name \"%s\"", tag);
	if (snprintf(path, sizeof(path), "%s/_refs/tags/%s.json", dataset, tag) >= (int) sizeof(path))
		return lance_fail(err, "dataset path too long");
	data = lance_read_file(path, MAX_TAG_FILE, &size, err);
	if (data == NULL)
	{
		if (err)
			snprintf(err->msg, sizeof(err->msg), "tag \"%s\" does not exist in dataset \"%s\"", tag, dataset);
		return false;
	}
	ok = lance_json_get_u64((const char *) data, size, "version", version);
	*manifest_size = 0;
	if (!lance_json_get_u64((const char *) data, size, "manifestSize", manifest_size))
		(void) lance_json_get_u64((const char *) data, size, "manifest_size", manifest_size);
	lance_free(data);
	if (!ok || *version == 0)
		return lance_fail(err, "tag file \"%s\" has no valid version", path);
	return true;
}

/* ---- stable row ids ---- */

static uint64_t
encoded_u64_count(const Lancepb__EncodedU64Array *a)
{
	switch (a->array_case)
	{
		case LANCEPB__ENCODED_U64_ARRAY__ARRAY_U16_ARRAY:
			return a->u16_array->offsets.len / 2;
		case LANCEPB__ENCODED_U64_ARRAY__ARRAY_U32_ARRAY:
			return a->u32_array->offsets.len / 4;
		case LANCEPB__ENCODED_U64_ARRAY__ARRAY_U64_ARRAY:
			return a->u64_array->values.len / 8;
		default:
			return 0;
	}
}

static bool
decode_u64_array(Lancepb__EncodedU64Array *a, uint64_t *out, uint64_t room, uint64_t *n,
				 LanceError *err)
{
	uint64_t	i;
	uint64_t	cnt;

	switch (a->array_case)
	{
		case LANCEPB__ENCODED_U64_ARRAY__ARRAY_U16_ARRAY:
			cnt = a->u16_array->offsets.len / 2;
			if (a->u16_array->offsets.len % 2 || cnt > room)
				return lance_fail(err, "invalid row id array");
			for (i = 0; i < cnt; i++)
				out[i] = a->u16_array->base_value + lance_le16(a->u16_array->offsets.data + 2 * i);
			break;
		case LANCEPB__ENCODED_U64_ARRAY__ARRAY_U32_ARRAY:
			cnt = a->u32_array->offsets.len / 4;
			if (a->u32_array->offsets.len % 4 || cnt > room)
				return lance_fail(err, "invalid row id array");
			for (i = 0; i < cnt; i++)
				out[i] = a->u32_array->base_value + lance_le32(a->u32_array->offsets.data + 4 * i);
			break;
		case LANCEPB__ENCODED_U64_ARRAY__ARRAY_U64_ARRAY:
			cnt = a->u64_array->values.len / 8;
			if (a->u64_array->values.len % 8 || cnt > room)
				return lance_fail(err, "invalid row id array");
			for (i = 0; i < cnt; i++)
				out[i] = lance_le64(a->u64_array->values.data + 8 * i);
			break;
		default:
			return lance_fail(err, "unknown row id array encoding");
	}
	*n = cnt;
	return true;
}

bool
lance_row_ids_decode(const uint8_t *data, uint64_t len, uint64_t n, uint64_t *out, LanceError *err)
{
	Lancepb__RowIdSequence *seq;
	uint64_t	pos = 0;
	size_t		s;
	bool		ok = true;

	seq = lancepb__row_id_sequence__unpack(&lance_pb_allocator, len, data);
	if (seq == NULL)
		return lance_fail(err, "invalid row id sequence");
	for (s = 0; ok && s < seq->n_segments; s++)
	{
		Lancepb__U64Segment *g = seq->segments[s];
		uint64_t	cnt = 0;
		uint64_t	v;

		switch (g->segment_case)
		{
			case LANCEPB__U64_SEGMENT__SEGMENT_RANGE:
				if (g->range->end < g->range->start || g->range->end - g->range->start > n - pos)
				{
					ok = lance_fail(err, "row id range exceeds the fragment");
					break;
				}
				for (v = g->range->start; v < g->range->end; v++)
					out[pos + cnt++] = v;
				break;
			case LANCEPB__U64_SEGMENT__SEGMENT_RANGE_WITH_BITMAP:
				{
					Lancepb__RangeWithBitmap *b = g->range_with_bitmap;

					if (b->end < b->start || (b->end - b->start + 7) / 8 > b->bitmap.len)
					{
						ok = lance_fail(err, "invalid row id bitmap segment");
						break;
					}
					for (v = b->start; ok && v < b->end; v++)
					{
						uint64_t	bit = v - b->start;

						if (b->bitmap.data[bit / 8] & (1 << (bit % 8)))
						{
							if (pos + cnt >= n)
								ok = lance_fail(err, "row id bitmap exceeds the fragment");
							else
								out[pos + cnt++] = v;
						}
					}
					break;
				}
			case LANCEPB__U64_SEGMENT__SEGMENT_RANGE_WITH_HOLES:
				{
					Lancepb__RangeWithHoles *h = g->range_with_holes;
					uint64_t   *holes;
					uint64_t	nholes = 0;
					uint64_t	hi = 0;

					if (h->end < h->start || h->holes == NULL)
					{
						ok = lance_fail(err, "invalid row id holes segment");
						break;
					}
					/* size the hole list by its encoding, never by the range */
					nholes = encoded_u64_count(h->holes);
					holes = lance_alloc_array(nholes, sizeof(uint64_t), err);
					if (holes == NULL || !decode_u64_array(h->holes, holes, nholes, &nholes, err))
					{
						lance_free(holes);
						ok = false;
						break;
					}
					/* holes are sorted ascending */
					for (v = h->start; ok && v < h->end; v++)
					{
						if (hi < nholes && holes[hi] == v)
						{
							hi++;
							continue;
						}
						if (pos + cnt >= n)
							ok = lance_fail(err, "row id range exceeds the fragment");
						else
							out[pos + cnt++] = v;
					}
					lance_free(holes);
					break;
				}
			case LANCEPB__U64_SEGMENT__SEGMENT_SORTED_ARRAY:
				ok = decode_u64_array(g->sorted_array, out + pos, n - pos, &cnt, err);
				break;
			case LANCEPB__U64_SEGMENT__SEGMENT_ARRAY:
				ok = decode_u64_array(g->array, out + pos, n - pos, &cnt, err);
				break;
			default:
				ok = lance_fail(err, "unknown row id segment type");
				break;
		}
		pos += cnt;
	}
	lancepb__row_id_sequence__free_unpacked(seq, &lance_pb_allocator);
	if (ok && pos != n)
		return lance_fail(err, "row id sequence has %llu ids for %llu rows",
						  (unsigned long long) pos, (unsigned long long) n);
	return ok;
}

bool
lance_row_ids_load(const char *dataset, const LanceFragment *fr, uint64_t *out, LanceError *err)
{
	LanceReader r;
	uint8_t    *data;
	char		path[4096];
	bool		ok;

	if (fr->row_ids != NULL)
		return lance_row_ids_decode(fr->row_ids, fr->row_ids_len, fr->physical_rows, out, err);
	if (!fr->external_row_ids)
		return lance_fail(err, "fragment %llu has no row ids", (unsigned long long) fr->id);
	if (snprintf(path, sizeof(path), "%s/%s", dataset, fr->row_ids_path) >= (int) sizeof(path))
		return lance_fail(err, "dataset path too long");
	if (!lance_reader_open(&r, path, err))
	{
		lance_reader_close(&r);	/* its name (and a descriptor fstat failed on) */
		return false;
	}
	data = NULL;
	if (!lance_range_ok(fr->row_ids_offset, fr->row_ids_size, r.size))
		ok = lance_fail(err, "row id file \"%s\": range [%llu, +%llu) lies outside the file", path,
						(unsigned long long) fr->row_ids_offset, (unsigned long long) fr->row_ids_size);
	else if ((data = lance_reader_read_alloc(&r, fr->row_ids_offset, fr->row_ids_size, err)) == NULL)
		ok = false;
	else
		ok = lance_row_ids_decode(data, fr->row_ids_size, fr->physical_rows, out, err);
	if (!ok && err && err->set && strstr(err->msg, path) == NULL)
		lance_error_prefix(err, "row id file \"%s\": ", path);
	lance_free(data);
	lance_reader_close(&r);
	return ok;
}
