/*
 * lance_commit.c
 *	  Committing a new dataset version the way LanceDB does on a local
 *	  filesystem.
 *
 * The new manifest is the latest one with the change applied (version + 1,
 * new fragments with fresh ids, max_fragment_id, timestamp, writer version,
 * the index section copied as is, row ids when stable row ids are on), with
 * the transaction inline as well as in _transactions/.  It is written to a
 * temporary file and published with link(), which fails with EEXIST when
 * another writer committed that version first: then the commits in between
 * are checked (an append stays valid over anything but an overwrite or a
 * restore) and the manifest is rebuilt on the newer version.  The version
 * hint is rewritten last; readers never trust it alone.
 */
#include "lance_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lance_file.h"
#include "lance_pb.h"

#include <roaring/roaring.h>

#define MAX_COMMIT_RETRIES	50

/* The id the next new fragment gets: past max_fragment_id, or past every id. */
static uint64_t
next_fragment_id(const Lancepb__Manifest *pb)
{
	uint64_t	next = 0;

	if (pb->_max_fragment_id_case == LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID)
		return (uint64_t) pb->max_fragment_id + 1;
	for (size_t i = 0; i < pb->n_fragments; i++)
		if (pb->fragments[i]->id + 1 > next)
			next = pb->fragments[i]->id + 1;
	return next;
}

void
lance_random_hex(char *out, int nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t		raw[64];
	int			fd = open("/dev/urandom", O_RDONLY);
	int			i;
	ssize_t		got = -1;

	if (nbytes > 64)
		nbytes = 64;
	if (fd >= 0)
	{
		got = read(fd, raw, nbytes);
		close(fd);
	}
	if (got != nbytes)
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		srand((unsigned) (ts.tv_nsec ^ getpid()));
		for (i = 0; i < nbytes; i++)
			raw[i] = (uint8_t) rand();
	}
	for (i = 0; i < nbytes; i++)
	{
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

/* A version-4 style UUID string (36 characters + NUL). */
static void
make_uuid(char *out)
{
	char		h[33];

	lance_random_hex(h, 16);
	snprintf(out, 37, "%.8s-%.4s-4%.3s-a%.3s-%.12s", h, h + 8, h + 13, h + 17, h + 20);
}

/* Writes a whole file and fsyncs it; O_EXCL so nothing is overwritten. */
static bool
write_file_excl(const char *path, const uint8_t *data, uint64_t len, LanceError *err)
{
	int			fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	uint64_t	done = 0;

	if (fd < 0)
		return lance_fail(err, "could not create \"%s\": %s", path, strerror(errno));
	while (done < len)
	{
		ssize_t		w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
		{
			close(fd);
			unlink(path);
			return lance_fail(err, "could not write \"%s\": %s", path, strerror(errno));
		}
		done += (uint64_t) w;
	}
	if (fsync(fd) != 0)
	{
		close(fd);
		unlink(path);
		return lance_fail(err, "could not fsync \"%s\": %s", path, strerror(errno));
	}
	close(fd);
	return true;
}

static void
fsync_dir(const char *path)
{
	int			fd = open(path, O_RDONLY);

	if (fd >= 0)
	{
		(void) fsync(fd);
		close(fd);
	}
}

/* Reads the transaction of a committed manifest image (inline, else its file). */
static Lancepb__Transaction *
load_transaction(const char *dataset, const uint8_t *img, uint64_t size,
				 const Lancepb__Manifest *pb, LanceError *err)
{
	Lancepb__Transaction *t = NULL;

	if (pb->_transaction_section_case == LANCEPB__MANIFEST___TRANSACTION_SECTION_TRANSACTION_SECTION &&
		pb->transaction_section + 4 <= size)
	{
		uint32_t	len = lance_le32(img + pb->transaction_section);

		if (lance_range_ok(pb->transaction_section + 4, len, size))
			t = lancepb__transaction__unpack(&lance_pb_allocator, len,
											 img + pb->transaction_section + 4);
	}
	else if (pb->transaction_file && pb->transaction_file[0])
	{
		char		path[4096];
		uint64_t	tsize;
		uint8_t    *data;

		snprintf(path, sizeof(path), "%s/_transactions/%s", dataset, pb->transaction_file);
		data = lance_read_file(path, LANCE_MAX_PB_BYTES, &tsize, err);
		if (data == NULL)
			return NULL;
		t = lancepb__transaction__unpack(&lance_pb_allocator, tsize, data);
		lance_free(data);
	}
	if (t == NULL)
		lance_fail(err, "the transaction of version %llu of \"%s\" cannot be read",
				   (unsigned long long) pb->version, dataset);
	return t;
}

static bool
manifest_file_path(char *buf, size_t len, const char *dataset, uint64_t version, bool v2)
{
	int			n;

	if (v2)
		n = snprintf(buf, len, "%s/_versions/%020llu.manifest", dataset,
					 (unsigned long long) (UINT64_MAX - version));
	else
		n = snprintf(buf, len, "%s/_versions/%llu.manifest", dataset,
					 (unsigned long long) version);
	return n > 0 && (size_t) n < len;
}

/* Image and parsed form of one committed manifest. */
typedef struct Committed
{
	uint8_t    *img;
	uint64_t	size;
	Lancepb__Manifest *pb;
} Committed;

static void
committed_free(Committed *c)
{
	if (c->pb)
		lancepb__manifest__free_unpacked(c->pb, &lance_pb_allocator);
	if (c->img)
		lance_free(c->img);
	memset(c, 0, sizeof(*c));
}

static bool
committed_load(Committed *c, const char *dataset, uint64_t version, bool v2, LanceError *err)
{
	char		path[4096];
	int64_t		pos;
	uint32_t	len;

	memset(c, 0, sizeof(*c));
	if (!manifest_file_path(path, sizeof(path), dataset, version, v2))
		return lance_fail(err, "dataset path too long");
	c->img = lance_read_file(path, LANCE_MAX_PB_BYTES, &c->size, err);
	if (c->img == NULL)
		return false;
	if (c->size < 20 || memcmp(c->img + c->size - 4, "LANC", 4) != 0)
		return lance_fail(err, "manifest \"%s\" is invalid", path);
	pos = (int64_t) lance_le64(c->img + c->size - 16);
	if (pos < 0 || (uint64_t) pos > c->size - 20)
		return lance_fail(err, "manifest \"%s\" is invalid", path);
	len = lance_le32(c->img + pos);
	if (len > c->size - 20 - (uint64_t) pos)
		return lance_fail(err, "manifest \"%s\" is invalid", path);
	c->pb = lancepb__manifest__unpack(&lance_pb_allocator, len, c->img + pos + 4);
	if (c->pb == NULL)
		return lance_fail(err, "manifest \"%s\" is invalid", path);
	return true;
}

/* Fragment protobufs for the new data files; ids from first_id on. */
static Lancepb__DataFragment **
build_fragments(const LanceNewFragment *frags, int nfrags, uint64_t first_id,
				bool row_ids, uint64_t next_row_id, LanceError *err)
{
	Lancepb__DataFragment **out = lance_alloc0(sizeof(void *) * (nfrags + 1), err);
	int			i,
				j;

	if (out == NULL)
		return NULL;
	for (i = 0; i < nfrags; i++)
	{
		Lancepb__DataFragment *f = lance_alloc0(sizeof(*f), err);
		Lancepb__DataFile *df = lance_alloc0(sizeof(*df), err);
		Lancepb__DataFile **dfp = lance_alloc0(sizeof(void *), err);
		int32_t    *cols = lance_alloc_array(frags[i].nfields + 1, sizeof(int32_t), err);

		if (!f || !df || !dfp || !cols)
			return NULL;
		lancepb__data_file__init(df);
		df->path = frags[i].file;
		df->n_fields = frags[i].nfields;
		df->fields = frags[i].field_ids;
		for (j = 0; j < frags[i].nfields; j++)
			cols[j] = j;
		df->n_column_indices = frags[i].nfields;
		df->column_indices = cols;
		df->file_major_version = frags[i].major;
		df->file_minor_version = frags[i].minor;
		df->file_size_bytes = frags[i].size_bytes;
		dfp[0] = df;
		lancepb__data_fragment__init(f);
		f->id = first_id + i;
		f->n_files = 1;
		f->files = dfp;
		f->physical_rows = frags[i].nrows;
		if (row_ids && frags[i].row_ids != NULL)
		{
			/* rewritten rows keep their ids */
			f->row_id_sequence_case = LANCEPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS;
			f->inline_row_ids.data = (uint8_t *) frags[i].row_ids;
			f->inline_row_ids.len = frags[i].row_ids_len;
		}
		else if (row_ids)
		{
			Lancepb__RangeSegment *rs = lance_alloc0(sizeof(*rs), err);
			Lancepb__U64Segment *seg = lance_alloc0(sizeof(*seg), err);
			Lancepb__U64Segment **segp = lance_alloc0(sizeof(void *), err);
			Lancepb__RowIdSequence seq;
			size_t		n;
			uint8_t    *buf;

			if (!rs || !seg || !segp)
				return NULL;
			lancepb__range_segment__init(rs);
			rs->start = next_row_id;
			rs->end = next_row_id + frags[i].nrows;
			next_row_id += frags[i].nrows;
			lancepb__u64_segment__init(seg);
			seg->segment_case = LANCEPB__U64_SEGMENT__SEGMENT_RANGE;
			seg->range = rs;
			segp[0] = seg;
			lancepb__row_id_sequence__init(&seq);
			seq.n_segments = 1;
			seq.segments = segp;
			n = protobuf_c_message_get_packed_size(&seq.base);
			buf = lance_alloc(n + 1, err);
			if (buf == NULL)
				return NULL;
			protobuf_c_message_pack(&seq.base, buf);
			f->row_id_sequence_case = LANCEPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS;
			f->inline_row_ids.data = buf;
			f->inline_row_ids.len = n;
		}
		out[i] = f;
	}
	return out;
}

static bool
buf_section(LanceBuf *b, const uint8_t *p, uint32_t len, LanceError *err)
{
	return lance_buf_append(b, &len, 4, err) && lance_buf_append(b, p, len, err);
}

static bool
buf_pb_section(LanceBuf *b, const ProtobufCMessage *msg, LanceError *err)
{
	size_t		n = protobuf_c_message_get_packed_size(msg);
	uint32_t	len = (uint32_t) n;

	if (!lance_buf_append(b, &len, 4, err) || !lance_buf_reserve(b, n, err))
		return false;
	protobuf_c_message_pack(msg, b->data + b->len);
	b->len += n;
	return true;
}

/* Rewrites the version hint atomically (temporary file + rename). */
static void
write_hint(const char *dataset, uint64_t version)
{
	char		tmp[4096],
				path[4096],
				body[64],
				rnd[17];
	int			n = snprintf(body, sizeof(body), "{\"version\":%llu}", (unsigned long long) version);
	LanceError	err = {0};

	lance_random_hex(rnd, 8);
	snprintf(tmp, sizeof(tmp), "%s/_versions/.hint-%s.tmp", dataset, rnd);
	snprintf(path, sizeof(path), "%s/_versions/latest_version_hint.json", dataset);
	if (write_file_excl(tmp, (const uint8_t *) body, (uint64_t) n, &err))
	{
		if (rename(tmp, path) != 0)
			unlink(tmp);
	}
}

/* True if fragment id is among the deletions. */
/*
 * Names the transaction of a new version (uuid and "<read version>-<uuid>.txn"
 * into the caller's buffers), packs it into *img and writes it to
 * _transactions/ (its path into txn_path).
 */
static bool
write_transaction(const char *dataset, Lancepb__Transaction *txn, char *uuid,
				  char *txn_name, size_t name_len, LanceBuf *img, char *txn_path,
				  size_t path_len, LanceError *err)
{
	make_uuid(uuid);
	txn->uuid = uuid;
	snprintf(txn_name, name_len, "%llu-%s.txn", (unsigned long long) txn->read_version, uuid);
	if (!lance_buf_reserve(img, protobuf_c_message_get_packed_size(&txn->base), err))
		return false;
	img->len = protobuf_c_message_pack(&txn->base, img->data);
	snprintf(txn_path, path_len, "%s/_transactions/%s", dataset, txn_name);
	return write_file_excl(txn_path, img->data, img->len, err);
}

/* The index section of a committed version (*len 0, *p NULL without one). */
static bool
index_section(const Committed *c, const char *dataset, const uint8_t **p, uint32_t *len,
			  LanceError *err)
{
	*p = NULL;
	*len = 0;
	if (c->pb->_index_section_case != LANCEPB__MANIFEST___INDEX_SECTION_INDEX_SECTION)
		return true;
	if (c->pb->index_section + 4 > c->size ||
		!lance_range_ok(c->pb->index_section + 4, *len = lance_le32(c->img + c->pb->index_section),
						c->size))
		return lance_fail(err, "version %llu of \"%s\": invalid index section",
						  (unsigned long long) c->pb->version, dataset);
	*p = c->img + c->pb->index_section + 4;
	return true;
}

/*
 * Completes and publishes the manifest of `version`: nm (a copy of a base
 * manifest with its content set) gets the version, a timestamp, the writer
 * and the transaction; the file [index section][transaction][manifest]
 * [trailer] is written under a temporary name and linked to its final
 * name, which fails if another writer committed that version first.
 * Returns 1 when committed (then the version hint is updated), 0 when the
 * race was lost, -1 on error.
 */
static int
publish_manifest(const char *dataset, Lancepb__Manifest *nm, uint64_t version, bool v2_naming,
				 const char *writer, const char *writer_version, const char *txn_name,
				 const uint8_t *idx, uint32_t idx_len, const LanceBuf *txn_img, LanceError *err)
{
	Lancepb__Timestamp ts;
	Lancepb__WriterVersion wv;
	struct timespec now;
	LanceBuf	img = {0};
	char		tmp[4096],
				final[4096],
				rnd[17];
	int64_t		mpos;
	uint16_t	mm[2] = {0, 2};
	bool		ok;

	nm->version = version;
	nm->tag = (char *) "";
	clock_gettime(CLOCK_REALTIME, &now);
	lancepb__timestamp__init(&ts);
	ts.seconds = now.tv_sec;
	ts.nanos = (int32_t) now.tv_nsec;
	nm->timestamp = &ts;
	lancepb__writer_version__init(&wv);
	wv.library = (char *) writer;
	wv.version = (char *) writer_version;
	nm->writer_version = &wv;
	nm->transaction_file = (char *) txn_name;
	nm->_index_section_case = LANCEPB__MANIFEST___INDEX_SECTION__NOT_SET;
	if (idx != NULL)
	{
		nm->_index_section_case = LANCEPB__MANIFEST___INDEX_SECTION_INDEX_SECTION;
		nm->index_section = img.len;
		if (!buf_section(&img, idx, idx_len, err))
			goto fail;
	}
	nm->_transaction_section_case = LANCEPB__MANIFEST___TRANSACTION_SECTION_TRANSACTION_SECTION;
	nm->transaction_section = img.len;
	if (!buf_section(&img, txn_img->data, (uint32_t) txn_img->len, err))
		goto fail;
	mpos = (int64_t) img.len;
	if (!buf_pb_section(&img, &nm->base, err) ||
		!lance_buf_append(&img, &mpos, 8, err) ||
		!lance_buf_append(&img, mm, 4, err) ||
		!lance_buf_append(&img, "LANC", 4, err))
		goto fail;
	if (!manifest_file_path(final, sizeof(final), dataset, version, v2_naming))
	{
		lance_fail(err, "dataset path too long");
		goto fail;
	}
	lance_random_hex(rnd, 8);
	snprintf(tmp, sizeof(tmp), "%s/_versions/.tmp-%s.manifest-part", dataset, rnd);
	ok = write_file_excl(tmp, img.data, img.len, err);
	lance_buf_free(&img);
	if (!ok)
		return -1;
	if (link(tmp, final) == 0)
	{
		unlink(tmp);
		snprintf(tmp, sizeof(tmp), "%s/_versions", dataset);
		fsync_dir(tmp);
		write_hint(dataset, version);
		return 1;
	}
	{
		int			e = errno;

		unlink(tmp);
		if (e == EEXIST)
			return 0;
		lance_fail(err, "could not link \"%s\": %s", final, strerror(e));
		return -1;
	}
fail:
	lance_buf_free(&img);
	return -1;
}

static bool
touches(const LanceFragmentDeletes *dels, int ndels, uint64_t id)
{
	int			i;

	for (i = 0; i < ndels; i++)
		if (dels[i].fragment_id == id)
			return true;
	return false;
}

/*
 * Whether a transaction committed since our read version invalidates our
 * change; *why says how.  Appends never conflict with ours; deletions
 * conflict with any change to the same fragments, and with rewrites.
 */
static bool
txn_conflicts(const Lancepb__Transaction *t, const LanceFragmentDeletes *dels, int ndels,
			  const char **why)
{
	size_t		i;

	*why = "changed the same fragments";
	switch (t->operation_case)
	{
		case LANCEPB__TRANSACTION__OPERATION_APPEND:
		case LANCEPB__TRANSACTION__OPERATION_CREATE_INDEX:
		case LANCEPB__TRANSACTION__OPERATION_RESERVE_FRAGMENTS:
		case LANCEPB__TRANSACTION__OPERATION_UPDATE_CONFIG:
			return false;
		case LANCEPB__TRANSACTION__OPERATION_REWRITE:
			*why = "rewrote fragments (compaction)";
			return ndels > 0;
		case LANCEPB__TRANSACTION__OPERATION_DELETE:
			for (i = 0; i < t->delete_->n_updated_fragments; i++)
				if (touches(dels, ndels, t->delete_->updated_fragments[i]->id))
					return true;
			for (i = 0; i < t->delete_->n_deleted_fragment_ids; i++)
				if (touches(dels, ndels, t->delete_->deleted_fragment_ids[i]))
					return true;
			return false;
		case LANCEPB__TRANSACTION__OPERATION_UPDATE:
			for (i = 0; i < t->update->n_updated_fragments; i++)
				if (touches(dels, ndels, t->update->updated_fragments[i]->id))
					return true;
			for (i = 0; i < t->update->n_removed_fragment_ids; i++)
				if (touches(dels, ndels, t->update->removed_fragment_ids[i]))
					return true;
			return false;
		case LANCEPB__TRANSACTION__OPERATION_OVERWRITE:
		case LANCEPB__TRANSACTION__OPERATION_RESTORE:
			*why = "replaced the table's content";
			return true;
		case LANCEPB__TRANSACTION__OPERATION_MERGE:
		case LANCEPB__TRANSACTION__OPERATION_PROJECT:
			*why = "changed the schema";
			return true;
		default:
			*why = "made a change unknown to this writer";
			return true;
	}
}

/*
 * Writes the merged deletions of fragment f (existing deletion file plus
 * d->offsets) as a new deletion file (Arrow IPC below LANCE_ARROW_DELETION_MAX
 * deletions, a roaring bitmap above, as LanceDB); *all when every row is gone
 * (then no file is written).  The new DeletionFile goes to *out.
 */
static bool
write_deletions(const char *dataset, uint64_t read_version, const Lancepb__DataFragment *f,
				const LanceFragmentDeletes *d, Lancepb__DeletionFile *out, bool *all,
				char *path, size_t pathlen, LanceError *err)
{
	roaring_bitmap_t *rb = roaring_bitmap_create();
	uint8_t    *old = NULL;
	uint64_t	i,
				n;
	size_t		size;
	char	   *buf;
	char		rnd[17];
	uint64_t	id;
	bool		ok;
	bool		arrow;

	if (rb == NULL)
		return lance_fail(err, "out of memory");
	if (f->deletion_file != NULL)
	{
		LanceDeletion ld;

		memset(&ld, 0, sizeof(ld));
		ld.present = true;
		ld.file_type = f->deletion_file->file_type;
		ld.read_version = f->deletion_file->read_version;
		ld.id = f->deletion_file->id;
		ld.num_deleted_rows = f->deletion_file->num_deleted_rows;
		old = lance_deletion_load(dataset, f->id, &ld, f->physical_rows, err);
		if (old == NULL)
		{
			roaring_bitmap_free(rb);
			return false;
		}
		for (i = 0; i < f->physical_rows; i++)
			if ((old[i >> 3] >> (i & 7)) & 1)
				roaring_bitmap_add(rb, (uint32_t) i);
		lance_free(old);
	}
	for (i = 0; i < d->n; i++)
	{
		if (d->offsets[i] >= f->physical_rows)
		{
			roaring_bitmap_free(rb);
			return lance_fail(err, "row offset %u is past the end of fragment %llu",
							  d->offsets[i], (unsigned long long) f->id);
		}
		roaring_bitmap_add(rb, d->offsets[i]);
	}
	n = roaring_bitmap_get_cardinality(rb);
	*all = n == f->physical_rows;
	if (*all)
	{
		roaring_bitmap_free(rb);
		return true;
	}
	arrow = n < LANCE_ARROW_DELETION_MAX;
	if (arrow)
	{
		/* few deletions: an Arrow IPC file of the sorted offsets, as LanceDB */
		uint32_t   *offs = lance_alloc_array(n + 1, sizeof(uint32_t), err);
		LanceBuf	ab = {0};

		if (offs == NULL)
		{
			roaring_bitmap_free(rb);
			return false;
		}
		roaring_bitmap_to_uint32_array(rb, offs);
		roaring_bitmap_free(rb);
		ok = lance_arrow_deletion_encode(offs, (uint32_t) n, &ab, err);
		lance_free(offs);
		if (!ok)
		{
			lance_buf_free(&ab);
			return false;
		}
		buf = (char *) ab.data;
		size = ab.len;
	}
	else
	{
		roaring_bitmap_run_optimize(rb);
		size = roaring_bitmap_portable_size_in_bytes(rb);
		buf = lance_alloc(size + 1, err);
		if (buf == NULL)
		{
			roaring_bitmap_free(rb);
			return false;
		}
		roaring_bitmap_portable_serialize(rb, buf);
		roaring_bitmap_free(rb);
	}
	lance_random_hex(rnd, 8);
	id = strtoull(rnd, NULL, 16) >> 1;	/* LanceDB reads it as i64 too */
	snprintf(path, pathlen, "%s/_deletions", dataset);
	(void) mkdir(path, 0755);
	snprintf(path, pathlen, "%s/_deletions/%llu-%llu-%llu.%s", dataset,
			 (unsigned long long) f->id, (unsigned long long) read_version,
			 (unsigned long long) id, arrow ? "arrow" : "bin");
	ok = write_file_excl(path, (const uint8_t *) buf, size, err);
	lance_free(buf);
	if (!ok)
		return false;
	lancepb__deletion_file__init(out);
	out->file_type = arrow ? LANCE_DELETION_ARROW : LANCE_DELETION_BITMAP;
	out->read_version = read_version;
	out->id = id;
	out->num_deleted_rows = n;
	return true;
}

bool
lance_commit_append(const char *dataset, uint64_t read_version,
					const LanceNewFragment *frags, int nfrags,
					const char *writer, const char *writer_version,
					LanceCommitResult *res, bool *conflict, LanceError *err)
{
	return lance_commit_change(dataset, read_version, frags, nfrags, NULL, 0,
							   writer, writer_version, res, conflict, err);
}

bool
lance_commit_change(const char *dataset, uint64_t read_version,
					const LanceNewFragment *frags, int nfrags,
					const LanceFragmentDeletes *dels, int ndels,
					const char *writer, const char *writer_version,
					LanceCommitResult *res, bool *conflict, LanceError *err)
{
	char		path[4096];
	char	  **written = NULL;	/* files of the current attempt */
	int			nwritten = 0;
	uint64_t	checked = read_version; /* versions up to here are compatible */
	int			attempt;
	int			k;

	*conflict = false;
	memset(res, 0, sizeof(*res));
	written = lance_alloc0(sizeof(char *) * (ndels + 2), err);
	if (written == NULL)
		return false;
	snprintf(path, sizeof(path), "%s/_transactions", dataset);
	(void) mkdir(path, 0755);

#define DROP_WRITTEN() \
	do { \
		for (k = 0; k < nwritten; k++) \
		{ \
			unlink(written[k]); \
			lance_free(written[k]); \
		} \
		nwritten = 0; \
	} while (0)

	for (attempt = 0; attempt < MAX_COMMIT_RETRIES; attempt++)
	{
		LanceVersionList vl;
		uint64_t	latest;
		Committed	cur;
		Lancepb__Manifest *pb;
		Lancepb__DataFragment **newf;
		Lancepb__DataFragment **all;
		Lancepb__DataFragment **txn_frags;
		Lancepb__DataFragment **upd;
		uint64_t   *removed;
		int			nupd = 0,
					nremoved = 0;
		size_t		nall = 0;
		Lancepb__Manifest nm;
		Lancepb__Transaction txn;
		Lancepb__TxnAppend app;
		Lancepb__TxnDelete del;
		Lancepb__TxnUpdate upd_op;
		LanceBuf	txn_img = {0};
		char		uuid[37];
		char		txn_name[128];
		const uint8_t *idx;
		uint32_t	idx_len;
		int			published;
		uint64_t	first_id;
		uint64_t	next_row_id;
		bool		row_ids;
		size_t		i;
		uint64_t	v;

		if (!lance_list_versions(dataset, &vl, err))
			goto fail;
		latest = vl.versions[vl.n - 1];
		for (v = checked + 1; v <= latest; v++)
		{
			Committed	c;
			Lancepb__Transaction *t;
			const char *why;
			bool		bad;

			if (!committed_load(&c, dataset, v, vl.v2_naming, err))
			{
				committed_free(&c);
				lance_version_list_free(&vl);
				goto fail;
			}
			t = load_transaction(dataset, c.img, c.size, c.pb, err);
			committed_free(&c);
			if (t == NULL)
			{
				lance_version_list_free(&vl);
				goto fail;
			}
			bad = txn_conflicts(t, dels, ndels, &why);
			lancepb__transaction__free_unpacked(t, &lance_pb_allocator);
			if (bad)
			{
				*conflict = true;
				lance_version_list_free(&vl);
				lance_fail(err, "version %llu of \"%s\" was committed concurrently and %s",
						   (unsigned long long) v, dataset, why);
				goto fail;
			}
			checked = v;
		}
		if (!committed_load(&cur, dataset, latest, vl.v2_naming, err))
		{
			committed_free(&cur);
			lance_version_list_free(&vl);
			goto fail;
		}
		pb = cur.pb;

		/* deletions: a new deletion file per fragment, or the fragment goes */
		upd = lance_alloc0(sizeof(void *) * (ndels + 1), err);
		removed = lance_alloc0(sizeof(uint64_t) * (ndels + 1), err);
		all = lance_alloc0(sizeof(void *) * (pb->n_fragments + nfrags + 1), err);
		if (upd == NULL || removed == NULL || all == NULL)
			goto fail;
		for (i = 0; i < pb->n_fragments; i++)
		{
			Lancepb__DataFragment *f = pb->fragments[i];
			int			d;

			for (d = 0; d < ndels; d++)
				if (dels[d].fragment_id == f->id)
					break;
			if (d == ndels)
			{
				all[nall++] = f;
				continue;
			}
			{
				Lancepb__DataFragment *nf = lance_alloc(sizeof(*nf), err);
				Lancepb__DeletionFile *df = lance_alloc(sizeof(*df), err);
				bool		gone = false;

				if (nf == NULL || df == NULL)
					goto fail;
				if (!write_deletions(dataset, read_version, f, &dels[d], df, &gone,
									 path, sizeof(path), err))
					goto fail;
				if (gone)
				{
					removed[nremoved++] = f->id;
					continue;
				}
				written[nwritten++] = lance_strdup(path, err);
				*nf = *f;
				nf->deletion_file = df;
				upd[nupd++] = nf;
				all[nall++] = nf;
			}
		}
		for (k = 0; k < ndels; k++)
		{
			bool		found = false;

			for (i = 0; i < pb->n_fragments; i++)
				found |= pb->fragments[i]->id == dels[k].fragment_id;
			if (!found)
			{
				*conflict = true;
				lance_fail(err, "fragment %llu of \"%s\" no longer exists (changed concurrently)",
						   (unsigned long long) dels[k].fragment_id, dataset);
				committed_free(&cur);
				lance_version_list_free(&vl);
				goto fail;
			}
		}

		/* new fragments with fresh ids */
		first_id = next_fragment_id(pb);
		row_ids = (pb->reader_feature_flags & LANCE_FLAG_STABLE_ROW_IDS) != 0;
		next_row_id = pb->next_row_id;
		newf = build_fragments(frags, nfrags, first_id, row_ids, next_row_id, err);
		txn_frags = build_fragments(frags, nfrags, 0, false, 0, err);
		if (newf == NULL || txn_frags == NULL)
			goto fail;
		for (i = 0; i < (size_t) nfrags; i++)
		{
			all[nall++] = newf[i];
			next_row_id += frags[i].nrows;
		}

		/* the transaction */
		lancepb__transaction__init(&txn);
		txn.read_version = read_version;
		if (ndels == 0)
		{
			lancepb__txn_append__init(&app);
			app.n_fragments = nfrags;
			app.fragments = txn_frags;
			txn.operation_case = LANCEPB__TRANSACTION__OPERATION_APPEND;
			txn.append = &app;
		}
		else if (nfrags == 0)
		{
			lancepb__txn_delete__init(&del);
			del.n_updated_fragments = nupd;
			del.updated_fragments = upd;
			del.n_deleted_fragment_ids = nremoved;
			del.deleted_fragment_ids = removed;
			del.predicate = (char *) "";
			txn.operation_case = LANCEPB__TRANSACTION__OPERATION_DELETE;
			txn.delete_ = &del;
		}
		else
		{
			lancepb__txn_update__init(&upd_op);
			upd_op.n_removed_fragment_ids = nremoved;
			upd_op.removed_fragment_ids = removed;
			upd_op.n_updated_fragments = nupd;
			upd_op.updated_fragments = upd;
			upd_op.n_new_fragments = nfrags;
			upd_op.new_fragments = newf;
			txn.operation_case = LANCEPB__TRANSACTION__OPERATION_UPDATE;
			txn.update = &upd_op;
		}
		if (!write_transaction(dataset, &txn, uuid, txn_name, sizeof(txn_name), &txn_img,
							   path, sizeof(path), err))
			goto fail;
		written[nwritten++] = lance_strdup(path, err);

		nm = *pb;
		nm.n_fragments = nall;
		nm.fragments = all;
		if (nfrags > 0)
		{
			nm._max_fragment_id_case = LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID;
			nm.max_fragment_id = first_id + nfrags - 1;
		}
		if (row_ids)
			nm.next_row_id = next_row_id;
		if (nupd > 0)
		{
			nm.reader_feature_flags |= LANCE_FLAG_DELETION_FILES;
			nm.writer_feature_flags |= LANCE_FLAG_DELETION_FILES;
		}

		/* the index section copied */
		if (!index_section(&cur, dataset, &idx, &idx_len, err))
			published = -1;
		else
			published = publish_manifest(dataset, &nm, latest + 1, vl.v2_naming, writer,
										 writer_version, txn_name, idx, idx_len, &txn_img, err);
		lance_buf_free(&txn_img);
		lance_version_list_free(&vl);
		committed_free(&cur);
		if (published < 0)
			goto fail;
		if (published > 0)
		{
			res->version = latest + 1;
			res->retries = attempt;
			for (k = 0; k < nwritten; k++)
				lance_free(written[k]);
			lance_free(written);
			return true;
		}
		/* lost the race: rebase on what was committed and try again */
		DROP_WRITTEN();
	}
	*conflict = true;
	lance_fail(err, "could not commit to \"%s\" after %d concurrent commits",
			   dataset, MAX_COMMIT_RETRIES);
fail:
	DROP_WRITTEN();
	lance_free(written);
	return false;
#undef DROP_WRITTEN
}

bool
lance_commit_restore(const char *dataset, uint64_t version,
					 const char *writer, const char *writer_version,
					 LanceCommitResult *res, LanceError *err)
{
	char		path[4096];
	int			attempt;

	memset(res, 0, sizeof(*res));
	snprintf(path, sizeof(path), "%s/_transactions", dataset);
	(void) mkdir(path, 0755);
	for (attempt = 0; attempt < MAX_COMMIT_RETRIES; attempt++)
	{
		LanceVersionList vl;
		uint64_t	latest;
		Committed	old,
					cur;
		Lancepb__Manifest nm;
		Lancepb__Transaction txn;
		Lancepb__TxnRestore rst;
		LanceBuf	txn_img = {0};
		char		uuid[37],
					txn_name[128];
		const uint8_t *idx;
		uint32_t	idx_len;
		int			published;

		if (!lance_list_versions(dataset, &vl, err))
			return false;
		latest = vl.versions[vl.n - 1];
		if (!committed_load(&old, dataset, version, vl.v2_naming, err) ||
			!committed_load(&cur, dataset, latest, vl.v2_naming, err))
		{
			lance_version_list_free(&vl);
			return false;
		}
		lancepb__txn_restore__init(&rst);
		rst.version = version;
		lancepb__transaction__init(&txn);
		txn.read_version = latest;
		txn.operation_case = LANCEPB__TRANSACTION__OPERATION_RESTORE;
		txn.restore = &rst;
		if (!write_transaction(dataset, &txn, uuid, txn_name, sizeof(txn_name), &txn_img,
							   path, sizeof(path), err))
		{
			lance_buf_free(&txn_img);
			lance_version_list_free(&vl);
			committed_free(&old);
			committed_free(&cur);
			return false;
		}

		/* the old content (and indexes) as the next version; ids never go back */
		nm = *old.pb;
		if (cur.pb->_max_fragment_id_case == LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID &&
			(nm._max_fragment_id_case != LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID ||
			 cur.pb->max_fragment_id > nm.max_fragment_id))
		{
			nm._max_fragment_id_case = LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID;
			nm.max_fragment_id = cur.pb->max_fragment_id;
		}
		if (cur.pb->next_row_id > nm.next_row_id)
			nm.next_row_id = cur.pb->next_row_id;
		if (!index_section(&old, dataset, &idx, &idx_len, err))
			published = -1;
		else
			published = publish_manifest(dataset, &nm, latest + 1, vl.v2_naming, writer,
										 writer_version, txn_name, idx, idx_len, &txn_img, err);
		lance_buf_free(&txn_img);
		lance_version_list_free(&vl);
		committed_free(&old);
		committed_free(&cur);
		if (published > 0)
		{
			res->version = latest + 1;
			res->retries = attempt;
			return true;
		}
		unlink(path);
		if (published < 0)
			return false;
	}
	return lance_fail(err, "could not commit to \"%s\" after %d concurrent commits",
					  dataset, MAX_COMMIT_RETRIES);
}

/* ---- rewrite (compaction) ---- */

/* The fragment with this id in a manifest, or NULL. */
static Lancepb__DataFragment *
find_fragment(const Lancepb__Manifest *pb, uint64_t id)
{
	size_t		i;

	for (i = 0; i < pb->n_fragments; i++)
		if (pb->fragments[i]->id == id)
			return pb->fragments[i];
	return NULL;
}

/* Same deletions and files: nothing changed the fragment since it was read. */
static bool
same_fragment(const Lancepb__DataFragment *a, const Lancepb__DataFragment *b)
{
	size_t		i;

	if (a->physical_rows != b->physical_rows || a->n_files != b->n_files)
		return false;
	for (i = 0; i < a->n_files; i++)
		if (strcmp(a->files[i]->path, b->files[i]->path) != 0)
			return false;
	if ((a->deletion_file == NULL) != (b->deletion_file == NULL))
		return false;
	return a->deletion_file == NULL ||
		(a->deletion_file->id == b->deletion_file->id &&
		 a->deletion_file->read_version == b->deletion_file->read_version &&
		 a->deletion_file->file_type == b->deletion_file->file_type &&
		 a->deletion_file->num_deleted_rows == b->deletion_file->num_deleted_rows);
}

static bool
same_schema(const Lancepb__Manifest *a, const Lancepb__Manifest *b)
{
	size_t		i;

	if (a->n_fields != b->n_fields)
		return false;
	for (i = 0; i < a->n_fields; i++)
		if (a->fields[i]->id != b->fields[i]->id ||
			a->fields[i]->parent_id != b->fields[i]->parent_id ||
			strcmp(a->fields[i]->logical_type, b->fields[i]->logical_type) != 0)
			return false;
	return true;
}

/*
 * The index section of `cur` without the indexes that cover one of the
 * removed fragments (or whose coverage is unknown), packed into *out;
 * *kept = 0 when none is left.
 */
static bool
filter_indices(const Committed *cur, const uint64_t *removed, int nremoved, LanceBuf *out,
			   int *kept, int *dropped, LanceError *err)
{
	const Lancepb__Manifest *pb = cur->pb;
	Lancepb__IndexSection *sec;
	Lancepb__IndexMetadata **keep;
	uint32_t	ilen;
	size_t		i;
	int			nkeep = 0;
	bool		ok = true;

	*kept = 0;
	if (pb->_index_section_case != LANCEPB__MANIFEST___INDEX_SECTION_INDEX_SECTION)
		return true;
	if (pb->index_section + 4 > cur->size ||
		!lance_range_ok(pb->index_section + 4, ilen = lance_le32(cur->img + pb->index_section),
						cur->size))
		return lance_fail(err, "version %llu: invalid index section",
						  (unsigned long long) pb->version);
	sec = lancepb__index_section__unpack(&lance_pb_allocator, ilen,
										 cur->img + pb->index_section + 4);
	if (sec == NULL)
		return lance_fail(err, "version %llu: invalid index section",
						  (unsigned long long) pb->version);
	keep = lance_alloc0(sizeof(void *) * (sec->n_indices + 1), err);
	if (keep == NULL)
	{
		lancepb__index_section__free_unpacked(sec, &lance_pb_allocator);
		return false;
	}
	for (i = 0; i < sec->n_indices; i++)
	{
		Lancepb__IndexMetadata *im = sec->indices[i];
		bool		covers = true;

		if (im->fragment_bitmap.len > 0)
		{
			roaring_bitmap_t *rb =
				roaring_bitmap_portable_deserialize_safe((const char *) im->fragment_bitmap.data,
														 im->fragment_bitmap.len);
			int			k;

			if (rb != NULL)
			{
				covers = false;
				for (k = 0; k < nremoved && !covers; k++)
					covers = removed[k] <= UINT32_MAX &&
						roaring_bitmap_contains(rb, (uint32_t) removed[k]);
				roaring_bitmap_free(rb);
			}
		}
		if (covers)
			(*dropped)++;
		else
			keep[nkeep++] = im;
	}
	if (nkeep > 0)
	{
		Lancepb__IndexSection ns;

		lancepb__index_section__init(&ns);
		ns.n_indices = nkeep;
		ns.indices = keep;
		ok = lance_buf_reserve(out, protobuf_c_message_get_packed_size(&ns.base), err);
		if (ok)
			out->len = protobuf_c_message_pack(&ns.base, out->data);
	}
	*kept = nkeep;
	lance_free(keep);
	lancepb__index_section__free_unpacked(sec, &lance_pb_allocator);
	return ok;
}

bool
lance_commit_rewrite(const char *dataset, uint64_t read_version,
					 const LanceRewriteGroup *groups, int ngroups,
					 const char *writer, const char *writer_version,
					 LanceCommitResult *res, int *indices_dropped,
					 bool *conflict, LanceError *err)
{
	char		path[4096];
	char		txn_path[4096] = "";
	Committed	old;
	uint64_t   *removed;
	int			nremoved = 0;
	int			nnew = 0;
	int			attempt;
	int			g,
				k;
	size_t		i;

	*conflict = false;
	*indices_dropped = 0;
	memset(res, 0, sizeof(*res));
	memset(&old, 0, sizeof(old));
	for (g = 0; g < ngroups; g++)
	{
		nremoved += groups[g].nold;
		nnew += groups[g].nnew;
	}
	removed = lance_alloc0(sizeof(uint64_t) * (nremoved + 1), err);
	if (removed == NULL)
		return false;
	nremoved = 0;
	for (g = 0; g < ngroups; g++)
		for (k = 0; k < groups[g].nold; k++)
			removed[nremoved++] = groups[g].old_ids[k];
	snprintf(path, sizeof(path), "%s/_transactions", dataset);
	(void) mkdir(path, 0755);

	for (attempt = 0; attempt < MAX_COMMIT_RETRIES; attempt++)
	{
		LanceVersionList vl;
		uint64_t	latest;
		Committed	cur;
		Lancepb__Manifest *pb;
		Lancepb__Manifest nm;
		Lancepb__DataFragment **all;
		Lancepb__DataFragment ***newf;
		Lancepb__TxnRewriteGroup *tg;
		Lancepb__TxnRewriteGroup **tgp;
		Lancepb__DataFragment **oldf;
		Lancepb__TxnRewrite rw;
		Lancepb__Transaction txn;
		LanceBuf	txn_img = {0};
		LanceBuf	idx = {0};
		char		uuid[37],
					txn_name[128];
		uint64_t	first_id;
		size_t		nall = 0;
		int			nidx = 0,
					dropped = 0;
		int			published;
		bool		row_ids;

		if (!lance_list_versions(dataset, &vl, err))
			goto fail;
		latest = vl.versions[vl.n - 1];
		if (old.pb == NULL && !committed_load(&old, dataset, read_version, vl.v2_naming, err))
		{
			lance_version_list_free(&vl);
			goto fail;
		}
		if (!committed_load(&cur, dataset, latest, vl.v2_naming, err))
		{
			committed_free(&cur);
			lance_version_list_free(&vl);
			goto fail;
		}
		pb = cur.pb;

		/* every fragment being rewritten must be as it was read */
		if (!same_schema(old.pb, pb))
		{
			*conflict = true;
			lance_fail(err, "the schema of \"%s\" was changed concurrently (version %llu)",
					   dataset, (unsigned long long) latest);
			committed_free(&cur);
			lance_version_list_free(&vl);
			goto fail;
		}
		for (k = 0; k < nremoved; k++)
		{
			Lancepb__DataFragment *was = find_fragment(old.pb, removed[k]);
			Lancepb__DataFragment *now_f = find_fragment(pb, removed[k]);

			if (was == NULL || now_f == NULL || !same_fragment(was, now_f))
			{
				*conflict = true;
				lance_fail(err, "fragment %llu of \"%s\" was %s concurrently (version %llu)",
						   (unsigned long long) removed[k], dataset,
						   now_f == NULL ? "removed" : "changed", (unsigned long long) latest);
				committed_free(&cur);
				lance_version_list_free(&vl);
				goto fail;
			}
		}

		/* new fragments with fresh ids, each group in place of its first old one */
		first_id = next_fragment_id(pb);
		row_ids = (pb->reader_feature_flags & LANCE_FLAG_STABLE_ROW_IDS) != 0;
		newf = lance_alloc0(sizeof(void *) * (ngroups + 1), err);
		tg = lance_alloc0(sizeof(*tg) * (ngroups + 1), err);
		tgp = lance_alloc0(sizeof(void *) * (ngroups + 1), err);
		all = lance_alloc0(sizeof(void *) * (pb->n_fragments + nnew + 1), err);
		if (!newf || !tg || !tgp || !all)
			goto fail;
		{
			uint64_t	id = first_id;

			for (g = 0; g < ngroups; g++)
			{
				newf[g] = build_fragments(groups[g].new_frags, groups[g].nnew, id, row_ids, 0, err);
				if (newf[g] == NULL)
					goto fail;
				id += groups[g].nnew;
				oldf = lance_alloc0(sizeof(void *) * (groups[g].nold + 1), err);
				if (oldf == NULL)
					goto fail;
				for (k = 0; k < groups[g].nold; k++)
					oldf[k] = find_fragment(pb, groups[g].old_ids[k]);
				lancepb__txn_rewrite_group__init(&tg[g]);
				tg[g].n_old_fragments = groups[g].nold;
				tg[g].old_fragments = oldf;
				tg[g].n_new_fragments = groups[g].nnew;
				tg[g].new_fragments = newf[g];
				tgp[g] = &tg[g];
			}
		}
		for (i = 0; i < pb->n_fragments; i++)
		{
			Lancepb__DataFragment *f = pb->fragments[i];
			bool		gone = false;

			for (g = 0; g < ngroups && !gone; g++)
				for (k = 0; k < groups[g].nold; k++)
					if (groups[g].old_ids[k] == f->id)
					{
						gone = true;
						if (k == 0)
						{
							int			j;

							for (j = 0; j < groups[g].nnew; j++)
								all[nall++] = newf[g][j];
						}
						break;
					}
			if (!gone)
				all[nall++] = f;
		}

		/* the transaction */
		lancepb__txn_rewrite__init(&rw);
		rw.n_groups = ngroups;
		rw.groups = tgp;
		lancepb__transaction__init(&txn);
		txn.read_version = read_version;
		txn.operation_case = LANCEPB__TRANSACTION__OPERATION_REWRITE;
		txn.rewrite = &rw;
		if (!write_transaction(dataset, &txn, uuid, txn_name, sizeof(txn_name), &txn_img,
							   txn_path, sizeof(txn_path), err))
		{
			txn_path[0] = '\0';
			goto fail;
		}

		nm = *pb;
		nm.n_fragments = nall;
		nm.fragments = all;
		if (nnew > 0)
		{
			nm._max_fragment_id_case = LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID;
			nm.max_fragment_id = first_id + nnew - 1;
		}

		/* the index section without stale indexes */
		if (!filter_indices(&cur, removed, nremoved, &idx, &nidx, &dropped, err))
			published = -1;
		else
			published = publish_manifest(dataset, &nm, latest + 1, vl.v2_naming, writer,
										 writer_version, txn_name, nidx > 0 ? idx.data : NULL,
										 (uint32_t) idx.len, &txn_img, err);
		lance_buf_free(&idx);
		lance_buf_free(&txn_img);
		lance_version_list_free(&vl);
		committed_free(&cur);
		if (published < 0)
			goto fail;
		if (published > 0)
		{
			res->version = latest + 1;
			res->retries = attempt;
			*indices_dropped = dropped;
			committed_free(&old);
			lance_free(removed);
			return true;
		}
		unlink(txn_path);
		txn_path[0] = '\0';
		/* lost the race: check the new commits and rebuild on top of them */
	}
	*conflict = true;
	lance_fail(err, "could not commit to \"%s\" after %d concurrent commits",
			   dataset, MAX_COMMIT_RETRIES);
fail:
	if (txn_path[0])
		unlink(txn_path);
	committed_free(&old);
	lance_free(removed);
	return false;
}

/* ---- what a version references (cleanup) ---- */

static void
format_uuid(const uint8_t *u, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;
	int			o = 0;

	for (i = 0; i < len && i < 16; i++)
	{
		if (len == 16 && (i == 4 || i == 6 || i == 8 || i == 10))
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	out[o] = '\0';
}

bool
lance_version_refs(const char *dataset, uint64_t version, bool v2_naming,
				   LanceVersionRefs *out, LanceError *err)
{
	Committed	c;
	const Lancepb__Manifest *pb;
	size_t		i,
				j;
	int			nf = 0,
				nd = 0;
	char		name[256];

	memset(out, 0, sizeof(*out));
	if (!committed_load(&c, dataset, version, v2_naming, err))
	{
		committed_free(&c);
		return false;
	}
	pb = c.pb;
	out->version = pb->version;
	out->timestamp_sec = pb->timestamp ? pb->timestamp->seconds : 0;
	for (i = 0; i < pb->n_fragments; i++)
		nf += (int) pb->fragments[i]->n_files;
	out->files = lance_alloc0(sizeof(char *) * (nf + 1), err);
	out->deletions = lance_alloc0(sizeof(char *) * (pb->n_fragments + 1), err);
	if (out->files == NULL || out->deletions == NULL)
		goto fail;
	for (i = 0; i < pb->n_fragments; i++)
	{
		const Lancepb__DataFragment *f = pb->fragments[i];

		for (j = 0; j < f->n_files; j++)
			if ((out->files[out->nfiles++] = lance_strdup(f->files[j]->path, err)) == NULL)
				goto fail;
		if (f->deletion_file != NULL)
		{
			snprintf(name, sizeof(name), "%llu-%llu-%llu.%s",
					 (unsigned long long) f->id,
					 (unsigned long long) f->deletion_file->read_version,
					 (unsigned long long) f->deletion_file->id,
					 f->deletion_file->file_type == LANCE_DELETION_ARROW ? "arrow" : "bin");
			if ((out->deletions[nd++] = lance_strdup(name, err)) == NULL)
				goto fail;
		}
	}
	out->ndeletions = nd;
	if (pb->transaction_file && pb->transaction_file[0] &&
		(out->transaction = lance_strdup(pb->transaction_file, err)) == NULL)
		goto fail;
	if (pb->_index_section_case == LANCEPB__MANIFEST___INDEX_SECTION_INDEX_SECTION)
	{
		Lancepb__IndexSection *sec = NULL;
		uint32_t	ilen = 0;

		if (pb->index_section + 4 <= c.size &&
			lance_range_ok(pb->index_section + 4, ilen = lance_le32(c.img + pb->index_section),
						   c.size))
			sec = lancepb__index_section__unpack(&lance_pb_allocator, ilen,
												 c.img + pb->index_section + 4);
		if (sec == NULL)
		{
			lance_fail(err, "version %llu of \"%s\": invalid index section",
					   (unsigned long long) version, dataset);
			goto fail;
		}
		out->indices = lance_alloc0(sizeof(char *) * (sec->n_indices + 1), err);
		if (out->indices == NULL)
			goto fail;
		for (i = 0; i < sec->n_indices; i++)
		{
			const Lancepb__IndexMetadata *im = sec->indices[i];

			if (im->uuid == NULL || im->uuid->uuid.len == 0)
				continue;
			format_uuid(im->uuid->uuid.data, im->uuid->uuid.len, name);
			if ((out->indices[out->nindices++] = lance_strdup(name, err)) == NULL)
				goto fail;
		}
		lancepb__index_section__free_unpacked(sec, &lance_pb_allocator);
	}
	committed_free(&c);
	return true;
fail:
	committed_free(&c);
	return false;
}
