#!/usr/bin/env python3
"""Builds seed corpora for the Lance fuzz targets from datasets made by
test/lance/gen_datasets.mjs:  make_seeds.py DATADIR OUTDIR
OUTDIR/manifest: manifests (selector byte 0), deletion files (2, 3);
OUTDIR/page: every page of every data file in the fuzz_lance_page format
(2.0 pages with bit 7 of the type byte set)."""
import os, struct, sys

TYPES = {"int64": 0, "int32": 1, "int16": 2, "int8": 3, "uint32": 4, "float": 5,
         "double": 6, "halffloat": 7, "bool": 8, "string": 9, "binary": 10,
         "fixed_size_list:float:8": 11, "fixed_size_list:float:128": 12,
         "fixed_size_list:halffloat:8": 13, "timestamp:us:-": 14,
         "decimal:128:12:2": 15, "date32:day": 1,
         # the packed struct column of gen_datasets.mjs's meta tables
         "struct": 16}


def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1
        r |= (c & 0x7f) << s; s += 7
        if not c & 0x80:
            return r, i


def fields(b):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        f, wt = k >> 3, k & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        elif wt == 1:
            v = b[i:i + 8]; i += 8
        elif wt == 5:
            v = b[i:i + 4]; i += 4
        else:
            raise ValueError
        out.append((f, v))
    return out


def packed(v):
    if isinstance(v, int):
        return [v]
    i, out = 0, []
    while i < len(v):
        x, i = varint(v, i); out.append(x)
    return out


def leaf_types(d, every=False):
    """Types of the file's columns: leaves (2.1+) or every field (2.0)."""
    gbo, = struct.unpack('<Q', d[-24:-16])
    p, l = struct.unpack('<QQ', d[gbo:gbo + 16])
    schema = [v for f, v in fields(d[p:p + l]) if f == 1][0]
    flds = [dict(fields(v)) for f, v in fields(schema) if f == 1]
    parents = {fl.get(4, 0) for fl in flds}
    return [fl[5].decode() for fl in flds if every or fl.get(3, 0) not in parents]


def main(src, out):
    os.makedirs(out + '/manifest', exist_ok=True)
    os.makedirs(out + '/page', exist_ok=True)
    n = 0
    for root, _, files in os.walk(src):
        for name in files:
            path = os.path.join(root, name)
            d = open(path, 'rb').read()
            if name.endswith('.manifest'):
                open(f'{out}/manifest/m{n}', 'wb').write(b'\0' + d); n += 1
            elif name.endswith('.arrow'):
                open(f'{out}/manifest/d{n}', 'wb').write(b'\2' + d); n += 1
            elif name.endswith('.bin'):
                open(f'{out}/manifest/r{n}', 'wb').write(b'\3' + d); n += 1
            elif name.endswith('.lance') and '/data' in root and d[-6:-4] != b'\0\0':
                ver = struct.unpack('<HH', d[-8:-4])
                if ver not in ((0, 3), (2, 1), (2, 2)):
                    continue
                v20 = ver == (0, 3)
                cmo, = struct.unpack('<Q', d[-32:-24])
                ncols, = struct.unpack('<I', d[-12:-8])
                types = leaf_types(d, v20)
                for c in range(min(ncols, len(types))):
                    p, l = struct.unpack('<QQ', d[cmo + 16 * c:cmo + 16 * c + 16])
                    for f, pg in fields(d[p:p + l]):
                        if f != 2:
                            continue
                        pf = fields(pg)
                        offs = sum((packed(v) for f2, v in pf if f2 == 1), [])
                        sizes = sum((packed(v) for f2, v in pf if f2 == 2), [])
                        rows = [v for f2, v in pf if f2 == 3]
                        enc = [v for f2, v in pf if f2 == 4][0]
                        anyv = dict(fields(dict(fields(enc))[2]))[1]
                        layout = dict(fields(anyv))[2]
                        if sum(sizes) > 200000 or types[c] not in TYPES:
                            continue
                        seed = struct.pack('<BBII', TYPES[types[c]] | (0x80 if v20 else 0), len(offs),
                                           rows[0] if rows else 0, len(layout)) + layout
                        for o, s in zip(offs, sizes):
                            seed += struct.pack('<I', s) + d[o:o + s]
                        open(f'{out}/page/p{n}', 'wb').write(seed); n += 1
    print(f'{n} seeds')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
