/*
 * lance_codec.c
 *	  Low-level codecs used by Lance 2.1+ pages: FastLanes bit unpacking,
 *	  FSST string decompression and general-purpose LZ4 / ZSTD buffers.
 */
#include "lance_file.h"

#include <lz4.h>
#include <zstd.h>

/*
 * FastLanes stores 1024 values of a T-bit type as 1024/T lanes; row r of a
 * lane holds the value at index order[r/8]*16 + (r%8)*128 + lane, and the
 * packed words are laid out [word][lane].  Values that straddle two words
 * continue in the low bits of the next word of the same lane.
 */
static const int fl_order[8] = {0, 4, 2, 6, 1, 5, 3, 7};

static inline uint64_t
load_word(const uint8_t *in, int tbits, uint64_t idx)
{
	switch (tbits)
	{
		case 8:
			return in[idx];
		case 16:
			return lance_le16(in + 2 * idx);
		case 32:
			return lance_le32(in + 4 * idx);
		default:
			return lance_le64(in + 8 * idx);
	}
}

void
lance_fastlanes_unpack(const uint8_t *in, int tbits, int w, uint64_t *out)
{
	int			lanes = 1024 / tbits;
	uint64_t	mask = (w >= 64) ? UINT64_MAX : ((UINT64_C(1) << w) - 1);
	int			lane;
	int			row;

	if (w == 0)
	{
		memset(out, 0, 1024 * sizeof(uint64_t));
		return;
	}
	for (lane = 0; lane < lanes; lane++)
	{
		for (row = 0; row < tbits; row++)
		{
			int			start = row * w;
			int			word = start / tbits;
			int			shift = start % tbits;
			uint64_t	v = load_word(in, tbits, (uint64_t) lanes * word + lane) >> shift;

			if (shift + w > tbits)
				v |= load_word(in, tbits, (uint64_t) lanes * (word + 1) + lane) << (tbits - shift);
			out[fl_order[row / 8] * 16 + (row % 8) * 128 + lane] = v & mask;
		}
	}
}

/* ---- FSST ---- */

/*
 * Lance's serialized symbol table: a u64 header whose low byte is the symbol
 * count n and whose high half is the magic "FSST" (bytes "TSSF"), then n
 * u64 symbols (bytes little-endian), then n u8 lengths; the rest of the
 * fixed-size field is zero.  Code c < n emits symbol c, 255 escapes one
 * literal byte.  A table without symbols means the strings were stored
 * uncompressed (inputs too small to train on).
 */
#define FSST_ESCAPE			255

bool
lance_fsst_parse(const uint8_t *table, uint64_t len, LanceFsst *fsst, LanceError *err)
{
	int			i;
	int			n;

	if (len < 8)
		return lance_fail(err, "FSST symbol table too short");
	if (memcmp(table + 4, "TSSF", 4) != 0)
		return lance_fail(err, "FSST symbol table has a bad magic");
	n = table[0];
	if (len < 8 + 9 * (uint64_t) n)
		return lance_fail(err, "FSST symbol table with %d symbols is truncated", n);
	memset(fsst, 0, sizeof(*fsst));
	fsst->nsymbols = n;
	for (i = 0; i < n; i++)
	{
		fsst->symbols[i] = lance_le64(table + 8 + 8 * i);
		fsst->lens[i] = table[8 + 8 * n + i];
		if (fsst->lens[i] == 0 || fsst->lens[i] > 8)
			return lance_fail(err, "FSST symbol %d has length %d", i, fsst->lens[i]);
	}
	return true;
}

bool
lance_fsst_decode(const LanceFsst *fsst, const uint8_t *in, uint64_t len,
				  uint8_t *out, uint64_t cap, uint64_t *outlen)
{
	uint64_t	i = 0;
	uint64_t	o = 0;

	if (fsst->nsymbols == 0)
	{
		if (len > cap)
			return false;
		if (len)
			memcpy(out, in, len);
		*outlen = len;
		return true;
	}
	while (i < len)
	{
		uint8_t		code = in[i++];

		if (code == FSST_ESCAPE)
		{
			if (i >= len || o >= cap)
				return false;
			out[o++] = in[i++];
		}
		else
		{
			uint8_t		sl = fsst->lens[code];
			uint64_t	sym = fsst->symbols[code];

			/* unused codes have length 0 */
			if (sl == 0 || cap - o < sl)
				return false;
			memcpy(out + o, &sym, sl);	/* symbols are little-endian bytes */
			o += sl;
		}
	}
	*outlen = o;
	return true;
}

/* ---- general compression ---- */

uint8_t *
lance_decompress(int scheme, const uint8_t *in, uint64_t len, uint64_t *outlen, LanceError *err)
{
	uint8_t    *out;

	if (scheme == 1)
	{
		/* LZ4 block with a little-endian u32 uncompressed size prefix */
		uint32_t	size;
		int			n;

		if (len < 4 || len - 4 > INT32_MAX)
		{
			lance_fail(err, "LZ4 buffer too short");
			return NULL;
		}
		size = lance_le32(in);
		if (size > INT32_MAX)
		{
			lance_fail(err, "LZ4 buffer claims %u bytes", size);
			return NULL;
		}
		out = lance_alloc(size, err);
		if (out == NULL)
			return NULL;
		n = LZ4_decompress_safe((const char *) in + 4, (char *) out, (int) (len - 4), (int) size);
		if (n < 0 || (uint32_t) n != size)
		{
			lance_free(out);
			lance_fail(err, "corrupt LZ4 buffer");
			return NULL;
		}
		*outlen = size;
		return out;
	}
	if (scheme == 2)
	{
		/* a raw ZSTD frame, or a u64 size prefix followed by a frame */
		unsigned long long size;
		size_t		n;

		if (len >= 4 && lance_le32(in) == 0xFD2FB528U)
			size = ZSTD_getFrameContentSize(in, len);
		else
		{
			if (len < 8)
			{
				lance_fail(err, "ZSTD buffer too short");
				return NULL;
			}
			size = lance_le64(in);
			in += 8;
			len -= 8;
		}
		if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR)
		{
			lance_fail(err, "ZSTD frame without a content size");
			return NULL;
		}
		out = lance_alloc(size, err);
		if (out == NULL)
			return NULL;
		n = ZSTD_decompress(out, size, in, len);
		if (ZSTD_isError(n) || n != size)
		{
			lance_free(out);
			lance_fail(err, "corrupt ZSTD buffer");
			return NULL;
		}
		*outlen = size;
		return out;
	}
	lance_fail(err, "unknown compression scheme %d", scheme);
	return NULL;
}

/* ---- encoding census ---- */

#define CENSUS_MAX 96

static const char *census_names[CENSUS_MAX];
static uint64_t census_counts[CENSUS_MAX];
static int	census_n;
static bool census_muted;

void
lance_census_mute(bool on)
{
	census_muted = on;
}

void
lance_census_note(const char *what)
{
	int			i;

	if (census_muted)
		return;
	for (i = 0; i < census_n; i++)
		if (census_names[i] == what || strcmp(census_names[i], what) == 0)
		{
			census_counts[i]++;
			return;
		}
	if (census_n < CENSUS_MAX)
	{
		census_names[census_n] = what;
		census_counts[census_n++] = 1;
	}
}

int
lance_census_get(const char *const **names, const uint64_t **counts)
{
	*names = census_names;
	*counts = census_counts;
	return census_n;
}

void
lance_census_reset(void)
{
	census_n = 0;
}
