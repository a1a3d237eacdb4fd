/*
 * test_bm25.c
 *	  Standalone checks of BM25 scoring, the top-k evaluators and phrase
 *	  matching (no PostgreSQL needed).
 *
 * Everything is compared with a brute force that reads the documents'
 * tokens directly (not the posting lists): top-k of block-max WAND (OR),
 * of the block-max intersection (AND) and of phrase queries equals the
 * brute-force top-k on random Zipf corpora for k = 1, 10, 100, with
 * deleted docs, an accept predicate and several segments sharing one
 * top-k heap under global statistics (ties: score descending, then key
 * ascending); score_all emits exactly the brute-force matches; skip-table
 * block bounds are >= the true max score of each block for random avgdl;
 * the phrase matcher agrees with an exhaustive search for slop 0..3.
 * The last line of output is "N passed, M failed"; the exit status is
 * non-zero on any failure.
 */
#include "index/bm25.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	n_passed = 0;
static int	n_failed = 0;

static void
check(bool ok, const char *what)
{
	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	printf("not ok - %s\n", what);
}

/* xorshift64*: seeded, fast, and identical on every platform */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static uint32_t
rng_below(uint64_t n)
{
	return (uint32_t) (rng_next() % n);
}

static double
rng_unit(void)
{
	return (double) (rng_next() >> 11) / 9007199254740992.0;
}

static long n_interrupts = 0;

static void
count_interrupt(void *arg)
{
	(void) arg;
	n_interrupts++;
}

static const PostingHooks hooks = {NULL, NULL, count_interrupt, NULL};

/* ---------- phrase matching vs exhaustive search ---------- */

/* min over chains from term i at position prev (cost so far) */
static bool
bf_chain(const uint32_t *const *pos, const uint32_t *npos, const uint32_t *off,
		 int n, int i, uint32_t prev, uint32_t cost, uint32_t slop)
{
	uint32_t	j;

	if (i == n)
		return true;
	for (j = 0; j < npos[i]; j++)
	{
		int64_t		dev;
		uint64_t	c;

		if (pos[i][j] <= prev)
			continue;
		dev = (int64_t) (pos[i][j] - prev) - (int64_t) (off[i] - off[i - 1]);
		c = cost + (uint64_t) (dev < 0 ? -dev : dev);
		if (c <= slop && bf_chain(pos, npos, off, n, i + 1, pos[i][j], (uint32_t) c, slop))
			return true;
	}
	return false;
}

static uint32_t
bf_phrase_freq(const uint32_t *const *pos, const uint32_t *npos,
			   const uint32_t *off, int n, uint32_t slop)
{
	uint32_t	freq = 0,
				a;

	for (a = 0; a < npos[0]; a++)
		if (bf_chain(pos, npos, off, n, 1, pos[0][a], 0, slop))
			freq++;
	return freq;
}

static void
test_phrase_matcher(void)
{
	uint32_t	store[4][32];
	const uint32_t *pos[4];
	uint32_t	npos[4];
	uint32_t	off[4];
	uint32_t	scratch[64];
	int			trial;
	int			bad = 0;
	long		matches = 0;
	uint32_t	slop_matches[4] = {0};

	for (trial = 0; trial < 40000; trial++)
	{
		int			n = 1 + rng_below(4);
		uint32_t	slop = rng_below(4);
		bool		gaps = rng_below(3) == 0;
		uint32_t	width = 8 + rng_below(24);
		int			i;
		uint32_t	f,
					g;

		for (i = 0; i < n; i++)
		{
			uint32_t	p;
			uint32_t	density = 2 + rng_below(5);

			npos[i] = 0;
			for (p = 0; p < width; p++)
				if (rng_below(density) == 0)
					store[i][npos[i]++] = p;
			pos[i] = store[i];
			off[i] = i == 0 ? rng_below(3) : off[i - 1] + 1 + (gaps ? rng_below(2) : 0);
		}
		f = bm25_phrase_freq(pos, npos, gaps ? off : NULL, n, slop, scratch);
		if (!gaps)
			for (i = 0; i < n; i++)
				off[i] = (uint32_t) i;
		g = bf_phrase_freq(pos, npos, off, n, slop);
		if (f != g)
		{
			if (bad++ < 3)
				printf("phrase n=%d slop=%u: got %u want %u\n", n, slop, f, g);
		}
		matches += g > 0;
		slop_matches[slop] += g;
	}
	printf("phrase matcher: 40000 random cases, %ld with a match; freq sums by slop %u %u %u %u\n",
		   matches, slop_matches[0], slop_matches[1], slop_matches[2], slop_matches[3]);
	check(bad == 0, "phrase frequency equals exhaustive search (slop 0..3)");
	check(bm25_phrase_scratch_size(3) <= 64, "scratch size");

	/* fixed cases: "a b" in "a x b" and "b a" */
	{
		static const uint32_t a[] = {0, 10};
		static const uint32_t b[] = {2, 9};
		const uint32_t *pp[2] = {a, b};
		uint32_t	nn[2] = {2, 2};

		check(bm25_phrase_freq(pp, nn, NULL, 2, 0, scratch) == 0, "a x b: slop 0 no match");
		check(bm25_phrase_freq(pp, nn, NULL, 2, 1, scratch) == 1, "a x b: slop 1 matches once");
		check(bm25_phrase_freq(pp, nn, NULL, 2, 100, scratch) == 1,
			  "order matters: b a never matches");
	}
}

/* ---------- scoring basics ---------- */

static void
test_scoring_basics(void)
{
	Bm25Scorer	s;
	double		idf = bm25_idf(1000, 10);
	double		want = 2.0 * 2.2 / (2.0 + 1.2 * (1 - 0.75 + 0.75 * 30.0 / 20.0));

	bm25_scorer_init(&s, 1.2, 0.75, 20.0);
	check(fabs(idf - log(1 + (1000 - 10 + 0.5) / (10 + 0.5))) < 1e-12, "idf formula");
	check(fabs(bm25_tf_part(&s, 2, 30) - want) < 1e-12, "tf part formula");
	check(bm25_idf(10, 10) > 0, "idf positive when every doc has the term");
	check(bm25_tf_part(&s, 3, 10) > bm25_tf_part(&s, 2, 10) &&
		  bm25_tf_part(&s, 2, 10) > bm25_tf_part(&s, 2, 11), "tf part monotone");
}

/* ---------- Zipf corpus ---------- */

#define MAX_SEGS	4

typedef struct Segment
{
	uint32_t	ndocs;
	uint32_t   *dl;
	uint32_t  **tok;			/* tok[d][0..dl[d]) term ids */
	bool	   *deleted;
	uint8_t   **list;			/* per term, encoded with positions */
	size_t	   *len;
	uint32_t   *df;
} Segment;

typedef struct Corpus
{
	int			nsegs;
	uint32_t	vocab;
	Segment		seg[MAX_SEGS];
	uint64_t	ndocs;
	double		avgdl;
	uint64_t   *df;				/* global */
	double	   *zipf_cdf;
} Corpus;

static uint32_t
zipf_draw(const Corpus *c)
{
	double		u = rng_unit();
	uint32_t	lo = 0,
				hi = c->vocab - 1;

	while (lo < hi)
	{
		uint32_t	mid = (lo + hi) / 2;

		if (c->zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
corpus_build(Corpus *c, int nsegs, uint32_t docs_per_seg, uint32_t vocab,
			 uint32_t maxlen, double zipf_s, double deleted_frac)
{
	double		sum = 0;
	uint64_t	total_len = 0;
	uint32_t	t;
	int			s;

	memset(c, 0, sizeof(*c));
	c->nsegs = nsegs;
	c->vocab = vocab;
	c->zipf_cdf = malloc(sizeof(double) * vocab);
	c->df = calloc(vocab, sizeof(uint64_t));
	for (t = 0; t < vocab; t++)
	{
		sum += 1.0 / pow(t + 1, zipf_s);
		c->zipf_cdf[t] = sum;
	}
	for (t = 0; t < vocab; t++)
		c->zipf_cdf[t] /= sum;

	for (s = 0; s < nsegs; s++)
	{
		Segment    *g = &c->seg[s];
		uint32_t  **docs = calloc(vocab, sizeof(uint32_t *));
		uint32_t  **tfs = calloc(vocab, sizeof(uint32_t *));
		uint32_t  **pos = calloc(vocab, sizeof(uint32_t *));
		uint32_t  **dls = calloc(vocab, sizeof(uint32_t *));
		uint32_t   *npos = calloc(vocab, sizeof(uint32_t));
		uint32_t   *last = malloc(vocab * sizeof(uint32_t));
		uint32_t	d;

		g->ndocs = docs_per_seg - rng_below(docs_per_seg / 4 + 1);
		g->dl = malloc(sizeof(uint32_t) * g->ndocs);
		g->tok = malloc(sizeof(uint32_t *) * g->ndocs);
		g->deleted = malloc(sizeof(bool) * g->ndocs);
		g->df = calloc(vocab, sizeof(uint32_t));
		g->list = calloc(vocab, sizeof(uint8_t *));
		g->len = calloc(vocab, sizeof(size_t));
		for (d = 0; d < g->ndocs; d++)
		{
			uint32_t	i;

			g->dl[d] = 1 + rng_below(maxlen);
			g->tok[d] = malloc(sizeof(uint32_t) * g->dl[d]);
			g->deleted[d] = rng_unit() < deleted_frac;
			for (i = 0; i < g->dl[d]; i++)
				g->tok[d][i] = zipf_draw(c);
			total_len += g->dl[d];
		}
		/* count, then fill per-term arrays */
		for (t = 0; t < vocab; t++)
			last[t] = UINT32_MAX;
		for (d = 0; d < g->ndocs; d++)
		{
			uint32_t	i;

			for (i = 0; i < g->dl[d]; i++)
			{
				t = g->tok[d][i];
				npos[t]++;
				if (last[t] != d)
				{
					last[t] = d;
					g->df[t]++;
				}
			}
		}
		for (t = 0; t < vocab; t++)
		{
			docs[t] = malloc(sizeof(uint32_t) * (g->df[t] + 1));
			tfs[t] = calloc(g->df[t] + 1, sizeof(uint32_t));
			dls[t] = malloc(sizeof(uint32_t) * (g->df[t] + 1));
			pos[t] = malloc(sizeof(uint32_t) * (npos[t] + 1));
			npos[t] = 0;
			g->df[t] = 0;
			last[t] = UINT32_MAX;
		}
		for (d = 0; d < g->ndocs; d++)
		{
			uint32_t	i;

			for (i = 0; i < g->dl[d]; i++)
			{
				t = g->tok[d][i];
				if (last[t] != d)
				{
					last[t] = d;
					docs[t][g->df[t]] = d;
					dls[t][g->df[t]] = g->dl[d];
					g->df[t]++;
				}
				tfs[t][g->df[t] - 1]++;
				pos[t][npos[t]++] = i;
			}
		}
		for (t = 0; t < vocab; t++)
		{
			if (posting_encode(docs[t], tfs[t], dls[t], pos[t], g->df[t], NULL,
							   &g->list[t], &g->len[t]) != POSTING_OK)
				printf("encode failed\n");
			c->df[t] += g->df[t];
			free(docs[t]);
			free(tfs[t]);
			free(dls[t]);
			free(pos[t]);
		}
		c->ndocs += g->ndocs;
		free(docs);
		free(tfs);
		free(pos);
		free(dls);
		free(npos);
		free(last);
	}
	c->avgdl = (double) total_len / (double) c->ndocs;
}

static void
corpus_free(Corpus *c)
{
	int			s;
	uint32_t	t,
				d;

	for (s = 0; s < c->nsegs; s++)
	{
		Segment    *g = &c->seg[s];

		for (d = 0; d < g->ndocs; d++)
			free(g->tok[d]);
		for (t = 0; t < c->vocab; t++)
			free(g->list[t]);
		free(g->tok);
		free(g->dl);
		free(g->deleted);
		free(g->list);
		free(g->len);
		free(g->df);
	}
	free(c->df);
	free(c->zipf_cdf);
}

static uint32_t
seg_doclen(uint32_t doc, void *arg)
{
	return ((Segment *) arg)->dl[doc];
}

static bool
seg_alive(uint32_t doc, void *arg)
{
	return !((Segment *) arg)->deleted[doc];
}

static bool
accept_not_mult3(uint32_t doc, void *arg)
{
	(void) arg;
	return doc % 3 != 0;
}

#define MAX_TERMS	5

typedef struct TestQuery
{
	int			n;
	uint32_t	term[MAX_TERMS];
	double		weight[MAX_TERMS];
	bool		require_all;
	int			slop;			/* -1: not a phrase */
	bool		use_accept;
} TestQuery;

static int
hit_order(const void *a, const void *b)
{
	const Bm25Hit *x = a;
	const Bm25Hit *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int
key_order(const void *a, const void *b)
{
	const Bm25Hit *x = a;
	const Bm25Hit *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* All matching alive docs with their brute-force scores (unsorted). */
static int
brute_force(const Corpus *c, const TestQuery *q, const Bm25Scorer *sc,
			Bm25Hit *out)
{
	double		wi[MAX_TERMS];
	double		phrase_wi = 0;
	int			nout = 0;
	int			s,
				i;

	for (i = 0; i < q->n; i++)
	{
		wi[i] = q->weight[i] * bm25_idf(c->ndocs, c->df[q->term[i]]);
		phrase_wi += wi[i];
	}
	for (s = 0; s < c->nsegs; s++)
	{
		const Segment *g = &c->seg[s];
		uint32_t	d;

		for (d = 0; d < g->ndocs; d++)
		{
			uint32_t	tf[MAX_TERMS] = {0};
			uint32_t	store[MAX_TERMS][128];
			const uint32_t *pos[MAX_TERMS];
			uint32_t	j;
			int			present = 0;
			double		score = 0;

			if (g->deleted[d] || (q->use_accept && !accept_not_mult3(d, NULL)))
				continue;
			for (j = 0; j < g->dl[d]; j++)
				for (i = 0; i < q->n; i++)
					if (g->tok[d][j] == q->term[i])
						store[i][tf[i]++] = j;
			for (i = 0; i < q->n; i++)
				present += tf[i] > 0;
			if (present == 0 || ((q->require_all || q->slop >= 0) && present < q->n))
				continue;
			if (q->slop >= 0)
			{
				uint32_t	off[MAX_TERMS];
				uint32_t	f;

				for (i = 0; i < q->n; i++)
				{
					pos[i] = store[i];
					off[i] = (uint32_t) i;
				}
				f = bf_phrase_freq(pos, tf, off, q->n, (uint32_t) q->slop);
				if (f == 0)
					continue;
				score = phrase_wi * bm25_tf_part(sc, f, g->dl[d]);
			}
			else
			{
				for (i = 0; i < q->n; i++)
					if (tf[i] > 0)
						score += wi[i] * bm25_tf_part(sc, tf[i], g->dl[d]);
			}
			out[nout].key = ((uint64_t) s << 32) + d;
			out[nout].score = score;
			nout++;
		}
	}
	return nout;
}

static void
make_query(Bm25Query *bq, Bm25Term *terms, PostingIter *iters,
		   const Corpus *c, const TestQuery *q, int s)
{
	const Segment *g = &c->seg[s];
	int			i;

	bm25_query_init(bq);
	for (i = 0; i < q->n; i++)
	{
		if (posting_iter_init(&iters[i], g->list[q->term[i]], g->len[q->term[i]],
							  &hooks) != POSTING_OK)
			printf("iter init failed\n");
		terms[i].iter = &iters[i];
		terms[i].idf = bm25_idf(c->ndocs, c->df[q->term[i]]);
		terms[i].weight = q->weight[i];
	}
	bq->terms = terms;
	bq->nterms = q->n;
	bq->require_all = q->require_all;
	bq->phrase_slop = q->slop;
	bm25_scorer_init(&bq->scorer, BM25_DEFAULT_K1, BM25_DEFAULT_B, c->avgdl);
	bq->key_base = (uint64_t) s << 32;
	bq->doclen = seg_doclen;
	bq->doclen_arg = (void *) g;
	bq->alive = seg_alive;
	bq->alive_arg = (void *) g;
	if (q->use_accept)
		bq->accept = accept_not_mult3;
	bq->hooks = &hooks;
}

/* Evaluate over all segments in a random order sharing one heap. */
static int
run_topk(const Corpus *c, const TestQuery *q, int k, Bm25Hit *out,
		 Bm25Stats *stats, int *rc_out)
{
	Bm25TopK	topk;
	int			order[MAX_SEGS];
	int			s,
				i,
				n;

	*rc_out = POSTING_OK;
	for (s = 0; s < c->nsegs; s++)
		order[s] = s;
	for (s = c->nsegs - 1; s > 0; s--)
	{
		int			j = rng_below(s + 1);
		int			t = order[s];

		order[s] = order[j];
		order[j] = t;
	}
	bm25_topk_init(&topk, k, &hooks);
	for (s = 0; s < c->nsegs; s++)
	{
		Bm25Query	bq;
		Bm25Term	terms[MAX_TERMS];
		PostingIter iters[MAX_TERMS];
		int			rc;

		make_query(&bq, terms, iters, c, q, order[s]);
		rc = bm25_topk_search(&bq, &topk, stats);
		if (rc != POSTING_OK)
			*rc_out = rc;
		for (i = 0; i < q->n; i++)
			posting_iter_free(&iters[i]);
	}
	n = bm25_topk_sorted(&topk, out);
	bm25_topk_free(&topk);
	return n;
}

typedef struct Collect
{
	Bm25Hit    *hits;
	int			n;
} Collect;

static void
collect_emit(uint64_t key, double score, void *arg)
{
	Collect    *cl = arg;

	cl->hits[cl->n].key = key;
	cl->hits[cl->n].score = score;
	cl->n++;
}

static bool
same_hits(const Bm25Hit *a, int na, const Bm25Hit *b, int nb)
{
	int			i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
	{
		if (a[i].key != b[i].key ||
			fabs(a[i].score - b[i].score) > 1e-5 * fabs(b[i].score))
			return false;
	}
	return true;
}

static void
random_query(const Corpus *c, TestQuery *q, bool require_all, int slop)
{
	int			i;
	bool		boosts = rng_below(3) == 0;

	memset(q, 0, sizeof(*q));
	q->require_all = require_all;
	q->slop = slop;
	q->use_accept = rng_below(5) == 0;
	if (slop >= 0)
	{
		/* a phrase cut from a random doc, so it occurs at least once */
		const Segment *g = &c->seg[rng_below(c->nsegs)];
		uint32_t	d;

		q->n = 2 + rng_below(2);
		do
			d = rng_below(g->ndocs);
		while (g->dl[d] < (uint32_t) q->n);
		{
			uint32_t	at = rng_below(g->dl[d] - q->n + 1);

			for (i = 0; i < q->n; i++)
				q->term[i] = g->tok[d][at + i];
		}
	}
	else
	{
		/* AND: frequent terms so that intersections are not all empty */
		q->n = require_all ? 2 + rng_below(2) : 2 + rng_below(4);
		for (i = 0; i < q->n; i++)
			q->term[i] = !require_all && rng_below(3) == 0 ?
				rng_below(c->vocab) : zipf_draw(c);
	}
	for (i = 0; i < q->n; i++)
		q->weight[i] = boosts ? 0.25 + 2 * rng_unit() : 1.0;
}

static void
test_topk_vs_brute_force(void)
{
	static const int ks[] = {1, 10, 100};
	Corpus		c;
	Bm25Hit    *all;
	Bm25Hit    *got;
	Bm25Hit    *em;
	Bm25Scorer	sc;
	int			mode;
	Bm25Stats	st;

	corpus_build(&c, 3, 4000, 3000, 60, 1.05, 0.1);
	bm25_scorer_init(&sc, BM25_DEFAULT_K1, BM25_DEFAULT_B, c.avgdl);
	all = malloc(sizeof(Bm25Hit) * (c.ndocs + 1));
	em = malloc(sizeof(Bm25Hit) * (c.ndocs + 1));
	got = malloc(sizeof(Bm25Hit) * 100);
	memset(&st, 0, sizeof(st));
	printf("corpus: %lu docs in 3 segments, avgdl %.1f\n", (unsigned long) c.ndocs, c.avgdl);

	/* mode 0: OR, 1: AND, 2..5: phrase with slop 0..3 */
	for (mode = 0; mode < 6; mode++)
	{
		int			ki;
		int			bad_topk = 0,
					bad_all = 0,
					bad_rc = 0;
		int			nq = 0;
		long		nonempty = 0;

		for (ki = 0; ki < 3; ki++)
		{
			int			qi;

			for (qi = 0; qi < (mode < 2 ? 40 : 15); qi++)
			{
				TestQuery	q;
				int			nall,
							ngot,
							rc,
							s,
							i;
				int			k = ks[ki];
				Collect		cl;

				random_query(&c, &q, mode == 1, mode >= 2 ? mode - 2 : -1);
				nall = brute_force(&c, &q, &sc, all);
				nonempty += nall > 0;
				qsort(all, nall, sizeof(Bm25Hit), hit_order);
				ngot = run_topk(&c, &q, k, got, &st, &rc);
				if (rc != POSTING_OK)
					bad_rc++;
				if (!same_hits(got, ngot, all, nall < k ? nall : k))
				{
					if (bad_topk++ < 2)
						printf("mode %d k %d: top-k differs (got %d, want %d; first %lx %.9g vs %lx %.9g)\n",
							   mode, k, ngot, nall < k ? nall : k,
							   ngot ? (unsigned long) got[0].key : 0, ngot ? got[0].score : 0,
							   nall ? (unsigned long) all[0].key : 0, nall ? all[0].score : 0);
				}
				nq++;

				/* score_all emits exactly the matches, in key order */
				if (ki == 0)
				{
					cl.hits = em;
					cl.n = 0;
					for (s = 0; s < c.nsegs; s++)
					{
						Bm25Query	bq;
						Bm25Term	terms[MAX_TERMS];
						PostingIter iters[MAX_TERMS];

						make_query(&bq, terms, iters, &c, &q, s);
						if (bm25_score_all(&bq, collect_emit, &cl, NULL) != POSTING_OK)
							bad_rc++;
						for (i = 0; i < q.n; i++)
							posting_iter_free(&iters[i]);
					}
					qsort(all, nall, sizeof(Bm25Hit), key_order);
					if (!same_hits(em, cl.n, all, nall))
						bad_all++;
				}
			}
		}
		printf("mode %s: %d queries (%ld with matches), top-k mismatches %d, score_all mismatches %d\n",
			   mode == 0 ? "OR" : mode == 1 ? "AND" : mode == 2 ? "phrase slop 0" :
			   mode == 3 ? "phrase slop 1" : mode == 4 ? "phrase slop 2" : "phrase slop 3",
			   nq, nonempty, bad_topk, bad_all);
		check(bad_rc == 0, "evaluators succeed");
		check(bad_topk == 0, mode == 0 ? "OR top-k equals brute force (k 1, 10, 100)" :
			  mode == 1 ? "AND top-k equals brute force (k 1, 10, 100)" :
			  "phrase top-k equals brute force (k 1, 10, 100)");
		check(bad_all == 0, "score_all equals brute force");
		check(nonempty > nq / 2, "queries have matches");
	}
	printf("stats: %lu candidates, %lu scored, %lu deleted, %lu phrase checks, %lu block skips\n",
		   (unsigned long) st.candidates, (unsigned long) st.scored,
		   (unsigned long) st.deleted, (unsigned long) st.phrase_checks,
		   (unsigned long) st.block_skips);
	check(st.deleted > 0 && st.block_skips > 0, "deleted docs met and blocks skipped");
	free(all);
	free(em);
	free(got);
	corpus_free(&c);
}

/* Exact ties: every doc identical, so the order is by key alone. */
static void
test_ties(void)
{
	Corpus		c;
	uint32_t	d;
	int			s;
	TestQuery	q;
	Bm25Hit		got[10];
	int			n,
				rc,
				i;
	bool		ok = true;

	corpus_build(&c, 2, 1000, 1, 1, 1.0, 0.0);
	for (s = 0; s < 2; s++)
		for (d = 0; d < c.seg[s].ndocs; d++)
			c.seg[s].deleted[d] = d % 7 == 0;
	memset(&q, 0, sizeof(q));
	q.n = 1;
	q.term[0] = 0;
	q.weight[0] = 1;
	q.slop = -1;
	for (i = 0; i < 20 && ok; i++)
	{
		n = run_topk(&c, &q, 10, got, NULL, &rc);
		ok = n == 10 && rc == POSTING_OK;
		for (d = 0; ok && d < 10; d++)
			ok = got[d].key == d + 1 + d / 6 && got[d].score == got[0].score;
	}
	check(ok, "ties broken by key ascending whatever the segment order");
	corpus_free(&c);
}

/* Skip-table bounds hold every doc of their block, for any avgdl. */
static void
test_block_bounds(void)
{
	Corpus		c;
	uint32_t	t;
	long		blocks = 0;
	bool		ok = true;
	double		slack = 0;

	corpus_build(&c, 1, 20000, 500, 200, 1.0, 0.0);
	for (t = 0; t < c.vocab && ok; t++)
	{
		int			r;

		for (r = 0; r < 3; r++)
		{
			PostingIter it;
			Bm25Scorer	sc;
			uint32_t	doc;
			uint32_t	b = 0;
			double		best = 0;

			bm25_scorer_init(&sc, BM25_DEFAULT_K1, BM25_DEFAULT_B, 0.5 + 300 * rng_unit());
			posting_iter_init(&it, c.seg[0].list[t], c.seg[0].len[t], NULL);
			for (doc = posting_iter_doc(&it); ; doc = posting_iter_next(&it))
			{
				if (doc == POSTING_END || it.block != b)
				{
					double		bound;

					if (b >= it.nblocks)
						break;
					bound = bm25_tf_part(&sc, posting_block_max_tf(&it, b),
										 posting_block_min_dl(&it, b));
					if (best > bound)
						ok = false;
					if (bound - best > slack)
						slack = bound - best;
					blocks++;
					best = 0;
					b++;
					if (doc == POSTING_END)
						break;
				}
				{
					double		v = bm25_tf_part(&sc, posting_iter_tf(&it), c.seg[0].dl[doc]);

					if (v > best)
						best = v;
				}
			}
			posting_iter_free(&it);
		}
	}
	printf("block bounds: %ld blocks checked, largest gap bound - true max %.3f\n",
		   blocks, slack);
	check(ok && blocks > 1000, "block upper bounds >= true block max for random avgdl");
	corpus_free(&c);
}

/* Pruning does work: fewer full scores than exhaustive, and shared heaps. */
static void
test_pruning(void)
{
	Corpus		c;
	int			qi;
	uint64_t	bmw = 0,
				exhaustive = 0,
				shared = 0,
				fresh = 0;
	long		intr0 = n_interrupts;

	corpus_build(&c, 2, 30000, 5000, 80, 1.0, 0.05);
	for (qi = 0; qi < 30; qi++)
	{
		TestQuery	q;
		Bm25Stats	st;
		Bm25TopK	topk;
		int			s,
					i;

		random_query(&c, &q, false, -1);
		q.use_accept = false;
		/* BMW top-10 vs score_all over both segments */
		memset(&st, 0, sizeof(st));
		bm25_topk_init(&topk, 10, NULL);
		for (s = 0; s < 2; s++)
		{
			Bm25Query	bq;
			Bm25Term	terms[MAX_TERMS];
			PostingIter iters[MAX_TERMS];
			Bm25Stats	st2;

			make_query(&bq, terms, iters, &c, &q, s);
			memset(&st2, 0, sizeof(st2));
			bm25_topk_search(&bq, &topk, &st2);
			for (i = 0; i < q.n; i++)
				posting_iter_free(&iters[i]);
			bmw += st2.scored;
			if (s == 1)
				shared += st2.scored;
		}
		bm25_topk_free(&topk);

		/* segment 1 alone with an empty heap */
		{
			Bm25Query	bq;
			Bm25Term	terms[MAX_TERMS];
			PostingIter iters[MAX_TERMS];

			bm25_topk_init(&topk, 10, NULL);
			make_query(&bq, terms, iters, &c, &q, 1);
			memset(&st, 0, sizeof(st));
			bm25_topk_search(&bq, &topk, &st);
			fresh += st.scored;
			for (i = 0; i < q.n; i++)
				posting_iter_free(&iters[i]);
			bm25_topk_free(&topk);
		}
		for (s = 0; s < 2; s++)
		{
			Bm25Query	bq;
			Bm25Term	terms[MAX_TERMS];
			PostingIter iters[MAX_TERMS];
			Bm25Hit    *sink = malloc(sizeof(Bm25Hit) * (c.seg[s].ndocs + 1));
			Collect		cl = {sink, 0};

			make_query(&bq, terms, iters, &c, &q, s);
			memset(&st, 0, sizeof(st));
			bm25_score_all(&bq, collect_emit, &cl, &st);
			exhaustive += st.scored;
			for (i = 0; i < q.n; i++)
				posting_iter_free(&iters[i]);
			free(sink);
		}
	}
	printf("pruning: top-10 OR scored %lu docs vs %lu exhaustive; second segment %lu with the "
		   "shared heap vs %lu alone\n", (unsigned long) bmw, (unsigned long) exhaustive,
		   (unsigned long) shared, (unsigned long) fresh);
	check(bmw * 2 < exhaustive, "block-max WAND scores far fewer docs than exhaustive");
	check(shared < fresh, "a shared heap prunes later segments");
	check(n_interrupts > intr0, "interrupt hook called");
	corpus_free(&c);
}

static uint32_t
const_doclen(uint32_t doc, void *arg)
{
	(void) doc;
	(void) arg;
	return 10;
}

/* Corrupt lists and bad queries give error codes. */
static void
test_errors(void)
{
	uint32_t	docs[600],
				tfs[600],
				dls[600],
				i;
	uint8_t    *buf;
	size_t		len;
	PostingIter it;
	Bm25Term	term;
	Bm25Query	q;
	Bm25TopK	topk;
	PostingIter it2;
	size_t		bad_at;
	uint8_t		saved;

	for (i = 0; i < 600; i++)
	{
		docs[i] = i * 3;
		tfs[i] = 1 + i % 4;
		dls[i] = 10;
	}
	posting_encode(docs, tfs, dls, NULL, 600, NULL, &buf, &len);
	/* doc bit width of the last block out of range: valid header, bad block */
	posting_iter_init(&it, buf, len, NULL);
	bad_at = (size_t) (it.blocks - buf) +
		posting_load32(it.skip + (it.nblocks - 2) * POSTING_SKIP_ENTRY + 4);
	posting_iter_free(&it);
	saved = buf[bad_at];
	buf[bad_at] = 40;
	check(posting_iter_init(&it, buf, len, NULL) == POSTING_OK, "corrupt tail: init ok");
	bm25_query_init(&q);
	term.iter = &it;
	term.idf = 1.0;
	term.weight = 1.0;
	q.terms = &term;
	q.nterms = 1;
	q.doclen = const_doclen;
	bm25_topk_init(&topk, 1000, NULL);
	check(bm25_topk_search(&q, &topk, NULL) == POSTING_ERR_CORRUPT,
		  "corrupt list: search reports corruption");
	bm25_topk_free(&topk);
	posting_iter_free(&it);
	buf[bad_at] = saved;

	/* a phrase over a list without positions */
	posting_iter_init(&it, buf, len, NULL);
	posting_iter_init(&it2, buf, len, NULL);
	{
		Bm25Term	t2[2] = {{&it, 1, 1}, {&it2, 1, 1}};

		q.terms = t2;
		q.nterms = 2;
		q.phrase_slop = 0;
		bm25_topk_init(&topk, 10, NULL);
		check(bm25_topk_search(&q, &topk, NULL) == POSTING_ERR_INPUT,
			  "phrase without positions rejected");
		q.doclen = NULL;
		q.phrase_slop = -1;
		check(bm25_topk_search(&q, &topk, NULL) == POSTING_ERR_INPUT,
			  "missing doclen callback rejected");
		bm25_topk_free(&topk);
	}
	check(bm25_topk_init(&topk, 0, NULL) == POSTING_ERR_INPUT, "k = 0 rejected");
	free(buf);
}

int
main(void)
{
	test_scoring_basics();
	test_phrase_matcher();
	test_block_bounds();
	test_ties();
	test_topk_vs_brute_force();
	test_pruning();
	test_errors();
	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
