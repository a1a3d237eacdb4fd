/*
 * dataset.c
 *	  Benchmark data: the anisotropic Gaussian mixture generator, the
 *	  Fashion-MNIST idx loader, and the flat cache files both end up in.
 *
 * Cache file: 8-byte magic "IVFBVEC1", int64 rows, int32 dim, int32 zero,
 * then rows x dim float32 in host order (the files never leave the machine
 * that made them).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>
#include <zlib.h>

#include "ivfbench.h"

static const char vec_magic[8] = {'I', 'V', 'F', 'B', 'V', 'E', 'C', '1'};

void
matrix_save(const char *path, const FloatMatrix *m)
{
	char		tmp[4096];
	FILE	   *f;
	int32_t		hdr[2] = {m->dim, 0};

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL)
		die("could not create \"%s\": %s", tmp, strerror(errno));
	if (fwrite(vec_magic, 1, 8, f) != 8 ||
		fwrite(&m->n, sizeof(int64_t), 1, f) != 1 ||
		fwrite(hdr, sizeof(hdr), 1, f) != 1 ||
		fwrite(m->x, sizeof(float) * m->dim, m->n, f) != (size_t) m->n ||
		fclose(f) != 0)
		die("could not write \"%s\": %s", tmp, strerror(errno));
	/* rename last, so an interrupted run never leaves a truncated cache */
	if (rename(tmp, path) != 0)
		die("could not rename \"%s\": %s", tmp, strerror(errno));
}

bool
matrix_load(const char *path, FloatMatrix *m)
{
	FILE	   *f = fopen(path, "rb");
	char		magic[8];
	int32_t		hdr[2];

	if (f == NULL)
		return false;
	if (fread(magic, 1, 8, f) != 8 || memcmp(magic, vec_magic, 8) != 0 ||
		fread(&m->n, sizeof(int64_t), 1, f) != 1 ||
		fread(hdr, sizeof(hdr), 1, f) != 1 || hdr[0] <= 0 || m->n <= 0)
		die("\"%s\" is not a benchmark vector file", path);
	m->dim = hdr[0];
	m->x = xmalloc(sizeof(float) * m->dim * m->n);
	if (fread(m->x, sizeof(float) * m->dim, m->n, f) != (size_t) m->n)
		die("\"%s\" is truncated", path);
	fclose(f);
	return true;
}

void
matrix_free(FloatMatrix *m)
{
	free(m->x);
	m->x = NULL;
	m->n = 0;
}

/*
 * The rows of a vector file, mapped read-only: nothing is copied, and only
 * the pages looked at are read in.
 */
bool
matrix_map(const char *path, MappedMatrix *mm)
{
	int			fd = open(path, O_RDONLY);
	struct stat st;
	int64_t		n;
	int32_t		dim;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0 || st.st_size < 24)
		die("\"%s\" is not a benchmark vector file", path);
	mm->size = st.st_size;
	mm->map = mmap(NULL, mm->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (mm->map == MAP_FAILED)
		die("could not map \"%s\"", path);
	memcpy(&n, (char *) mm->map + 8, 8);
	memcpy(&dim, (char *) mm->map + 16, 4);
	if (memcmp(mm->map, vec_magic, 8) != 0 || dim <= 0 || n <= 0 ||
		(size_t) n * dim * sizeof(float) + 24 > mm->size)
		die("\"%s\" is not a benchmark vector file", path);
	mm->n = n;
	mm->dim = dim;
	mm->x = (const float *) ((char *) mm->map + 24);
	return true;
}

void
matrix_unmap(MappedMatrix *mm)
{
	if (mm->map != NULL)
		munmap(mm->map, mm->size);
	mm->map = NULL;
	mm->x = NULL;
	mm->n = 0;
}

/*
 * Random numbers: xoshiro256** seeded through splitmix64 from (seed,
 * stream), so the rotation, the centres, the base rows and the queries each
 * come from their own reproducible stream.
 */
typedef struct BenchRng
{
	uint64_t	s[4];
	bool		have_spare;
	double		spare;
} BenchRng;

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void
rng_init(BenchRng *r, uint64_t seed, uint64_t stream)
{
	uint64_t	st = seed * UINT64_C(0x9E3779B97F4A7C15) ^ (stream + 1) * UINT64_C(0xD1B54A32D192ED03);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&st);
	r->have_spare = false;
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(BenchRng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* uniform in [0, 1) with 53 random bits */
static double
rng_uniform(BenchRng *r)
{
	return (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* standard normal, Marsaglia's polar method */
static double
rng_gaussian(BenchRng *r)
{
	double		u,
				v,
				s;

	if (r->have_spare)
	{
		r->have_spare = false;
		return r->spare;
	}
	do
	{
		u = 2.0 * rng_uniform(r) - 1.0;
		v = 2.0 * rng_uniform(r) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	s = sqrt(-2.0 * log(s) / s);
	r->spare = v * s;
	r->have_spare = true;
	return u * s;
}

/*
 * A uniformly random orthogonal dim x dim matrix (row-major, float): the Q
 * of a Gaussian matrix, by modified Gram-Schmidt in double.  Gram-Schmidt
 * on Gaussian rows gives the Haar distribution without the sign fix-up
 * Householder QR would need.
 */
static float *
random_rotation(BenchRng *rng, int dim)
{
	double	   *a = xmalloc(sizeof(double) * dim * dim);
	float	   *q = xmalloc(sizeof(float) * dim * dim);

	for (int64_t i = 0; i < (int64_t) dim * dim; i++)
		a[i] = rng_gaussian(rng);
	for (int i = 0; i < dim; i++)
	{
		double	   *ri = a + (int64_t) i * dim;
		double		norm = 0;

		for (int j = 0; j < i; j++)
		{
			double	   *rj = a + (int64_t) j * dim;
			double		dot = 0;

			for (int c = 0; c < dim; c++)
				dot += ri[c] * rj[c];
			for (int c = 0; c < dim; c++)
				ri[c] -= dot * rj[c];
		}
		for (int c = 0; c < dim; c++)
			norm += ri[c] * ri[c];
		norm = sqrt(norm);
		if (norm < 1e-9)
			die("random rotation: degenerate Gaussian matrix");
		for (int c = 0; c < dim; c++)
			ri[c] /= norm;
	}
	for (int64_t i = 0; i < (int64_t) dim * dim; i++)
		q[i] = (float) a[i];
	free(a);
	return q;
}

/*
 * Fill rows [0, n) of out with mixture samples: pick a centre by its Zipf
 * weight, add noise with standard deviation sqrt(lambda_i) on axis i, then
 * rotate (out = samples x rot) in blocks through sgemm.
 */
static void
aniso_sample(BenchRng *rng, const AnisoParams *p, const double *sdev,
			 const float *centres, const double *cdf, const float *rot,
			 int64_t n, float *out)
{
	const int	block = 16384;
	int			dim = p->dim;
	float	   *tmp = xmalloc(sizeof(float) * block * dim);

	for (int64_t start = 0; start < n; start += block)
	{
		int			rows = (int) (n - start < block ? n - start : block);

		for (int r = 0; r < rows; r++)
		{
			double		u = rng_uniform(rng);
			int			lo = 0,
						hi = p->centres - 1;
			const float *c;
			float	   *row = tmp + (int64_t) r * dim;

			/* first centre whose cumulative weight exceeds u */
			while (lo < hi)
			{
				int			mid = (lo + hi) / 2;

				if (cdf[mid] > u)
					hi = mid;
				else
					lo = mid + 1;
			}
			c = centres + (int64_t) lo * dim;
			for (int i = 0; i < dim; i++)
				row[i] = c[i] + (float) (sdev[i] * rng_gaussian(rng));
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
					rows, dim, dim, 1.0f, tmp, dim, rot, dim,
					0.0f, out + start * dim, dim);
		if (p->normalise)
		{
			for (int r = 0; r < rows; r++)
			{
				float	   *row = out + (start + r) * dim;
				double		norm = 0;

				for (int i = 0; i < dim; i++)
					norm += (double) row[i] * row[i];
				norm = sqrt(norm);
				for (int i = 0; i < dim; i++)
					row[i] = (float) (row[i] / norm);
			}
		}
	}
	free(tmp);
}

/*
 * Anisotropic Gaussian mixture (the spec in /work/shared/notes, restated in
 * bench/ivf/README.md):
 *	 lambda_i = i^-alpha, i = 1..dim, scaled so that sum lambda_i = dim;
 *	 centre j: spread * sqrt(lambda_i) * N(0,1) on axis i;
 *	 weight of centre j: (j+1)^-zipf, normalised;
 *	 point: centre + sqrt(lambda_i) * N(0,1) on axis i, then one global
 *	 random rotation; optionally normalised to unit length.
 * Queries come from the same distribution through another random stream,
 * so they are not base rows.
 */
void
aniso_generate(const AnisoParams *p, FloatMatrix *base, FloatMatrix *queries)
{
	BenchRng	rng;
	int			dim = p->dim;
	double	   *sdev = xmalloc(sizeof(double) * dim);
	double	   *cdf = xmalloc(sizeof(double) * p->centres);
	float	   *centres = xmalloc(sizeof(float) * p->centres * dim);
	float	   *rot;
	double		sum = 0;

	for (int i = 0; i < dim; i++)
	{
		sdev[i] = pow(i + 1, -p->alpha);
		sum += sdev[i];
	}
	for (int i = 0; i < dim; i++)
		sdev[i] = sqrt(sdev[i] * dim / sum);

	sum = 0;
	for (int j = 0; j < p->centres; j++)
	{
		sum += pow(j + 1, -p->zipf);
		cdf[j] = sum;
	}
	for (int j = 0; j < p->centres; j++)
		cdf[j] /= sum;
	cdf[p->centres - 1] = 1.0;

	/* stream 0: rotation, then centres */
	rng_init(&rng, p->seed, 0);
	rot = random_rotation(&rng, dim);
	for (int j = 0; j < p->centres; j++)
		for (int i = 0; i < dim; i++)
			centres[(int64_t) j * dim + i] = (float) (p->spread * sdev[i] * rng_gaussian(&rng));

	base->n = p->n;
	base->dim = dim;
	base->x = xmalloc(sizeof(float) * dim * p->n);
	rng_init(&rng, p->seed, 1);
	aniso_sample(&rng, p, sdev, centres, cdf, rot, p->n, base->x);

	queries->n = p->nq;
	queries->dim = dim;
	queries->x = xmalloc(sizeof(float) * dim * p->nq);
	rng_init(&rng, p->seed, 2);
	aniso_sample(&rng, p, sdev, centres, cdf, rot, p->nq, queries->x);

	free(rot);
	free(centres);
	free(cdf);
	free(sdev);
}

static uint32_t
read_be32(const unsigned char *b)
{
	return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
		((uint32_t) b[2] << 8) | b[3];
}

/*
 * The first `limit` images (all when limit <= 0) of a gzipped idx3-ubyte
 * file: magic 0x00000803, count, rows, cols (big-endian int32), then
 * count x rows x cols unsigned bytes.  Pixels become floats 0..255, as in
 * ann-benchmarks' fashion-mnist-784-euclidean.
 */
void
fmnist_load(const char *path, int64_t limit, FloatMatrix *m)
{
	gzFile		gz = gzopen(path, "rb");
	unsigned char hdr[16];
	unsigned char *pix;
	int64_t		count;
	int			dim;

	if (gz == NULL)
		die("could not open \"%s\" (is dataset-fashion-mnist installed? "
			"LANCEDB_BENCH_DEPS=1 bash scripts/install-deps.sh)", path);
	if (gzread(gz, hdr, sizeof(hdr)) != (int) sizeof(hdr) || read_be32(hdr) != 0x803)
		die("\"%s\" is not an idx3-ubyte file", path);
	count = read_be32(hdr + 4);
	dim = (int) (read_be32(hdr + 8) * read_be32(hdr + 12));
	if (limit > 0 && limit < count)
		count = limit;

	m->n = count;
	m->dim = dim;
	m->x = xmalloc(sizeof(float) * dim * count);
	pix = xmalloc((size_t) dim * count);
	if (gzread(gz, pix, (unsigned) (dim * count)) != (int) (dim * count))
		die("\"%s\" is truncated", path);
	gzclose(gz);
	for (int64_t i = 0; i < (int64_t) dim * count; i++)
		m->x[i] = pix[i];
	free(pix);
}
