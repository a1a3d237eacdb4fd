/*
 * json.h
 *	  Strict JSON parser (RFC 8259) into a small DOM, plus the arena that the
 *	  full-text query code allocates from.
 *
 * Plain C, no PostgreSQL headers: memory comes from caller hooks (palloc /
 * pfree in the backend; malloc / free when the hooks are NULL), and the
 * parser never exits: errors come back as "invalid JSON at position N: ..."
 * where N is the 1-based byte offset of the offending character.
 *
 * Strictness choices:
 *	- the input must be valid UTF-8; strings may not contain raw control
 *	  characters; \uXXXX escapes must pair surrogates correctly; \u0000 is
 *	  rejected because the DOM hands out NUL-terminated strings;
 *	- numbers follow the JSON grammar exactly (no leading '+', no leading
 *	  zeros, no bare '.', no NaN/Infinity) and must fit in a double;
 *	- nesting deeper than LANCE_JSON_MAX_DEPTH and inputs longer than the
 *	  caller's size limit are rejected before any deep recursion;
 *	- duplicate object keys are kept here; the schema layer above
 *	  (ftsquery.c) rejects them, as serde does for LanceDB's structs.
 */
#ifndef LANCE_TEXT_JSON_H
#define LANCE_TEXT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LANCE_JSON_MAX_DEPTH 64
#define LANCE_JSON_DEFAULT_MAX_SIZE (1024 * 1024)

/*
 * Caller memory hooks; a NULL struct or NULL alloc means malloc/free.  An
 * alloc hook without a release hook (palloc in a short-lived context) is
 * fine: nothing is freed and the caller's context reclaims it.
 */
typedef struct LanceMem
{
	void	   *(*alloc) (size_t size);	/* may return NULL or longjmp */
	void		(*release) (void *ptr);
} LanceMem;

/* Bump allocator: everything is released at once by lance_arena_free. */
typedef struct LanceArenaChunk LanceArenaChunk;
typedef struct LanceArena
{
	LanceMem	mem;
	LanceArenaChunk *chunks;
	size_t		used;			/* bytes used in the current chunk */
	size_t		cap;			/* capacity of the current chunk */
} LanceArena;

extern void lance_arena_init(LanceArena *arena, const LanceMem *mem);
extern void *lance_arena_alloc(LanceArena *arena, size_t size);	/* NULL on OOM */
extern char *lance_arena_strndup(LanceArena *arena, const char *s, size_t len);
extern void lance_arena_free(LanceArena *arena);

/* Plain allocation through the hooks (used for results that outlive arenas). */
extern void *lance_mem_alloc(const LanceMem *mem, size_t size);
extern void lance_mem_release(const LanceMem *mem, void *ptr);

typedef enum LanceJsonType
{
	LJ_NULL,
	LJ_FALSE,
	LJ_TRUE,
	LJ_NUMBER,
	LJ_STRING,
	LJ_ARRAY,
	LJ_OBJECT
} LanceJsonType;

typedef struct LanceJson LanceJson;
typedef struct LanceJsonMember LanceJsonMember;

struct LanceJson
{
	LanceJsonType type;
	size_t		pos;			/* 0-based byte offset of the value */
	LanceJson  *next;			/* next element when inside an array */
	union
	{
		struct
		{
			double		value;
			bool		is_integer; /* no fraction and no exponent */
			bool		negative;
			bool		overflow;	/* |integer| does not fit in uint64 */
			uint64_t	magnitude;	/* |value| when is_integer && !overflow */
		}			num;
		struct
		{
			char	   *str;		/* NUL-terminated, no interior NULs */
			size_t		len;
		}			str;
		struct
		{
			LanceJson  *first;
			int			count;
		}			arr;
		struct
		{
			LanceJsonMember *first;
			int			count;
		}			obj;
	}			u;
};

struct LanceJsonMember
{
	const char *key;
	size_t		keylen;
	size_t		keypos;			/* 0-based byte offset of the key's quote */
	LanceJson  *value;
	LanceJsonMember *next;
};

/*
 * Parse len bytes of text.  Returns the root, allocated in arena, or NULL
 * with a message in errbuf.  max_size = 0 means LANCE_JSON_DEFAULT_MAX_SIZE.
 */
extern LanceJson *lance_json_parse(LanceArena *arena, const char *text,
								   size_t len, size_t max_size,
								   char *errbuf, size_t errlen);

extern const char *lance_json_type_name(LanceJsonType type);

/*
 * Decode one UTF-8 sequence at s (n bytes available).  Returns its length
 * (1..4) and the code point, or 0 if the bytes are not well-formed UTF-8
 * (overlong forms, surrogates and values above U+10FFFF are rejected).
 */
extern int	lance_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif							/* LANCE_TEXT_JSON_H */
