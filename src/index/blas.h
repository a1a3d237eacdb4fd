/*
 * blas.h
 *	  OpenBLAS, loaded on first use.
 *
 * OpenBLAS picks its kernels when the library is loaded.  Debian 12's
 * 0.3.21 does not recognise recent x86 CPUs and falls back to SSE3 kernels
 * about 5x slower than its AVX2 ones, so before loading it we ask for the
 * Haswell (AVX2/FMA) kernels when the CPU has them and the environment does
 * not already choose (OPENBLAS_CORETYPE set by the administrator wins).
 * That only works if nothing loaded the library earlier, hence dlopen
 * instead of linking.
 */
#ifndef LANCE_INDEX_BLAS_H
#define LANCE_INDEX_BLAS_H

#include <stdbool.h>

/* C = alpha * A(m x k) * B(n x k)^T + beta * C(m x n), row-major */
extern bool lance_sgemm_nt(int m, int n, int k, float alpha,
						   const float *a, int lda, const float *b, int ldb,
						   float beta, float *c, int ldc);
extern void lance_blas_set_threads(int nthreads);
/* "Haswell", "Prescott", ...; NULL if OpenBLAS could not be loaded */
extern const char *lance_blas_corename(void);

#endif							/* LANCE_INDEX_BLAS_H */
