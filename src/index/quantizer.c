/*
 * quantizer.c
 *	  Quantizer dispatch, serialisation and the flat (exact) quantizer.
 *
 * The per-kind work lives in sq.c, pq.c and rabitq.c; this file owns the
 * object's life cycle, so every kind is created by the same code whether
 * it is trained or read back from index pages.
 *
 * Serialised form, all little-endian:
 *	 0	uint32	magic "LQNT"
 *	 4	uint16	format version (1)
 *	 6	uint8	kind
 *	 7	uint8	metric
 *	 8	uint32	dim
 *	12	uint32	num_bits (0 for flat)
 *	16	uint32	num_sub_vectors (PQ only, else 0)
 *	20	uint32	reserved (0)
 *	24	uint64	seed (RQ rotation; 0 for the others)
 *	32	uint32	number of float32 parameters that follow
 *	36	float32 parameters: SQ min[dim] then step[dim]; PQ all codebooks
 *		(ksub * dim floats, sub-vector by sub-vector); none for flat and RQ
 *		(the RQ rotation is regenerated from the seed).
 */
#include "index/quantizer_int.h"

#include "kernels/distance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QUANT_MAGIC UINT32_C(0x544E514C)	/* "LQNT" read as LE uint32 */
#define QUANT_VERSION 1
#define QUANT_HEADER_SIZE 36

void *
quant_alloc(const Quantizer *q, size_t size)
{
	if (size == 0)
		size = 1;
	return q->alloc ? q->alloc(size) : malloc(size);
}

void
quant_release(const Quantizer *q, void *ptr)
{
	if (ptr == NULL)
		return;
	if (q->release)
		q->release(ptr);
	else
		free(ptr);
}

/*
 * Check a parameter set; shared by training (options from the caller) and
 * deserialisation (values from disk).  Returns an error string or NULL.
 */
/* 0/1 floats (a bit vector) to bits, most significant bit first. */
static void
binary_pack(const float *x, int dim, uint8_t *out)
{
	int			i;

	memset(out, 0, ((size_t) dim + 7) / 8);
	for (i = 0; i < dim; i++)
		if (x[i] > 0.5f)
			out[i / 8] |= (uint8_t) (0x80 >> (i % 8));
}

static const char *
check_params(int kind, int metric, int64_t dim, int64_t bits, int64_t m)
{
	if (kind < QUANT_FLAT || kind > QUANT_BINARY)
		return "unknown quantizer kind";
	if (metric < QMETRIC_L2 || metric > QMETRIC_COSINE)
		return "unknown quantizer metric";
	if (dim < 1 || dim > QUANT_MAX_DIM)
		return "quantizer dimension out of range";
	switch ((QuantKind) kind)
	{
		case QUANT_FLAT:
			if (bits != 0 || m != 0)
				return "flat quantizer takes no parameters";
			break;
		case QUANT_SQ:
			if (bits != 8 || m != 0)
				return "scalar quantizer needs 8 bits";
			break;
		case QUANT_PQ:
			if (bits != 4 && bits != 8)
				return "product quantizer needs 4 or 8 bits";
			if (m < 1 || m > dim)
				return "product quantizer sub-vector count out of range";
			break;
		case QUANT_RQ:
			if (bits < 1 || bits > 8 || m != 0)
				return "RaBitQ needs 1 to 8 bits";
			break;
		case QUANT_BINARY:
			if (bits != 0 || m != 0 || metric != QMETRIC_L2)
				return "binary quantizer takes no parameters and the L2 (Hamming) metric";
			break;
	}
	return NULL;
}

/* Number of float parameters the serialised form carries. */
static int64_t
param_floats(QuantKind kind, int64_t dim, int64_t bits)
{
	if (kind == QUANT_SQ)
		return 2 * dim;
	if (kind == QUANT_PQ)
		return ((int64_t) 1 << bits) * dim;
	return 0;
}

/*
 * Allocate a quantizer with validated parameters and its (uninitialised)
 * parameter arrays.  Returns NULL only if the allocator does.
 */
static Quantizer *
quant_create(QuantKind kind, QuantMetric metric, int dim, int bits, int m,
			 uint64_t seed, void *(*alloc_fn) (size_t),
			 void (*release_fn) (void *))
{
	Quantizer	tmpl;
	Quantizer  *q;
	bool		ok = true;

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.alloc = alloc_fn;
	tmpl.release = release_fn;
	q = quant_alloc(&tmpl, sizeof(Quantizer));
	if (q == NULL)
		return NULL;
	*q = tmpl;
	q->kind = kind;
	q->metric = metric;
	q->dim = dim;
	q->num_bits = bits;
	q->num_sub_vectors = m;
	q->seed = seed;

	switch (kind)
	{
		case QUANT_FLAT:
			q->code_size = (size_t) dim * sizeof(float);
			q->num_aux = 0;
			break;
		case QUANT_BINARY:
			q->code_size = ((size_t) dim + 7) / 8;
			q->num_aux = 0;
			break;
		case QUANT_SQ:
			q->code_size = (size_t) dim;
			q->num_aux = 1;
			q->sq_min = quant_alloc(q, (size_t) dim * sizeof(float));
			q->sq_step = quant_alloc(q, (size_t) dim * sizeof(float));
			ok = q->sq_min && q->sq_step;
			break;
		case QUANT_PQ:
			q->pq_ksub = 1 << bits;
			q->code_size = bits == 8 ? (size_t) m : (size_t) (m + 1) / 2;
			q->num_aux = 1;		/* reconstruction error, for lower bounds */
			q->pq_offset = quant_alloc(q, (size_t) (m + 1) * sizeof(int));
			q->pq_codebooks = quant_alloc(q, (size_t) q->pq_ksub * dim *
										  sizeof(float));
			q->pq_codebooks_t = quant_alloc(q, (size_t) q->pq_ksub * dim *
											sizeof(float));
			ok = q->pq_offset && q->pq_codebooks && q->pq_codebooks_t;
			if (ok)
				pq_layout(q);
			break;
		case QUANT_RQ:
			q->rq_dim = rq_padded_dim(dim);
			q->code_size = (size_t) bits * q->rq_dim / 8;
			q->num_aux = 3;
			q->rq_signs = quant_alloc(q, (size_t) 3 * q->rq_dim * sizeof(float));
			ok = q->rq_signs != NULL;
			if (ok)
				rq_make_signs(q);
			break;
	}
	if (!ok)
	{
		quantizer_free(q);
		return NULL;
	}
	return q;
}

Quantizer *
quantizer_train(const QuantOptions *opts, const float *sample, int64_t n)
{
	Quantizer  *q;
	int			bits;
	int			m;

	if (opts == NULL)
		return NULL;

	/* normalise the parameters a kind does not use, so they serialise as 0 */
	bits = opts->num_bits;
	m = opts->num_sub_vectors;
	switch (opts->kind)
	{
		case QUANT_FLAT:
		case QUANT_BINARY:
			bits = 0;
			m = 0;
			break;
		case QUANT_SQ:
			if (bits == 0)
				bits = 8;
			m = 0;
			break;
		case QUANT_PQ:
			break;
		case QUANT_RQ:
			m = 0;
			break;
	}
	if (check_params(opts->kind, opts->metric, opts->dim, bits, m) != NULL)
		return NULL;
	if ((opts->kind == QUANT_SQ || opts->kind == QUANT_PQ) &&
		(sample == NULL || n < 1))
		return NULL;

	q = quant_create(opts->kind, opts->metric, opts->dim, bits, m,
					 opts->kind == QUANT_RQ ? opts->seed : 0,
					 opts->alloc, opts->release);
	if (q == NULL)
		return NULL;

	if ((q->kind == QUANT_SQ && !sq_train(q, sample, n, opts)) ||
		(q->kind == QUANT_PQ && !pq_train(q, sample, n, opts)))
	{
		quantizer_free(q);
		return NULL;
	}
	if (q->kind == QUANT_PQ)
		pq_prepare(q);
	return q;
}

bool
quantizer_wants_residuals(const Quantizer *q)
{
	return q->kind == QUANT_PQ || q->kind == QUANT_RQ;
}

bool
quantizer_rank_by_estimate(const Quantizer *q)
{
	return q->kind == QUANT_PQ;
}

void
quantizer_free(Quantizer *q)
{
	if (q == NULL)
		return;
	quant_release(q, q->sq_min);
	quant_release(q, q->sq_step);
	quant_release(q, q->pq_offset);
	quant_release(q, q->pq_codebooks);
	quant_release(q, q->pq_codebooks_t);
	quant_release(q, q->rq_signs);
	quant_release(q, q->rq_rot_centroids);
	quant_release(q, q);
}

size_t
quantizer_code_size(const Quantizer *q)
{
	return q->code_size;
}

int
quantizer_num_aux(const Quantizer *q)
{
	return q->num_aux;
}

QuantKind
quantizer_kind(const Quantizer *q)
{
	return q->kind;
}

int
quantizer_dim(const Quantizer *q)
{
	return q->dim;
}

void
quantizer_encode(const Quantizer *q, const float *x, uint8_t *code,
				 float *aux)
{
	switch (q->kind)
	{
		case QUANT_FLAT:
			memcpy(code, x, q->code_size);
			break;
		case QUANT_BINARY:
			binary_pack(x, q->dim, code);
			break;
		case QUANT_SQ:
			sq_encode(q, x, code, aux);
			break;
		case QUANT_PQ:
			pq_encode(q, x, code, aux);
			break;
		case QUANT_RQ:
			rq_encode(q, x, code, aux);
			break;
	}
}

void
quantizer_decode(const Quantizer *q, const uint8_t *code, const float *aux,
				 float *out)
{
	switch (q->kind)
	{
		case QUANT_FLAT:
			memcpy(out, code, q->code_size);
			break;
		case QUANT_BINARY:
			{
				int			i;

				for (i = 0; i < q->dim; i++)
					out[i] = (float) ((code[i / 8] >> (7 - i % 8)) & 1);
			}
			break;
		case QUANT_SQ:
			sq_decode(q, code, out);
			break;
		case QUANT_PQ:
			pq_decode(q, code, out);
			break;
		case QUANT_RQ:
			rq_decode(q, code, aux, out);
			break;
	}
}

/* ---- serialisation ---- */

static void
put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static void
put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t) v);
	put_u32(p + 4, (uint32_t) (v >> 32));
}

static uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t) get_u32(p) | ((uint64_t) get_u32(p + 4) << 32);
}

static void
put_floats(uint8_t *p, const float *v, int64_t n)
{
	int64_t		i;

	for (i = 0; i < n; i++)
	{
		uint32_t	u;

		memcpy(&u, &v[i], sizeof(u));
		put_u32(p + 4 * i, u);
	}
}

static float
get_float(const uint8_t *p)
{
	uint32_t	u = get_u32(p);
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

size_t
quantizer_serialized_size(const Quantizer *q)
{
	return QUANT_HEADER_SIZE +
		(size_t) param_floats(q->kind, q->dim, q->num_bits) * sizeof(float);
}

void
quantizer_serialize(const Quantizer *q, uint8_t *out)
{
	uint8_t    *p = out + QUANT_HEADER_SIZE;

	put_u32(out, QUANT_MAGIC);
	put_u16(out + 4, QUANT_VERSION);
	out[6] = (uint8_t) q->kind;
	out[7] = (uint8_t) q->metric;
	put_u32(out + 8, (uint32_t) q->dim);
	put_u32(out + 12, (uint32_t) q->num_bits);
	put_u32(out + 16, (uint32_t) q->num_sub_vectors);
	put_u32(out + 20, 0);
	put_u64(out + 24, q->seed);
	put_u32(out + 32,
			(uint32_t) param_floats(q->kind, q->dim, q->num_bits));

	if (q->kind == QUANT_SQ)
	{
		put_floats(p, q->sq_min, q->dim);
		put_floats(p + 4 * (size_t) q->dim, q->sq_step, q->dim);
	}
	else if (q->kind == QUANT_PQ)
		put_floats(p, q->pq_codebooks, (int64_t) q->pq_ksub * q->dim);
}

Quantizer *
quantizer_deserialize(const uint8_t *buf, size_t len,
					  const QuantOptions *alloc_opts, const char **err)
{
	const char *msg;
	const uint8_t *p;
	int			kind;
	int			metric;
	uint32_t	dim;
	uint32_t	bits;
	uint32_t	m;
	uint64_t	seed;
	uint32_t	nfloats;
	int64_t		i;
	Quantizer  *q;

	*err = NULL;
	if (buf == NULL || len < QUANT_HEADER_SIZE)
	{
		*err = "quantizer data truncated";
		return NULL;
	}
	if (get_u32(buf) != QUANT_MAGIC)
	{
		*err = "quantizer data has a bad magic number";
		return NULL;
	}
	if (get_u16(buf + 4) != QUANT_VERSION)
	{
		*err = "unsupported quantizer format version";
		return NULL;
	}
	kind = buf[6];
	metric = buf[7];
	dim = get_u32(buf + 8);
	bits = get_u32(buf + 12);
	m = get_u32(buf + 16);
	seed = get_u64(buf + 24);
	nfloats = get_u32(buf + 32);

	msg = check_params(kind, metric, dim, bits, m);
	if (msg == NULL && get_u32(buf + 20) != 0)
		msg = "quantizer reserved field is not zero";
	if (msg == NULL && kind != QUANT_RQ && seed != 0)
		msg = "quantizer seed set for a kind without rotation";
	if (msg == NULL &&
		nfloats != param_floats((QuantKind) kind, dim, bits))
		msg = "quantizer parameter count does not match its kind";
	/* nfloats < 2^32, so this cannot overflow size_t on 64-bit */
	if (msg == NULL &&
		len != QUANT_HEADER_SIZE + (size_t) nfloats * sizeof(float))
		msg = "quantizer data length does not match its header";
	if (msg != NULL)
	{
		*err = msg;
		return NULL;
	}

	/* every parameter must be finite; SQ steps must also be >= 0 */
	p = buf + QUANT_HEADER_SIZE;
	for (i = 0; i < (int64_t) nfloats; i++)
	{
		float		f = get_float(p + 4 * i);

		if (!isfinite(f) ||
			(kind == QUANT_SQ && i >= (int64_t) dim && f < 0.0f))
		{
			*err = "quantizer parameter out of range";
			return NULL;
		}
	}

	q = quant_create((QuantKind) kind, (QuantMetric) metric, (int) dim,
					 (int) bits, (int) m, seed,
					 alloc_opts ? alloc_opts->alloc : NULL,
					 alloc_opts ? alloc_opts->release : NULL);
	if (q == NULL)
	{
		*err = "out of memory";
		return NULL;
	}
	if (kind == QUANT_SQ)
	{
		for (i = 0; i < (int64_t) dim; i++)
		{
			q->sq_min[i] = get_float(p + 4 * i);
			q->sq_step[i] = get_float(p + 4 * (dim + i));
		}
	}
	else if (kind == QUANT_PQ)
	{
		for (i = 0; i < (int64_t) nfloats; i++)
			q->pq_codebooks[i] = get_float(p + 4 * i);
		pq_prepare(q);
	}
	return q;
}

/* ---- per-query state ---- */

QuantQuery *
quantizer_query_new(const Quantizer *q)
{
	QuantQuery *qq;
	size_t		work;
	size_t		t1 = 0;
	size_t		t2 = 0;

	qq = quant_alloc(q, sizeof(QuantQuery));
	if (qq == NULL)
		return NULL;
	memset(qq, 0, sizeof(QuantQuery));
	qq->q = q;
	qq->use_avx2 = lance_kernels_avx2() != NULL &&
		lance_kernels == lance_kernels_avx2();

	work = (size_t) q->dim;
	switch (q->kind)
	{
		case QUANT_FLAT:
		case QUANT_BINARY:
			break;
		case QUANT_SQ:
			t1 = (size_t) q->dim;
			t2 = (size_t) q->dim;
			break;
		case QUANT_PQ:
			t1 = (size_t) q->num_sub_vectors * q->pq_ksub;
			break;
		case QUANT_RQ:
			work = (size_t) q->rq_dim;
			t1 = (size_t) q->rq_dim / 8 * 256;
			break;
	}
	qq->query = quant_alloc(q, (size_t) q->dim * sizeof(float));
	qq->work = quant_alloc(q, work * sizeof(float));
	if (t1)
		qq->table = quant_alloc(q, t1 * sizeof(float));
	if (t2)
		qq->table2 = quant_alloc(q, t2 * sizeof(float));
	if (RQ_FASTSCAN(q))
	{
		qq->rq_lut = quant_alloc(q, (size_t) q->rq_dim * 4);
		qq->rq_dir = quant_alloc(q, (size_t) q->rq_dim * sizeof(float));
	}
	if (qq->query == NULL || qq->work == NULL ||
		(t1 && qq->table == NULL) || (t2 && qq->table2 == NULL) ||
		(RQ_FASTSCAN(q) && (qq->rq_lut == NULL || qq->rq_dir == NULL)))
	{
		quantizer_query_free(qq);
		return NULL;
	}
	return qq;
}

void
quantizer_query_free(QuantQuery *qq)
{
	const Quantizer *q;

	if (qq == NULL)
		return;
	q = qq->q;
	quant_release(q, qq->query);
	quant_release(q, qq->work);
	quant_release(q, qq->table);
	quant_release(q, qq->table2);
	quant_release(q, qq->rq_qrot);
	quant_release(q, qq->rq_lut);
	quant_release(q, qq->rq_dir);
	quant_release(q, qq->sq_qi);
	quant_release(q, qq->sq_wi);
	quant_release(q, qq);
}

bool
quantizer_attach_centroids(Quantizer *q, const float *centroids, int nlists)
{
	int			l;

	q->centroids = centroids;
	q->nlists = nlists;
	if (q->kind != QUANT_RQ || nlists < 1)
		return true;
	quant_release(q, q->rq_rot_centroids);
	q->rq_rot_centroids = quant_alloc(q, (size_t) nlists * q->rq_dim * sizeof(float));
	if (q->rq_rot_centroids == NULL)
	{
		q->centroids = NULL;
		q->nlists = 0;
		return false;
	}
	for (l = 0; l < nlists; l++)
		rq_rotate_padded(q, centroids + (size_t) l * q->dim,
						 q->rq_rot_centroids + (size_t) l * q->rq_dim);
	return true;
}

void
quantizer_query_begin(QuantQuery *qq, const float *query)
{
	const Quantizer *q = qq->q;

	if (q->kind == QUANT_RQ && q->rq_rot_centroids != NULL)
	{
		memcpy(qq->query, query, (size_t) q->dim * sizeof(float));
		rq_query_begin(qq);
		return;
	}
	if (!quantizer_wants_residuals(q))
		quantizer_query_reset(qq, query, NULL);
	else
		memcpy(qq->query, query, (size_t) q->dim * sizeof(float));
}

void
quantizer_query_list(QuantQuery *qq, int list)
{
	const Quantizer *q = qq->q;

	if (!quantizer_wants_residuals(q))
		return;
	if (q->kind == QUANT_RQ && q->rq_rot_centroids != NULL && list < q->nlists)
		rq_query_list(qq, list);
	else if (q->centroids != NULL && list < q->nlists)
	{
		/* reset copies the query over itself: pass a stable copy */
		memcpy(qq->work, qq->query, (size_t) q->dim * sizeof(float));
		quantizer_query_reset(qq, qq->work, q->centroids + (size_t) list * q->dim);
	}
}

void
quantizer_query_reset(QuantQuery *qq, const float *query,
					  const float *centroid)
{
	const Quantizer *q = qq->q;

	memcpy(qq->query, query, (size_t) q->dim * sizeof(float));
	qq->constant = 0.0f;
	switch (q->kind)
	{
		case QUANT_FLAT:
			break;
		case QUANT_BINARY:
			/* the packed query bits live in the work buffer */
			binary_pack(query, q->dim, (uint8_t *) qq->work);
			break;
		case QUANT_SQ:
			sq_query_reset(qq);
			break;
		case QUANT_PQ:
			pq_query_reset(qq, centroid);
			break;
		case QUANT_RQ:
			rq_query_reset(qq, centroid);
			break;
	}
}

static void
flat_estimate(const QuantQuery *qq, const uint8_t *codes, int n,
			  float *est, float *lower)
{
	const Quantizer *q = qq->q;
	size_t		dim = (size_t) q->dim;
	int			i;

	for (i = 0; i < n; i++)
	{
		const uint8_t *c = codes + (size_t) i * q->code_size;
		const float *v = (const float *) c;
		float		d;

		/* codes live in caller buffers of any alignment */
		if (((uintptr_t) c & (sizeof(float) - 1)) != 0)
		{
			memcpy(qq->work, c, q->code_size);
			v = qq->work;
		}
		if (q->metric == QMETRIC_IP)
			d = -lance_kernels->dot_f32(qq->query, v, dim);
		else
			d = lance_kernels->l2sq_f32(qq->query, v, dim);
		est[i] = d;
		lower[i] = d;
	}
}

void
quantizer_estimate(const QuantQuery *qq, const uint8_t *codes,
				   const float *aux, int n, float *est, float *lower)
{
	switch (qq->q->kind)
	{
		case QUANT_FLAT:
			flat_estimate(qq, codes, n, est, lower);
			break;
		case QUANT_BINARY:
			{
				const Quantizer *q = qq->q;
				int			i;

				for (i = 0; i < n; i++)
				{
					est[i] = (float) lance_kernels->hamming((const uint8_t *) qq->work,
															codes + (size_t) i * q->code_size,
															q->code_size);
					lower[i] = est[i];
				}
			}
			break;
		case QUANT_SQ:
			sq_estimate(qq, codes, aux, n, est, lower);
			break;
		case QUANT_PQ:
			pq_estimate(qq, codes, aux, n, est, lower);
			break;
		case QUANT_RQ:
			rq_estimate(qq, codes, aux, n, est, lower);
			break;
	}
}

float
quantizer_estimate_one(const QuantQuery *qq, const uint8_t *code,
					   const float *aux)
{
	float		est;
	float		lower;

	if (qq->q->kind == QUANT_SQ)
		return sq_estimate_one(qq, code);
	quantizer_estimate(qq, code, aux, 1, &est, &lower);
	return est;
}

void
quantizer_query_reset_code(QuantQuery *qq, const uint8_t *code,
						   const float *aux)
{
	const Quantizer *q = qq->q;
	float	   *x;

	if (q->kind == QUANT_SQ)
	{
		sq_query_reset_code(qq, code);
		return;
	}
	x = quant_alloc(q, (size_t) (q->kind == QUANT_RQ ? q->rq_dim : q->dim) * sizeof(float));
	quantizer_decode(q, code, aux, x);
	quantizer_query_reset(qq, x, NULL);
	quant_release(q, x);
}

bool
quantizer_query_build_mode(QuantQuery *qq)
{
	return qq->q->kind == QUANT_SQ && sq_build_mode(qq);
}

float
quantizer_code_distance(QuantQuery *qq, const uint8_t *a, const float *aux_a,
						const uint8_t *b, const float *aux_b)
{
	if (qq->q->kind == QUANT_SQ && qq->q->metric != QMETRIC_IP)
		return sq_code_l2(qq, a, b);
	quantizer_query_reset_code(qq, a, aux_a);
	return quantizer_estimate_one(qq, b, aux_b);
}

/* ---- code areas ---- */

size_t
quantizer_code_area_size(const Quantizer *q, int capacity)
{
	if (RQ_FASTSCAN(q))
		return rq_fs_area_size(q, capacity);
	return (size_t) capacity * q->code_size;
}

void
quantizer_code_put(const Quantizer *q, uint8_t *area, int slot,
				   const uint8_t *code)
{
	if (RQ_FASTSCAN(q))
		rq_fs_put(q, area, slot, code);
	else
		memcpy(area + (size_t) slot * q->code_size, code, q->code_size);
}

void
quantizer_code_get(const Quantizer *q, const uint8_t *area, int slot,
				   uint8_t *code)
{
	if (RQ_FASTSCAN(q))
		rq_fs_get(q, area, slot, code);
	else
		memcpy(code, area + (size_t) slot * q->code_size, q->code_size);
}

void
quantizer_code_move(const Quantizer *q, uint8_t *area, int from, int to)
{
	if (RQ_FASTSCAN(q))
		rq_fs_move(q, area, from, to);
	else
		memmove(area + (size_t) to * q->code_size,
				area + (size_t) from * q->code_size, q->code_size);
}

void
quantizer_estimate_area(const QuantQuery *qq, const uint8_t *area,
						const float *aux, int n, float *est, float *lower)
{
	if (RQ_FASTSCAN(qq->q))
		rq_fs_estimate(qq, area, aux, n, est, lower, NULL, 0);
	else
		quantizer_estimate(qq, area, aux, n, est, lower);
}

void
quantizer_estimate_area_ahead(const QuantQuery *qq, const uint8_t *area,
							  const float *aux, int n, float *est,
							  float *lower, const void *ahead,
							  size_t ahead_bytes)
{
	if (RQ_FASTSCAN(qq->q))
		rq_fs_estimate(qq, area, aux, n, est, lower, ahead, ahead_bytes);
	else
	{
		/* no blocked kernel to spread them over: ask for the first lines */
		for (size_t off = 0; off < ahead_bytes && off < 512; off += 64)
			__builtin_prefetch((const char *) ahead + off);
		quantizer_estimate(qq, area, aux, n, est, lower);
	}
}

bool
quantizer_can_select(const Quantizer *q)
{
	return RQ_FASTSCAN(q);
}

int
quantizer_estimate_area_select(const QuantQuery *qq, const uint8_t *area,
							   const float *aux, int n, bool by_est,
							   float threshold, int *slots, float *keys,
							   float *min_out, const void *ahead,
							   size_t ahead_bytes)
{
	if (!RQ_FASTSCAN(qq->q))
		return -1;
	return rq_fs_select(qq, area, aux, n, by_est, threshold, slots, keys,
						min_out, ahead, ahead_bytes);
}
