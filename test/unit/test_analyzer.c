/*
 * test_analyzer.c
 *	  Standalone checks of the text analyzer (no PostgreSQL server needed;
 *	  the stop-word lists are read from PostgreSQL's share directory).
 *
 * Expected tokens are real outputs: stems as Snowball (libstemmer) gives
 * them, LanceDB's filter order and Tantivy's tokenizer rules.  Also: every
 * Snowball language builds, random bytes never crash and yield valid
 * UTF-8, option serialisation round-trips and rejects every truncation
 * and corruption, allocator hooks balance.  Ends with a throughput
 * measurement and "N passed, M failed"; exit status non-zero on failure.
 */
#include "text/analyzer.h"

#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static char sharedir[1024] = "/usr/share/postgresql/15";

static void
find_sharedir(void)
{
	const char *pgc = getenv("PG_CONFIG");
	char		cmd[1100];
	FILE	   *p;

	snprintf(cmd, sizeof(cmd), "%s --sharedir 2>/dev/null", pgc ? pgc : "pg_config");
	p = popen(cmd, "r");
	if (p == NULL)
		return;
	if (fgets(sharedir, sizeof(sharedir), p) != NULL)
		sharedir[strcspn(sharedir, "\n")] = '\0';
	pclose(p);
}

static bool
load_stop(LanceAnalyzerOptions *o, const char *lang)
{
	char		path[1200];
	const char *err = NULL;

	snprintf(path, sizeof(path), "%s/tsearch_data/%s.stop", sharedir, lang);
	if (!lance_load_stopwords_file(path, o, &err))
	{
		printf("# %s: %s\n", path, err);
		return false;
	}
	return true;
}

/* Tokens joined by '|', each followed by @position when with_pos. */
static char result[65536];

static const char *
run(const LanceAnalyzerOptions *o, const char *text, bool with_pos)
{
	const char *err = NULL;
	LanceAnalyzer *a = lance_analyzer_new(o, &err);
	LanceTokenArray arr;
	size_t		off = 0;
	uint32_t	i;

	if (a == NULL)
	{
		snprintf(result, sizeof(result), "ERROR: %s", err);
		return result;
	}
	lance_token_array_init(&arr, NULL, NULL);
	if (!lance_analyze(a, text, strlen(text), 0, &arr, NULL, &err))
		snprintf(result, sizeof(result), "ERROR: %s", err);
	else
	{
		result[0] = '\0';
		for (i = 0; i < arr.ntokens && off < sizeof(result) - 100; i++)
		{
			if (with_pos)
				off += snprintf(result + off, sizeof(result) - off, "%s%s@%u",
								i ? "|" : "", lance_token_text(&arr, i),
								arr.tokens[i].position);
			else
				off += snprintf(result + off, sizeof(result) - off, "%s%s",
								i ? "|" : "", lance_token_text(&arr, i));
		}
	}
	lance_token_array_free(&arr);
	lance_analyzer_free(a);
	return result;
}

static void
expect(const LanceAnalyzerOptions *o, const char *text, bool with_pos,
	   const char *want, const char *what)
{
	const char *got = run(o, text, with_pos);

	check(strcmp(got, want) == 0, what);
	if (strcmp(got, want) != 0)
		printf("#   \"%s\" -> [%s], want [%s]\n", text, got, want);
}

/* Options with every filter off except those asked for. */
static void
bare(LanceAnalyzerOptions *o, LanceBaseTokenizer t)
{
	lance_analyzer_options_init(o);
	o->base_tokenizer = t;
	o->stem = false;
	o->remove_stop_words = false;
	o->ascii_folding = false;
	o->lower_case = false;
	o->max_token_length = 0;
}

static bool
valid_utf8(const unsigned char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned char b = s[i];
		int			l,
					k;
		uint32_t	c;

		if (b < 0x80)
		{
			i++;
			continue;
		}
		if (b >= 0xC2 && b < 0xE0)
			l = 2, c = b & 0x1F;
		else if (b >= 0xE0 && b < 0xF0)
			l = 3, c = b & 0x0F;
		else if (b >= 0xF0 && b < 0xF5)
			l = 4, c = b & 0x07;
		else
			return false;
		if (i + l > n)
			return false;
		for (k = 1; k < l; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			c = (c << 6) | (s[i + k] & 0x3F);
		}
		if ((l == 3 && c < 0x800) || (l == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
			(c >= 0xD800 && c <= 0xDFFF))
			return false;
		i += l;
	}
	return true;
}

/* xorshift64* */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

/* counting allocator */
static long n_live = 0;
static long n_allocs = 0;

static void *
count_alloc(size_t n)
{
	n_live++;
	n_allocs++;
	return malloc(n);
}

static void
count_release(void *p)
{
	n_live--;
	free(p);
}

static void
test_defaults(void)
{
	LanceAnalyzerOptions o;

	lance_analyzer_options_init(&o);
	check(o.base_tokenizer == LANCE_TOKENIZER_SIMPLE && strcmp(o.language, "english") == 0 &&
		  !o.with_position && o.max_token_length == 40 && o.lower_case && o.stem &&
		  o.remove_stop_words && o.ascii_folding && o.ngram_min_length == 3 &&
		  o.ngram_max_length == 3 && !o.ngram_prefix_only, "LanceDB defaults");
	if (!load_stop(&o, "english"))
	{
		check(false, "load english.stop");
		return;
	}
	check(o.n_stop_words == 127, "english.stop has 127 words");
	expect(&o, "The QUICK brown foxes jumped!", true,
		   "quick@1|brown@2|fox@3|jump@4", "defaults");
	o.with_position = true;
	expect(&o, "the cat and the hat", true, "cat@1|hat@4", "positions keep stop-word gaps");
	expect(&o, "Running, runs; ran... RUNNER's", false, "run|run|ran|runner",
		   "stemming and possessive s dropped as a stop word");
	/* the stop filter sees stems: consequences of LanceDB's order */
	expect(&o, "does because only ours theses", false, "doe|becaus|onli",
		   "stop words are matched after stemming");
	expect(&o, "", false, "", "empty text");
	expect(&o, " ,.;!? ", false, "", "only separators");
	o.remove_stop_words = false;
	expect(&o, "The QUICK brown foxes", false, "the|quick|brown|fox", "stop words kept");
	o.lower_case = false;
	expect(&o, "The QUICK brown foxes", false, "The|QUICK|brown|fox", "no lowercasing");
	o.lower_case = true;
	o.stem = false;
	expect(&o, "The QUICK brown foxes", false, "the|quick|brown|foxes", "no stemming");
	lance_analyzer_options_release(&o);
	check(o.stop_words == NULL && o.stop_words_block == NULL, "options release");
}

static void
test_languages(void)
{
	LanceAnalyzerOptions o;
	const char *err = NULL;
	const char **langs = lance_analyzer_languages();
	int			n = 0;
	int			built = 0;

	/* German */
	lance_analyzer_options_init(&o);
	check(lance_analyzer_set_language(&o, "German", &err) &&
		  strcmp(o.language, "german") == 0, "set_language is case-insensitive");
	if (load_stop(&o, "german"))
		expect(&o, "Die Häuser und Bäume laufen", true, "haus@1|baum@3|lauf@4", "German");
	lance_analyzer_options_release(&o);

	/* French: "les" stems to the stop word "le" */
	lance_analyzer_options_init(&o);
	lance_analyzer_set_language(&o, "french", &err);
	if (load_stop(&o, "french"))
		expect(&o, "Les chevaux mangeaient", true, "cheval@1|mang@2", "French");
	lance_analyzer_options_release(&o);

	/* Russian */
	lance_analyzer_options_init(&o);
	lance_analyzer_set_language(&o, "Russian", &err);
	if (load_stop(&o, "russian"))
		expect(&o, "Красивые КОШКИ бегали по улице", true,
			   "красив@0|кошк@1|бега@2|улиц@4", "Russian");
	lance_analyzer_options_release(&o);

	/* English stemming before folding */
	lance_analyzer_options_init(&o);
	expect(&o, "Crème brûlée", false, "creme|brulee", "stem (no-op) then fold");
	expect(&o, "creme brulee", false, "creme|brule", "unaccented spelling stems differently");

	/* CJK: a run of letters is one token, as in Tantivy's simple tokenizer */
	expect(&o, "我爱北京天安门 hello世界。東京", true, "我爱北京天安门@0|hello世界@1|東京@2", "CJK runs");
	/* 14 CJK characters are 42 bytes: too long for max_token_length 40 */
	expect(&o, "一二三四五六七八九十一二三四 ok", true, "ok@1", "long CJK run dropped");

	err = NULL;
	check(!lance_analyzer_set_language(&o, "klingon", &err) && err != NULL &&
		  strstr(err, "klingon") != NULL, "unknown language names it");
	strcpy(o.language, "klingon");
	check(lance_analyzer_new(&o, &err) == NULL && strstr(err, "klingon") != NULL,
		  "analyzer rejects unknown language");

	for (; langs[n] != NULL; n++)
	{
		LanceAnalyzer *a;

		lance_analyzer_options_init(&o);
		strcpy(o.language, langs[n]);
		a = lance_analyzer_new(&o, &err);
		if (a != NULL)
		{
			LanceTokenArray arr;

			lance_token_array_init(&arr, NULL, NULL);
			if (lance_analyze(a, "Running quickly, les chevaux: Красивые кошки θάλασσα", 60, 0, &arr, NULL, &err) &&
				arr.ntokens > 0)
				built++;
			lance_token_array_free(&arr);
			lance_analyzer_free(a);
		}
	}
	{
		char		msg[64];

		snprintf(msg, sizeof(msg), "all %d Snowball languages build and analyse", n);
		check(n >= 29 && built == n, msg);
	}
}

static void
test_folding(void)
{
	LanceAnalyzerOptions o;

	bare(&o, LANCE_TOKENIZER_SIMPLE);
	o.lower_case = true;
	o.ascii_folding = true;
	expect(&o, "Ærøskøbing Straße Łódź œuvre ﬁnance Ⅻ ① Đakovo Þór ĳssel", false,
		   "aeroskobing|strasse|lodz|oeuvre|finance|xii|1|dakovo|thor|ijssel",
		   "Latin folding");
	expect(&o, "Việt Nam Nguyễn ǅemal", false, "viet|nam|nguyen|dzemal", "Latin Extended Additional");
	/* NFD: combining marks stay in the token, folding drops them */
	expect(&o, "cafe\xCC\x81 noe\xCC\x88l", false, "cafe|noel", "decomposed accents");
	/* dotted capital I lowercases to i + U+0307, which folds away */
	expect(&o, "İstanbul", false, "istanbul", "Turkish dotted I");
	o.lower_case = false;
	expect(&o, "ÉCOLE Ærø", false, "ECOLE|AEro", "folding keeps case");
	o.ascii_folding = false;
	o.lower_case = true;
	expect(&o, "ÉCOLE İ", false, "école|i\xCC\x87", "lowercase without folding");
	/* Hindi: the virama (a mark, not Alphabetic) does not split the word */
	expect(&o, "हिन्दी भाषा", false, "हिन्दी|भाषा", "Devanagari words whole");
	bare(&o, LANCE_TOKENIZER_WHITESPACE);
	o.ascii_folding = true;
	expect(&o, "«Quoted» “smart” – dash… ½", false, "\"Quoted\"|\"smart\"|-|dash...|1/2",
		   "punctuation folding");
}

static void
test_long_tokens(void)
{
	LanceAnalyzerOptions o;
	char		text[256];

	bare(&o, LANCE_TOKENIZER_SIMPLE);
	o.max_token_length = 40;
	/* 39 bytes kept, 40 dropped (Tantivy keeps len < limit) */
	snprintf(text, sizeof(text), "a %.39s %.40s b",
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			 "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
	expect(&o, text, true, "a@0|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx@1|b@3",
		   "max_token_length counts bytes, drops len >= limit");
	/* 20 two-byte letters = 40 bytes: dropped although 20 characters */
	expect(&o, "éééééééééééééééééééé z", true, "z@1", "limit is in bytes");
	o.max_token_length = 0;
	expect(&o, "éééééééééééééééééééé", true, "éééééééééééééééééééé@0", "0 = no limit");
	o.max_token_length = 3;
	expect(&o, "ab abc abcd", true, "ab@0", "small limit");
}

static void
test_tokenizers(void)
{
	LanceAnalyzerOptions o;
	const char *err = NULL;
	LanceBaseTokenizer k;

	check(lance_tokenizer_from_name("NGram", &k) && k == LANCE_TOKENIZER_NGRAM &&
		  lance_tokenizer_from_name("raw", &k) && k == LANCE_TOKENIZER_RAW &&
		  !lance_tokenizer_from_name("jieba", &k) &&
		  strcmp(lance_tokenizer_name(LANCE_TOKENIZER_WHITESPACE), "whitespace") == 0,
		  "tokenizer names");

	bare(&o, LANCE_TOKENIZER_SIMPLE);
	expect(&o, "e-mail: foo_bar@x.org, x²+½ 3.14 ①②", true,
		   "e@0|mail@1|foo@2|bar@3|x@4|org@5|x²@6|½@7|3@8|14@9|①②@10",
		   "simple splits on non-alphanumerics (numbers of every kind are kept)");

	bare(&o, LANCE_TOKENIZER_WHITESPACE);
	expect(&o, "Hello, happy  tax\xC2\xA0payer!\xE3\x80\x80" "end\t\n", true,
		   "Hello,@0|happy@1|tax@2|payer!@3|end@4", "whitespace (Unicode spaces)");

	bare(&o, LANCE_TOKENIZER_RAW);
	o.lower_case = true;
	expect(&o, "Hello, World!  ", true, "hello, world!  @0", "raw");
	expect(&o, "", true, "", "raw empty");
	lance_analyzer_options_init(&o);
	o.base_tokenizer = LANCE_TOKENIZER_RAW;
	expect(&o, "a raw value of more than forty bytes is dropped", true, "",
		   "raw with the default max_token_length");

	bare(&o, LANCE_TOKENIZER_NGRAM);
	expect(&o, "hello", true, "hel@0|ell@0|llo@0", "ngram 3..3");
	o.ngram_min_length = 2;
	expect(&o, "hello", false, "he|hel|el|ell|ll|llo|lo", "ngram 2..3");
	o.ngram_min_length = 1;
	o.ngram_max_length = 2;
	expect(&o, "hεllo", false, "h|hε|ε|εl|l|ll|l|lo|o", "ngram 1..2 non-ASCII");
	o.ngram_min_length = 2;
	o.ngram_max_length = 5;
	o.ngram_prefix_only = true;
	expect(&o, "frankenstein", false, "fr|fra|fran|frank", "ngram prefix_only");
	expect(&o, "hεllo", false, "hε|hεl|hεll|hεllo", "ngram prefix_only non-ASCII");
	o.ngram_prefix_only = false;
	o.ngram_min_length = 3;
	o.ngram_max_length = 3;
	expect(&o, "ab", false, "", "text shorter than ngram_min_length");
	expect(&o, "ab cd", false, "ab |b c| cd", "ngram spans spaces");
	o.lower_case = true;
	o.ascii_folding = true;
	expect(&o, "ÉTÉ", false, "ete", "ngram then lowercase and fold");

	/* validation */
	lance_analyzer_options_init(&o);
	o.base_tokenizer = LANCE_TOKENIZER_NGRAM;
	o.ngram_min_length = 0;
	check(lance_analyzer_new(&o, &err) == NULL, "ngram_min_length 0 rejected");
	o.ngram_min_length = 3;
	o.ngram_max_length = 256;
	check(lance_analyzer_new(&o, &err) == NULL, "ngram_max_length 256 rejected");
	o.ngram_min_length = 4;
	o.ngram_max_length = 3;
	check(lance_analyzer_new(&o, &err) == NULL && strstr(err, "greater") != NULL,
		  "ngram min > max rejected");
	o.ngram_min_length = 1;
	o.ngram_max_length = 255;
	o.with_position = true;
	check(lance_analyzer_new(&o, &err) == NULL && strstr(err, "with_position") != NULL,
		  "positions with ngram rejected");
	o.base_tokenizer = (LanceBaseTokenizer) 7;
	o.with_position = false;
	check(lance_analyzer_new(&o, &err) == NULL && strstr(err, "tokenizer") != NULL,
		  "unknown tokenizer rejected");
	check(lance_analyzer_new(NULL, &err) == NULL, "NULL options rejected");
}

static void
test_custom_stop_words(void)
{
	LanceAnalyzerOptions o;
	static const char *const words[] = {"fox", "jump", "", "fox"};

	lance_analyzer_options_init(&o);
	o.stop_words = words;
	o.n_stop_words = 4;
	o.custom_stop_words = true;
	expect(&o, "The quick foxes jumped over the lazy dog", true,
		   "the@0|quick@1|over@4|the@5|lazi@6|dog@7", "custom stop list (stems)");
	o.n_stop_words = 0;
	expect(&o, "The fox", false, "the|fox", "remove_stop_words with an empty list");
}

static void
test_positions_and_reuse(void)
{
	LanceAnalyzerOptions o;
	LanceAnalyzer *a;
	LanceTokenArray arr;
	const char *err = NULL;
	uint32_t	np = 99;
	size_t		cap;
	bool		ok;

	lance_analyzer_options_init(&o);
	o.remove_stop_words = false;
	a = lance_analyzer_new(&o, &err);
	lance_token_array_init(&arr, NULL, NULL);
	ok = lance_analyze(a, "alpha beta", 10, 0, &arr, &np, &err);
	check(ok && np == 2 && arr.ntokens == 2, "n_positions of the first value");
	ok = lance_analyze(a, "gamma , delta", 13, np + 1, &arr, &np, &err);
	check(ok && np == 2 && arr.ntokens == 4 && arr.tokens[2].position == 3 &&
		  arr.tokens[3].position == 4 && strcmp(lance_token_text(&arr, 3), "delta") == 0,
		  "second value appended after a gap");
	ok = lance_analyze(a, "!!", 2, 7, &arr, &np, &err);
	check(ok && np == 0 && arr.ntokens == 4, "value without tokens");
	cap = arr.bytes_cap;
	lance_token_array_reset(&arr);
	ok = lance_analyze(a, "again", 5, 0, &arr, NULL, &err);
	check(ok && arr.ntokens == 1 && arr.bytes_cap == cap &&
		  strcmp(lance_token_text(&arr, 0), "again") == 0, "reset keeps the memory");
	lance_token_array_free(&arr);
	lance_analyzer_free(a);
}

static void
test_invalid_utf8(void)
{
	LanceAnalyzerOptions o;
	LanceBaseTokenizer kinds[] = {LANCE_TOKENIZER_SIMPLE, LANCE_TOKENIZER_WHITESPACE,
	LANCE_TOKENIZER_RAW, LANCE_TOKENIZER_NGRAM};
	unsigned char buf[512];
	int			k,
				iter;
	bool		all_valid = true;
	bool		all_ok = true;
	bool		positions_ok = true;

	bare(&o, LANCE_TOKENIZER_SIMPLE);
	expect(&o, "ab\xFF" "cd\xE2\x82", true, "ab@0|cd@1", "invalid bytes separate simple tokens");
	bare(&o, LANCE_TOKENIZER_WHITESPACE);
	expect(&o, "ab\xFF" "cd \xC0\xAF", true, "ab\xEF\xBF\xBD" "cd@0|\xEF\xBF\xBD\xEF\xBF\xBD@1",
		   "invalid bytes become U+FFFD in whitespace tokens");
	expect(&o, "\xED\xA0\x80 \xF4\x90\x80\x80", false,
		   "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
		   "surrogates and code points above U+10FFFF rejected");

	for (k = 0; k < 4; k++)
	{
		LanceAnalyzer *a;
		LanceTokenArray arr;
		const char *err = NULL;

		lance_analyzer_options_init(&o);
		o.base_tokenizer = kinds[k];
		o.ngram_min_length = 1;
		o.ngram_max_length = 4;
		o.max_token_length = 0;
		a = lance_analyzer_new(&o, &err);
		lance_token_array_init(&arr, NULL, NULL);
		for (iter = 0; iter < 3000; iter++)
		{
			size_t		len = rng_next() % sizeof(buf);
			size_t		i;
			uint32_t	t;
			uint64_t	mode = rng_next() % 3;

			for (i = 0; i < len; i++)
			{
				uint64_t	r = rng_next();

				/* mix of random bytes, lead/continuation bytes and ASCII */
				if (mode == 0)
					buf[i] = (unsigned char) r;
				else if (mode == 1)
					buf[i] = (unsigned char) (0x80 | (r & 0x7F));
				else
					buf[i] = (r & 3) ? (unsigned char) ('a' + r % 26) : (unsigned char) (r >> 8);
			}
			lance_token_array_reset(&arr);
			if (!lance_analyze(a, (const char *) buf, len, 0, &arr, NULL, &err))
			{
				all_ok = false;
				continue;
			}
			for (t = 0; t < arr.ntokens; t++)
			{
				if (!valid_utf8((const unsigned char *) lance_token_text(&arr, t), arr.tokens[t].len) ||
					strlen(lance_token_text(&arr, t)) > arr.tokens[t].len)
					all_valid = false;
				if (t > 0 && arr.tokens[t].position < arr.tokens[t - 1].position)
					positions_ok = false;
			}
		}
		lance_token_array_free(&arr);
		lance_analyzer_free(a);
	}
	check(all_ok, "random bytes analysed without error");
	check(all_valid, "tokens from random bytes are valid UTF-8");
	check(positions_ok, "positions never decrease");
}

static bool
options_equal(const LanceAnalyzerOptions *a, const LanceAnalyzerOptions *b)
{
	uint32_t	i;

	if (a->base_tokenizer != b->base_tokenizer || strcmp(a->language, b->language) != 0 ||
		a->with_position != b->with_position || a->max_token_length != b->max_token_length ||
		a->lower_case != b->lower_case || a->stem != b->stem ||
		a->remove_stop_words != b->remove_stop_words || a->ascii_folding != b->ascii_folding ||
		a->ngram_min_length != b->ngram_min_length || a->ngram_max_length != b->ngram_max_length ||
		a->ngram_prefix_only != b->ngram_prefix_only || a->custom_stop_words != b->custom_stop_words ||
		a->n_stop_words != b->n_stop_words)
		return false;
	for (i = 0; i < a->n_stop_words; i++)
		if (strcmp(a->stop_words[i], b->stop_words[i]) != 0)
			return false;
	return true;
}

static void
test_serialization(void)
{
	LanceAnalyzerOptions o,
				d;
	static const char *const words[] = {"alpha", "βeta", ""};
	unsigned char buf[8192];
	unsigned char *copy;
	size_t		n,
				n2,
				i;
	const char *err = NULL;
	bool		trunc_ok = true;
	bool		flip_ok = true;
	int			bit;

	lance_analyzer_options_init(&o);
	load_stop(&o, "english");
	n = lance_analyzer_options_encode(&o, NULL, 0);
	n2 = lance_analyzer_options_encode(&o, buf, sizeof(buf));
	check(n > 0 && n == n2 && n < 1024, "encode sizes (defaults + english list < 1 KB)");
	memset(&d, 0, sizeof(d));
	check(lance_analyzer_options_decode(buf, n, &d, &err) && options_equal(&o, &d),
		  "defaults round trip");
	lance_analyzer_options_release(&d);
	lance_analyzer_options_release(&o);

	lance_analyzer_options_init(&o);
	o.base_tokenizer = LANCE_TOKENIZER_NGRAM;
	strcpy(o.language, "russian");
	o.max_token_length = 1000000;
	o.lower_case = false;
	o.stem = false;
	o.ascii_folding = false;
	o.ngram_min_length = 2;
	o.ngram_max_length = 255;
	o.ngram_prefix_only = true;
	o.stop_words = words;
	o.n_stop_words = 3;
	o.custom_stop_words = true;
	n = lance_analyzer_options_encode(&o, buf, sizeof(buf));
	d.alloc = count_alloc;
	d.release = count_release;
	n_live = 0;
	check(lance_analyzer_options_decode(buf, n, &d, &err) && options_equal(&o, &d) &&
		  n_live == 1, "custom options round trip (one block from the allocator)");
	lance_analyzer_options_release(&d);
	check(n_live == 0, "decoded block released");
	check(lance_analyzer_options_encode(&o, buf, n - 1) == n, "short buffer: size only");

	/* every truncation and every bit flip is rejected, reading in bounds */
	n = lance_analyzer_options_encode(&o, buf, sizeof(buf));
	for (i = 0; i < n; i++)
	{
		copy = malloc(i > 0 ? i : 1);
		memcpy(copy, buf, i);
		if (lance_analyzer_options_decode(copy, i, &d, &err))
		{
			trunc_ok = false;
			lance_analyzer_options_release(&d);
		}
		free(copy);
	}
	check(trunc_ok, "every truncation rejected");
	copy = malloc(n);
	for (i = 0; i < n; i++)
	{
		for (bit = 0; bit < 8; bit++)
		{
			memcpy(copy, buf, n);
			copy[i] ^= (unsigned char) (1 << bit);
			if (lance_analyzer_options_decode(copy, n, &d, &err))
			{
				flip_ok = false;
				lance_analyzer_options_release(&d);
			}
		}
	}
	check(flip_ok, "every bit flip rejected");
	free(copy);
	memcpy(buf + 4, "\x02", 1);
	check(!lance_analyzer_options_decode(buf, n, &d, &err) && strstr(err, "version") != NULL,
		  "future version rejected");
	for (i = 0; i < 2000; i++)
	{
		size_t		len = rng_next() % 200;
		size_t		j;

		copy = malloc(len + 1);
		for (j = 0; j < len; j++)
			copy[j] = (unsigned char) rng_next();
		if (len >= 4)
			memcpy(copy, "LTXA", 4);
		if (lance_analyzer_options_decode(copy, len, &d, &err))
		{
			flip_ok = false;
			lance_analyzer_options_release(&d);
		}
		free(copy);
	}
	check(flip_ok, "random buffers rejected");
	o.language[0] = '\0';
	check(lance_analyzer_options_encode(&o, buf, sizeof(buf)) == 0, "empty language not encoded");
}

static void
test_stopword_files(void)
{
	LanceAnalyzerOptions o;
	const char *err = NULL;
	char		path[] = "/tmp/test_analyzer_stopXXXXXX";
	int			fd;
	FILE	   *f;
	DIR		   *dir;
	struct dirent *de;
	char		dpath[1200];
	int			nfiles = 0,
				nloaded = 0;

	lance_analyzer_options_init(&o);
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fputs("\xEF\xBB\xBFThe extra words\r\n\n  indented\nÉTÉ\nfoo\tbar\nlast", f);
	fclose(f);
	check(lance_load_stopwords_file(path, &o, &err) && o.n_stop_words == 4 &&
		  strcmp(o.stop_words[0], "the") == 0 && strcmp(o.stop_words[1], "été") == 0 &&
		  strcmp(o.stop_words[2], "foo") == 0 && strcmp(o.stop_words[3], "last") == 0,
		  "stop file parsing: BOM, CRLF, first word, lowercase, indented line skipped");
	f = fopen(path, "w");
	fputs("ok\nbad\xFF\n", f);
	fclose(f);
	check(!lance_load_stopwords_file(path, &o, &err) && strstr(err, "UTF-8") != NULL &&
		  o.n_stop_words == 4, "invalid UTF-8 stop file rejected, options unchanged");
	unlink(path);
	errno = 0;
	check(!lance_load_stopwords_file("/nonexistent/x.stop", &o, &err) && errno == ENOENT,
		  "missing stop file: error and errno");
	lance_analyzer_options_release(&o);

	/* every list PostgreSQL ships loads */
	snprintf(dpath, sizeof(dpath), "%s/tsearch_data", sharedir);
	dir = opendir(dpath);
	while (dir != NULL && (de = readdir(dir)) != NULL)
	{
		size_t		l = strlen(de->d_name);
		char		lang[64];

		if (l < 6 || l > 40 || strcmp(de->d_name + l - 5, ".stop") != 0)
			continue;
		nfiles++;
		memcpy(lang, de->d_name, l - 5);
		lang[l - 5] = '\0';
		lance_analyzer_options_init(&o);
		if (load_stop(&o, lang) && o.n_stop_words > 0)
			nloaded++;
		lance_analyzer_options_release(&o);
	}
	if (dir != NULL)
		closedir(dir);
	check(nfiles >= 15 && nloaded == nfiles, "all PostgreSQL stop lists load");
}

#define ALLOC_TEXT "Ünïcödé \xFF text, with some words that grow the arrays"

static void
test_allocator(void)
{
	LanceAnalyzerOptions o;
	LanceAnalyzer *a;
	LanceTokenArray arr;
	const char *err = NULL;
	int			i;

	n_live = 0;
	n_allocs = 0;
	lance_analyzer_options_init(&o);
	o.alloc = count_alloc;
	o.release = count_release;
	load_stop(&o, "english");
	a = lance_analyzer_new(&o, &err);
	lance_token_array_init(&arr, count_alloc, count_release);
	for (i = 0; i < 200; i++)
		lance_analyze(a, ALLOC_TEXT, strlen(ALLOC_TEXT),
					  (uint32_t) i * 20, &arr, NULL, &err);
	check(arr.ntokens == 200 * 5 && strcmp(lance_token_text(&arr, 5), "unicode") == 0,
		  "tokens accumulate across calls");
	lance_token_array_free(&arr);
	lance_analyzer_free(a);
	lance_analyzer_options_release(&o);
	check(n_allocs > 0 && n_live == 0, "allocator hooks used and balanced");
}

/*
 * The analyzer caches filter results once it has seen enough tokens: a
 * long-lived analyzer must give exactly what fresh analyzers (which never
 * get that far) give, chunk by chunk.
 */
static void
test_cache_consistency(void)
{
	LanceAnalyzerOptions o;
	LanceAnalyzer *warm;
	LanceTokenArray aw,
				af;
	const char *err = NULL;
	char	   *text = malloc(300000);
	size_t		len = 0;
	size_t		off;
	bool		same = true;
	FILE	   *f = fopen("/usr/share/common-licenses/GPL-3", "rb");
	static const char *const extra = " Ünïcödé Crème brûlée İstanbul 我爱北京 ";

	if (f != NULL)
	{
		len = fread(text, 1, 200000, f);
		fclose(f);
	}
	for (off = 0; off < 200; off++)
	{
		memcpy(text + len, extra, strlen(extra));
		len += strlen(extra);
	}
	lance_analyzer_options_init(&o);
	load_stop(&o, "english");
	warm = lance_analyzer_new(&o, &err);
	lance_token_array_init(&aw, NULL, NULL);
	lance_token_array_init(&af, NULL, NULL);
	for (off = 0; off < len; off += 256)
	{
		size_t		l = len - off < 256 ? len - off : 256;
		LanceAnalyzer *fresh = lance_analyzer_new(&o, &err);

		lance_analyze(warm, text + off, l, (uint32_t) off, &aw, NULL, &err);
		lance_analyze(fresh, text + off, l, (uint32_t) off, &af, NULL, &err);
		lance_analyzer_free(fresh);
	}
	same = aw.ntokens == af.ntokens && aw.nbytes == af.nbytes &&
		memcmp(aw.bytes, af.bytes, aw.nbytes) == 0 &&
		memcmp(aw.tokens, af.tokens, aw.ntokens * sizeof(LanceToken)) == 0;
	printf("# cache test: %u tokens\n", aw.ntokens);
	check(aw.ntokens > 3000 && same, "cached filter results equal uncached ones");
	if (!same)
	{
		uint32_t	i;

		printf("#   %u vs %u tokens\n", aw.ntokens, af.ntokens);
		for (i = 0; i < aw.ntokens && i < af.ntokens; i++)
			if (strcmp(lance_token_text(&aw, i), lance_token_text(&af, i)) != 0 ||
				aw.tokens[i].position != af.tokens[i].position)
			{
				printf("#   token %u: %s@%u vs %s@%u\n", i, lance_token_text(&aw, i),
					   aw.tokens[i].position, lance_token_text(&af, i), af.tokens[i].position);
				break;
			}
	}
	lance_token_array_free(&aw);
	lance_token_array_free(&af);
	lance_analyzer_free(warm);
	lance_analyzer_options_release(&o);
	free(text);
}

/* ------------------------------------------------------------------ */

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
bench_one(const char *label, const LanceAnalyzerOptions *o, const char *text,
		  size_t len)
{
	const char *err = NULL;
	LanceAnalyzer *a = lance_analyzer_new(o, &err);
	LanceTokenArray arr;
	double		t0,
				t;
	size_t		off;
	uint64_t	ntok = 0;
	int			rep = 0;

	lance_token_array_init(&arr, NULL, NULL);
	t0 = now_sec();
	do
	{
		/* documents of about 4 KB, as rows would be */
		for (off = 0; off < len; off += 4096)
		{
			size_t		l = len - off < 4096 ? len - off : 4096;

			lance_token_array_reset(&arr);
			lance_analyze(a, text + off, l, 0, &arr, NULL, &err);
			ntok += arr.ntokens;
		}
		rep++;
		t = now_sec() - t0;
	} while (t < 0.5);
	printf("# throughput %-28s %7.1f MB/s  %6.2f M tokens/s\n", label,
		   (double) len * rep / t / 1e6, ntok / t / 1e6);
	lance_token_array_free(&arr);
	lance_analyzer_free(a);
}

static void
bench(void)
{
	DIR		   *dir = opendir("/usr/share/common-licenses");
	struct dirent *de;
	char	   *text = malloc(8 << 20);
	size_t		len = 0;
	size_t		base;
	LanceAnalyzerOptions o;
	static const char *const mixed[] = {
		"Die Häuser und Bäume am Straßenrand waren schön. ",
		"Les chevaux mangeaient de l'herbe près de la rivière. ",
		"Красивые кошки бегали по улице весь день. ",
		"我爱北京天安门，東京とニューヨーク。 ",
	};
	int			m = 0;

	while (dir != NULL && (de = readdir(dir)) != NULL)
	{
		char		p[512];
		FILE	   *f;

		snprintf(p, sizeof(p), "/usr/share/common-licenses/%s", de->d_name);
		f = fopen(p, "rb");
		if (f == NULL)
			continue;
		len += fread(text + len, 1, (1 << 20) - len, f);
		fclose(f);
	}
	if (dir != NULL)
		closedir(dir);
	if (len == 0)
	{
		printf("# no /usr/share/common-licenses: throughput skipped\n");
		free(text);
		return;
	}
	base = len;
	while (len + base <= (4u << 20))
	{
		memcpy(text + len, text, base);
		len += base;
	}
	printf("# %.1f MB of English text (/usr/share/common-licenses, repeated)\n", len / 1e6);
	lance_analyzer_options_init(&o);
	load_stop(&o, "english");
	bench_one("defaults (english)", &o, text, len);
	o.with_position = true;
	bench_one("defaults + with_position", &o, text, len);
	o.stem = false;
	bench_one("no stemming", &o, text, len);
	bare(&o, LANCE_TOKENIZER_SIMPLE);
	bench_one("simple tokenizer only", &o, text, len);
	lance_analyzer_options_release(&o);

	len = 0;
	while (len < (4u << 20))
	{
		size_t		l = strlen(mixed[m % 4]);

		memcpy(text + len, mixed[m % 4], l);
		len += l;
		m++;
	}
	lance_analyzer_options_init(&o);
	bench_one("defaults, mixed non-ASCII", &o, text, len);
	free(text);
}

int
main(int argc, char **argv)
{
	find_sharedir();
	test_defaults();
	test_languages();
	test_folding();
	test_long_tokens();
	test_tokenizers();
	test_custom_stop_words();
	test_positions_and_reuse();
	test_invalid_utf8();
	test_serialization();
	test_stopword_files();
	test_allocator();
	test_cache_consistency();
	if (argc < 2 || strcmp(argv[1], "--no-bench") != 0)
		bench();
	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed == 0 ? 0 : 1;
}
