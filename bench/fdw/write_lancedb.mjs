// LanceDB side of the write benchmark (bench/fdw/write.sh): creates
// DIR/items.lance (id int64, vector fixed_size_list<float,128>) with one
// seed row, then times add() of N rows (built in memory first, not timed)
// and optimize() of a copy made of 10 appends.  Prints JSON.
//
//   node write_lancedb.mjs DIR N [VER]
//
// VER: the data storage version of all three tables (default: LanceDB's, 2.2).
import * as arrow from 'apache-arrow';
import * as lancedb from 'lancedb039';

const [dir, nstr, ver] = process.argv.slice(2);
const opts = ver ? { storageOptions: { new_table_data_storage_version: ver } } : {};
const N = Number(nstr);
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
// the FDW's target: one seed row, storage version VER (default 2.2)
await db.createTable('items', batch(0, 1), opts);

const add = await db.createTable('add', batch(0, 1), opts);
const data = batch(1, N);
let t0 = performance.now();
await add.add(data);
const addMs = performance.now() - t0;

const comp = await db.createTable('comp', batch(0, 1), opts);
for (let i = 0; i < 10; i++)
	await comp.add(batch(1 + i * (N / 10), N / 10));
t0 = performance.now();
await comp.optimize();
const optMs = performance.now() - t0;
console.log(JSON.stringify({ add_ms: addMs, optimize_ms: optMs, rows: N }));
