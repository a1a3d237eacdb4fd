// LanceDB side of the lance_fdw crash tests (test/t/026_lance_crash.pl).
// Table "v": id int64, vector fixed_size_list<float32, DIM> with every
// element equal to id.
//
//   node write_crash.mjs create DIR LIB VER DIM  table "v" with ids 1..3
//   node write_crash.mjs check DIR LIB           version, rows, sum of ids,
//                                                bad (rows whose vector is not id)
//
// LIB is 37 (@lancedb/lancedb 0.37.1) or 39 (0.39.0).
import * as arrow from 'apache-arrow';
import * as lance37 from 'lancedb037';
import * as lance39 from 'lancedb039';

const [cmd, dir, libname, a3, a4] = process.argv.slice(2);
const lib = libname === '37' ? lance37 : lance39;
const db = await lib.connect(dir);

if (cmd === 'create') {
	const dim = Number(a4);
	const f32 = new arrow.Float32();
	const type = new arrow.FixedSizeList(dim, new arrow.Field('item', f32, true));
	const schema = new arrow.Schema([new arrow.Field('id', new arrow.Int64(), false),
		new arrow.Field('vector', type, true)]);
	const ids = [1, 2, 3];
	const child = arrow.makeData({ type: f32, length: ids.length * dim, nullCount: 0,
		data: Float32Array.from(ids.flatMap((g) => new Array(dim).fill(g))) });
	const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length: ids.length, nullCount: 0,
		children: [
			arrow.makeData({ type: new arrow.Int64(), length: ids.length, nullCount: 0,
				data: BigInt64Array.from(ids, BigInt) }),
			arrow.makeData({ type, length: ids.length, nullCount: 0, child })] });
	await db.createTable('v', new arrow.Table(schema, new arrow.RecordBatch(schema, data)),
		{ storageOptions: { new_table_data_storage_version: a3 } });
	console.log('created');
} else if (cmd === 'check') {
	const t = await db.openTable('v');
	let rows = 0;
	let bad = 0;
	let sum = 0n;
	const tbl = await t.query().toArrow();
	for (const batch of tbl.batches) {
		const ids = batch.getChild('id');
		const vecs = batch.getChild('vector');
		for (let i = 0; i < batch.numRows; i++) {
			const g = Number(ids.get(i));
			const v = vecs.get(i);
			rows++;
			sum += BigInt(g);
			if (v === null || !Array.from(v).every((x) => x === g))
				bad++;
		}
	}
	console.log('rows', rows);
	console.log('sum', sum.toString());
	console.log('bad', bad);
	console.log('version', await t.version());
} else {
	throw new Error('unknown command ' + cmd);
}
