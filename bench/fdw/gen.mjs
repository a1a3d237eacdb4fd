// Writes the lance_fdw benchmark dataset with the real LanceDB (npm):
// N rows (default 1M) of id int64, text utf8, vector fixed_size_list<float,128>,
// val float32, in 10 appends (10 fragments), into DIR/items.lance.
//
//   node gen.mjs DIR [N]
import * as arrow from 'apache-arrow';
import * as lancedb from 'lancedb039';
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const total = Number(process.argv[3] || 1000000);
const DIM = 128;
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta',
	'iota', 'kappa', 'lambda', 'mu', 'nu', 'xi', 'omicron', 'pi'];

function rng(seed) {
	return () => {
		seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function batch(start, n) {
	const r = rng(start + 1);
	const f32 = new arrow.Float32();
	const vtype = new arrow.FixedSizeList(DIM, new arrow.Field('item', f32, true));
	const schema = new arrow.Schema([
		new arrow.Field('id', new arrow.Int64(), false),
		new arrow.Field('text', new arrow.Utf8(), true),
		new arrow.Field('vector', vtype, true),
		new arrow.Field('val', f32, true)]);
	const text = arrow.vectorFromArray(Array.from({ length: n }, (_, i) => {
		let s = `doc ${start + i}:`;
		const k = 3 + Math.floor(r() * 6);
		for (let j = 0; j < k; j++)
			s += ' ' + WORDS[Math.floor(r() * WORDS.length)];
		return s;
	}), new arrow.Utf8()).data[0];
	const child = arrow.makeData({ type: f32, length: n * DIM, data: Float32Array.from({ length: n * DIM }, () => r() * 2 - 1) });
	const children = [
		arrow.makeData({ type: new arrow.Int64(), length: n, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)) }),
		text,
		arrow.makeData({ type: vtype, length: n, nullCount: 0, child }),
		arrow.makeData({ type: f32, length: n, data: Float32Array.from({ length: n }, () => r() * 100) })];
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children }))]);
}

fs.mkdirSync(dir, { recursive: true });
fs.rmSync(path.join(dir, 'items.lance'), { recursive: true, force: true });
const db = await lancedb.connect(dir);
const per = Math.ceil(total / 10);
let t = null;
for (let start = 0; start < total; start += per) {
	const b = batch(start, Math.min(per, total - start));
	if (t === null)
		t = await db.createTable('items', b);
	else
		await t.add(b);
}
console.log(`items: ${await t.countRows()} rows in ${dir}`);
