/*
 * blas.c
 *	  OpenBLAS through dlopen, with the kernel family chosen first (see
 *	  blas.h).
 */
#include "index/blas.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* cblas enum values (CblasRowMajor, CblasNoTrans, CblasTrans) */
#define LANCE_CBLAS_ROW_MAJOR	101
#define LANCE_CBLAS_NO_TRANS	111
#define LANCE_CBLAS_TRANS		112

typedef void (*sgemm_fn) (int order, int transa, int transb, int m, int n,
						  int k, float alpha, const float *a, int lda,
						  const float *b, int ldb, float beta, float *c,
						  int ldc);
typedef void (*set_threads_fn) (int n);
typedef char *(*corename_fn) (void);

static bool blas_tried = false;
static sgemm_fn blas_sgemm = NULL;
static set_threads_fn blas_set_threads = NULL;
static corename_fn blas_corename = NULL;

static bool
cpu_has_avx2_fma(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

static bool
blas_load(void)
{
	void	   *h;

	if (blas_tried)
		return blas_sgemm != NULL;
	blas_tried = true;

	if (getenv("OPENBLAS_CORETYPE") == NULL && cpu_has_avx2_fma())
		setenv("OPENBLAS_CORETYPE", "Haswell", 0);

	h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		h = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return false;
	blas_sgemm = (sgemm_fn) dlsym(h, "cblas_sgemm");
	blas_set_threads = (set_threads_fn) dlsym(h, "openblas_set_num_threads");
	blas_corename = (corename_fn) dlsym(h, "openblas_get_corename");
	return blas_sgemm != NULL;
}

bool
lance_sgemm_nt(int m, int n, int k, float alpha, const float *a, int lda,
			   const float *b, int ldb, float beta, float *c, int ldc)
{
	if (!blas_load())
		return false;
	blas_sgemm(LANCE_CBLAS_ROW_MAJOR, LANCE_CBLAS_NO_TRANS, LANCE_CBLAS_TRANS,
			   m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
	return true;
}

void
lance_blas_set_threads(int nthreads)
{
	if (blas_load() && blas_set_threads)
		blas_set_threads(nthreads);
}

const char *
lance_blas_corename(void)
{
	if (!blas_load() || blas_corename == NULL)
		return NULL;
	return blas_corename();
}
