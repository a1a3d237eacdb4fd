/*
 * analyzer.c
 *	  LanceDB-compatible text analysis: base tokenizers, long-token filter,
 *	  lowercasing, Snowball stemming, stop words and ASCII folding.
 *
 * The hot path allocates nothing per token: the input is checked once
 * (and copied with U+FFFD replacements only if it is not valid UTF-8),
 * each token is lowercased into one scratch buffer, stemmed in the
 * stemmer's own buffer, looked up in an open-addressing stop-word set,
 * folded into a second scratch buffer and appended to the caller's token
 * arena.  ASCII takes shortcuts everywhere; ICU is asked only about
 * non-ASCII code points.
 *
 * With a stemmer, Snowball dominates the cost (English text: ~150 MB/s
 * without it, ~35 MB/s with it), so the filters' result for short tokens
 * is cached per analyzer once a text is long enough to profit.
 *
 * ASCII folding uses a static table generated from Unicode compatibility
 * decompositions plus a hand-written list (gen_asciifold.py) rather than
 * ICU's Latin-ASCII transliterator: measured on accented words, the table
 * takes ~10 ns a word and the transliterator ~2 us (UTF-16 round trip and
 * rule matching), and a committed table cannot change under an existing
 * index when the system's ICU is upgraded.
 */
#include "text/analyzer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>
#include <unicode/uchar.h>

#include "text/asciifold_table.h"

/* Serialised options: "LTXA", version, fixed header, strings, checksum. */
#define OPT_MAGIC			"LTXA"
#define OPT_VERSION			1
#define OPT_HEADER_SIZE		24
#define OPT_CHECKSUM_SIZE	4
#define OPT_MAX_STOP_BYTES	(1024 * 1024)

#define OPT_F_WITH_POSITION		0x01
#define OPT_F_LOWER_CASE		0x02
#define OPT_F_STEM				0x04
#define OPT_F_REMOVE_STOP		0x08
#define OPT_F_ASCII_FOLDING		0x10
#define OPT_F_PREFIX_ONLY		0x20
#define OPT_F_CUSTOM_STOP		0x40
#define OPT_F_ALL				0x7F

/* Stop-word files larger than this are not PostgreSQL's lists. */
#define STOPFILE_MAX_BYTES	(16 * 1024 * 1024)

typedef struct StopSlot
{
	uint32_t	hash;
	uint32_t	off;			/* 1 + offset in stop_pool; 0: empty slot */
	uint32_t	len;
} StopSlot;

/* Filter results of recent tokens (see emit_token). */
#define CACHE_SLOTS		2048
#define CACHE_KEY_MAX	24
#define CACHE_VAL_MAX	24
#define CACHE_DROPPED	0xFF
#define CACHE_AFTER		512

typedef struct TokenCacheSlot
{
	uint32_t	hash;
	uint8_t		klen;			/* 0: empty (base tokens are never empty) */
	uint8_t		vlen;			/* CACHE_DROPPED: the token is dropped */
	char		key[CACHE_KEY_MAX];
	char		val[CACHE_VAL_MAX];
} TokenCacheSlot;

struct LanceAnalyzer
{
	LanceAnalyzerOptions opts;	/* copy; stop_words NULL */
	struct sb_stemmer *stemmer; /* NULL unless stem */
	StopSlot   *stop_slots;		/* NULL when no stop words */
	uint32_t	stop_mask;
	char	   *stop_pool;
	char	   *clean;			/* input with invalid UTF-8 replaced */
	size_t		clean_cap;
	char	   *lower;			/* lowercased token */
	size_t		lower_cap;
	char	   *fold;			/* folded token */
	size_t		fold_cap;
	TokenCacheSlot *cache;		/* NULL until CACHE_AFTER tokens */
	uint64_t	ntokens_seen;
};

/* Messages that must name a value; one per thread, like strerror's. */
static _Thread_local char analyzer_errbuf[128];

static const char *const tokenizer_names[] = {"simple", "whitespace", "raw", "ngram"};

#define NTOKENIZERS ((int) (sizeof(tokenizer_names) / sizeof(tokenizer_names[0])))

/* ---------------------------------------------------------------------
 * memory
 * ------------------------------------------------------------------- */

static void *
mem_alloc(void *(*alloc) (size_t), size_t size)
{
	if (size == 0)
		size = 1;
	if (alloc != NULL)
		return alloc(size);
	return malloc(size);
}

static void
mem_free(void *(*alloc) (size_t), void (*release) (void *), void *ptr)
{
	if (ptr == NULL)
		return;
	if (release != NULL)
		release(ptr);
	else if (alloc == NULL)
		free(ptr);
	/* an allocator without a release function owns its memory */
}

/* Make *buf hold at least need bytes; contents are not kept. */
static bool
scratch_reserve(LanceAnalyzer *a, char **buf, size_t *cap, size_t need)
{
	size_t		ncap;
	char	   *nbuf;

	if (need <= *cap)
		return true;
	ncap = *cap < 256 ? 256 : *cap;
	while (ncap < need)
	{
		if (ncap > SIZE_MAX / 2)
		{
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	nbuf = mem_alloc(a->opts.alloc, ncap);
	if (nbuf == NULL)
		return false;
	mem_free(a->opts.alloc, a->opts.release, *buf);
	*buf = nbuf;
	*cap = ncap;
	return true;
}

/* ---------------------------------------------------------------------
 * UTF-8
 * ------------------------------------------------------------------- */

/* Length of the well-formed sequence at s (n bytes left), 0 if none. */
static inline int
utf8_valid_len(const unsigned char *s, size_t n)
{
	unsigned char b = s[0];

	if (b < 0x80)
		return 1;
	if (b < 0xC2)
		return 0;
	if (b < 0xE0)
		return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (b < 0xF0)
	{
		unsigned char lo = (b == 0xE0) ? 0xA0 : 0x80;
		unsigned char hi = (b == 0xED) ? 0x9F : 0xBF;	/* no surrogates */

		if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
			return 0;
		return 3;
	}
	if (b < 0xF5)
	{
		unsigned char lo = (b == 0xF0) ? 0x90 : 0x80;
		unsigned char hi = (b == 0xF4) ? 0x8F : 0xBF;	/* <= U+10FFFF */

		if (n < 4 || s[1] < lo || s[1] > hi ||
			(s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* Length of the longest valid UTF-8 prefix of s. */
static size_t
utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		int			l;

		/* eight ASCII bytes at a time: most text is mostly ASCII */
		if (n - i >= 8)
		{
			uint64_t	w;

			memcpy(&w, s + i, 8);
			if ((w & UINT64_C(0x8080808080808080)) == 0)
			{
				i += 8;
				continue;
			}
		}
		l = utf8_valid_len(s + i, n - i);
		if (l == 0)
			return i;
		i += l;
	}
	return n;
}

/* Decode the (already validated) sequence at s. */
static inline uint32_t
utf8_decode(const unsigned char *s, int *len)
{
	unsigned char b = s[0];

	if (b < 0x80)
	{
		*len = 1;
		return b;
	}
	if (b < 0xE0)
	{
		*len = 2;
		return ((uint32_t) (b & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (b < 0xF0)
	{
		*len = 3;
		return ((uint32_t) (b & 0x0F) << 12) | ((uint32_t) (s[1] & 0x3F) << 6) |
			(s[2] & 0x3F);
	}
	*len = 4;
	return ((uint32_t) (b & 0x07) << 18) | ((uint32_t) (s[1] & 0x3F) << 12) |
		((uint32_t) (s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

static inline int
utf8_seq_len(unsigned char b)
{
	return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

static inline int
utf8_encode(uint32_t c, char *out)
{
	if (c < 0x80)
	{
		out[0] = (char) c;
		return 1;
	}
	if (c < 0x800)
	{
		out[0] = (char) (0xC0 | (c >> 6));
		out[1] = (char) (0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000)
	{
		out[0] = (char) (0xE0 | (c >> 12));
		out[1] = (char) (0x80 | ((c >> 6) & 0x3F));
		out[2] = (char) (0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (c >> 18));
	out[1] = (char) (0x80 | ((c >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((c >> 6) & 0x3F));
	out[3] = (char) (0x80 | (c & 0x3F));
	return 4;
}

static inline bool
is_ascii(const char *s, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if ((unsigned char) s[i] >= 0x80)
			return false;
	return true;
}

/* ---------------------------------------------------------------------
 * character classes and case
 * ------------------------------------------------------------------- */

static inline bool
ascii_alnum(unsigned char b)
{
	return (b >= '0' && b <= '9') || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z');
}

/* Rust's char::is_alphanumeric: Alphabetic, or general category N*. */
static inline bool
cp_alnum(uint32_t c)
{
	if (c < 0x80)
		return ascii_alnum((unsigned char) c);
	if (u_isUAlphabetic((UChar32) c))
		return true;
	return (U_GET_GC_MASK((UChar32) c) &
			(U_GC_ND_MASK | U_GC_NL_MASK | U_GC_NO_MASK)) != 0;
}

static inline bool
cp_mark(uint32_t c)
{
	return c >= 0x300 && (U_GET_GC_MASK((UChar32) c) & U_GC_M_MASK) != 0;
}

static inline bool
ascii_space(unsigned char b)
{
	return b == ' ' || (b >= '\t' && b <= '\r');
}

static inline bool
cp_space(uint32_t c)
{
	if (c < 0x80)
		return ascii_space((unsigned char) c);
	return u_isUWhiteSpace((UChar32) c);
}

/*
 * Lowercase valid UTF-8 into out (room for 2 * n bytes): each code point
 * on its own (no final-sigma context), as Tantivy's LowerCaser does, with
 * the one unconditional multi-character mapping: capital I with dot above
 * becomes i + combining dot above.
 */
static size_t
lowercase_utf8(const char *in, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *) in;
	size_t		i = 0;
	size_t		o = 0;

	while (i < n)
	{
		int			l;
		uint32_t	c;

		if (s[i] < 0x80)
		{
			out[o++] = (char) ((s[i] >= 'A' && s[i] <= 'Z') ? s[i] | 0x20 : s[i]);
			i++;
			continue;
		}
		c = utf8_decode(s + i, &l);
		i += l;
		if (c == 0x130)
		{
			out[o++] = 'i';
			o += utf8_encode(0x307, out + o);
			continue;
		}
		o += utf8_encode((uint32_t) u_tolower((UChar32) c), out + o);
	}
	return o;
}

/* ASCII-fold valid UTF-8 into out (room for 2 * n bytes). */
static size_t
fold_utf8(const char *in, size_t n, char *out)
{
	const unsigned char *s = (const unsigned char *) in;
	size_t		i = 0;
	size_t		o = 0;

	while (i < n)
	{
		int			l;
		uint32_t	c;
		uint8_t		page;

		if (s[i] < 0x80)
		{
			out[o++] = (char) s[i++];
			continue;
		}
		c = utf8_decode(s + i, &l);
		page = c < 0x10000 ? fold_page[c >> 8] : 0;
		if (page != 0)
		{
			uint16_t	off = fold_index[page - 1][c & 0xFF];

			if (off != 0)
			{
				uint8_t		flen = (uint8_t) fold_pool[off];

				memcpy(out + o, fold_pool + off + 1, flen);
				o += flen;
				i += l;
				continue;
			}
		}
		memcpy(out + o, s + i, l);
		o += l;
		i += l;
	}
	return o;
}

/* ---------------------------------------------------------------------
 * stop words
 * ------------------------------------------------------------------- */

static inline uint32_t
hash_bytes(const char *s, size_t n)
{
	uint32_t	h = 2166136261u;	/* FNV-1a */
	size_t		i;

	for (i = 0; i < n; i++)
	{
		h ^= (unsigned char) s[i];
		h *= 16777619u;
	}
	return h;
}

static bool
stop_contains(const LanceAnalyzer *a, const char *s, size_t n)
{
	uint32_t	h = hash_bytes(s, n);
	uint32_t	i = h & a->stop_mask;

	for (;;)
	{
		const StopSlot *slot = &a->stop_slots[i];

		if (slot->off == 0)
			return false;
		if (slot->hash == h && slot->len == n &&
			memcmp(a->stop_pool + slot->off - 1, s, n) == 0)
			return true;
		i = (i + 1) & a->stop_mask;
	}
}

static bool
stop_build(LanceAnalyzer *a, const char *const *words, uint32_t n,
		   const char **err)
{
	size_t		total = 0;
	size_t		nslots = 16;
	size_t		pos = 0;
	uint32_t	i;

	for (i = 0; i < n; i++)
	{
		if (words[i] == NULL)
		{
			*err = "stop word list contains a NULL entry";
			return false;
		}
		total += strlen(words[i]);
		if (total > UINT32_MAX / 2)
		{
			*err = "stop word list is too large";
			return false;
		}
	}
	while (nslots < (size_t) n * 2)
		nslots *= 2;
	a->stop_pool = mem_alloc(a->opts.alloc, total);
	a->stop_slots = mem_alloc(a->opts.alloc, nslots * sizeof(StopSlot));
	if (a->stop_pool == NULL || a->stop_slots == NULL)
	{
		*err = "out of memory";
		return false;
	}
	memset(a->stop_slots, 0, nslots * sizeof(StopSlot));
	a->stop_mask = (uint32_t) (nslots - 1);
	for (i = 0; i < n; i++)
	{
		size_t		len = strlen(words[i]);
		uint32_t	h = hash_bytes(words[i], len);
		uint32_t	j = h & a->stop_mask;

		if (len == 0 || stop_contains(a, words[i], len))
			continue;
		memcpy(a->stop_pool + pos, words[i], len);
		while (a->stop_slots[j].off != 0)
			j = (j + 1) & a->stop_mask;
		a->stop_slots[j].hash = h;
		a->stop_slots[j].off = (uint32_t) pos + 1;
		a->stop_slots[j].len = (uint32_t) len;
		pos += len;
	}
	return true;
}

/* ---------------------------------------------------------------------
 * options
 * ------------------------------------------------------------------- */

void
lance_analyzer_options_init(LanceAnalyzerOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->base_tokenizer = LANCE_TOKENIZER_SIMPLE;
	strcpy(opts->language, "english");
	opts->with_position = false;
	opts->max_token_length = 40;
	opts->lower_case = true;
	opts->stem = true;
	opts->remove_stop_words = true;
	opts->ascii_folding = true;
	opts->ngram_min_length = 3;
	opts->ngram_max_length = 3;
	opts->ngram_prefix_only = false;
}

static bool
ascii_caseeq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
	{
		unsigned char ca = (unsigned char) *a;
		unsigned char cb = (unsigned char) *b;

		if (ca >= 'A' && ca <= 'Z')
			ca |= 0x20;
		if (cb >= 'A' && cb <= 'Z')
			cb |= 0x20;
		if (ca != cb)
			return false;
	}
	return *a == *b;
}

bool
lance_tokenizer_from_name(const char *name, LanceBaseTokenizer *kind)
{
	int			i;

	if (name == NULL)
		return false;
	for (i = 0; i < NTOKENIZERS; i++)
	{
		if (ascii_caseeq(name, tokenizer_names[i]))
		{
			*kind = (LanceBaseTokenizer) i;
			return true;
		}
	}
	return false;
}

const char *
lance_tokenizer_name(LanceBaseTokenizer kind)
{
	if ((int) kind < 0 || (int) kind >= NTOKENIZERS)
		return NULL;
	return tokenizer_names[kind];
}

const char **
lance_analyzer_languages(void)
{
	return sb_stemmer_list();
}

/* libstemmer's canonical name for name (case-insensitive), or NULL. */
static const char *
find_language(const char *name)
{
	const char **l;

	if (name == NULL)
		return NULL;
	for (l = sb_stemmer_list(); *l != NULL; l++)
		if (ascii_caseeq(name, *l))
			return *l;
	return NULL;
}

static const char *
unknown_language_error(const char *name)
{
	snprintf(analyzer_errbuf, sizeof(analyzer_errbuf),
			 "unknown language \"%.64s\"", name ? name : "");
	return analyzer_errbuf;
}

bool
lance_analyzer_set_language(LanceAnalyzerOptions *opts, const char *name,
							const char **err)
{
	const char *canon = find_language(name);

	if (canon == NULL || strlen(canon) >= LANCE_LANGUAGE_MAXLEN)
	{
		*err = unknown_language_error(name);
		return false;
	}
	strcpy(opts->language, canon);
	return true;
}

void
lance_analyzer_options_release(LanceAnalyzerOptions *opts)
{
	if (opts->stop_words_block != NULL)
	{
		mem_free(opts->alloc, opts->release, opts->stop_words_block);
		opts->stop_words_block = NULL;
		opts->stop_words = NULL;
		opts->n_stop_words = 0;
	}
}

/*
 * One block: n word pointers, then the words (NUL-terminated) copied from
 * the n consecutive NUL-terminated strings at src (total bytes with NULs).
 */
static void *
make_word_block(const LanceAnalyzerOptions *opts, const char *src,
				size_t bytes, uint32_t n)
{
	char	  **ptrs;
	char	   *text;
	uint32_t	i;

	ptrs = mem_alloc(opts->alloc, (size_t) n * sizeof(char *) + bytes);
	if (ptrs == NULL)
		return NULL;
	text = (char *) (ptrs + n);
	if (bytes > 0)
		memcpy(text, src, bytes);
	for (i = 0; i < n; i++)
	{
		ptrs[i] = text;
		text += strlen(text) + 1;
	}
	return ptrs;
}

bool
lance_load_stopwords_file(const char *path, LanceAnalyzerOptions *opts,
						  const char **err)
{
	FILE	   *f;
	char	   *data = NULL;
	size_t		cap = 0;
	size_t		len = 0;
	char	   *words;
	size_t		wlen = 0;
	uint32_t	n = 0;
	size_t		i;
	void	   *block;

	f = fopen(path, "rb");
	if (f == NULL)
	{
		*err = "could not open stop-word file";
		return false;
	}
	for (;;)
	{
		size_t		got;

		if (len == cap)
		{
			char	   *nd;
			size_t		ncap = cap == 0 ? 4096 : cap * 2;

			if (ncap > STOPFILE_MAX_BYTES)
			{
				fclose(f);
				mem_free(opts->alloc, opts->release, data);
				*err = "stop-word file is too large";
				return false;
			}
			nd = mem_alloc(opts->alloc, ncap);
			if (nd == NULL)
			{
				fclose(f);
				mem_free(opts->alloc, opts->release, data);
				*err = "out of memory";
				return false;
			}
			if (len > 0)
				memcpy(nd, data, len);
			mem_free(opts->alloc, opts->release, data);
			data = nd;
			cap = ncap;
		}
		got = fread(data + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
	{
		int			save = errno;

		fclose(f);
		mem_free(opts->alloc, opts->release, data);
		errno = save;
		*err = "could not read stop-word file";
		return false;
	}
	fclose(f);

	if (utf8_valid_prefix((const unsigned char *) data, len) != len)
	{
		mem_free(opts->alloc, opts->release, data);
		*err = "stop-word file is not valid UTF-8";
		return false;
	}

	/* lowercased words with NULs take at most 2 * len + lines bytes */
	words = mem_alloc(opts->alloc, 2 * len + 1);
	if (words == NULL)
	{
		mem_free(opts->alloc, opts->release, data);
		*err = "out of memory";
		return false;
	}
	i = (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) ? 3 : 0;
	while (i < len)
	{
		size_t		start = i;
		size_t		end;

		/* PostgreSQL keeps the first whitespace-delimited word of a line */
		while (i < len && data[i] != '\n' && !ascii_space((unsigned char) data[i]))
			i++;
		end = i;
		while (i < len && data[i] != '\n')
			i++;
		if (i < len)
			i++;
		if (end == start)
			continue;
		wlen += lowercase_utf8(data + start, end - start, words + wlen);
		words[wlen++] = '\0';
		n++;
	}
	mem_free(opts->alloc, opts->release, data);

	block = make_word_block(opts, words, wlen, n);
	mem_free(opts->alloc, opts->release, words);
	if (block == NULL)
	{
		*err = "out of memory";
		return false;
	}
	lance_analyzer_options_release(opts);
	opts->stop_words_block = block;
	opts->stop_words = (const char *const *) block;
	opts->n_stop_words = n;
	return true;
}

/* ---------------------------------------------------------------------
 * serialisation
 * ------------------------------------------------------------------- */

static void
put_u16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
	p[2] = (unsigned char) (v >> 16);
	p[3] = (unsigned char) (v >> 24);
}

static uint32_t
get_u16(const unsigned char *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8);
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

size_t
lance_analyzer_options_encode(const LanceAnalyzerOptions *opts, void *buf,
							  size_t cap)
{
	unsigned char *p = buf;
	size_t		langlen = strnlen(opts->language, LANCE_LANGUAGE_MAXLEN);
	size_t		stop_bytes = 0;
	uint32_t	nstop = 0;
	size_t		total;
	size_t		off;
	uint32_t	flags = 0;
	uint32_t	i;

	if (langlen == 0 || langlen >= LANCE_LANGUAGE_MAXLEN)
		return 0;
	if (opts->remove_stop_words && opts->stop_words != NULL)
	{
		nstop = opts->n_stop_words;
		for (i = 0; i < nstop; i++)
		{
			if (opts->stop_words[i] == NULL)
				return 0;
			stop_bytes += strlen(opts->stop_words[i]) + 1;
			if (stop_bytes > OPT_MAX_STOP_BYTES)
				return 0;
		}
	}
	total = OPT_HEADER_SIZE + langlen + stop_bytes + OPT_CHECKSUM_SIZE;
	if (buf == NULL || cap < total)
		return total;

	if (opts->with_position)
		flags |= OPT_F_WITH_POSITION;
	if (opts->lower_case)
		flags |= OPT_F_LOWER_CASE;
	if (opts->stem)
		flags |= OPT_F_STEM;
	if (opts->remove_stop_words)
		flags |= OPT_F_REMOVE_STOP;
	if (opts->ascii_folding)
		flags |= OPT_F_ASCII_FOLDING;
	if (opts->ngram_prefix_only)
		flags |= OPT_F_PREFIX_ONLY;
	if (opts->custom_stop_words)
		flags |= OPT_F_CUSTOM_STOP;

	memcpy(p, OPT_MAGIC, 4);
	p[4] = OPT_VERSION;
	p[5] = (unsigned char) opts->base_tokenizer;
	p[6] = (unsigned char) flags;
	p[7] = (unsigned char) langlen;
	put_u32(p + 8, opts->max_token_length);
	put_u16(p + 12, opts->ngram_min_length);
	put_u16(p + 14, opts->ngram_max_length);
	put_u32(p + 16, nstop);
	put_u32(p + 20, (uint32_t) stop_bytes);
	off = OPT_HEADER_SIZE;
	memcpy(p + off, opts->language, langlen);
	off += langlen;
	for (i = 0; i < nstop; i++)
	{
		size_t		l = strlen(opts->stop_words[i]) + 1;

		memcpy(p + off, opts->stop_words[i], l);
		off += l;
	}
	put_u32(p + off, hash_bytes((const char *) p, off));
	return total;
}

bool
lance_analyzer_options_decode(const void *buf, size_t len,
							  LanceAnalyzerOptions *opts, const char **err)
{
	const unsigned char *p = buf;
	LanceAnalyzerOptions o;
	uint32_t	flags;
	size_t		langlen;
	uint32_t	nstop;
	size_t		stop_bytes;
	size_t		body;
	size_t		i;
	uint32_t	nuls = 0;

	if (buf == NULL || len < OPT_HEADER_SIZE + OPT_CHECKSUM_SIZE)
	{
		*err = "analyzer options are truncated";
		return false;
	}
	if (memcmp(p, OPT_MAGIC, 4) != 0)
	{
		*err = "analyzer options have a bad magic number";
		return false;
	}
	if (p[4] != OPT_VERSION)
	{
		*err = "analyzer options have an unsupported version";
		return false;
	}
	langlen = p[7];
	nstop = get_u32(p + 16);
	stop_bytes = get_u32(p + 20);
	if (langlen == 0 || langlen >= LANCE_LANGUAGE_MAXLEN ||
		stop_bytes > OPT_MAX_STOP_BYTES ||
		len != OPT_HEADER_SIZE + langlen + stop_bytes + OPT_CHECKSUM_SIZE)
	{
		*err = "analyzer options have inconsistent lengths";
		return false;
	}
	body = len - OPT_CHECKSUM_SIZE;
	if (get_u32(p + body) != hash_bytes((const char *) p, body))
	{
		*err = "analyzer options checksum mismatch";
		return false;
	}

	lance_analyzer_options_init(&o);
	o.alloc = opts->alloc;
	o.release = opts->release;
	flags = p[6];
	if (p[5] > LANCE_TOKENIZER_NGRAM || (flags & ~OPT_F_ALL) != 0)
	{
		*err = "analyzer options have an unknown tokenizer or flag";
		return false;
	}
	o.base_tokenizer = (LanceBaseTokenizer) p[5];
	o.with_position = (flags & OPT_F_WITH_POSITION) != 0;
	o.lower_case = (flags & OPT_F_LOWER_CASE) != 0;
	o.stem = (flags & OPT_F_STEM) != 0;
	o.remove_stop_words = (flags & OPT_F_REMOVE_STOP) != 0;
	o.ascii_folding = (flags & OPT_F_ASCII_FOLDING) != 0;
	o.ngram_prefix_only = (flags & OPT_F_PREFIX_ONLY) != 0;
	o.custom_stop_words = (flags & OPT_F_CUSTOM_STOP) != 0;
	o.max_token_length = get_u32(p + 8);
	o.ngram_min_length = get_u16(p + 12);
	o.ngram_max_length = get_u16(p + 14);
	if (o.ngram_min_length < 1 || o.ngram_max_length > LANCE_NGRAM_MAX ||
		o.ngram_min_length > o.ngram_max_length)
	{
		*err = "analyzer options have invalid ngram lengths";
		return false;
	}
	for (i = 0; i < langlen; i++)
	{
		unsigned char c = p[OPT_HEADER_SIZE + i];

		if (c < 'a' || c > 'z')
		{
			*err = "analyzer options have an invalid language";
			return false;
		}
	}
	memcpy(o.language, p + OPT_HEADER_SIZE, langlen);
	o.language[langlen] = '\0';

	/* stop words: exactly nstop NUL-terminated strings */
	for (i = 0; i < stop_bytes; i++)
		if (p[OPT_HEADER_SIZE + langlen + i] == '\0')
			nuls++;
	if (nuls != nstop ||
		(stop_bytes > 0 && p[OPT_HEADER_SIZE + langlen + stop_bytes - 1] != '\0') ||
		(nstop > 0 && !o.remove_stop_words))
	{
		*err = "analyzer options have a malformed stop word list";
		return false;
	}
	if (nstop > 0)
	{
		o.stop_words_block = make_word_block(&o, (const char *) p + OPT_HEADER_SIZE +
											 langlen, stop_bytes, nstop);
		if (o.stop_words_block == NULL)
		{
			*err = "out of memory";
			return false;
		}
		o.stop_words = (const char *const *) o.stop_words_block;
		o.n_stop_words = nstop;
	}
	*opts = o;
	return true;
}

/* ---------------------------------------------------------------------
 * analyzer
 * ------------------------------------------------------------------- */

LanceAnalyzer *
lance_analyzer_new(const LanceAnalyzerOptions *opts, const char **err)
{
	LanceAnalyzer *a;
	const char *lang;

	if (opts == NULL)
	{
		*err = "no analyzer options";
		return NULL;
	}
	if (lance_tokenizer_name(opts->base_tokenizer) == NULL)
	{
		snprintf(analyzer_errbuf, sizeof(analyzer_errbuf),
				 "unknown base tokenizer %d", (int) opts->base_tokenizer);
		*err = analyzer_errbuf;
		return NULL;
	}
	lang = find_language(opts->language);
	if (lang == NULL || strlen(lang) >= LANCE_LANGUAGE_MAXLEN)
	{
		*err = unknown_language_error(opts->language);
		return NULL;
	}
	if (opts->ngram_min_length < 1 || opts->ngram_min_length > LANCE_NGRAM_MAX ||
		opts->ngram_max_length < 1 || opts->ngram_max_length > LANCE_NGRAM_MAX)
	{
		*err = "ngram lengths must be between 1 and 255";
		return NULL;
	}
	if (opts->ngram_min_length > opts->ngram_max_length)
	{
		*err = "ngram_min_length must not be greater than ngram_max_length";
		return NULL;
	}
	if (opts->with_position && opts->base_tokenizer == LANCE_TOKENIZER_NGRAM)
	{
		*err = "with_position is not supported with the ngram tokenizer";
		return NULL;
	}
	if (opts->remove_stop_words && opts->n_stop_words > 0 && opts->stop_words == NULL)
	{
		*err = "n_stop_words is set but stop_words is NULL";
		return NULL;
	}

	a = mem_alloc(opts->alloc, sizeof(LanceAnalyzer));
	if (a == NULL)
	{
		*err = "out of memory";
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->opts = *opts;
	strcpy(a->opts.language, lang);
	a->opts.stop_words = NULL;
	a->opts.stop_words_block = NULL;
	if (!opts->remove_stop_words)
		a->opts.n_stop_words = 0;

	if (opts->stem)
	{
		a->stemmer = sb_stemmer_new(lang, NULL);
		if (a->stemmer == NULL)
		{
			*err = "could not create the Snowball stemmer";
			lance_analyzer_free(a);
			return NULL;
		}
	}
	if (a->opts.n_stop_words > 0 &&
		!stop_build(a, opts->stop_words, opts->n_stop_words, err))
	{
		lance_analyzer_free(a);
		return NULL;
	}
	return a;
}

void
lance_analyzer_free(LanceAnalyzer *a)
{
	void	   *(*alloc) (size_t);
	void		(*release) (void *);

	if (a == NULL)
		return;
	alloc = a->opts.alloc;
	release = a->opts.release;
	if (a->stemmer != NULL)
		sb_stemmer_delete(a->stemmer);
	mem_free(alloc, release, a->stop_slots);
	mem_free(alloc, release, a->stop_pool);
	mem_free(alloc, release, a->clean);
	mem_free(alloc, release, a->lower);
	mem_free(alloc, release, a->fold);
	mem_free(alloc, release, a->cache);
	mem_free(alloc, release, a);
}

const LanceAnalyzerOptions *
lance_analyzer_get_options(const LanceAnalyzer *a)
{
	return &a->opts;
}

/* ---------------------------------------------------------------------
 * token array
 * ------------------------------------------------------------------- */

void
lance_token_array_init(LanceTokenArray *arr, void *(*alloc) (size_t),
					   void (*release) (void *))
{
	memset(arr, 0, sizeof(*arr));
	arr->alloc = alloc;
	arr->release = release;
}

void
lance_token_array_reset(LanceTokenArray *arr)
{
	arr->ntokens = 0;
	arr->nbytes = 0;
}

void
lance_token_array_free(LanceTokenArray *arr)
{
	mem_free(arr->alloc, arr->release, arr->tokens);
	mem_free(arr->alloc, arr->release, arr->bytes);
	arr->tokens = NULL;
	arr->bytes = NULL;
	arr->ntokens = arr->tokens_cap = 0;
	arr->nbytes = arr->bytes_cap = 0;
}

static bool
token_append(LanceTokenArray *arr, const char *s, size_t n, uint32_t pos,
			 const char **err)
{
	LanceToken *t;

	if (arr->nbytes + n + 1 > UINT32_MAX || arr->ntokens == UINT32_MAX)
	{
		*err = "too many tokens in one token array";
		return false;
	}
	if (arr->ntokens == arr->tokens_cap)
	{
		uint32_t	ncap = arr->tokens_cap < 64 ? 64 :
			(arr->tokens_cap > UINT32_MAX / 2 ? UINT32_MAX : arr->tokens_cap * 2);
		LanceToken *nt = mem_alloc(arr->alloc, (size_t) ncap * sizeof(LanceToken));

		if (nt == NULL)
		{
			*err = "out of memory";
			return false;
		}
		if (arr->ntokens > 0)
			memcpy(nt, arr->tokens, (size_t) arr->ntokens * sizeof(LanceToken));
		mem_free(arr->alloc, arr->release, arr->tokens);
		arr->tokens = nt;
		arr->tokens_cap = ncap;
	}
	if (arr->nbytes + n + 1 > arr->bytes_cap)
	{
		size_t		ncap = arr->bytes_cap < 1024 ? 1024 : arr->bytes_cap * 2;
		char	   *nb;

		while (ncap < arr->nbytes + n + 1)
			ncap *= 2;
		nb = mem_alloc(arr->alloc, ncap);
		if (nb == NULL)
		{
			*err = "out of memory";
			return false;
		}
		if (arr->nbytes > 0)
			memcpy(nb, arr->bytes, arr->nbytes);
		mem_free(arr->alloc, arr->release, arr->bytes);
		arr->bytes = nb;
		arr->bytes_cap = ncap;
	}
	t = &arr->tokens[arr->ntokens++];
	t->offset = (uint32_t) arr->nbytes;
	t->len = (uint32_t) n;
	t->position = pos;
	memcpy(arr->bytes + arr->nbytes, s, n);
	arr->bytes[arr->nbytes + n] = '\0';
	arr->nbytes += n + 1;
	return true;
}

/* ---------------------------------------------------------------------
 * analysis
 * ------------------------------------------------------------------- */

/*
 * Run one base token through the filters: 1 with the result in *res and
 * *rlen (valid until the next token), 0 if it is dropped, -1 on error.
 */
static int
filter_token(LanceAnalyzer *a, const char *s, size_t n, const char **res,
			 size_t *rlen, const char **err)
{
	if (a->opts.max_token_length > 0 && n >= a->opts.max_token_length)
		return 0;				/* Tantivy's RemoveLongFilter keeps len < limit */
	if (a->opts.lower_case)
	{
		if (n > SIZE_MAX / 2 - 8 ||
			!scratch_reserve(a, &a->lower, &a->lower_cap, 2 * n + 8))
		{
			*err = "out of memory";
			return -1;
		}
		n = lowercase_utf8(s, n, a->lower);
		s = a->lower;
	}
	if (a->stemmer != NULL && n <= INT_MAX)
	{
		const sb_symbol *r;

		r = sb_stemmer_stem(a->stemmer, (const sb_symbol *) s, (int) n);

		if (r == NULL)
		{
			*err = "out of memory in the Snowball stemmer";
			return -1;
		}
		s = (const char *) r;
		n = (size_t) sb_stemmer_length(a->stemmer);
	}
	if (a->stop_slots != NULL && stop_contains(a, s, n))
		return 0;
	if (a->opts.ascii_folding && !is_ascii(s, n))
	{
		if (n > SIZE_MAX / 2 - 8 ||
			!scratch_reserve(a, &a->fold, &a->fold_cap, 2 * n + 8))
		{
			*err = "out of memory";
			return -1;
		}
		n = fold_utf8(s, n, a->fold);
		s = a->fold;
	}
	if (n == 0)
		return 0;
	*res = s;
	*rlen = n;
	return 1;
}

/*
 * Filter one base token and append what survives.  With a stemmer, the
 * filters' result for short tokens is remembered in a direct-mapped cache:
 * word frequencies are skewed, and a hit costs a hash and a compare where
 * Snowball costs several hundred nanoseconds.  The cache is set up only
 * after CACHE_AFTER tokens so that short texts (queries) never pay for it.
 */
static bool
emit_token(LanceAnalyzer *a, const char *s, size_t n, uint32_t pos,
		   LanceTokenArray *out, const char **err)
{
	const char *res = NULL;
	size_t		rlen = 0;
	int			rc;
	TokenCacheSlot *slot = NULL;

	if (a->cache == NULL && a->stemmer != NULL && n <= CACHE_KEY_MAX &&
		++a->ntokens_seen >= CACHE_AFTER)
	{
		a->cache = mem_alloc(a->opts.alloc, CACHE_SLOTS * sizeof(TokenCacheSlot));
		if (a->cache != NULL)
			memset(a->cache, 0, CACHE_SLOTS * sizeof(TokenCacheSlot));
	}
	if (a->cache != NULL && n <= CACHE_KEY_MAX)
	{
		uint32_t	h = hash_bytes(s, n);

		slot = &a->cache[h & (CACHE_SLOTS - 1)];
		if (slot->hash == h && slot->klen == n && memcmp(slot->key, s, n) == 0)
		{
			if (slot->vlen == CACHE_DROPPED)
				return true;
			return token_append(out, slot->val, slot->vlen, pos, err);
		}
		slot->hash = h;
		slot->klen = 0;			/* invalid until filled */
	}
	rc = filter_token(a, s, n, &res, &rlen, err);
	if (rc < 0)
		return false;
	if (slot != NULL && (rc == 0 || rlen <= CACHE_VAL_MAX))
	{
		memcpy(slot->key, s, n);
		slot->klen = (uint8_t) n;
		slot->vlen = rc == 0 ? CACHE_DROPPED : (uint8_t) rlen;
		if (rc > 0)
			memcpy(slot->val, res, rlen);
	}
	if (rc == 0)
		return true;
	return token_append(out, res, rlen, pos, err);
}

/*
 * simple: maximal runs of alphanumeric code points, each run also taking
 * the combining marks that follow its characters.
 */
static bool
tokenize_simple(LanceAnalyzer *a, const unsigned char *s, size_t len,
				uint32_t pos, LanceTokenArray *out, uint32_t *count,
				const char **err)
{
	size_t		i = 0;
	uint32_t	k = 0;

	while (i < len)
	{
		size_t		start;
		int			l;

		if (s[i] < 0x80)
		{
			if (!ascii_alnum(s[i]))
			{
				i++;
				continue;
			}
		}
		else if (!cp_alnum(utf8_decode(s + i, &l)))
		{
			i += l;
			continue;
		}
		start = i;
		while (i < len)
		{
			if (s[i] < 0x80)
			{
				if (!ascii_alnum(s[i]))
					break;
				i++;
			}
			else
			{
				uint32_t	c = utf8_decode(s + i, &l);

				if (!cp_alnum(c) && !cp_mark(c))
					break;
				i += l;
			}
		}
		if (!emit_token(a, (const char *) s + start, i - start, pos + k, out, err))
			return false;
		k++;
	}
	*count = k;
	return true;
}

/* whitespace: maximal runs of code points without White_Space */
static bool
tokenize_whitespace(LanceAnalyzer *a, const unsigned char *s, size_t len,
					uint32_t pos, LanceTokenArray *out, uint32_t *count,
					const char **err)
{
	size_t		i = 0;
	uint32_t	k = 0;

	while (i < len)
	{
		size_t		start;
		int			l;

		if (cp_space(utf8_decode(s + i, &l)))
		{
			i += l;
			continue;
		}
		start = i;
		while (i < len && !cp_space(utf8_decode(s + i, &l)))
			i += l;
		if (!emit_token(a, (const char *) s + start, i - start, pos + k, out, err))
			return false;
		k++;
	}
	*count = k;
	return true;
}

/*
 * ngram: for each code point (only the first with prefix_only), the grams
 * of min..max code points starting there that fit in the text.
 */
static bool
tokenize_ngram(LanceAnalyzer *a, const unsigned char *s, size_t len,
			   uint32_t pos, LanceTokenArray *out, uint32_t *count,
			   const char **err)
{
	uint32_t	minlen = a->opts.ngram_min_length;
	uint32_t	maxlen = a->opts.ngram_max_length;
	size_t		i = 0;

	*count = 0;
	while (i < len)
	{
		size_t		j = i;
		uint32_t	g;

		for (g = 1; g <= maxlen && j < len; g++)
		{
			j += utf8_seq_len(s[j]);
			if (g >= minlen)
			{
				if (!emit_token(a, (const char *) s + i, j - i, pos, out, err))
					return false;
				*count = 1;
			}
		}
		if (a->opts.ngram_prefix_only)
			break;
		i += utf8_seq_len(s[i]);
	}
	return true;
}

/* Copy text to a->clean with every byte that is not valid UTF-8 as U+FFFD. */
static const unsigned char *
sanitize(LanceAnalyzer *a, const unsigned char *s, size_t len, size_t valid,
		 size_t *outlen)
{
	size_t		i = valid;
	size_t		o = valid;

	if (len > (SIZE_MAX - 8) / 3 ||
		!scratch_reserve(a, &a->clean, &a->clean_cap, 3 * len + 8))
		return NULL;
	memcpy(a->clean, s, valid);
	while (i < len)
	{
		int			l = utf8_valid_len(s + i, len - i);

		if (l == 0)
		{
			memcpy(a->clean + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
		else
		{
			memcpy(a->clean + o, s + i, l);
			o += l;
			i += l;
		}
	}
	*outlen = o;
	return (const unsigned char *) a->clean;
}

bool
lance_analyze(LanceAnalyzer *a, const char *text, size_t len,
			  uint32_t first_position, LanceTokenArray *out,
			  uint32_t *n_positions, const char **err)
{
	const unsigned char *s = (const unsigned char *) text;
	size_t		valid;
	uint32_t	count = 0;
	bool		ok = true;

	if (n_positions != NULL)
		*n_positions = 0;
	if (len == 0)
		return true;
	valid = utf8_valid_prefix(s, len);
	if (valid < len)
	{
		s = sanitize(a, s, len, valid, &len);
		if (s == NULL)
		{
			*err = "out of memory";
			return false;
		}
	}

	switch (a->opts.base_tokenizer)
	{
		case LANCE_TOKENIZER_SIMPLE:
			ok = tokenize_simple(a, s, len, first_position, out, &count, err);
			break;
		case LANCE_TOKENIZER_WHITESPACE:
			ok = tokenize_whitespace(a, s, len, first_position, out, &count, err);
			break;
		case LANCE_TOKENIZER_RAW:
			ok = emit_token(a, (const char *) s, len, first_position, out, err);
			count = 1;
			break;
		case LANCE_TOKENIZER_NGRAM:
			ok = tokenize_ngram(a, s, len, first_position, out, &count, err);
			break;
	}
	if (n_positions != NULL)
		*n_positions = count;
	return ok;
}
