/*
 * hnswutils.c
 *	  lance_hnsw page helpers: meta page, element tuples, the per-backend
 *	  description of an index (quantizer), and element encoding and
 *	  distances.
 */
#include "postgres.h"

#include <math.h>

#include "am/hnsw.h"
#include "kernels/distance.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define HNSW_PAGE_USABLE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData)))

void
HnswInitPage(Page page, uint16 page_type)
{
	HnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->page_type = page_type;
	opaque->page_id = HNSW_PAGE_ID;
}

/* A new page at the end of the index; returned pinned and exclusively locked. */
Buffer
HnswNewBuffer(Relation index)
{
	Buffer		buf;

	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

void
HnswCheckPage(Relation index, Page page, BlockNumber blkno, uint16 page_type)
{
	HnswPageOpaque opaque;

	if (PageIsNew(page) ||
		PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" contains unexpected page at block %u",
						RelationGetRelationName(index), blkno)));
	opaque = HnswPageGetOpaque(page);
	if (opaque->page_id != HNSW_PAGE_ID || opaque->page_type != page_type)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a page of type %u at block %u where type %u was expected",
						RelationGetRelationName(index), opaque->page_type,
						blkno, page_type)));
}

HnswMetaPageData
HnswReadMeta(Relation index)
{
	Buffer		buf;
	Page		page;
	HnswMetaPageData meta;

	if (RelationGetNumberOfBlocks(index) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has no meta page",
						RelationGetRelationName(index))));
	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	HnswCheckPage(index, page, HNSW_METAPAGE_BLKNO, HNSW_PAGE_META);
	memcpy(&meta, PageGetContents(page), sizeof(meta));
	UnlockReleaseBuffer(buf);
	if (meta.magic != HNSW_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a lance_hnsw index",
						RelationGetRelationName(index))));
	if (meta.version != HNSW_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lance_hnsw index \"%s\" has format version %u; this library reads version %u",
						RelationGetRelationName(index), meta.version,
						HNSW_FORMAT_VERSION),
				 errhint("REINDEX the index.")));
	if (meta.m < 2 || meta.m > HNSW_MAX_M || meta.dim < 1 ||
		meta.data_size < 1 || meta.data_size > HNSW_PAGE_USABLE)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has an invalid meta page",
						RelationGetRelationName(index))));
	return meta;
}

static char *
HnswReadBlob(Relation index, BlockNumber start, uint32 len)
{
	char	   *out = palloc(Max(len, 1));
	uint32		done = 0;
	BlockNumber blkno = start;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	while (done < len)
	{
		Buffer		buf;
		Page		page;
		uint32		n;

		if (blkno == InvalidBlockNumber || blkno >= nblocks)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a truncated blob at block %u",
							RelationGetRelationName(index), start)));
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		HnswCheckPage(index, page, blkno, HNSW_PAGE_BLOB);
		memcpy(&n, PageGetContents(page), sizeof(uint32));
		if (n == 0 || n > HNSW_PAGE_USABLE - sizeof(uint32) || n > len - done)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has a blob page of bad length at block %u",
							RelationGetRelationName(index), blkno)));
		memcpy(out + done, PageGetContents(page) + sizeof(uint32), n);
		done += n;
		blkno = HnswPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
	}
	return out;
}

/* Bytes of one element's payload: the vector as stored, or aux + code. */
int
HnswDataSize(LanceElemType elemtype, int dim, QuantKind qkind,
			 const Quantizer *quant)
{
	if (qkind == QUANT_FLAT)
		return elemtype == LANCE_ELEM_HALFVEC ? dim * 2 : dim * 4;
	return quantizer_num_aux(quant) * (int) sizeof(float) +
		(int) quantizer_code_size(quant);
}

/*
 * Descriptions of the indexes this backend used, one per index, replaced
 * when the index is rebuilt (a rebuild takes an exclusive lock, so no scan
 * of this backend can still hold the old one).
 */
static List *hnsw_infos = NIL;
static MemoryContext hnsw_info_cxt = NULL;

static HnswIndexInfo *
HnswLoadInfo(Relation index, const HnswMetaPageData *meta)
{
	MemoryContext cxt;
	MemoryContext old;
	HnswIndexInfo *info;

	if (hnsw_info_cxt == NULL)
		hnsw_info_cxt = AllocSetContextCreate(TopMemoryContext,
											  "lance_hnsw index info",
											  ALLOCSET_SMALL_SIZES);
	cxt = AllocSetContextCreate(hnsw_info_cxt, "lance_hnsw index",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	info = palloc0(sizeof(HnswIndexInfo));
	info->mcxt = cxt;
	info->relid = RelationGetRelid(index);
	info->node = index->rd_node;
	info->build_id = meta->build_id;
	info->meta = *meta;
	info->type = LanceGetTypeSupport(index, IVF_TYPE_PROC);
	info->metric = LanceGetMetricSupport(index, IVF_METRIC_PROC);
	if (meta->qkind != QUANT_FLAT)
	{
		char	   *blob = HnswReadBlob(index, meta->quant_start, meta->quant_len);
		QuantOptions ao;
		const char *err = NULL;

		memset(&ao, 0, sizeof(ao));
		ao.alloc = LanceQuantAlloc;
		ao.release = LanceQuantFree;
		info->quant = quantizer_deserialize((const uint8 *) blob, meta->quant_len,
											&ao, &err);
		if (info->quant == NULL ||
			quantizer_dim(info->quant) != meta->dim ||
			(int) quantizer_kind(info->quant) != meta->qkind)
			ereport(ERROR,
					(errcode(ERRCODE_INDEX_CORRUPTED),
					 errmsg("index \"%s\" has an invalid quantizer: %s",
							RelationGetRelationName(index), err ? err : "mismatch")));
		info->code_size = (int) quantizer_code_size(info->quant);
		info->num_aux = quantizer_num_aux(info->quant);
	}
	if (HnswDataSize(meta->elemtype, meta->dim, meta->qkind, info->quant) !=
		(int) meta->data_size)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has an inconsistent element size",
						RelationGetRelationName(index))));
	MemoryContextSwitchTo(old);
	return info;
}

HnswIndexInfo *
HnswGetInfo(Relation index)
{
	HnswMetaPageData meta = HnswReadMeta(index);
	ListCell   *lc;
	HnswIndexInfo *info;
	MemoryContext old;

	foreach(lc, hnsw_infos)
	{
		info = lfirst(lc);
		if (info->relid == RelationGetRelid(index))
		{
			if (RelFileNodeEquals(info->node, index->rd_node) &&
				info->build_id == meta.build_id)
			{
				info->meta = meta;	/* the entry point moves */
				return info;
			}
			hnsw_infos = foreach_delete_current(hnsw_infos, lc);
			MemoryContextDelete(info->mcxt);
			break;
		}
	}
	info = HnswLoadInfo(index, &meta);
	old = MemoryContextSwitchTo(hnsw_info_cxt);
	hnsw_infos = lappend(hnsw_infos, info);
	MemoryContextSwitchTo(old);
	return info;
}

/* Store x (normalised already for cosine) as an element payload. */
void
HnswEncode(const HnswIndexInfo *info, const float *x, char *data)
{
	int			dim = info->meta.dim;

	if (info->quant == NULL)
	{
		if (info->meta.elemtype == LANCE_ELEM_HALFVEC)
			lance_kernels->f32_to_f16(x, (uint16 *) data, dim);
		else
			memcpy(data, x, sizeof(float) * dim);
	}
	else
		quantizer_encode(info->quant, x,
						 (uint8 *) data + sizeof(float) * info->num_aux,
						 (float *) data);
}

/* The payload back as floats (exact for none, approximate for codes). */
void
HnswDecode(const HnswIndexInfo *info, const char *data, float *out)
{
	int			dim = info->meta.dim;

	if (info->quant == NULL)
	{
		if (info->meta.elemtype == LANCE_ELEM_HALFVEC)
			lance_kernels->f16_to_f32((const uint16 *) data, out, dim);
		else
			memcpy(out, data, sizeof(float) * dim);
	}
	else
		quantizer_decode(info->quant,
						 (const uint8 *) data + sizeof(float) * info->num_aux,
						 (const float *) data, out);
}

void
HnswQueryInit(HnswQuery *hq, const HnswIndexInfo *info, const float *q)
{
	int			dim = info->meta.dim;

	hq->info = info;
	hq->q = palloc(sizeof(float) * dim);
	memcpy(hq->q, q, sizeof(float) * dim);
	hq->work = palloc(sizeof(float) * dim);
	hq->qq = NULL;
	if (info->quant)
	{
		hq->qq = quantizer_query_new(info->quant);
		quantizer_query_reset(hq->qq, hq->q, NULL);
	}
}

float
HnswExactDistance(const LanceMetricSupport *metric, const float *a,
				  const float *b, int dim)
{
	if (metric->qmetric == QMETRIC_IP)
		return -lance_kernels->dot_f32(a, b, dim);
	return lance_kernels->l2sq_f32(a, b, dim);
}

/* Internal distance of the query to an element payload. */
float
HnswQueryDistance(HnswQuery *hq, const char *data)
{
	float		lower;

	return HnswQueryDistanceBound(hq, data, &lower);
}

/* The same and a lower bound of the true distance (sq: guaranteed). */
float
HnswQueryDistanceBound(HnswQuery *hq, const char *data, float *lowerp)
{
	const HnswIndexInfo *info = hq->info;
	int			dim = info->meta.dim;

	if (info->quant == NULL)
	{
		const float *v;

		if (info->meta.elemtype == LANCE_ELEM_HALFVEC)
		{
			lance_kernels->f16_to_f32((const uint16 *) data, hq->work, dim);
			v = hq->work;
		}
		else
			v = (const float *) data;
		*lowerp = HnswExactDistance(info->metric, hq->q, v, dim);
		return *lowerp;
	}
	else
	{
		float		est,
					lower;

		quantizer_estimate(hq->qq, (const uint8 *) data + sizeof(float) * info->num_aux,
						   (const float *) data, 1, &est, &lower);
		*lowerp = lower;
		return est;
	}
}

/* The element at (blkno, off) of a locked page, checked against its size. */
HnswElementTuple
HnswGetElement(Relation index, Page page, BlockNumber blkno, OffsetNumber off,
			   int data_size, int m)
{
	ItemId		iid;
	HnswElementTuple tup;
	Size		len;

	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" refers to a missing element (%u,%u)",
						RelationGetRelationName(index), blkno, off)));
	iid = PageGetItemId(page, off);
	len = ItemIdGetLength(iid);
	if (!ItemIdIsNormal(iid) || len < HNSW_ELEM_SIZE(data_size, m, 0))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has a malformed element (%u,%u)",
						RelationGetRelationName(index), blkno, off)));
	tup = (HnswElementTuple) PageGetItem(page, iid);
	if (tup->level > HNSW_MAX_LEVEL || len < HNSW_ELEM_SIZE(data_size, m, tup->level))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" has an element of bad length at (%u,%u)",
						RelationGetRelationName(index), blkno, off)));
	return tup;
}

/*
 * The indexed value as floats in the graph's space (unit length for
 * cosine).  *indexable is false for vectors cosine cannot place (zero).
 */
float *
HnswValueToFloats(const HnswIndexInfo *info, Datum value, bool *indexable)
{
	int			dim;
	float	   *x = LanceDatumToFloats(value, info->type, &dim);

	if (dim != info->meta.dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", info->meta.dim, dim)));
	*indexable = true;
	for (int i = 0; i < dim; i++)
		if (!isfinite(x[i]))
			*indexable = false;
	if (info->metric->normalize)
	{
		double		s = 0;

		for (int i = 0; i < dim; i++)
			s += (double) x[i] * x[i];
		if (s == 0)
			*indexable = false;
		LanceNormalize(x, dim);
	}
	return x;
}

/* SQL distance from the internal one (squared L2, -dot, L2^2 of unit vectors). */
double
HnswSqlDistance(const LanceMetricSupport *metric, double internal)
{
	if (metric->normalize)
		return internal / 2;
	if (metric->qmetric == QMETRIC_IP)
		return internal;
	return sqrt(Max(internal, 0));
}

double
HnswInternalFromSql(const LanceMetricSupport *metric, double v)
{
	if (isnan(v))
		return get_float8_infinity();
	if (metric->normalize)
		return 2 * v;
	if (metric->qmetric == QMETRIC_IP)
		return v;
	return v < 0 ? -1 : v * v;
}
