/*
 * test_postings.c
 *	  Standalone checks of the posting-list codec (no PostgreSQL needed).
 *
 * Round trips of random lists (lengths 0..10000, doc gaps 1..2^31, tfs up
 * to 2^20, with and without positions, partial last blocks), the skip
 * table's contents, advance() and shallow_advance() against a linear scan
 * of the source arrays, rejection of invalid encoder input, and hostile
 * streams: every truncation must be rejected and every single-bit flip
 * must either be rejected or decode safely (run this under
 * -fsanitize=address,undefined to make "safely" mean something), with
 * allocations bounded by the stream size.  The last line of output is
 * "N passed, M failed"; the exit status is non-zero on any failure.
 */
#include "index/postings.h"

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

/* uniform in [0, n) */
static uint32_t
rng_below(uint64_t n)
{
	return (uint32_t) (rng_next() % n);
}

/* log-uniform in [1, max]: every bit width equally likely */
static uint32_t
rng_log(uint32_t max)
{
	uint32_t	bits = 1 + rng_below(32 - __builtin_clz(max));
	uint64_t	v = (rng_next() & ((UINT64_C(1) << bits) - 1)) | (UINT64_C(1) << (bits - 1));

	return v > max ? max : (uint32_t) v;
}

/* allocation hooks that count and record the largest request */
static size_t max_alloc = 0;
static long n_allocs = 0;
static long n_releases = 0;
static long n_interrupts = 0;

static void *
test_alloc(size_t size)
{
	if (size > max_alloc)
		max_alloc = size;
	n_allocs++;
	return malloc(size);
}

static void
test_release(void *p)
{
	n_releases++;
	free(p);
}

static void
test_interrupt(void *arg)
{
	(void) arg;
	n_interrupts++;
}

static const PostingHooks hooks = {test_alloc, test_release, test_interrupt, NULL};

typedef struct List
{
	uint32_t	n;
	uint32_t   *docs;
	uint32_t   *tfs;
	uint32_t   *dls;
	uint32_t   *pos;			/* NULL without positions */
	uint64_t   *pos_off;		/* n + 1 prefix offsets into pos */
} List;

static void
list_free(List *l)
{
	free(l->docs);
	free(l->tfs);
	free(l->dls);
	free(l->pos);
	free(l->pos_off);
	memset(l, 0, sizeof(*l));
}

/*
 * Random list of up to n docs; gap_kind 0: gaps 1..3, 1: 1..1000,
 * 2: log-uniform 1..2^31.  Stops early when doc ids would overflow.
 */
static void
list_random(List *l, uint32_t n, int gap_kind, bool big_tfs, bool positions)
{
	uint64_t	doc = rng_below(3);
	uint64_t	npos = 0;
	uint32_t	i;

	memset(l, 0, sizeof(*l));
	l->docs = malloc(sizeof(uint32_t) * (n + 1));
	l->tfs = malloc(sizeof(uint32_t) * (n + 1));
	l->dls = malloc(sizeof(uint32_t) * (n + 1));
	l->pos_off = malloc(sizeof(uint64_t) * (n + 2));
	for (i = 0; i < n; i++)
	{
		uint32_t	tf;

		if (i > 0)
			doc += gap_kind == 0 ? 1 + rng_below(3) :
				gap_kind == 1 ? 1 + rng_below(1000) : rng_log(UINT32_C(1) << 31);
		if (doc >= POSTING_END)
			break;
		if (positions)
			tf = rng_below(4) == 0 ? rng_log(60) : 1 + rng_below(3);
		else if (big_tfs)
			tf = rng_log(1 << 20);
		else
			tf = rng_below(3) == 0 ? 1 + rng_below(5) : 1;
		l->docs[i] = (uint32_t) doc;
		l->tfs[i] = tf;
		l->dls[i] = tf + rng_below(500);
		l->pos_off[i] = npos;
		npos += tf;
	}
	l->n = i;
	l->pos_off[l->n] = npos;
	if (positions)
	{
		l->pos = malloc(sizeof(uint32_t) * (npos + 1));
		for (i = 0; i < l->n; i++)
		{
			uint64_t	p = rng_below(4) == 0 ? rng_log(UINT32_C(1) << 30) : rng_below(50);
			uint32_t	j;

			for (j = 0; j < l->tfs[i]; j++)
			{
				if (j > 0)
					p += rng_below(3) == 0 ? rng_log(1 << 20) : 1 + rng_below(8);
				l->pos[l->pos_off[i] + j] = (uint32_t) p;
			}
		}
	}
}

/* Full scan with next(); true if it reproduces the list exactly. */
static bool
scan_matches(const List *l, const uint8_t *buf, size_t len)
{
	PostingIter it;
	uint32_t	i;
	bool		ok = true;

	if (posting_iter_init(&it, buf, len, &hooks) != POSTING_OK)
		return false;
	if (it.ndocs != l->n || it.has_positions != (l->pos != NULL))
		ok = false;
	for (i = 0; ok && i < l->n; i++)
	{
		uint32_t	d = i == 0 ? posting_iter_doc(&it) : posting_iter_next(&it);

		if (d != l->docs[i] || posting_iter_tf(&it) != l->tfs[i])
			ok = false;
		else if (l->pos != NULL)
		{
			const uint32_t *pos;
			uint32_t	np;

			/* ask every other doc only: positions are lazy */
			if ((i & 1) == 0 || i + 1 == l->n)
			{
				if (posting_iter_positions(&it, &pos, &np) != POSTING_OK ||
					np != l->tfs[i] ||
					memcmp(pos, l->pos + l->pos_off[i], np * sizeof(uint32_t)) != 0)
					ok = false;
			}
		}
	}
	if (ok && l->n > 0 && posting_iter_next(&it) != POSTING_END)
		ok = false;
	if (ok && posting_iter_next(&it) != POSTING_END)
		ok = false;
	if (it.error != POSTING_OK)
		ok = false;
	posting_iter_free(&it);
	return ok;
}

/* Skip table entries agree with the source arrays. */
static bool
skip_matches(const List *l, const uint8_t *buf, size_t len)
{
	PostingIter it;
	uint32_t	b;
	bool		ok = true;

	if (posting_iter_init(&it, buf, len, &hooks) != POSTING_OK)
		return false;
	if (it.nblocks != (l->n + 127) / 128)
		ok = false;
	for (b = 0; ok && b < it.nblocks; b++)
	{
		uint32_t	s = b * 128;
		uint32_t	e = s + 128 < l->n ? s + 128 : l->n;
		uint32_t	maxtf = 0,
					mindl = UINT32_MAX,
					i;

		for (i = s; i < e; i++)
		{
			if (l->tfs[i] > maxtf)
				maxtf = l->tfs[i];
			if (l->dls[i] < mindl)
				mindl = l->dls[i];
		}
		if (posting_block_last_doc(&it, b) != l->docs[e - 1] ||
			posting_block_max_tf(&it, b) != maxtf ||
			posting_block_min_dl(&it, b) != mindl)
			ok = false;
	}
	posting_iter_free(&it);
	return ok;
}

/* index of the first doc >= target, l->n if none */
static uint32_t
lower_bound_doc(const List *l, uint64_t target)
{
	uint32_t	lo = 0,
				hi = l->n;

	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (l->docs[mid] < target)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Random mix of next / advance / shallow_advance against the arrays. */
static bool
advance_matches(const List *l, const uint8_t *buf, size_t len)
{
	PostingIter it;
	uint32_t	cur = 0;		/* index of the current doc */
	bool		ok = true;
	int			step;

	if (posting_iter_init(&it, buf, len, &hooks) != POSTING_OK)
		return false;
	for (step = 0; ok && step < 400 && cur < l->n; step++)
	{
		int			op = rng_below(4);
		uint64_t	base = l->docs[cur];
		uint64_t	target;
		uint32_t	want;
		uint32_t	got;

		if (op == 0)
		{
			got = posting_iter_next(&it);
			cur++;
			want = cur < l->n ? l->docs[cur] : POSTING_END;
			ok = got == want && (cur >= l->n || posting_iter_tf(&it) == l->tfs[cur]);
			continue;
		}
		/* targets: at or before the current doc, a near doc, a far one */
		switch (rng_below(4))
		{
			case 0:
				target = base > 0 ? base - rng_below(base < 3 ? base + 1 : 3) : 0;
				break;
			case 1:
				target = base + 1 + rng_below(200);
				break;
			case 2:
				target = l->docs[cur + rng_below(l->n - cur)] + rng_below(2);
				break;
			default:
				target = base + rng_log(UINT32_C(1) << 31);
				break;
		}
		if (target >= POSTING_END)
			target = POSTING_END - 1;
		if (op == 1)
		{
			/* shallow: block of the first doc >= max(target, current) */
			uint64_t	t = target > base ? target : base;
			uint32_t	idx = lower_bound_doc(l, t);
			uint32_t	last = posting_iter_shallow_advance(&it, (uint32_t) target);

			want = idx < l->n ? l->docs[idx / 128 * 128 + 127 < l->n ?
										idx / 128 * 128 + 127 : l->n - 1] : POSTING_END;
			ok = last == want && (idx >= l->n || it.shallow == idx / 128);
			continue;
		}
		got = posting_iter_advance(&it, (uint32_t) target);
		if (target > base)
			cur = lower_bound_doc(l, target);
		want = cur < l->n ? l->docs[cur] : POSTING_END;
		ok = got == want && (cur >= l->n || posting_iter_tf(&it) == l->tfs[cur]);
		if (ok && l->pos != NULL && cur < l->n && rng_below(4) == 0)
		{
			const uint32_t *pos;
			uint32_t	np;

			ok = posting_iter_positions(&it, &pos, &np) == POSTING_OK &&
				np == l->tfs[cur] &&
				memcmp(pos, l->pos + l->pos_off[cur], np * sizeof(uint32_t)) == 0;
		}
	}
	if (ok && it.error != POSTING_OK)
		ok = false;
	posting_iter_free(&it);
	return ok;
}

static void
test_round_trips(void)
{
	static const uint32_t fixed[] = {0, 1, 2, 127, 128, 129, 255, 256, 257, 1000, 10000};
	int			trial;
	int			bad_scan = 0,
				bad_skip = 0,
				bad_adv = 0,
				bad_size = 0,
				bad_enc = 0;
	int			total = 0;
	long		allocs0 = n_allocs,
				rel0 = n_releases;

	for (trial = 0; trial < 330; trial++)
	{
		uint32_t	n = trial < 11 * 6 ? fixed[trial % 11] : rng_below(10001);
		int			gap_kind = trial % 3;
		bool		positions = (trial / 3) % 2 == 1;
		bool		big_tfs = !positions && (trial / 6) % 2 == 1;
		List		l;
		uint8_t    *buf;
		size_t		len;
		int			rc;
		int			rep;

		list_random(&l, n, gap_kind, big_tfs, positions);
		rc = posting_encode(l.docs, l.tfs, l.dls, l.pos, l.n, &hooks, &buf, &len);
		total++;
		if (rc != POSTING_OK)
		{
			bad_enc++;
			list_free(&l);
			continue;
		}
		if (len != posting_encoded_size(l.docs, l.tfs, l.pos, l.n))
			bad_size++;
		if (!scan_matches(&l, buf, len))
			bad_scan++;
		if (!skip_matches(&l, buf, len))
			bad_skip++;
		for (rep = 0; rep < 3; rep++)
			if (!advance_matches(&l, buf, len))
			{
				bad_adv++;
				break;
			}
		test_release(buf);
		list_free(&l);
	}
	printf("round trips: %d lists\n", total);
	check(bad_enc == 0, "encode succeeds on valid lists");
	check(bad_size == 0, "posting_encoded_size equals the encoded length");
	check(bad_scan == 0, "next() reproduces docs, tfs and positions");
	check(bad_skip == 0, "skip table holds last doc, max tf, min dl per block");
	check(bad_adv == 0, "advance/shallow_advance agree with a linear scan");
	check(n_allocs - allocs0 == n_releases - rel0, "every allocation released");
}

static void
test_sizes(void)
{
	uint32_t	docs[300],
				tfs[300],
				i;
	uint8_t    *buf;
	size_t		len;

	/* dense ids, tf 1: all gaps 0 and tf - 1 = 0 pack to zero bits */
	for (i = 0; i < 300; i++)
	{
		docs[i] = 1000 + i;
		tfs[i] = 1;
	}
	check(posting_encode(docs, tfs, NULL, NULL, 300, NULL, &buf, &len) == POSTING_OK,
		  "encode with default hooks");
	/* header 3 + skip 3 * 16 + blocks 2 + 2 (varint 1000) + 2 * (2 + 1) */
	printf("300 consecutive docs, tf 1: %zu bytes\n", len);
	check(len == 3 + 48 + 4 + 6, "consecutive docs pack to block headers only");
	free(buf);

	check(posting_encode(docs, tfs, NULL, NULL, 0, NULL, &buf, &len) == POSTING_OK &&
		  len == 2, "empty list is 2 bytes");
	free(buf);
}

static void
test_bad_input(void)
{
	uint32_t	docs[4] = {1, 5, 9, 12};
	uint32_t	tfs[4] = {1, 2, 1, 1};
	uint32_t	pos[5] = {3, 1, 4, 0, 7};
	uint32_t	pos_ok[5] = {3, 1, 4, 0, 7};
	uint8_t    *buf;
	size_t		len;

	check(posting_encode(docs, tfs, NULL, pos_ok, 4, NULL, &buf, &len) == POSTING_OK,
		  "positions accepted");
	free(buf);
	pos[2] = 1;
	check(posting_encode(docs, tfs, NULL, pos, 4, NULL, &buf, &len) == POSTING_ERR_INPUT &&
		  buf == NULL, "repeated position rejected");
	docs[2] = 5;
	check(posting_encode(docs, tfs, NULL, NULL, 4, NULL, &buf, &len) == POSTING_ERR_INPUT,
		  "duplicate doc rejected");
	docs[2] = 3;
	check(posting_encode(docs, tfs, NULL, NULL, 4, NULL, &buf, &len) == POSTING_ERR_INPUT,
		  "unsorted docs rejected");
	docs[2] = 9;
	tfs[3] = 0;
	check(posting_encode(docs, tfs, NULL, NULL, 4, NULL, &buf, &len) == POSTING_ERR_INPUT,
		  "tf 0 rejected");
	tfs[3] = 1;
	docs[3] = POSTING_END;
	check(posting_encode(docs, tfs, NULL, NULL, 4, NULL, &buf, &len) == POSTING_ERR_INPUT,
		  "doc id UINT32_MAX rejected");
	docs[3] = POSTING_END - 1;
	tfs[3] = UINT32_MAX;
	check(posting_encode(docs, tfs, NULL, NULL, 4, NULL, &buf, &len) == POSTING_OK,
		  "largest doc id and tf accepted");
	{
		PostingIter it;

		check(posting_iter_init(&it, buf, len, NULL) == POSTING_OK &&
			  posting_iter_advance(&it, 10) == POSTING_END - 1 &&
			  posting_iter_tf(&it) == UINT32_MAX &&
			  posting_iter_next(&it) == POSTING_END && it.error == POSTING_OK,
			  "largest doc id and tf round-trip");
		posting_iter_free(&it);
	}
	free(buf);
}

/*
 * Decode a possibly corrupt stream every way a query could: full scan
 * with positions, and advance/shallow jumps.  Returns true if no error
 * was reported.  If orig is given, *docs_same tells whether the scan
 * produced exactly its doc ids.
 */
static bool
decode_all(const uint8_t *buf, size_t len, const List *orig, bool *docs_same)
{
	PostingIter it;
	bool		clean = true;
	uint32_t	d;
	uint32_t	i = 0;
	int			k;

	if (docs_same != NULL)
		*docs_same = false;

	if (posting_iter_init(&it, buf, len, &hooks) != POSTING_OK)
	{
		posting_iter_free(&it);
		return false;
	}
	for (d = posting_iter_doc(&it); d != POSTING_END; d = posting_iter_next(&it))
	{
		if (orig != NULL && (i >= orig->n || orig->docs[i] != d))
			orig = NULL;
		i++;
		if (it.has_positions)
		{
			const uint32_t *pos;
			uint32_t	np;

			if (posting_iter_positions(&it, &pos, &np) != POSTING_OK)
				clean = false;
		}
	}
	if (it.error != POSTING_OK)
		clean = false;
	if (docs_same != NULL)
		*docs_same = orig != NULL && i == orig->n;
	posting_iter_free(&it);

	if (posting_iter_init(&it, buf, len, &hooks) != POSTING_OK)
		return false;
	for (k = 0; k < 50; k++)
	{
		uint32_t	t = posting_iter_doc(&it) + 1 + rng_below(5000);

		posting_iter_shallow_advance(&it, t);
		if (posting_iter_advance(&it, t) == POSTING_END)
			break;
	}
	if (it.error != POSTING_OK)
		clean = false;
	posting_iter_free(&it);
	return clean;
}

static void
test_corruption(void)
{
	int			variant;
	long		flips = 0,
				flips_detected = 0;
	long		truncs = 0,
				truncs_rejected = 0;
	bool		alloc_bounded = true;
	long		garbage_ok = 0;
	long		silent_doc_changes = 0;
	int			g;

	for (variant = 0; variant < 6; variant++)
	{
		List		l;
		uint8_t    *buf;
		uint8_t    *copy;
		size_t		len;
		size_t		i;
		int			bit;
		bool		same;

		list_random(&l, variant < 2 ? 40 : 300 + variant * 50, variant % 3,
					false, variant % 2 == 1);
		if (posting_encode(l.docs, l.tfs, l.dls, l.pos, l.n, &hooks, &buf, &len) != POSTING_OK)
		{
			check(false, "encode for corruption test");
			list_free(&l);
			continue;
		}
		copy = malloc(len);

		/* every truncation: exact-length streams reject all of them */
		for (i = 0; i < len; i++)
		{
			/* copy into an exact-size buffer so ASan sees any overread */
			uint8_t    *t = malloc(i > 0 ? i : 1);

			memcpy(t, buf, i);
			truncs++;
			if (!decode_all(t, i, NULL, NULL))
				truncs_rejected++;
			free(t);
		}
		/* every single-bit flip */
		for (i = 0; i < len; i++)
		{
			for (bit = 0; bit < 8; bit++)
			{
				memcpy(copy, buf, len);
				copy[i] ^= (uint8_t) (1 << bit);
				max_alloc = 0;
				flips++;
				if (!decode_all(copy, len, &l, &same))
					flips_detected++;
				else if (!same)
					silent_doc_changes++;
				/* positions buffer: at most 4 bytes per bit of the stream */
				if (max_alloc > 32 * len + 256)
					alloc_bounded = false;
			}
		}
		free(copy);
		test_release(buf);
		list_free(&l);
	}
	/* random garbage after a valid-looking header */
	for (g = 0; g < 20000; g++)
	{
		size_t		len = 2 + rng_below(600);
		uint8_t    *t = malloc(len);
		size_t		i;

		for (i = 0; i < len; i++)
			t[i] = (uint8_t) rng_next();
		t[0] = rng_below(2) ? 0x01 : 0x11;
		t[1] = (uint8_t) rng_below(40);
		max_alloc = 0;
		if (decode_all(t, len, NULL, NULL))
			garbage_ok++;
		if (max_alloc > 32 * len + 256)
			alloc_bounded = false;
		free(t);
	}
	printf("corruption: %ld/%ld truncations rejected, %ld/%ld bit flips detected, "
		   "%ld/20000 garbage streams decoded cleanly, %ld undetected flips changed doc ids\n",
		   truncs_rejected, truncs, flips_detected, flips, garbage_ok, silent_doc_changes);
	check(truncs_rejected == truncs, "every truncation rejected");
	/*
	 * Flips in tfs below the block max, positions and min doc lengths are
	 * undetectable without a checksum (PostgreSQL's page checksums cover
	 * storage); a flip anywhere in the doc-id path must be caught.
	 */
	check(silent_doc_changes == 0, "no bit flip silently changes doc ids");
	check(alloc_bounded, "allocations bounded by the stream size");
}

static void
test_hooks(void)
{
	List		l;
	uint8_t    *buf;
	size_t		len;
	long		intr0 = n_interrupts;

	list_random(&l, 10000, 1, false, false);
	check(posting_encode(l.docs, l.tfs, l.dls, NULL, l.n, &hooks, &buf, &len) == POSTING_OK,
		  "encode 10000 docs");
	check(n_interrupts > intr0, "encoder calls the interrupt hook");
	test_release(buf);
	list_free(&l);
}

int
main(void)
{
	test_sizes();
	test_bad_input();
	test_round_trips();
	test_hooks();
	test_corruption();
	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
