/*
 * fuzz_lance_page.c
 *	  libFuzzer target: decoding of one 2.1+ page (PageLayout protobuf and its
 *	  buffers: mini-block chunks, rep/def levels, bit-packing, FSST,
 *	  dictionaries, RLE, LZ4/ZSTD, full-zip, constant), or of one 2.0 page
 *	  (ArrayEncoding tree: flat, nullable, fixed_size_list, binary,
 *	  dictionary, FSST, constant, packed struct).
 *
 * Input: u8 leaf type (bit 7 set: a 2.0 page), u8 number of buffers
 * (<= 8), u32 row count, u32 layout length, the layout, then per buffer a
 * u32 length and the bytes.
 * make_seeds.py turns pages of real LanceDB files into this format.
 */
#include "fdw/lance/lance_file.h"

#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {
	"int64", "int32", "int16", "int8", "uint32", "float", "double", "halffloat",
	"bool", "string", "binary", "fixed_size_list:float:8",
	"fixed_size_list:float:128", "fixed_size_list:halffloat:8",
	"timestamp:us:-", "decimal:128:12:2",
	/* 16: a packed struct {int32, int16} read as its 6-byte rows */
	"fixed_size_binary:6",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LanceError	err = {0};
	LanceType	t;
	const uint8_t *bufs[8];
	uint64_t	lens[8];
	size_t		pos;
	uint32_t	nrows,
				llen;
	int			nb,
				i;

	lance_set_max_alloc(UINT64_C(64) << 20);
	if (size < 10)
		return 0;
	lance_parse_logical_type(types[data[0] % (sizeof(types) / sizeof(types[0]))], &t);
	nb = data[1] % 9;
	nrows = lance_le32(data + 2) % 100000;
	llen = lance_le32(data + 6);
	pos = 10;
	if (llen > size - pos)
		return 0;
	{
		const uint8_t *layout = data + pos;

		pos += llen;
		for (i = 0; i < nb; i++)
		{
			uint32_t	bl;

			if (size - pos < 4)
				return 0;
			bl = lance_le32(data + pos);
			pos += 4;
			if (bl > size - pos)
				return 0;
			bufs[i] = data + pos;
			lens[i] = bl;
			pos += bl;
		}
		if (data[0] & 0x80)
			lance_fuzz_decode_page20(layout, llen, bufs, lens, nb, nrows, &t, &err);
		else
			lance_fuzz_decode_page(layout, llen, bufs, lens, nb, nrows, &t, &err);
	}
	return 0;
}
