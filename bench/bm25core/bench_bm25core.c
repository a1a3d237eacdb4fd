/*
 * bench_bm25core.c
 *	  Throughput of the posting-list codec and latency of BM25 top-10 on a
 *	  synthetic Zipf corpus, block-max evaluation against exhaustive scoring.
 *
 * Usage: bench_bm25core [ndocs [nqueries]]		(default: 500000 200)
 *
 * Corpus: ndocs documents of 10..90 tokens (uniform) drawn from a
 * 100k-term Zipf(1.0) vocabulary, so a few terms are in most documents
 * and most terms in a handful.  Queries: 2..5 terms with ranks
 * log-uniform in [5, 50000], mixing stop-word-like and rare terms.
 * "exhaustive" scores every doc of the union (bm25_score_all into a
 * heap): what an index without block-max bounds does.  "4 segments"
 * splits the same docs into 4 segments searched in turn with one shared
 * heap and global statistics.  Every BMW result is checked against the
 * exhaustive one.
 */
#include "index/bm25.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VOCAB		100000
#define MAX_QTERMS	5
#define TOPK		10

static uint64_t rng_state = UINT64_C(0x2545f4914f6cdd1d);

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static double
rng_unit(void)
{
	return (double) (rng_next() >> 11) / 9007199254740992.0;
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

typedef struct Index
{
	uint32_t	first_doc;		/* segment's docs: [first_doc, first_doc + ndocs) */
	uint32_t	ndocs;
	uint8_t   **list;
	size_t	   *len;
} Index;

static uint32_t *doclens;		/* global doc id -> length */
static uint32_t *zipf_token;	/* 2^20-entry lookup table for fast draws */

static uint32_t
seg_doclen(uint32_t doc, void *arg)
{
	return doclens[((Index *) arg)->first_doc + doc];
}

/*
 * Postings of docs [first, first + n) for every term, generated from a
 * per-doc seed so that any split into segments sees the same corpus.
 */
static void
build_postings(uint32_t first, uint32_t n, uint32_t **docs, uint32_t **tfs,
			   uint64_t *df)
{
	uint32_t   *last = malloc(sizeof(uint32_t) * VOCAB);
	uint32_t   *slot = malloc(sizeof(uint32_t) * VOCAB);
	uint32_t	d,
				t;
	int			pass;

	for (pass = 0; pass < 2; pass++)
	{
		for (t = 0; t < VOCAB; t++)
		{
			last[t] = UINT32_MAX;
			if (pass == 1)
			{
				docs[t] = malloc(sizeof(uint32_t) * (df[t] + 1));
				tfs[t] = malloc(sizeof(uint32_t) * (df[t] + 1));
			}
			df[t] = 0;
		}
		for (d = 0; d < n; d++)
		{
			uint32_t	g = first + d;
			uint64_t	s = UINT64_C(0x9e3779b97f4a7c15) * (g + 1);
			uint32_t	i;

			for (i = 0; i < doclens[g]; i++)
			{
				s ^= s >> 12;
				s ^= s << 25;
				s ^= s >> 27;
				t = zipf_token[(s * UINT64_C(0x2545f4914f6cdd1d)) >> 44];
				if (last[t] != d)
				{
					last[t] = d;
					slot[t] = (uint32_t) df[t]++;
					if (pass == 1)
					{
						docs[t][slot[t]] = d;
						tfs[t][slot[t]] = 0;
					}
				}
				if (pass == 1)
					tfs[t][slot[t]]++;
			}
		}
	}
	free(last);
	free(slot);
}

static void
build_index(Index *ix, uint32_t first, uint32_t n, uint64_t *gdf,
			double *enc_sec, uint64_t *npostings, uint64_t *bytes)
{
	uint32_t  **docs = malloc(sizeof(uint32_t *) * VOCAB);
	uint32_t  **tfs = malloc(sizeof(uint32_t *) * VOCAB);
	uint64_t   *df = malloc(sizeof(uint64_t) * VOCAB);
	uint32_t   *dls = malloc(sizeof(uint32_t) * (n + 1));
	uint32_t	t;
	double		t0;

	ix->first_doc = first;
	ix->ndocs = n;
	ix->list = malloc(sizeof(uint8_t *) * VOCAB);
	ix->len = malloc(sizeof(size_t) * VOCAB);
	build_postings(first, n, docs, tfs, df);
	t0 = now_sec();
	for (t = 0; t < VOCAB; t++)
	{
		uint32_t	i;

		/* the AM gathers lengths while building; not part of the codec */
		for (i = 0; i < df[t]; i++)
			dls[i] = doclens[first + docs[t][i]];
		if (posting_encode(docs[t], tfs[t], dls, NULL, (uint32_t) df[t], NULL,
						   &ix->list[t], &ix->len[t]) != POSTING_OK)
		{
			fprintf(stderr, "encode failed\n");
			exit(1);
		}
		*npostings += df[t];
		*bytes += ix->len[t];
		if (gdf != NULL)
			gdf[t] += df[t];
		free(docs[t]);
		free(tfs[t]);
	}
	*enc_sec += now_sec() - t0;
	free(docs);
	free(tfs);
	free(df);
	free(dls);
}

typedef struct Query
{
	int			n;
	uint32_t	term[MAX_QTERMS];
} Query;

typedef struct Run
{
	double		sec;
	Bm25Stats	stats;
} Run;

static void
heap_emit(uint64_t key, double score, void *arg)
{
	bm25_topk_push((Bm25TopK *) arg, key, score);
}

/* mode: 0 BMW top-k, 1 exhaustive; all segments share one heap */
static int
run_query(Index *segs, int nsegs, const Query *q, const uint64_t *gdf,
		  uint64_t ndocs, double avgdl, bool require_all, int mode,
		  Bm25Hit *out, Run *run)
{
	Bm25TopK	topk;
	double		t0 = now_sec();
	int			s,
				i,
				n;

	bm25_topk_init(&topk, TOPK, NULL);
	for (s = 0; s < nsegs; s++)
	{
		PostingIter iters[MAX_QTERMS];
		Bm25Term	terms[MAX_QTERMS];
		Bm25Query	bq;

		bm25_query_init(&bq);
		for (i = 0; i < q->n; i++)
		{
			posting_iter_init(&iters[i], segs[s].list[q->term[i]],
							  segs[s].len[q->term[i]], NULL);
			terms[i].iter = &iters[i];
			terms[i].idf = bm25_idf(ndocs, gdf[q->term[i]]);
			terms[i].weight = 1.0;
		}
		bq.terms = terms;
		bq.nterms = q->n;
		bq.require_all = require_all;
		bm25_scorer_init(&bq.scorer, BM25_DEFAULT_K1, BM25_DEFAULT_B, avgdl);
		bq.key_base = segs[s].first_doc;
		bq.doclen = seg_doclen;
		bq.doclen_arg = &segs[s];
		if (mode == 0)
			bm25_topk_search(&bq, &topk, &run->stats);
		else
			bm25_score_all(&bq, heap_emit, &topk, &run->stats);
		for (i = 0; i < q->n; i++)
			posting_iter_free(&iters[i]);
	}
	n = bm25_topk_sorted(&topk, out);
	bm25_topk_free(&topk);
	run->sec += now_sec() - t0;
	return n;
}

static void
codec_bench(void)
{
	/* 4M postings: gaps ~ geometric around 8, tf mostly small, 3 positions avg */
	uint32_t	n = 4 * 1000 * 1000;
	uint32_t   *docs = malloc(sizeof(uint32_t) * n);
	uint32_t   *tfs = malloc(sizeof(uint32_t) * n);
	uint32_t   *pos;
	uint64_t	npos = 0;
	uint64_t	i;
	uint32_t	d = 0;
	uint8_t    *buf;
	size_t		len;
	double		t0,
				enc,
				dec,
				adv,
				posdec;
	PostingIter it;
	uint64_t	sum = 0;
	int			rep;

	for (i = 0; i < n; i++)
	{
		d += 1 + (uint32_t) (-log(1 - rng_unit()) * 7);
		docs[i] = d;
		tfs[i] = 1 + (uint32_t) (-log(1 - rng_unit()) * 2);
		npos += tfs[i];
	}
	pos = malloc(sizeof(uint32_t) * npos);
	npos = 0;
	for (i = 0; i < n; i++)
	{
		uint32_t	p = (uint32_t) (rng_next() % 50),
					j;

		for (j = 0; j < tfs[i]; j++)
		{
			pos[npos++] = p;
			p += 1 + (uint32_t) (rng_next() % 20);
		}
	}

	for (rep = 0; rep < 2; rep++)
	{
		const uint32_t *P = rep == 0 ? NULL : pos;
		uint64_t	nadv = 0;

		t0 = now_sec();
		posting_encode(docs, tfs, NULL, P, n, NULL, &buf, &len);
		enc = now_sec() - t0;

		t0 = now_sec();
		posting_iter_init(&it, buf, len, NULL);
		for (d = posting_iter_doc(&it); d != POSTING_END; d = posting_iter_next(&it))
			sum += d + posting_iter_tf(&it);
		dec = now_sec() - t0;
		posting_iter_free(&it);

		/* advance by ~ 1000 docs: skips most blocks via the skip table */
		t0 = now_sec();
		posting_iter_init(&it, buf, len, NULL);
		for (d = posting_iter_doc(&it); d != POSTING_END; nadv++)
			d = posting_iter_advance(&it, d + 8000);
		adv = now_sec() - t0;
		posting_iter_free(&it);

		posdec = 0;
		if (P != NULL)
		{
			t0 = now_sec();
			posting_iter_init(&it, buf, len, NULL);
			for (d = posting_iter_doc(&it); d != POSTING_END; d = posting_iter_next(&it))
			{
				const uint32_t *pp;
				uint32_t	np;

				posting_iter_positions(&it, &pp, &np);
				sum += pp[np - 1];
			}
			posdec = now_sec() - t0;
			posting_iter_free(&it);
		}
		printf("codec %-15s %u postings, %.2f bytes/posting: encode %.0f M/s, "
			   "decode (next) %.0f M/s, advance(+8000 ids) %.2f us/call",
			   P ? "with positions" : "docs+tfs", n, (double) len / n,
			   n / enc / 1e6, n / dec / 1e6, adv * 1e6 / nadv);
		if (P != NULL)
			printf(", positions %.0f M/s", (double) npos / posdec / 1e6);
		printf("\n");
		free(buf);
	}
	if (sum == 42)
		printf(" ");
	free(docs);
	free(tfs);
	free(pos);
}

int
main(int argc, char **argv)
{
	uint32_t	ndocs = argc > 1 ? (uint32_t) atoi(argv[1]) : 500000;
	int			nq = argc > 2 ? atoi(argv[2]) : 200;
	double	   *cdf = malloc(sizeof(double) * VOCAB);
	uint64_t   *gdf = calloc(VOCAB, sizeof(uint64_t));
	uint64_t   *gdf4 = calloc(VOCAB, sizeof(uint64_t));
	Query	   *queries = malloc(sizeof(Query) * nq);
	Index		one;
	Index		four[4];
	double		sum = 0,
				enc_sec = 0,
				enc4 = 0,
				avgdl;
	uint64_t	total = 0,
				postings = 0,
				bytes = 0,
				p4 = 0,
				b4 = 0;
	uint32_t	t,
				d;
	int			qi,
				s,
				op;

	codec_bench();

	for (t = 0; t < VOCAB; t++)
	{
		sum += 1.0 / (t + 1);
		cdf[t] = sum;
	}
	zipf_token = malloc(sizeof(uint32_t) << 20);
	t = 0;
	for (d = 0; d < (1u << 20); d++)
	{
		double		u = (d + 0.5) / (1u << 20) * sum;

		while (t + 1 < VOCAB && cdf[t] < u)
			t++;
		zipf_token[d] = t;
	}
	doclens = malloc(sizeof(uint32_t) * ndocs);
	for (d = 0; d < ndocs; d++)
	{
		doclens[d] = 10 + (uint32_t) (rng_next() % 81);
		total += doclens[d];
	}
	avgdl = (double) total / ndocs;

	build_index(&one, 0, ndocs, gdf, &enc_sec, &postings, &bytes);
	for (s = 0; s < 4; s++)
		build_index(&four[s], ndocs / 4 * s, s < 3 ? ndocs / 4 : ndocs - ndocs / 4 * 3,
					gdf4, &enc4, &p4, &b4);
	printf("corpus: %u docs, avgdl %.1f, %lu postings, index %.1f MB (%.2f bytes/posting), "
		   "encoded at %.0f M postings/s\n", ndocs, avgdl, (unsigned long) postings,
		   bytes / 1048576.0, (double) bytes / postings, postings / enc_sec / 1e6);

	for (qi = 0; qi < nq; qi++)
	{
		int			i;

		queries[qi].n = 2 + (int) (rng_next() % 4);
		for (i = 0; i < queries[qi].n; i++)
			queries[qi].term[i] = (uint32_t) (5 * exp(rng_unit() * log(10000.0)));
	}

	for (op = 0; op < 2; op++)
	{
		Run			bmw,
					exh,
					bmw4;
		int			mismatches = 0;

		memset(&bmw, 0, sizeof(bmw));
		memset(&exh, 0, sizeof(exh));
		memset(&bmw4, 0, sizeof(bmw4));
		for (qi = 0; qi < nq; qi++)
		{
			Bm25Hit		a[TOPK],
						b[TOPK],
						c[TOPK];
			int			na,
						nb,
						nc,
						i;

			na = run_query(&one, 1, &queries[qi], gdf, ndocs, avgdl, op == 1, 0, a, &bmw);
			nb = run_query(&one, 1, &queries[qi], gdf, ndocs, avgdl, op == 1, 1, b, &exh);
			nc = run_query(four, 4, &queries[qi], gdf4, ndocs, avgdl, op == 1, 0, c, &bmw4);
			if (na != nb || nc != na)
				mismatches++;
			else
				for (i = 0; i < na; i++)
					if (a[i].key != b[i].key || a[i].key != c[i].key ||
						fabs(a[i].score - c[i].score) > 1e-9 * a[i].score)
					{
						mismatches++;
						break;
					}
		}
		printf("%s top-%d, %d queries of 2-5 terms:\n", op == 0 ? "OR" : "AND", TOPK, nq);
		printf("  block-max %s   %8.3f ms/query, %9.0f docs scored/query "
			   "(%.0f candidates, %.0f block skips)\n",
			   op == 0 ? "WAND      " : "intersect ", bmw.sec * 1e3 / nq,
			   (double) bmw.stats.scored / nq, (double) bmw.stats.candidates / nq,
			   (double) bmw.stats.block_skips / nq);
		printf("  exhaustive           %8.3f ms/query, %9.0f docs scored/query\n",
			   exh.sec * 1e3 / nq, (double) exh.stats.scored / nq);
		printf("  4 segments, shared   %8.3f ms/query, %9.0f docs scored/query\n",
			   bmw4.sec * 1e3 / nq, (double) bmw4.stats.scored / nq);
		printf("  results differing from exhaustive: %d\n", mismatches);
	}
	return 0;
}
