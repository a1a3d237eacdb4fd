/*
 * lance_util.h
 *	  Errors, capped allocation and bounds-checked file reading for the Lance
 *	  reader.  Plain C, no PostgreSQL headers: the FDW installs its own
 *	  allocation hooks and turns LanceError into ereport(ERROR).
 *
 * Every length or offset that comes from disk goes through the checked
 * helpers here before it is used, so a hostile file can only produce an
 * error, never an out-of-bounds access or an absurd allocation.
 */
#ifndef LANCE_UTIL_H
#define LANCE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LANCE_ERRMSG_LEN 512

typedef struct LanceError
{
	bool		set;
	char		msg[LANCE_ERRMSG_LEN];
} LanceError;

/* Sets the message (first error wins) and returns false for `return lance_fail(...)`. */
extern bool lance_fail(LanceError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* Prepends context ("file X, column Y: ") to an error already set. */
extern void lance_error_prefix(LanceError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/* Allocation hooks; the defaults are malloc/realloc/free. */
typedef struct LanceAllocHooks
{
	void	   *(*alloc) (size_t size, void *arg);
	void	   *(*realloc) (void *ptr, size_t size, void *arg);
	void		(*free) (void *ptr, void *arg);
	void	   *arg;
} LanceAllocHooks;

extern void lance_set_alloc_hooks(const LanceAllocHooks *hooks);

/* Largest single allocation the reader makes (default 1 GiB). */
extern void lance_set_max_alloc(uint64_t bytes);
extern uint64_t lance_get_max_alloc(void);

extern void *lance_alloc(uint64_t size, LanceError *err);
extern void *lance_alloc0(uint64_t size, LanceError *err);
extern void *lance_alloc_array(uint64_t n, uint64_t elsize, LanceError *err);
extern void *lance_realloc(void *ptr, uint64_t size, LanceError *err);
extern void lance_free(void *ptr);
extern char *lance_strdup(const char *s, LanceError *err);

/* Overflow-checked arithmetic; false on overflow. */
static inline bool
lance_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline bool
lance_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* Little-endian loads from unaligned memory. */
static inline uint16_t
lance_le16(const uint8_t *p)
{
	return (uint16_t) (p[0] | (p[1] << 8));
}

static inline uint32_t
lance_le32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t
lance_le64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
	return v;
}

/* True if [off, off+len) lies within [0, size). */
static inline bool
lance_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/*
 * A read-only byte source: a file read with pread, or a memory buffer (unit
 * tests and fuzzers).
 */
typedef struct LanceReader
{
	int			fd;				/* -1 for a memory reader */
	const uint8_t *mem;
	uint64_t	size;
	char	   *name;			/* for error messages */
	uint64_t	bytes_read;		/* statistics for EXPLAIN ANALYZE */
} LanceReader;

extern bool lance_reader_open(LanceReader *r, const char *path, LanceError *err);
extern bool lance_reader_open_mem(LanceReader *r, const uint8_t *data, uint64_t size,
								  const char *name, LanceError *err);
extern void lance_reader_close(LanceReader *r);
extern bool lance_reader_read(LanceReader *r, uint64_t off, uint64_t len, uint8_t *buf,
							  LanceError *err);
extern uint8_t *lance_reader_read_alloc(LanceReader *r, uint64_t off, uint64_t len,
										LanceError *err);

/* Reads a whole small file (tags, hints, deletion files). */
extern uint8_t *lance_read_file(const char *path, uint64_t max_size, uint64_t *size_out,
								LanceError *err);

#endif							/* LANCE_UTIL_H */
