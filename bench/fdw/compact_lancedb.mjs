// LanceDB side of the compaction benchmark (bench/fdw/compact.sh): creates
// DIR/comp.lance (id int64, vector fixed_size_list<float,128>) from APPENDS
// appends of N rows each, copies it to DIR/fdw.lance (the FDW compacts the
// copy), then times optimize() of DIR/comp.lance (wall clock and CPU time of
// all its threads).  Prints JSON.
//
//   node compact_lancedb.mjs DIR N APPENDS
import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import * as lancedb from 'lancedb039';

const [dir, nstr, astr] = process.argv.slice(2);
const N = Number(nstr);
const APPENDS = Number(astr);
const DIM = 128;
const f32 = new arrow.Float32();
const vtype = new arrow.FixedSizeList(DIM, new arrow.Field('item', f32, true));
const schema = new arrow.Schema([
	new arrow.Field('id', new arrow.Int64(), false),
	new arrow.Field('vector', vtype, true)]);

function batch(start, n) {
	let seed = start + 1;
	const r = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
	const child = arrow.makeData({ type: f32, length: n * DIM,
		data: Float32Array.from({ length: n * DIM }, () => r() * 2 - 1) });
	const children = [
		arrow.makeData({ type: new arrow.Int64(), length: n,
			data: BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)) }),
		arrow.makeData({ type: vtype, length: n, nullCount: 0, child })];
	return new arrow.Table(schema, [new arrow.RecordBatch(schema,
		arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children }))]);
}

const db = await lancedb.connect(dir);
const t = await db.createTable('comp', batch(0, N));
for (let i = 1; i < APPENDS; i++)
	await t.add(batch(i * N, N));
fs.cpSync(`${dir}/comp.lance`, `${dir}/fdw.lance`, { recursive: true });
const before = (await t.stats()).fragmentStats.numFragments;
const c0 = process.cpuUsage();
const t0 = performance.now();
await t.optimize();
const optMs = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const after = (await t.stats()).fragmentStats.numFragments;
console.log(JSON.stringify({ optimize_ms: optMs, optimize_cpu_ms: (cpu.user + cpu.system) / 1000, rows: await t.countRows(),
	fragments_before: before, fragments_after: after }));
