// Generates Lance datasets with the real LanceDB npm packages and dumps what
// LanceDB reads back, so the C reader (test/unit/test_lance.c) and the FDW
// can be compared row by row.
//
//   cd test/lance && npm install && node gen_datasets.mjs OUTDIR
//
// OUTDIR/<lib>/<table>.lance        datasets (lib = v37 | v39)
// OUTDIR/<lib>/<table>.v<N>.tsv     LanceDB's own read of version N
// OUTDIR/<lib>/<table>.tags         "name<TAB>version" per tag
//
// Dump format (one row per line, tab-separated, first column _rowid):
// NULL = N; ints/timestamps/dates in decimal; float16/32/64 as h/f/d + raw
// bits in hex; bool t/f; string/binary as x + hex bytes; fixed-size and
// variable lists as [a,b]; structs as {a,b}; decimals as m + hex of the
// 16 little-endian bytes.  Exact, and easy to reproduce from C.

import * as arrow from 'apache-arrow';
import * as lance37 from 'lancedb037';
import * as lance39 from 'lancedb039';
import fs from 'node:fs';
import path from 'node:path';

const outdir = process.argv[2];
if (!outdir) {
	console.error('usage: node gen_datasets.mjs OUTDIR');
	process.exit(2);
}

// Deterministic PRNG (mulberry32) so regenerated fixtures are identical.
function rng(seed) {
	return () => {
		seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta',
	'theta', 'iota', 'kappa', 'lambda', 'mu', 'nu', 'xi', 'omicron', 'pi',
	'rho', 'sigma', 'tau', 'upsilon', 'phi', 'chi', 'psi', 'omega', 'naïve',
	'日本語'];
const CATS = ['red', 'green', 'blue', 'cyan', 'magenta'];

const f16 = new arrow.Float16();
const f32 = new arrow.Float32();

const SCHEMA = new arrow.Schema([
	new arrow.Field('id', new arrow.Int64(), false),
	new arrow.Field('i8', new arrow.Int8(), true),
	new arrow.Field('i16', new arrow.Int16(), true),
	new arrow.Field('i32', new arrow.Int32(), true),
	new arrow.Field('u32', new arrow.Uint32(), true),
	new arrow.Field('run', new arrow.Int32(), true),
	new arrow.Field('f32', new arrow.Float32(), true),
	new arrow.Field('f64', new arrow.Float64(), true),
	new arrow.Field('flag', new arrow.Bool(), true),
	new arrow.Field('s', new arrow.Utf8(), true),
	new arrow.Field('slong', new arrow.Utf8(), true),
	new arrow.Field('scat', new arrow.Utf8(), true),
	new arrow.Field('snull', new arrow.Utf8(), true),
	new arrow.Field('sconst', new arrow.Utf8(), true),
	new arrow.Field('bin', new arrow.Binary(), true),
	new arrow.Field('vec8', new arrow.FixedSizeList(8, new arrow.Field('item', f32, true)), true),
	new arrow.Field('vec128', new arrow.FixedSizeList(128, new arrow.Field('item', f32, true)), true),
	new arrow.Field('h16', new arrow.FixedSizeList(8, new arrow.Field('item', f16, true)), true),
	new arrow.Field('li', new arrow.List(new arrow.Field('item', new arrow.Int32(), true)), true),
	new arrow.Field('st', new arrow.Struct([
		new arrow.Field('a', new arrow.Int32(), true),
		new arrow.Field('b', new arrow.Utf8(), true)]), true),
	new arrow.Field('ts', new arrow.TimestampMicrosecond(), true),
	new arrow.Field('dt', new arrow.DateDay(), true),
	new arrow.Field('dec', new arrow.Decimal(2, 12, 128), true),
]);

function validity(n, isNull) {
	const bm = new Uint8Array((n + 7) >> 3);
	let nulls = 0;
	for (let i = 0; i < n; i++) {
		if (isNull(i))
			nulls++;
		else
			bm[i >> 3] |= 1 << (i & 7);
	}
	return [bm, nulls];
}

function prim(type, values, isNull, length = values.length) {
	const [nullBitmap, nullCount] = validity(length, isNull);
	return arrow.makeData({ type, length, nullCount, nullBitmap, data: values });
}

// One batch of `n` rows starting at id `start`.  structNulls = false keeps
// the struct column valid (LanceDB 0.39 refuses null structs in file
// format 2.0, which cannot store struct validity).
function makeBatch(start, n, seed, structNulls = true) {
	const r = rng(seed);
	const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i));
	const nul = (k) => (i) => (start + i) % k === 0;
	const cols = {};
	cols.id = prim(new arrow.Int64(), ids, () => false);
	cols.i8 = prim(new arrow.Int8(), Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128), nul(11));
	cols.i16 = prim(new arrow.Int16(), Int16Array.from({ length: n }, () => Math.floor(r() * 2000) - 1000), nul(13));
	cols.i32 = prim(new arrow.Int32(), Int32Array.from({ length: n }, (_, i) => (start + i) * 3 - 5000), nul(7));
	cols.u32 = prim(new arrow.Uint32(), Uint32Array.from({ length: n }, () => Math.floor(r() * 4294967295)), nul(17));
	cols.run = prim(new arrow.Int32(), Int32Array.from({ length: n }, (_, i) => Math.floor((start + i) / 300)), () => false);
	cols.f32 = prim(new arrow.Float32(), Float32Array.from({ length: n }, () => (r() - 0.5) * 1000), nul(9));
	cols.f64 = prim(new arrow.Float64(), Float64Array.from({ length: n }, () => (r() - 0.5) * 1e6), nul(10));
	{
		const [nb, nc] = validity(n, nul(5));
		const vals = new Uint8Array((n + 7) >> 3);
		for (let i = 0; i < n; i++)
			if (r() < 0.5)
				vals[i >> 3] |= 1 << (i & 7);
		cols.flag = arrow.makeData({ type: new arrow.Bool(), length: n, nullCount: nc, nullBitmap: nb, data: vals });
	}
	const strs = (gen, isNull) => arrow.vectorFromArray(
		Array.from({ length: n }, (_, i) => (isNull(i) ? null : gen(i))), new arrow.Utf8()).data[0];
	cols.s = strs((i) => `${WORDS[Math.floor(r() * WORDS.length)]}-${start + i}`, nul(6));
	cols.slong = strs((i) => {
		let s = `long-${start + i}:`;
		const len = 300 + Math.floor(r() * 300);
		while (s.length < len)
			s += WORDS[Math.floor(r() * WORDS.length)] + ' ';
		return s;
	}, nul(8));
	cols.scat = strs(() => CATS[Math.floor(r() * CATS.length)], nul(19));
	cols.snull = strs(() => 'x', () => true);
	cols.sconst = strs(() => 'constant value', () => false);
	cols.bin = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => {
		if ((start + i) % 4 === 0)
			return null;
		return Uint8Array.from({ length: (start + i) % 9 }, () => Math.floor(r() * 256));
	}), new arrow.Binary()).data[0];
	const fsl = (dim, itemType, mk, isNull) => {
		const child = arrow.makeData({ type: itemType, length: n * dim, nullCount: 0, data: mk(n * dim) });
		const [nb, nc] = validity(n, isNull);
		return arrow.makeData({ type: new arrow.FixedSizeList(dim, new arrow.Field('item', itemType, true)),
			length: n, nullCount: nc, nullBitmap: nb, child });
	};
	cols.vec8 = fsl(8, f32, (m) => Float32Array.from({ length: m }, () => r() * 2 - 1), nul(23));
	cols.vec128 = fsl(128, f32, (m) => Float32Array.from({ length: m }, () => r()), () => false);
	cols.h16 = fsl(8, f16, (m) => Uint16Array.from({ length: m }, () => {
		const buf = new DataView(new ArrayBuffer(4));
		buf.setFloat32(0, r() * 4 - 2);
		// float32 -> float16 by truncation of the mantissa (values are normal)
		const b = buf.getUint32(0);
		const sign = (b >>> 16) & 0x8000;
		const exp = ((b >>> 23) & 0xff) - 127 + 15;
		if (exp <= 0)
			return sign;
		return sign | (exp << 10) | ((b >>> 13) & 0x3ff);
	}), () => false);
	cols.li = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => {
		const k = start + i;
		if (k % 10 === 3)
			return null;
		if (k % 10 === 4)
			return [];
		return Array.from({ length: 1 + (k % 5) }, (_, j) => ((k + j) % 13 === 0 ? null : k * 10 + j));
	}), new arrow.List(new arrow.Field('item', new arrow.Int32(), true))).data[0];
	{
		const a = prim(new arrow.Int32(), Int32Array.from({ length: n }, (_, i) => start + i), nul(3));
		const b = strs((i) => `b${(start + i) % 50}`, nul(4));
		const [nb, nc] = validity(n, structNulls ? nul(12) : () => false);
		cols.st = arrow.makeData({ type: SCHEMA.fields.find((f) => f.name === 'st').type,
			length: n, nullCount: nc, nullBitmap: nb, children: [a, b] });
	}
	cols.ts = prim(new arrow.TimestampMicrosecond(), BigInt64Array.from({ length: n },
		(_, i) => 1700000000000000n + BigInt(start + i) * 1234567n), nul(14));
	cols.dt = prim(new arrow.DateDay(), Int32Array.from({ length: n }, (_, i) => 19000 + (start + i) % 400), nul(15));
	{
		const words = new Uint32Array(n * 4);
		for (let i = 0; i < n; i++) {
			const v = BigInt.asUintN(128, BigInt((start + i) * 12345 - 600000));
			for (let w = 0; w < 4; w++)
				words[i * 4 + w] = Number((v >> BigInt(32 * w)) & 0xffffffffn);
		}
		cols.dec = prim(new arrow.Decimal(2, 12, 128), words, nul(16), n);
	}
	const children = SCHEMA.fields.map((f) => cols[f.name]);
	// The schema is taken from the built children so that nested field
	// names and nullability agree exactly (arrow checks equivalence).
	const schema = new arrow.Schema(SCHEMA.fields.map((f, k) => new arrow.Field(f.name, children[k].type, f.nullable)));
	const sdata = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children });
	return new arrow.Table(schema, [new arrow.RecordBatch(schema, sdata)]);
}

function simpleBatch(start, n) {
	const schema = new arrow.Schema([
		new arrow.Field('id', new arrow.Int64(), false),
		new arrow.Field('v', new arrow.Float64(), true),
		new arrow.Field('name', new arrow.Utf8(), true)]);
	const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i));
	const v = Float64Array.from({ length: n }, (_, i) => (start + i) * 0.5);
	const name = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => `n${start + i}`), new arrow.Utf8()).data[0];
	const children = [
		arrow.makeData({ type: new arrow.Int64(), length: n, data: ids }),
		arrow.makeData({ type: new arrow.Float64(), length: n, data: v }),
		name];
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children }))]);
}

function vecBatch(start, n, dim) {
	const r = rng(start + 7);
	const schema = new arrow.Schema([
		new arrow.Field('id', new arrow.Int64(), false),
		new arrow.Field('vector', new arrow.FixedSizeList(dim, new arrow.Field('item', f32, true)), false)]);
	const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i));
	const child = arrow.makeData({ type: f32, length: n * dim, data: Float32Array.from({ length: n * dim }, () => r() - 0.5) });
	const children = [
		arrow.makeData({ type: new arrow.Int64(), length: n, data: ids }),
		arrow.makeData({ type: schema.fields[1].type, length: n, nullCount: 0, child })];
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children }))]);
}

// Vectors whose items are nullable and sometimes NULL: 8 dims (mini-block)
// and 128 dims (full-zip in 2.1+), with NULL vectors too.
function vecNullBatch(start, n) {
	const r = rng(start + 11);
	const fields = [new arrow.Field('id', new arrow.Int64(), false)];
	const children = [arrow.makeData({ type: new arrow.Int64(), length: n,
		data: BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)) })];
	for (const dim of [8, 128]) {
		const type = new arrow.FixedSizeList(dim, new arrow.Field('item', f32, true));
		// item k of row (start + i) is NULL when (start + i) % 6 === 1 and
		// k % 37 === 5; rows (start + i) % 9 === 4 are NULL vectors
		const [ibm, inull] = validity(n * dim, (x) => (start + Math.floor(x / dim)) % 6 === 1 && (x % dim) % 37 === 5);
		const child = arrow.makeData({ type: f32, length: n * dim, nullCount: inull, nullBitmap: ibm,
			data: Float32Array.from({ length: n * dim }, () => r() - 0.5) });
		const [nb, nc] = validity(n, (i) => (start + i) % 9 === 4);
		fields.push(new arrow.Field(`v${dim}`, type, true));
		children.push(arrow.makeData({ type, length: n, nullCount: nc, nullBitmap: nb, child }));
	}
	const schema = new arrow.Schema(fields);
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(fields), length: n, nullCount: 0, children }))]);
}

// Encodings LanceDB only writes when a field's metadata asks for them
// (lance-encoding:compression / :bss / :packed): general ZSTD and LZ4,
// FSST, byte-stream-split, packed structs; strings of one length for 2.0's
// fixed_size_binary.
function metaBatch(start, n) {
	const r = rng(start + 5);
	const md = (k, v) => new Map([[`lance-encoding:${k}`, v]]);
	const nul = (k) => (i) => (start + i) % k === 0;
	const cols = [];
	const add = (name, data, meta) => cols.push([new arrow.Field(name, data.type, true, meta), data]);
	cols.push([new arrow.Field('id', new arrow.Int64(), false), prim(new arrow.Int64(),
		BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)), () => false)]);
	const ints = () => Int32Array.from({ length: n }, () => Math.floor(r() * 100000) - 50000);
	add('zi32', prim(new arrow.Int32(), ints(), nul(7)), md('compression', 'zstd'));
	add('li32', prim(new arrow.Int32(), ints(), nul(8)), md('compression', 'lz4'));
	add('bf32', prim(f32, Float32Array.from({ length: n }, () => r() * 100), nul(9)), md('bss', 'on'));
	add('bf64', prim(new arrow.Float64(), Float64Array.from({ length: n }, () => r() * 1e5), nul(10)), md('bss', 'on'));
	const strs = (gen, isNull) => arrow.vectorFromArray(
		Array.from({ length: n }, (_, i) => (isNull(i) ? null : gen(i))), utf8).data[0];
	const word = (i) => `${WORDS[Math.floor(r() * WORDS.length)]}-${start + i}-${WORDS[Math.floor(r() * WORDS.length)]}`;
	add('zs', strs(word, nul(6)), md('compression', 'zstd'));
	add('ls', strs(word, nul(5)), md('compression', 'lz4'));
	add('fs', strs(word, nul(4)), md('compression', 'fsst'));
	// all NULL: 2.0's nullable{all_nulls}
	add('anull', prim(i32, new Int32Array(n), () => true), undefined);
	add('fixs', strs((i) => `k${String((start + i) * 7919 % 100000).padStart(6, '0')}`, () => false), undefined);
	{
		// (integers: jsonb shows a float member rounded, not comparable)
		const i16 = new arrow.Int16();
		const a = prim(i32, ints(), () => false);
		const b = prim(i16, Int16Array.from({ length: n }, () => Math.floor(r() * 60000) - 30000), () => false);
		const type = new arrow.Struct([new arrow.Field('a', i32, true), new arrow.Field('b', i16, true)]);
		add('ps', arrow.makeData({ type, length: n, nullCount: 0, children: [a, b] }), md('packed', 'true'));
	}
	const schema = new arrow.Schema(cols.map(([f]) => f));
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: cols.map(([, d]) => d) }))]);
}

// Nested types: lists of lists, lists of structs, structs holding lists,
// with nulls and empty lists at every level.  Struct members are named in
// alphabetical order (jsonb sorts them).
const i32 = new arrow.Int32();
const utf8 = new arrow.Utf8();
const NESTED_TYPES = {
	ll: new arrow.List(new arrow.Field('item', new arrow.List(new arrow.Field('item', i32, true)), true)),
	lls: new arrow.List(new arrow.Field('item', new arrow.List(new arrow.Field('item', utf8, true)), true)),
	ls: new arrow.List(new arrow.Field('item', new arrow.Struct([
		new arrow.Field('a', i32, true), new arrow.Field('b', utf8, true)]), true)),
	sl: new arrow.Struct([new arrow.Field('a', i32, true),
		new arrow.Field('b', new arrow.List(new arrow.Field('item', utf8, true)), true)]),
	lsl: new arrow.List(new arrow.Field('item', new arrow.Struct([
		new arrow.Field('a', new arrow.List(new arrow.Field('item', i32, true)), true),
		new arrow.Field('b', i32, true)]), true)),
	lv: new arrow.List(new arrow.Field('item', new arrow.FixedSizeList(4, new arrow.Field('item', f32, true)), true)),
};

// A value for row k: null / empty at each level by residues of k.  With
// structNulls false no struct is null (file format 2.0 stores no struct
// validity).
function nestedValue(name, k, structNulls) {
	const list = (len, f) => Array.from({ length: len }, (_, j) => f(j));
	const inner = (k2, f) => (k2 % 7 === 3 ? null : k2 % 7 === 5 ? [] : list(1 + (k2 % 4), f));
	if (name !== 'sl' && k % 11 === 2)
		return null;
	if (name !== 'sl' && k % 11 === 6)
		return [];
	const st = (k2, v) => (structNulls && k2 % 9 === 4 ? null : v);
	switch (name) {
	case 'll':
		return list(1 + (k % 4), (j) => inner(k + j, (q) => ((k + j + q) % 5 === 1 ? null : k * 100 + j * 10 + q)));
	case 'lls':
		return list(1 + (k % 3), (j) => inner(k + 2 * j, (q) => ((k + q) % 6 === 2 ? null : `s${k}.${j}.${q}`)));
	case 'ls':
		return list(k % 5, (j) => st(k + j, { a: (k + j) % 4 === 0 ? null : k * 10 + j, b: (k + j) % 3 === 0 ? null : `b${k}-${j}` }));
	case 'sl':
		if (structNulls && k % 10 === 7)
			return null;
		return { a: k % 4 === 1 ? null : k, b: inner(k, (q) => ((k + q) % 5 === 0 ? null : `t${k}/${q}`)) };
	case 'lsl':
		return list(1 + (k % 3), (j) => st(k + j, { a: inner(k + j, (q) => (q === 2 ? null : k + q)), b: j }));
	case 'lv':
		return list(k % 4, (j) => ((k + j) % 5 === 4 ? null : list(4, (q) => (k + j) * 0.25 + q)));
	default:
		throw new Error(name);
	}
}

function nestedBatch(start, n, structNulls = true) {
	const names = Object.keys(NESTED_TYPES);
	const fields = [new arrow.Field('id', new arrow.Int64(), false)];
	const children = [arrow.makeData({ type: new arrow.Int64(), length: n,
		data: BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)) })];
	for (const name of names) {
		const v = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => nestedValue(name, start + i, structNulls)),
			NESTED_TYPES[name]);
		if (v.data.length !== 1)
			throw new Error(`${name}: ${v.data.length} chunks`);
		const data = v.data[0];
		fields.push(new arrow.Field(name, data.type, true));
		children.push(data);
	}
	const schema = new arrow.Schema(fields);
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(fields), length: n, nullCount: 0, children }))]);
}

// list<struct<x int32, y utf8>> where x alone has NULLs (y never does, no
// struct is NULL) beside NULL and empty lists: in 2.2 the members' levels
// then differ in layout.  The first rows are the smallest such case.
const LSTX = new arrow.List(new arrow.Field('item', new arrow.Struct([
	new arrow.Field('x', i32, true), new arrow.Field('y', utf8, true)]), true));

function lstxValue(k) {
	if (k === 0)
		return [{ x: null, y: 'a' }, { x: 1, y: 'b' }];
	if (k % 5 === 1)
		return null;
	if (k % 5 === 2)
		return [];
	return Array.from({ length: 1 + (k % 3) }, (_, j) => ({ x: j === 0 && k % 2 === 0 ? null : k * 10 + j, y: `y${k}.${j}` }));
}

function lstxBatch(start, n) {
	const schema = new arrow.Schema([new arrow.Field('id', new arrow.Int64(), false), new arrow.Field('lst', LSTX, true)]);
	const children = [arrow.makeData({ type: new arrow.Int64(), length: n,
		data: BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)) }),
	arrow.vectorFromArray(Array.from({ length: n }, (_, i) => lstxValue(start + i)), LSTX).data[0]];
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children }))]);
}

// ---- dump ----

const hex = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex');

function fmt(data, i) {
	if (!data.getValid(i))
		return 'N';
	const t = data.type;
	const j = data.offset + i;
	switch (t.typeId) {
	case arrow.Type.Int: {
		const v = data.values[j];
		return typeof v === 'bigint' ? BigInt.asIntN(t.bitWidth, v).toString() : String(v);
	}
	case arrow.Type.Float: {
		const dv = new DataView(new ArrayBuffer(8));
		if (t.precision === arrow.Precision.HALF)
			return 'h' + data.values[j].toString(16).padStart(4, '0');
		if (t.precision === arrow.Precision.SINGLE) {
			dv.setFloat32(0, data.values[j]);
			return 'f' + dv.getUint32(0).toString(16).padStart(8, '0');
		}
		dv.setFloat64(0, data.values[j]);
		return 'd' + dv.getBigUint64(0).toString(16).padStart(16, '0');
	}
	case arrow.Type.Bool:
		return (data.values[j >> 3] >> (j & 7)) & 1 ? 't' : 'f';
	case arrow.Type.Utf8:
	case arrow.Type.Binary:
	case arrow.Type.LargeUtf8:
	case arrow.Type.LargeBinary: {
		const s = Number(data.valueOffsets[j]);
		const e = Number(data.valueOffsets[j + 1]);
		return 'x' + hex(data.values.subarray(s, e));
	}
	case arrow.Type.Timestamp:
	case arrow.Type.Date:
	case arrow.Type.Time:
		return String(data.values[j]);
	case arrow.Type.Decimal:
		return 'm' + hex(data.values.subarray(j * 4, j * 4 + 4));
	case arrow.Type.FixedSizeList: {
		const out = [];
		for (let k = 0; k < t.listSize; k++)
			out.push(fmt(data.children[0], j * t.listSize + k));
		// lance_fdw reads a vector with a NULL item as NULL (a pgvector
		// value cannot hold one; docs/sql-reference.md)
		if (out.includes('N'))
			return 'N';
		return '[' + out.join(',') + ']';
	}
	case arrow.Type.List:
	case arrow.Type.LargeList: {
		const out = [];
		for (let k = Number(data.valueOffsets[j]); k < Number(data.valueOffsets[j + 1]); k++)
			out.push(fmt(data.children[0], k));
		return '[' + out.join(',') + ']';
	}
	case arrow.Type.Struct:
		return '{' + data.children.map((c) => fmt(c, i + data.offset - c.offset + c.offset)).join(',') + '}';
	default:
		throw new Error('dump: unsupported type ' + t);
	}
}

async function dumpAll(dir, table, name) {
	const latest = await table.version();
	for (let v = 1; v <= latest; v++) {
		await table.checkout(v);
		const t = await table.query().withRowId(true).toArrow();
		const lines = [t.schema.fields.map((f) => f.name).join('\t')];
		for (const batch of t.batches) {
			const cols = batch.schema.fields.map((f, k) => batch.data.children[k]);
			for (let i = 0; i < batch.numRows; i++)
				lines.push(cols.map((c) => fmt(c, i)).join('\t'));
		}
		fs.writeFileSync(path.join(dir, `${name}.v${v}.tsv`), lines.join('\n') + '\n');
	}
	await table.checkoutLatest();
	const tags = await table.tags();
	const list = await tags.list();
	const tl = Object.entries(list).map(([k, v]) => `${k}\t${v.version}`);
	fs.writeFileSync(path.join(dir, `${name}.tags`), tl.join('\n') + (tl.length ? '\n' : ''));
}

async function generate(lib, tag) {
	const dir = path.join(outdir, tag);
	fs.rmSync(dir, { recursive: true, force: true });
	fs.mkdirSync(dir, { recursive: true });
	const db = await lib.connect(dir);
	const made = [];
	const only = process.env.LANCE_GEN_ONLY;

	// Encodings asked for through field metadata, in every storage version.
	for (const [name, storageOptions] of [['meta_v20', { new_table_data_storage_version: '2.0' }],
		['meta_v21', { new_table_data_storage_version: '2.1' }],
		['meta_v22', { new_table_data_storage_version: '2.2' }]]) {
		const t = await db.createTable(name, metaBatch(0, 3000), { storageOptions });
		await t.add(metaBatch(3000, 2000));
		await t.delete('id % 31 = 3');
		made.push([name, t]);
	}
	// Integers with 1500 distinct values over 100000 rows: LanceDB 0.39
	// (2.2) dictionary-encodes them with out-of-line bit-packed items.
	for (const [name, storageOptions] of [['dictint_v21', { new_table_data_storage_version: '2.1' }],
		['dictint_v22', { new_table_data_storage_version: '2.2' }]]) {
		const n = 100000;
		const k = (i) => (i * 7919) % 1500;
		const schema = new arrow.Schema([new arrow.Field('id', new arrow.Int64(), false),
			new arrow.Field('di', new arrow.Int64(), true), new arrow.Field('d32', i32, true)]);
		const children = [
			prim(new arrow.Int64(), BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), () => false),
			prim(new arrow.Int64(), BigInt64Array.from({ length: n }, (_, i) => BigInt(k(i) * 1000003 + 123456789012345)),
				(i) => i % 101 === 7),
			prim(i32, Int32Array.from({ length: n }, (_, i) => k(i) * 1000003), () => false)];
		const t = await db.createTable(name, new arrow.Table(schema, [new arrow.RecordBatch(schema,
			arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children }))]),
		{ storageOptions });
		made.push([name, t]);
	}
	// A NULL member inside list<struct> with NULL and empty lists (2.1, 2.2).
	for (const [name, storageOptions] of [['lstx_v21', { new_table_data_storage_version: '2.1' }],
		['lstx_v22', { new_table_data_storage_version: '2.2' }]]) {
		const t = await db.createTable(name, lstxBatch(0, 3), { storageOptions });
		await t.add(lstxBatch(3, 600));
		made.push([name, t]);
	}
	// The legacy file format (storage version 0.1): every type but lists
	// (which lance_fdw refuses in legacy files), over several batches.
	{
		const cols = SCHEMA.fields.map((f) => f.name).filter((c) => c !== 'li');
		const opts = { storageOptions: { new_table_data_storage_version: 'legacy' } };
		const t = await db.createTable('legacy', makeBatch(0, 1500, 7, false).select(cols), opts);
		await t.add(makeBatch(1500, 600, 8, false).select(cols));
		await t.delete('id % 17 = 3');
		made.push(['legacy', t]);
	}
	if (only) {
		for (const [name, t] of made)
			await dumpAll(dir, t, name);
		return;
	}

	// Default storage version of this LanceDB: appends, few deletes (arrow
	// deletion file), an update, tags.
	const specs = [['alltypes', {}], ['alltypes_v20', { new_table_data_storage_version: '2.0' }],
		['alltypes_v21', { new_table_data_storage_version: '2.1' }],
		['alltypes_v22', { new_table_data_storage_version: '2.2' }]];
	for (const [name, storageOptions] of specs) {
		let t;
		let sn = true;
		try {
			t = await db.createTable(name, makeBatch(0, 3000, 1), { storageOptions });
		} catch (e) {
			if (!/struct validity/.test(e.message))
				throw e;
			console.error(`${tag}/${name}: without null structs (${e.message.split('\n')[0]})`);
			sn = false;
			t = await db.createTable(name, makeBatch(0, 3000, 1, sn), { storageOptions });
		}
		await t.add(makeBatch(3000, 1500, 2, sn));
		await (await t.tags()).create('first_two', 2);
		await t.add(makeBatch(4500, 700, 3, sn));
		await t.delete('id % 97 = 5');
		await t.update({ where: 'id < 20', values: { i32: '-1' } });
		await (await t.tags()).create('after_update', await t.version());
		await t.add(makeBatch(5200, 10, 4, sn));
		made.push([name, t]);
	}

	// Nested lists and structs in every storage version.
	for (const [name, storageOptions] of [['nested', {}], ['nested_v20', { new_table_data_storage_version: '2.0' }],
		['nested_v21', { new_table_data_storage_version: '2.1' }],
		['nested_v22', { new_table_data_storage_version: '2.2' }]]) {
		let t;
		let sn = true;
		try {
			t = await db.createTable(name, nestedBatch(0, 2000, sn), { storageOptions });
		} catch (e) {
			if (!/struct validity|null struct/i.test(e.message))
				throw e;
			console.error(`${tag}/${name}: without null structs (${e.message.split('\n')[0]})`);
			sn = false;
			t = await db.createTable(name, nestedBatch(0, 2000, sn), { storageOptions });
		}
		await t.add(nestedBatch(2000, 700, sn));
		await t.delete('id % 13 = 1');
		made.push([name, t]);
	}
	// Vectors with NULL items in every storage version.
	for (const [name, storageOptions] of [['vecnull_v20', { new_table_data_storage_version: '2.0' }],
		['vecnull_v21', { new_table_data_storage_version: '2.1' }],
		['vecnull_v22', { new_table_data_storage_version: '2.2' }]]) {
		const t = await db.createTable(name, vecNullBatch(0, 400), { storageOptions });
		await t.add(vecNullBatch(400, 150));
		made.push([name, t]);
	}

	// Many deletes: a roaring bitmap deletion file.
	{
		const t = await db.createTable('bigdel', simpleBatch(0, 20000));
		await t.delete('id >= 1000 and id < 9000');
		await t.delete('id = 15000');
		made.push(['bigdel', t]);
	}
	// V1 manifest naming.
	{
		const t = await db.createTable('v1names', simpleBatch(0, 100),
			{ storageOptions: { new_table_enable_v2_manifest_paths: 'false' } });
		await t.add(simpleBatch(100, 50));
		await t.delete('id = 7');
		made.push(['v1names', t]);
	}
	// Stable row ids.
	{
		const t = await db.createTable('stable', simpleBatch(0, 1000),
			{ storageOptions: { new_table_enable_stable_row_ids: 'true' } });
		await t.add(simpleBatch(1000, 500));
		await t.delete('id % 10 = 1');
		await t.update({ where: 'id < 5', values: { v: '-1.0' } });
		made.push(['stable', t]);
	}
	// Wide vectors.
	{
		const t = await db.createTable('vec768', vecBatch(0, 300, 768));
		await t.add(vecBatch(300, 50, 768));
		made.push(['vec768', t]);
	}
	for (const [name, t] of made)
		await dumpAll(dir, t, name);
	console.log(`${tag}: ${made.map(([n]) => n).join(' ')}`);
}

await generate(lance37, 'v37');
await generate(lance39, 'v39');
