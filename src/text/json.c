/*
 * json.c
 *	  Strict JSON parser and arena allocator; see json.h for the rules.
 */
#include "text/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_MIN_CHUNK 4096

/*
 * Under AddressSanitizer give every allocation its own chunk, so that an
 * overrun of one arena object is caught instead of landing in the next.
 */
#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ONE_PER_CHUNK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ONE_PER_CHUNK 1
#endif
#endif
#define JSON_MAX_NUMBER_LEN 400

struct LanceArenaChunk
{
	LanceArenaChunk *next;
	/* payload follows, max-aligned */
};

#define CHUNK_HEADER_SIZE \
	((sizeof(LanceArenaChunk) + 15) & ~(size_t) 15)

void *
lance_mem_alloc(const LanceMem *mem, size_t size)
{
	if (mem != NULL && mem->alloc != NULL)
		return mem->alloc(size);
	return malloc(size);
}

void
lance_mem_release(const LanceMem *mem, void *ptr)
{
	if (ptr == NULL)
		return;
	if (mem != NULL && mem->release != NULL)
		mem->release(ptr);
	else if (mem == NULL || mem->alloc == NULL)
		free(ptr);
	/* alloc hook without release hook: memory belongs to the caller's pool */
}

void
lance_arena_init(LanceArena *arena, const LanceMem *mem)
{
	if (mem != NULL)
		arena->mem = *mem;
	else
	{
		arena->mem.alloc = NULL;
		arena->mem.release = NULL;
	}
	arena->chunks = NULL;
	arena->used = 0;
	arena->cap = 0;
}

void *
lance_arena_alloc(LanceArena *arena, size_t size)
{
	size_t		need = (size + 15) & ~(size_t) 15;
	char	   *p;

	if (size > ((size_t) 1 << 40))
		return NULL;
#ifdef ARENA_ONE_PER_CHUNK
	{
		LanceArenaChunk *chunk = lance_mem_alloc(&arena->mem,
												 CHUNK_HEADER_SIZE + size);

		if (chunk == NULL)
			return NULL;
		chunk->next = arena->chunks;
		arena->chunks = chunk;
		arena->cap = arena->used = 0;
		return (char *) chunk + CHUNK_HEADER_SIZE;
	}
#endif
	if (arena->chunks == NULL || arena->cap - arena->used < need)
	{
		/* double the chunk size as the arena grows, bounded by the request */
		size_t		cap = arena->cap * 2;
		LanceArenaChunk *chunk;

		if (cap < ARENA_MIN_CHUNK)
			cap = ARENA_MIN_CHUNK;
		if (cap > 1024 * 1024)
			cap = 1024 * 1024;
		if (cap < need)
			cap = need;
		chunk = lance_mem_alloc(&arena->mem, CHUNK_HEADER_SIZE + cap);
		if (chunk == NULL)
			return NULL;
		chunk->next = arena->chunks;
		arena->chunks = chunk;
		arena->cap = cap;
		arena->used = 0;
	}
	p = (char *) arena->chunks + CHUNK_HEADER_SIZE + arena->used;
	arena->used += need;
	return p;
}

char *
lance_arena_strndup(LanceArena *arena, const char *s, size_t len)
{
	char	   *p = lance_arena_alloc(arena, len + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
lance_arena_free(LanceArena *arena)
{
	LanceArenaChunk *c = arena->chunks;

	while (c != NULL)
	{
		LanceArenaChunk *next = c->next;

		lance_mem_release(&arena->mem, c);
		c = next;
	}
	arena->chunks = NULL;
	arena->used = 0;
	arena->cap = 0;
}

int
lance_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c;
	uint32_t	v;
	int			len;
	int			i;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	else if (c >= 0xC2 && c <= 0xDF)
	{
		len = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		v = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		v = c & 0x07;
	}
	else
		return 0;				/* continuation byte, C0/C1 or F5..FF */
	if ((size_t) len > n)
		return 0;
	for (i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
		v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

const char *
lance_json_type_name(LanceJsonType type)
{
	switch (type)
	{
		case LJ_NULL:
			return "null";
		case LJ_FALSE:
		case LJ_TRUE:
			return "boolean";
		case LJ_NUMBER:
			return "number";
		case LJ_STRING:
			return "string";
		case LJ_ARRAY:
			return "array";
		case LJ_OBJECT:
			return "object";
	}
	return "unknown";
}

typedef struct JsonParser
{
	LanceArena *arena;
	const unsigned char *s;
	size_t		len;
	size_t		pos;
	char	   *errbuf;
	size_t		errlen;
	bool		failed;
} JsonParser;

static void json_error(JsonParser *p, size_t pos, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
json_error(JsonParser *p, size_t pos, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (p->failed)
		return;
	p->failed = true;
	if (p->errbuf == NULL || p->errlen == 0)
		return;
	n = snprintf(p->errbuf, p->errlen, "invalid JSON at position %zu: ",
				 pos + 1);
	if (n < 0 || (size_t) n >= p->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(p->errbuf + n, p->errlen - n, fmt, ap);
	va_end(ap);
}

/* Describe the byte at pos for error messages. */
static const char *
json_describe(JsonParser *p, size_t pos, char *buf, size_t buflen)
{
	unsigned char c;

	if (pos >= p->len)
		return "end of input";
	c = p->s[pos];
	if (c >= 0x21 && c < 0x7F)
		snprintf(buf, buflen, "character '%c'", c);
	else
		snprintf(buf, buflen, "byte 0x%02X", c);
	return buf;
}

static void
json_skip_ws(JsonParser *p)
{
	while (p->pos < p->len)
	{
		unsigned char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static LanceJson *
json_new(JsonParser *p, LanceJsonType type, size_t pos)
{
	LanceJson  *v = lance_arena_alloc(p->arena, sizeof(LanceJson));

	if (v == NULL)
	{
		json_error(p, pos, "out of memory");
		return NULL;
	}
	memset(v, 0, sizeof(LanceJson));
	v->type = type;
	v->pos = pos;
	return v;
}

static int
json_hex4(JsonParser *p, size_t pos, uint32_t *out)
{
	uint32_t	v = 0;
	int			i;

	if (pos + 4 > p->len)
		return -1;
	for (i = 0; i < 4; i++)
	{
		unsigned char c = p->s[pos + i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Parse a string starting at the opening quote.  Two passes: the first
 * validates and measures, so the copy is allocated once at its exact size
 * (the decoded form is never longer than the source).
 */
static bool
json_parse_string(JsonParser *p, char **out, size_t *outlen)
{
	size_t		start = p->pos;
	size_t		i = p->pos + 1;
	size_t		end;
	char	   *buf;
	size_t		n = 0;
	char		desc[32];

	/* pass 1: find the closing quote, validating as we go */
	for (;;)
	{
		unsigned char c;

		if (i >= p->len)
		{
			json_error(p, start, "unterminated string");
			return false;
		}
		c = p->s[i];
		if (c == '"')
			break;
		if (c < 0x20)
		{
			json_error(p, i, "unescaped control character 0x%02X in string", c);
			return false;
		}
		if (c == '\\')
		{
			unsigned char e;
			uint32_t	u;

			if (i + 1 >= p->len)
			{
				json_error(p, start, "unterminated string");
				return false;
			}
			e = p->s[i + 1];
			switch (e)
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					i += 2;
					break;
				case 'u':
					if (json_hex4(p, i + 2, &u) < 0)
					{
						json_error(p, i, "invalid \\u escape (expected 4 hex digits)");
						return false;
					}
					if (u == 0)
					{
						json_error(p, i, "\\u0000 is not allowed in strings");
						return false;
					}
					if (u >= 0xDC00 && u <= 0xDFFF)
					{
						json_error(p, i, "unpaired low surrogate \\u%04X", u);
						return false;
					}
					if (u >= 0xD800 && u <= 0xDBFF)
					{
						uint32_t	lo;

						if (i + 12 > p->len || p->s[i + 6] != '\\' ||
							p->s[i + 7] != 'u' ||
							json_hex4(p, i + 8, &lo) < 0 ||
							lo < 0xDC00 || lo > 0xDFFF)
						{
							json_error(p, i, "high surrogate \\u%04X not followed by a low surrogate", u);
							return false;
						}
						i += 12;
					}
					else
						i += 6;
					break;
				default:
					json_error(p, i, "invalid escape %s after '\\'",
							   json_describe(p, i + 1, desc, sizeof(desc)));
					return false;
			}
			continue;
		}
		if (c < 0x80)
			i++;
		else
		{
			uint32_t	cp;
			int			l = lance_utf8_decode(p->s + i, p->len - i, &cp);

			if (l == 0)
			{
				json_error(p, i, "invalid UTF-8 in string");
				return false;
			}
			i += l;
		}
	}
	end = i;

	/* pass 2: decode */
	buf = lance_arena_alloc(p->arena, end - start);
	if (buf == NULL)
	{
		json_error(p, start, "out of memory");
		return false;
	}
	for (i = start + 1; i < end;)
	{
		unsigned char c = p->s[i];

		if (c != '\\')
		{
			buf[n++] = (char) c;
			i++;
			continue;
		}
		switch (p->s[i + 1])
		{
			case 'b':
				buf[n++] = '\b';
				break;
			case 'f':
				buf[n++] = '\f';
				break;
			case 'n':
				buf[n++] = '\n';
				break;
			case 'r':
				buf[n++] = '\r';
				break;
			case 't':
				buf[n++] = '\t';
				break;
			case 'u':
				{
					uint32_t	u = 0;

					(void) json_hex4(p, i + 2, &u);
					if (u >= 0xD800 && u <= 0xDBFF)
					{
						uint32_t	lo = 0xDC00;

						(void) json_hex4(p, i + 8, &lo);
						u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					}
					n += utf8_encode(u, buf + n);
					i += 6;
					continue;
				}
			default:			/* '"', '\\', '/' */
				buf[n++] = (char) p->s[i + 1];
				break;
		}
		i += 2;
	}
	buf[n] = '\0';
	p->pos = end + 1;
	*out = buf;
	*outlen = n;
	return true;
}

static LanceJson *
json_parse_number(JsonParser *p)
{
	size_t		start = p->pos;
	size_t		i = start;
	bool		is_integer = true;
	bool		overflow = false;
	uint64_t	mag = 0;
	char		tmp[JSON_MAX_NUMBER_LEN + 1];
	char	   *endp;
	double		d;
	LanceJson  *v;
	char		desc[32];

	if (p->s[i] == '-')
		i++;
	if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
	{
		json_error(p, i, "expected a digit, found %s",
				   json_describe(p, i, desc, sizeof(desc)));
		return NULL;
	}
	if (p->s[i] == '0')
	{
		i++;
		if (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
		{
			json_error(p, start, "leading zeros are not allowed in numbers");
			return NULL;
		}
	}
	else
	{
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
		{
			unsigned	dgt = p->s[i] - '0';

			if (mag > (UINT64_MAX - dgt) / 10)
				overflow = true;
			else
				mag = mag * 10 + dgt;
			i++;
		}
	}
	if (i < p->len && p->s[i] == '.')
	{
		is_integer = false;
		i++;
		if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
		{
			json_error(p, i, "expected a digit after '.', found %s",
					   json_describe(p, i, desc, sizeof(desc)));
			return NULL;
		}
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E'))
	{
		is_integer = false;
		i++;
		if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
		{
			json_error(p, i, "expected a digit in exponent, found %s",
					   json_describe(p, i, desc, sizeof(desc)));
			return NULL;
		}
		while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
			i++;
	}
	if (i - start > JSON_MAX_NUMBER_LEN)
	{
		json_error(p, start, "number too long");
		return NULL;
	}
	/* strtod needs a terminated copy; the backend runs with LC_NUMERIC=C */
	memcpy(tmp, p->s + start, i - start);
	tmp[i - start] = '\0';
	d = strtod(tmp, &endp);
	if (*endp != '\0' || !isfinite(d))
	{
		json_error(p, start, "number out of range");
		return NULL;
	}
	v = json_new(p, LJ_NUMBER, start);
	if (v == NULL)
		return NULL;
	v->u.num.value = d;
	v->u.num.is_integer = is_integer;
	v->u.num.negative = (p->s[start] == '-');
	v->u.num.overflow = overflow;
	v->u.num.magnitude = mag;
	p->pos = i;
	return v;
}

static bool
json_literal(JsonParser *p, const char *word)
{
	size_t		l = strlen(word);

	if (p->len - p->pos >= l && memcmp(p->s + p->pos, word, l) == 0)
	{
		p->pos += l;
		return true;
	}
	return false;
}

static LanceJson *json_parse_value(JsonParser *p, int depth);

static LanceJson *
json_parse_array(JsonParser *p, int depth)
{
	LanceJson  *arr = json_new(p, LJ_ARRAY, p->pos);
	LanceJson **tail;
	char		desc[32];

	if (arr == NULL)
		return NULL;
	tail = &arr->u.arr.first;
	p->pos++;					/* '[' */
	json_skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']')
	{
		p->pos++;
		return arr;
	}
	for (;;)
	{
		LanceJson  *item = json_parse_value(p, depth + 1);

		if (item == NULL)
			return NULL;
		*tail = item;
		tail = &item->next;
		arr->u.arr.count++;
		json_skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',')
		{
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']')
		{
			p->pos++;
			return arr;
		}
		json_error(p, p->pos, "expected ',' or ']' in array, found %s",
				   json_describe(p, p->pos, desc, sizeof(desc)));
		return NULL;
	}
}

static LanceJson *
json_parse_object(JsonParser *p, int depth)
{
	LanceJson  *obj = json_new(p, LJ_OBJECT, p->pos);
	LanceJsonMember **tail;
	char		desc[32];

	if (obj == NULL)
		return NULL;
	tail = &obj->u.obj.first;
	p->pos++;					/* '{' */
	json_skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}')
	{
		p->pos++;
		return obj;
	}
	for (;;)
	{
		LanceJsonMember *m;
		char	   *key;
		size_t		keylen;
		size_t		keypos = p->pos;

		if (p->pos >= p->len || p->s[p->pos] != '"')
		{
			json_error(p, p->pos, "expected a string key in object, found %s",
					   json_describe(p, p->pos, desc, sizeof(desc)));
			return NULL;
		}
		if (!json_parse_string(p, &key, &keylen))
			return NULL;
		json_skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
		{
			json_error(p, p->pos, "expected ':' after object key, found %s",
					   json_describe(p, p->pos, desc, sizeof(desc)));
			return NULL;
		}
		p->pos++;
		m = lance_arena_alloc(p->arena, sizeof(LanceJsonMember));
		if (m == NULL)
		{
			json_error(p, keypos, "out of memory");
			return NULL;
		}
		m->key = key;
		m->keylen = keylen;
		m->keypos = keypos;
		m->next = NULL;
		m->value = json_parse_value(p, depth + 1);
		if (m->value == NULL)
			return NULL;
		*tail = m;
		tail = &m->next;
		obj->u.obj.count++;
		json_skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',')
		{
			p->pos++;
			json_skip_ws(p);
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}')
		{
			p->pos++;
			return obj;
		}
		json_error(p, p->pos, "expected ',' or '}' in object, found %s",
				   json_describe(p, p->pos, desc, sizeof(desc)));
		return NULL;
	}
}

static LanceJson *
json_parse_value(JsonParser *p, int depth)
{
	size_t		start;
	unsigned char c;
	LanceJson  *v;
	char		desc[32];

	json_skip_ws(p);
	start = p->pos;
	if (p->pos >= p->len)
	{
		json_error(p, p->pos, "unexpected end of input");
		return NULL;
	}
	c = p->s[p->pos];
	switch (c)
	{
		case '{':
		case '[':
			if (depth >= LANCE_JSON_MAX_DEPTH)
			{
				json_error(p, start, "nesting deeper than %d levels",
						   LANCE_JSON_MAX_DEPTH);
				return NULL;
			}
			return (c == '{') ? json_parse_object(p, depth)
				: json_parse_array(p, depth);
		case '"':
			v = json_new(p, LJ_STRING, start);
			if (v == NULL ||
				!json_parse_string(p, &v->u.str.str, &v->u.str.len))
				return NULL;
			return v;
		case 't':
			if (json_literal(p, "true"))
				return json_new(p, LJ_TRUE, start);
			break;
		case 'f':
			if (json_literal(p, "false"))
				return json_new(p, LJ_FALSE, start);
			break;
		case 'n':
			if (json_literal(p, "null"))
				return json_new(p, LJ_NULL, start);
			break;
		default:
			if (c == '-' || (c >= '0' && c <= '9'))
				return json_parse_number(p);
			break;
	}
	json_error(p, start, "unexpected %s",
			   json_describe(p, start, desc, sizeof(desc)));
	return NULL;
}

LanceJson *
lance_json_parse(LanceArena *arena, const char *text, size_t len,
				 size_t max_size, char *errbuf, size_t errlen)
{
	JsonParser	p;
	LanceJson  *root;
	char		desc[32];

	p.arena = arena;
	p.s = (const unsigned char *) text;
	p.len = len;
	p.pos = 0;
	p.errbuf = errbuf;
	p.errlen = errlen;
	p.failed = false;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (max_size == 0)
		max_size = LANCE_JSON_DEFAULT_MAX_SIZE;
	if (len > max_size)
	{
		json_error(&p, max_size, "input longer than %zu bytes", max_size);
		return NULL;
	}
	root = json_parse_value(&p, 0);
	if (root == NULL)
		return NULL;
	json_skip_ws(&p);
	if (p.pos < p.len)
	{
		json_error(&p, p.pos, "unexpected %s after the JSON value",
				   json_describe(&p, p.pos, desc, sizeof(desc)));
		return NULL;
	}
	return root;
}
