/*
 * analyzer.h
 *	  Text analysis for the BM25 index lance_bm25: LanceDB's full-text
 *	  tokenizer options, defaults and filter order.
 *
 * Pipeline (LanceDB's order):
 *	 base tokenizer -> drop long tokens -> lowercase -> stem -> drop stop
 *	 words -> ASCII fold.
 *
 * Base tokenizers:
 *	 simple		  runs of letters and digits (Unicode Alphabetic or Numeric, as
 *				  Tantivy's SimpleTokenizer); combining marks that follow a
 *				  letter stay in its token (Tantivy splits there, which cuts
 *				  Hindi words at every virama and NFD text at every accent)
 *	 whitespace	  runs of non-White_Space code points (Unicode; Tantivy
 *				  splits on ASCII whitespace only)
 *	 raw		  the whole value is one token (nothing for an empty value)
 *	 ngram		  character n-grams of the whole value, spaces included,
 *				  ordered by start then length; prefix_only keeps only those
 *				  starting at the first character; every position is 0
 *
 * Positions are indexes in the base token stream, so dropped tokens (too
 * long, stop words) leave gaps and phrase slop still measures distance in
 * the original text.
 *
 * Stop words are compared with the stemmed token as it is, because the stop
 * filter runs after the stemmer: a listed word whose stem differs from
 * itself and is not listed survives ("because" -> "becaus", "only" ->
 * "onli", "does" -> "doe" with English), and a non-listed word stemming to
 * a listed one is dropped ("ours" -> "our").  Folding runs last, so an
 * accented word and its unaccented spelling may stem differently: "brûlée"
 * -> "brulee" but "brulee" -> "brule".  Both are LanceDB's behaviour.
 *
 * Plain C, no PostgreSQL headers: memory goes through the caller's
 * alloc/release hooks (malloc/free without them); nothing calls exit or
 * abort.  Unicode classes and lowercasing come from ICU (icu-uc), stemming
 * from libstemmer (Snowball).  An analyzer holds a Snowball stemmer, which
 * is not thread-safe: use one analyzer per thread (backends have one).
 * Text must be UTF-8; invalid sequences are read as U+FFFD, never trusted.
 */
#ifndef LANCE_TEXT_ANALYZER_H
#define LANCE_TEXT_ANALYZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum LanceBaseTokenizer
{
	LANCE_TOKENIZER_SIMPLE = 0,
	LANCE_TOKENIZER_WHITESPACE = 1,
	LANCE_TOKENIZER_RAW = 2,
	LANCE_TOKENIZER_NGRAM = 3
} LanceBaseTokenizer;

#define LANCE_LANGUAGE_MAXLEN	32	/* including the NUL */
#define LANCE_NGRAM_MAX			255

typedef struct LanceAnalyzerOptions
{
	LanceBaseTokenizer base_tokenizer;	/* default simple */
	char		language[LANCE_LANGUAGE_MAXLEN];	/* Snowball algorithm name,
													 * default "english" */
	bool		with_position;	/* positions wanted (not with ngram) */
	/* drop tokens of max_token_length bytes or more; 0: no limit */
	uint32_t	max_token_length;	/* default 40 */
	bool		lower_case;		/* default true */
	bool		stem;			/* default true */
	bool		remove_stop_words;	/* default true */
	bool		ascii_folding;	/* default true */
	uint32_t	ngram_min_length;	/* 1..255, default 3 */
	uint32_t	ngram_max_length;	/* ngram_min_length..255, default 3 */
	bool		ngram_prefix_only;	/* default false */

	/*
	 * Stop words, UTF-8, compared byte for byte with stemmed tokens; used
	 * only with remove_stop_words.  The analyzer copies them.
	 * custom_stop_words only records (and serialises) whether the list came
	 * from the user rather than the language's list.
	 */
	const char *const *stop_words;
	uint32_t	n_stop_words;
	bool		custom_stop_words;

	/* allocator: malloc-like, may longjmp instead of returning NULL */
	void	   *(*alloc) (size_t size);
	void		(*release) (void *ptr);

	/* owned stop-word storage of lance_load_stopwords_file / decode */
	void	   *stop_words_block;
} LanceAnalyzerOptions;

typedef struct LanceToken
{
	uint32_t	offset;			/* of the text in LanceTokenArray.bytes */
	uint32_t	len;			/* in bytes, without the NUL terminator */
	uint32_t	position;		/* first_position + index in the base stream */
} LanceToken;

/*
 * Caller-owned output of lance_analyze: token texts are appended to one
 * byte arena (each NUL-terminated), so analysing a document allocates only
 * when the arrays must grow.  Reset between documents to reuse them.
 */
typedef struct LanceTokenArray
{
	LanceToken *tokens;
	uint32_t	ntokens;
	uint32_t	tokens_cap;
	char	   *bytes;
	size_t		nbytes;
	size_t		bytes_cap;
	void	   *(*alloc) (size_t size);
	void		(*release) (void *ptr);
} LanceTokenArray;

typedef struct LanceAnalyzer LanceAnalyzer;

/* LanceDB's defaults; stop_words NULL and the allocator hooks NULL. */
extern void lance_analyzer_options_init(LanceAnalyzerOptions *opts);

/* "simple", "whitespace", "raw", "ngram" (case-insensitive) */
extern bool lance_tokenizer_from_name(const char *name,
									  LanceBaseTokenizer *kind);
extern const char *lance_tokenizer_name(LanceBaseTokenizer kind);

/*
 * Set opts->language to the canonical (lowercase) Snowball name matching
 * name case-insensitively ("English" -> "english").  False, with *err
 * naming the language, if libstemmer has no such algorithm.
 */
extern bool lance_analyzer_set_language(LanceAnalyzerOptions *opts,
										const char *name, const char **err);

/* NULL-terminated list of the Snowball algorithm names (libstemmer's). */
extern const char **lance_analyzer_languages(void);

/*
 * Replace opts' stop words by those of a PostgreSQL tsearch stop file
 * ($(pg_config --sharedir)/tsearch_data/<language>.stop: one word per
 * line, the first whitespace-delimited word of each line, empty lines
 * skipped, words lowercased as PostgreSQL does).  PostgreSQL 15 ships
 * danish, dutch, english, finnish, french, german, hungarian, italian,
 * nepali, norwegian, portuguese, russian, spanish, swedish and turkish.
 * The words live in one block from opts->alloc, freed by
 * lance_analyzer_options_release.  On failure *err says why (errno is
 * left as fopen/read set it) and opts is unchanged.
 */
extern bool lance_load_stopwords_file(const char *path,
									  LanceAnalyzerOptions *opts,
									  const char **err);

/* Release what decode or lance_load_stopwords_file allocated in opts. */
extern void lance_analyzer_options_release(LanceAnalyzerOptions *opts);

/*
 * Serialise opts (every option, and the stop words when remove_stop_words)
 * to a versioned, checksummed byte string.  Returns its size; writes it
 * only when that is <= cap (so call with cap 0 to size a buffer).  Returns
 * 0 if the options cannot be encoded (language too long, stop list over
 * 1 MB).
 */
extern size_t lance_analyzer_options_encode(const LanceAnalyzerOptions *opts,
											void *buf, size_t cap);

/*
 * Parse what encode wrote, checking every length, value and the checksum;
 * never reads outside buf[0..len).  Keeps opts->alloc/release (used for
 * the stop-word block) and overwrites the rest; release with
 * lance_analyzer_options_release.  On failure *err says why and opts holds
 * no allocation.
 */
extern bool lance_analyzer_options_decode(const void *buf, size_t len,
										  LanceAnalyzerOptions *opts,
										  const char **err);

/*
 * Validate opts and build an analyzer (copies everything it needs from
 * opts).  NULL with *err set on invalid options: unknown tokenizer or
 * language, ngram lengths outside 1..255 or min > max, with_position with
 * ngram; or when memory or the stemmer cannot be had.  *err may point to a
 * thread-local buffer valid until the next failing call.
 *
 * libstemmer allocates the stemmer with malloc, outside the hooks: in a
 * backend, free the analyzer from a memory-context reset callback (or on
 * every exit path) so that an error does not leak it.
 */
extern LanceAnalyzer *lance_analyzer_new(const LanceAnalyzerOptions *opts,
										 const char **err);
extern void lance_analyzer_free(LanceAnalyzer *analyzer);

/* The analyzer's options (stop_words NULL: they are the analyzer's). */
extern const LanceAnalyzerOptions *lance_analyzer_get_options(
															 const LanceAnalyzer *analyzer);

/*
 * Analyse len bytes of UTF-8 text, appending its tokens to out with
 * positions from first_position on.  If n_positions is not NULL it gets
 * the positions consumed (1 + the last base token's index, 0 if none), so
 * the values of an array can be numbered one after the other.  False only
 * when memory runs out (malloc fallback) or out would pass 4 GB; *err says
 * which and out keeps the tokens appended before.
 */
extern bool lance_analyze(LanceAnalyzer *analyzer, const char *text,
						  size_t len, uint32_t first_position,
						  LanceTokenArray *out, uint32_t *n_positions,
						  const char **err);

extern void lance_token_array_init(LanceTokenArray *arr,
								   void *(*alloc) (size_t size),
								   void (*release) (void *ptr));
/* Forget the tokens, keep the memory. */
extern void lance_token_array_reset(LanceTokenArray *arr);
extern void lance_token_array_free(LanceTokenArray *arr);

static inline const char *
lance_token_text(const LanceTokenArray *arr, uint32_t i)
{
	return arr->bytes + arr->tokens[i].offset;
}

#endif							/* LANCE_TEXT_ANALYZER_H */
