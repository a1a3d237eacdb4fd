// Writes the small Lance dataset committed in test/lance/fixture (used by
// the pg_regress suite sql/lance_fdw_scan.sql, which cannot depend on npm):
//
//   cd test/lance && node gen_fixture.mjs fixture
//
// items.lance: 3 fragments (3 appends) of id, label, 4-dim float vectors
// (some NULL) and 4-dim float16 vectors, then a delete.  Values come from a
// fixed PRNG, so distances to the test's query vectors do not tie.
import * as arrow from 'apache-arrow';
import * as lancedb from 'lancedb039';
import fs from 'node:fs';
import path from 'node:path';

const out = process.argv[2];
if (!out) {
	console.error('usage: node gen_fixture.mjs OUTDIR');
	process.exit(2);
}

function rng(seed) {
	return () => {
		seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const f32 = new arrow.Float32();
const f16 = new arrow.Float16();

function toHalf(x) {
	const dv = new DataView(new ArrayBuffer(4));
	dv.setFloat32(0, x);
	const b = dv.getUint32(0);
	const sign = (b >>> 16) & 0x8000;
	const exp = ((b >>> 23) & 0xff) - 127 + 15;
	if (exp <= 0)
		return sign;
	return sign | (exp << 10) | ((b >>> 13) & 0x3ff);
}

function batch(start, n, seed) {
	const r = rng(seed);
	const dim = 4;
	const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i));
	const label = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => `item ${start + i}`), new arrow.Utf8()).data[0];
	const vchild = arrow.makeData({ type: f32, length: n * dim, data: Float32Array.from({ length: n * dim }, () => r() * 2 - 1) });
	const nb = new Uint8Array((n + 7) >> 3);
	let nulls = 0;
	for (let i = 0; i < n; i++) {
		if ((start + i) % 13 === 5)
			nulls++;
		else
			nb[i >> 3] |= 1 << (i & 7);
	}
	const vtype = new arrow.FixedSizeList(dim, new arrow.Field('item', f32, true));
	const vec = arrow.makeData({ type: vtype, length: n, nullCount: nulls, nullBitmap: nb, child: vchild });
	const hchild = arrow.makeData({ type: f16, length: n * dim, data: Uint16Array.from({ length: n * dim }, () => toHalf(r() * 2 - 1)) });
	const htype = new arrow.FixedSizeList(dim, new arrow.Field('item', f16, true));
	const hv = arrow.makeData({ type: htype, length: n, nullCount: 0, child: hchild });
	const schema = new arrow.Schema([
		new arrow.Field('id', new arrow.Int64(), false),
		new arrow.Field('label', new arrow.Utf8(), true),
		new arrow.Field('vec', vtype, true),
		new arrow.Field('hv', htype, true)]);
	const children = [arrow.makeData({ type: new arrow.Int64(), length: n, data: ids }), label, vec, hv];
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children }))]);
}

fs.rmSync(path.join(out, 'items.lance'), { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const db = await lancedb.connect(out);
const t = await db.createTable('items', batch(0, 80, 11));
await t.add(batch(80, 70, 12));
await t.add(batch(150, 50, 13));
await t.delete('id % 17 = 3');
console.log(`items: ${await t.countRows()} rows, version ${await t.version()}`);
