/*
 * lance_pb.c
 *	  protobuf-c allocator over the Lance allocation hooks, so that a hostile
 *	  message cannot make protobuf-c allocate past the configured cap.
 */
#include "lance_pb.h"

static void *
pb_alloc(void *arg, size_t size)
{
	(void) arg;
	return lance_alloc(size, NULL);
}

static void
pb_free(void *arg, void *ptr)
{
	(void) arg;
	lance_free(ptr);
}

ProtobufCAllocator lance_pb_allocator = {pb_alloc, pb_free, NULL};

static bool
pb_varint(const uint8_t *p, uint64_t len, uint64_t *pos, uint64_t *v)
{
	int			shift = 0;

	*v = 0;
	while (*pos < len && shift < 64)
	{
		uint8_t		c = p[(*pos)++];

		*v |= (uint64_t) (c & 0x7f) << shift;
		if (c < 0x80)
			return true;
		shift += 7;
	}
	return false;
}

/*
 * Depth of the deepest nesting of [data, data+len) read as a message: -1 if
 * it is not valid wire format, else 0 for a flat message.  Stops counting
 * past max_depth (returns max_depth + 1).
 */
static int
pb_depth(const uint8_t *data, uint64_t len, int max_depth)
{
	uint64_t	pos = 0;
	int			deepest = 0;

	while (pos < len)
	{
		uint64_t	key,
					v;

		if (!pb_varint(data, len, &pos, &key) || (key >> 3) == 0)
			return -1;
		switch (key & 7)
		{
			case 0:
				if (!pb_varint(data, len, &pos, &v))
					return -1;
				break;
			case 1:
				if (len - pos < 8)
					return -1;
				pos += 8;
				break;
			case 5:
				if (len - pos < 4)
					return -1;
				pos += 4;
				break;
			case 2:
				if (!pb_varint(data, len, &pos, &v) || v > len - pos)
					return -1;
				if (v > 0)
				{
					int			d;

					if (max_depth <= 0)
						return 1;
					d = pb_depth(data + pos, v, max_depth - 1);
					if (d >= 0 && d + 1 > deepest)
						deepest = d + 1;
					if (deepest > max_depth)
						return deepest;
				}
				pos += v;
				break;
			default:
				return -1;
		}
	}
	return deepest;
}

bool
lance_pb_depth_ok(const uint8_t *data, uint64_t len, int max_depth)
{
	return pb_depth(data, len, max_depth) <= max_depth;
}
