/*
 * lance_util.c
 *	  Errors, capped allocation and bounds-checked reads.
 */
#include "lance_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void *
default_alloc(size_t size, void *arg)
{
	(void) arg;
	return malloc(size);
}

static void *
default_realloc(void *ptr, size_t size, void *arg)
{
	(void) arg;
	return realloc(ptr, size);
}

static void
default_free(void *ptr, void *arg)
{
	(void) arg;
	free(ptr);
}

static LanceAllocHooks hooks = {default_alloc, default_realloc, default_free, NULL};
static uint64_t max_alloc = UINT64_C(1) << 30;

bool
lance_fail(LanceError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || err->set)
		return false;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->set = true;
	return false;
}

void
lance_error_prefix(LanceError *err, const char *fmt,...)
{
	char		prefix[LANCE_ERRMSG_LEN];
	size_t		plen,
				mlen;
	va_list		ap;

	if (err == NULL || !err->set)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	plen = strlen(prefix);
	mlen = strlen(err->msg);
	if (plen >= sizeof(err->msg) - 1)
		return;
	if (plen + mlen >= sizeof(err->msg))
		mlen = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, mlen);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + mlen] = '\0';
}

void
lance_set_alloc_hooks(const LanceAllocHooks *h)
{
	if (h == NULL)
	{
		hooks.alloc = default_alloc;
		hooks.realloc = default_realloc;
		hooks.free = default_free;
		hooks.arg = NULL;
	}
	else
		hooks = *h;
}

void
lance_set_max_alloc(uint64_t bytes)
{
	max_alloc = bytes;
}

uint64_t
lance_get_max_alloc(void)
{
	return max_alloc;
}

void *
lance_alloc(uint64_t size, LanceError *err)
{
	void	   *p;

	if (size > max_alloc || size > SIZE_MAX)
	{
		lance_fail(err, "refusing to allocate %llu bytes (limit %llu)",
				   (unsigned long long) size, (unsigned long long) max_alloc);
		return NULL;
	}
	/* zero-size requests still return a unique pointer */
	p = hooks.alloc(size ? (size_t) size : 1, hooks.arg);
	if (p == NULL)
		lance_fail(err, "out of memory allocating %llu bytes", (unsigned long long) size);
	return p;
}

void *
lance_alloc0(uint64_t size, LanceError *err)
{
	void	   *p = lance_alloc(size, err);

	if (p)
		memset(p, 0, size ? (size_t) size : 1);
	return p;
}

void *
lance_alloc_array(uint64_t n, uint64_t elsize, LanceError *err)
{
	uint64_t	total;

	if (!lance_mul_u64(n, elsize, &total))
	{
		lance_fail(err, "array size overflow (%llu x %llu)",
				   (unsigned long long) n, (unsigned long long) elsize);
		return NULL;
	}
	return lance_alloc0(total, err);
}

void *
lance_realloc(void *ptr, uint64_t size, LanceError *err)
{
	void	   *p;

	if (ptr == NULL)
		return lance_alloc(size, err);
	if (size > max_alloc || size > SIZE_MAX)
	{
		lance_fail(err, "refusing to allocate %llu bytes (limit %llu)",
				   (unsigned long long) size, (unsigned long long) max_alloc);
		return NULL;
	}
	p = hooks.realloc(ptr, size ? (size_t) size : 1, hooks.arg);
	if (p == NULL)
		lance_fail(err, "out of memory allocating %llu bytes", (unsigned long long) size);
	return p;
}

void
lance_free(void *ptr)
{
	if (ptr)
		hooks.free(ptr, hooks.arg);
}

char *
lance_strdup(const char *s, LanceError *err)
{
	size_t		len = strlen(s);
	char	   *p = lance_alloc(len + 1, err);

	if (p)
		memcpy(p, s, len + 1);
	return p;
}

bool
lance_reader_open(LanceReader *r, const char *path, LanceError *err)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->name = lance_strdup(path, err);
	if (r->name == NULL)
		return false;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return lance_fail(err, "could not open file \"%s\": %s", path, strerror(errno));
	if (fstat(r->fd, &st) != 0)
		return lance_fail(err, "could not stat file \"%s\": %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return lance_fail(err, "\"%s\" is not a regular file", path);
	r->size = (uint64_t) st.st_size;
	return true;
}

bool
lance_reader_open_mem(LanceReader *r, const uint8_t *data, uint64_t size,
					  const char *name, LanceError *err)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->mem = data;
	r->size = size;
	r->name = lance_strdup(name, err);
	return r->name != NULL;
}

void
lance_reader_close(LanceReader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	lance_free(r->name);
	r->name = NULL;
}

bool
lance_reader_read(LanceReader *r, uint64_t off, uint64_t len, uint8_t *buf, LanceError *err)
{
	uint64_t	done = 0;

	if (!lance_range_ok(off, len, r->size))
		return lance_fail(err, "read of %llu bytes at offset %llu is beyond the end of file \"%s\" (%llu bytes)",
						  (unsigned long long) len, (unsigned long long) off,
						  r->name, (unsigned long long) r->size);
	r->bytes_read += len;
	if (r->fd < 0)
	{
		if (len)
			memcpy(buf, r->mem + off, len);
		return true;
	}
	while (done < len)
	{
		ssize_t		n = pread(r->fd, buf + done, (size_t) (len - done), (off_t) (off + done));

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return lance_fail(err, "could not read file \"%s\": %s", r->name, strerror(errno));
		}
		if (n == 0)
			return lance_fail(err, "unexpected end of file \"%s\"", r->name);
		done += (uint64_t) n;
	}
	return true;
}

uint8_t *
lance_reader_read_alloc(LanceReader *r, uint64_t off, uint64_t len, LanceError *err)
{
	uint8_t    *buf;

	/* check the range first: an absurd length must not even be allocated */
	if (!lance_range_ok(off, len, r->size))
	{
		lance_fail(err, "read of %llu bytes at offset %llu is beyond the end of file \"%s\" (%llu bytes)",
				   (unsigned long long) len, (unsigned long long) off,
				   r->name, (unsigned long long) r->size);
		return NULL;
	}
	buf = lance_alloc(len, err);
	if (buf == NULL)
		return NULL;
	if (!lance_reader_read(r, off, len, buf, err))
	{
		lance_free(buf);
		return NULL;
	}
	return buf;
}

uint8_t *
lance_read_file(const char *path, uint64_t max_size, uint64_t *size_out, LanceError *err)
{
	LanceReader r;
	uint8_t    *buf = NULL;

	if (!lance_reader_open(&r, path, err))
	{
		lance_reader_close(&r);
		return NULL;
	}
	if (r.size > max_size)
		lance_fail(err, "file \"%s\" is too large (%llu bytes)", path, (unsigned long long) r.size);
	else
	{
		buf = lance_reader_read_alloc(&r, 0, r.size, err);
		if (buf)
			*size_out = r.size;
	}
	lance_reader_close(&r);
	return buf;
}
