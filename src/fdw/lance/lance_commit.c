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

#include "lance_pb.h"

#define MAX_COMMIT_RETRIES	50

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
		if (row_ids)
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

bool
lance_commit_append(const char *dataset, uint64_t read_version,
					const LanceNewFragment *frags, int nfrags,
					const char *writer, const char *writer_version,
					LanceCommitResult *res, bool *conflict, LanceError *err)
{
	char		uuid[37];
	char		txn_name[128];
	char		path[4096];
	LanceBuf	txn_img = {0};
	Lancepb__Transaction txn;
	Lancepb__TxnAppend app;
	Lancepb__DataFragment **txn_frags;
	uint64_t	checked = read_version; /* versions up to here are compatible */
	int			attempt;

	*conflict = false;
	memset(res, 0, sizeof(*res));
	make_uuid(uuid);
	snprintf(txn_name, sizeof(txn_name), "%llu-%s.txn", (unsigned long long) read_version, uuid);

	/* the transaction: fragment ids are assigned at commit, so 0 here */
	txn_frags = build_fragments(frags, nfrags, 0, false, 0, err);
	if (txn_frags == NULL)
		return false;
	lancepb__txn_append__init(&app);
	app.n_fragments = nfrags;
	app.fragments = txn_frags;
	lancepb__transaction__init(&txn);
	txn.read_version = read_version;
	txn.uuid = uuid;
	txn.operation_case = LANCEPB__TRANSACTION__OPERATION_APPEND;
	txn.append = &app;
	if (!lance_buf_reserve(&txn_img, protobuf_c_message_get_packed_size(&txn.base), err))
		return false;
	txn_img.len = protobuf_c_message_pack(&txn.base, txn_img.data);
	snprintf(path, sizeof(path), "%s/_transactions", dataset);
	(void) mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/_transactions/%s", dataset, txn_name);
	if (!write_file_excl(path, txn_img.data, txn_img.len, err))
		return false;

	for (attempt = 0; attempt < MAX_COMMIT_RETRIES; attempt++)
	{
		LanceVersionList vl;
		uint64_t	latest;
		Committed	cur;
		Lancepb__Manifest *pb;
		Lancepb__DataFragment **newf;
		Lancepb__DataFragment **all;
		Lancepb__Manifest nm;
		Lancepb__Timestamp ts;
		Lancepb__WriterVersion wv;
		struct timespec now;
		LanceBuf	img = {0};
		uint64_t	first_id;
		uint64_t	next_row_id;
		bool		row_ids;
		char		tmp[4096],
					final[4096],
					rnd[17];
		int64_t		mpos;
		uint16_t	mm[2] = {0, 2};
		size_t		i;
		uint64_t	v;

		if (!lance_list_versions(dataset, &vl, err))
			return false;
		latest = vl.versions[vl.n - 1];
		/* an append survives any commit but an overwrite or a restore */
		for (v = checked + 1; v <= latest; v++)
		{
			Committed	c;
			Lancepb__Transaction *t;
			int			op;

			if (!committed_load(&c, dataset, v, vl.v2_naming, err))
			{
				committed_free(&c);
				lance_version_list_free(&vl);
				return false;
			}
			t = load_transaction(dataset, c.img, c.size, c.pb, err);
			committed_free(&c);
			if (t == NULL)
			{
				lance_version_list_free(&vl);
				return false;
			}
			op = t->operation_case;
			lancepb__transaction__free_unpacked(t, &lance_pb_allocator);
			if (op == LANCEPB__TRANSACTION__OPERATION_OVERWRITE ||
				op == LANCEPB__TRANSACTION__OPERATION_RESTORE ||
				op == LANCEPB__TRANSACTION__OPERATION__NOT_SET)
			{
				*conflict = true;
				lance_version_list_free(&vl);
				return lance_fail(err, "version %llu of \"%s\" was committed concurrently and %s",
								  (unsigned long long) v, dataset,
								  op == LANCEPB__TRANSACTION__OPERATION__NOT_SET
								  ? "its operation is unknown to this writer"
								  : "replaced the table's content");
			}
			checked = v;
		}
		if (!committed_load(&cur, dataset, latest, vl.v2_naming, err))
		{
			committed_free(&cur);
			lance_version_list_free(&vl);
			return false;
		}
		pb = cur.pb;

		/* new fragments with fresh ids */
		if (pb->_max_fragment_id_case == LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID)
			first_id = pb->max_fragment_id + 1;
		else
		{
			first_id = 0;
			for (i = 0; i < pb->n_fragments; i++)
				if (pb->fragments[i]->id + 1 > first_id)
					first_id = pb->fragments[i]->id + 1;
		}
		row_ids = (pb->reader_feature_flags & LANCE_FLAG_STABLE_ROW_IDS) != 0;
		next_row_id = pb->next_row_id;
		newf = build_fragments(frags, nfrags, first_id, row_ids, next_row_id, err);
		all = lance_alloc0(sizeof(void *) * (pb->n_fragments + nfrags + 1), err);
		if (newf == NULL || all == NULL)
			return false;
		for (i = 0; i < pb->n_fragments; i++)
			all[i] = pb->fragments[i];
		for (i = 0; i < (size_t) nfrags; i++)
		{
			all[pb->n_fragments + i] = newf[i];
			next_row_id += frags[i].nrows;
		}

		nm = *pb;
		nm.n_fragments = pb->n_fragments + nfrags;
		nm.fragments = all;
		nm.version = latest + 1;
		nm.tag = (char *) "";
		if (nfrags > 0)
		{
			nm._max_fragment_id_case = LANCEPB__MANIFEST___MAX_FRAGMENT_ID_MAX_FRAGMENT_ID;
			nm.max_fragment_id = first_id + nfrags - 1;
		}
		if (row_ids)
			nm.next_row_id = next_row_id;
		clock_gettime(CLOCK_REALTIME, &now);
		lancepb__timestamp__init(&ts);
		ts.seconds = now.tv_sec;
		ts.nanos = (int32_t) now.tv_nsec;
		nm.timestamp = &ts;
		lancepb__writer_version__init(&wv);
		wv.library = (char *) writer;
		wv.version = (char *) writer_version;
		nm.writer_version = &wv;
		nm.transaction_file = txn_name;

		/* [index section copied][transaction][manifest][trailer] */
		if (pb->_index_section_case == LANCEPB__MANIFEST___INDEX_SECTION_INDEX_SECTION)
		{
			uint32_t	ilen;

			if (pb->index_section + 4 > cur.size ||
				!lance_range_ok(pb->index_section + 4, ilen = lance_le32(cur.img + pb->index_section),
								cur.size))
			{
				committed_free(&cur);
				lance_version_list_free(&vl);
				return lance_fail(err, "version %llu of \"%s\": invalid index section",
								  (unsigned long long) latest, dataset);
			}
			nm.index_section = img.len;
			if (!buf_section(&img, cur.img + pb->index_section + 4, ilen, err))
				return false;
		}
		nm._transaction_section_case = LANCEPB__MANIFEST___TRANSACTION_SECTION_TRANSACTION_SECTION;
		nm.transaction_section = img.len;
		if (!buf_section(&img, txn_img.data, (uint32_t) txn_img.len, err))
			return false;
		mpos = (int64_t) img.len;
		if (!buf_pb_section(&img, &nm.base, err) ||
			!lance_buf_append(&img, &mpos, 8, err) ||
			!lance_buf_append(&img, mm, 4, err) ||
			!lance_buf_append(&img, "LANC", 4, err))
			return false;

		if (!manifest_file_path(final, sizeof(final), dataset, latest + 1, vl.v2_naming))
			return lance_fail(err, "dataset path too long");
		lance_random_hex(rnd, 8);
		snprintf(tmp, sizeof(tmp), "%s/_versions/.tmp-%s.manifest-part", dataset, rnd);
		lance_version_list_free(&vl);
		committed_free(&cur);
		if (!write_file_excl(tmp, img.data, img.len, err))
		{
			lance_buf_free(&img);
			return false;
		}
		lance_buf_free(&img);
		if (link(tmp, final) == 0)
		{
			unlink(tmp);
			snprintf(tmp, sizeof(tmp), "%s/_versions", dataset);
			fsync_dir(tmp);
			write_hint(dataset, latest + 1);
			res->version = latest + 1;
			res->retries = attempt;
			lance_buf_free(&txn_img);
			return true;
		}
		if (errno != EEXIST)
		{
			int			e = errno;

			unlink(tmp);
			return lance_fail(err, "could not link \"%s\": %s", final, strerror(e));
		}
		/* lost the race: rebase on what was committed and try again */
		unlink(tmp);
	}
	*conflict = true;
	return lance_fail(err, "could not commit to \"%s\" after %d concurrent commits",
					  dataset, MAX_COMMIT_RETRIES);
}
