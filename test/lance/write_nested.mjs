// LanceDB side of the lance_fdw list and decimal write tests
// (test/t/025_lance_write.pl).  Table "n": id, li list<int32>, ls
// list<utf8>, lf list<float64>, dm decimal(38,4), dm2 decimal(10,2), st
// struct<a int32, b utf8, c float64, d bool>, lv list<fixed_size_list<float32, 4>>,
// lst list<struct<x int32, y utf8>>.
// Every value of row `id` is a function of id (expected() below; the SQL in
// the TAP test uses the same formulas).
//
//   node write_nested.mjs create DIR LIB VER   table "n" with ids 1..3
//   node write_nested.mjs check DIR LIB        every row against expected()
//   node write_nested.mjs add DIR LIB FROM TO  LanceDB add() of ids [FROM, TO)
//   node write_nested.mjs optimize DIR LIB     optimize() (compaction)
//   node write_nested.mjs at DIR LIB VERSION   check every row of an old version
//
// With NO_NULL_STRUCTS=1 in the environment, add and create skip the ids
// whose row holds a NULL struct (2.0 files cannot store one).
//
// LIB is 37 (@lancedb/lancedb 0.37.1) or 39 (0.39.0).
import * as arrow from 'apache-arrow';
import * as lance37 from 'lancedb037';
import * as lance39 from 'lancedb039';

const [cmd, dir, libname, a3, a4] = process.argv.slice(2);
const lib = libname === '37' ? lance37 : lance39;
const T = {
	li: new arrow.List(new arrow.Field('item', new arrow.Int32(), true)),
	ls: new arrow.List(new arrow.Field('item', new arrow.Utf8(), true)),
	lf: new arrow.List(new arrow.Field('item', new arrow.Float64(), true)),
	dm: new arrow.Decimal(4, 38, 128),
	dm2: new arrow.Decimal(2, 10, 128),
	st: new arrow.Struct([new arrow.Field('a', new arrow.Int32(), true),
		new arrow.Field('b', new arrow.Utf8(), true), new arrow.Field('c', new arrow.Float64(), true),
		new arrow.Field('d', new arrow.Bool(), true)]),
	lv: new arrow.List(new arrow.Field('item',
		new arrow.FixedSizeList(4, new arrow.Field('item', new arrow.Float32(), true)), true)),
	lst: new arrow.List(new arrow.Field('item', new arrow.Struct([
		new arrow.Field('x', new arrow.Int32(), true), new arrow.Field('y', new arrow.Utf8(), true)]), true)),
};
const MEMBERS = ['a', 'b', 'c', 'd'];
const SCHEMA = new arrow.Schema([
	new arrow.Field('id', new arrow.Int64(), false),
	...Object.entries(T).map(([n, t]) => new arrow.Field(n, t, true)),
]);

function expected(name, g) {
	switch (name) {
		case 'li':
			if (g % 6 === 1) return null;
			if (g % 6 === 2) return [];
			return Array.from({ length: g % 5 + 1 }, (_, k) => (k === 1 && g % 4 === 0 ? null : g * 10 + k));
		case 'ls':
			if (g % 5 === 3) return null;
			if (g % 5 === 4) return [];
			return Array.from({ length: g % 3 + 1 },
				(_, k) => (k === 2 ? null : 'w' + g + '-' + k + (g % 7 === 0 ? 'é' : '')));
		case 'lf':
			if (g % 8 === 5) return null;
			return Array.from({ length: g % 4 }, (_, k) => g / 4 + k);
		case 'dm':
			if (g % 9 === 4) return null;
			return g % 11 === 0 ? -(10n ** 30n + BigInt(g)) : BigInt(g) * 12345n - 600000n;
		case 'dm2':
			if (g % 10 === 3) return null;
			return BigInt(g) * 7n - 500n;
		case 'lv':
			if (g % 9 === 7) return null;
			return Array.from({ length: g % 3 },
				(_, k) => (k === 1 && g % 2 === 1 ? null : [0, 1, 2, 3].map((j) => g + k * 0.5 + j)));
		case 'lst':
			if (g % 8 === 2) return null;
			if (g % 8 === 3) return [];
			return Array.from({ length: g % 3 + 1 }, (_, k) => (k === 1 && g % 3 === 2 ? null
				: { x: k === 0 && g % 4 === 1 ? null : g * 100 + k, y: 'y' + g + '.' + k }));
		case 'st':
			if (g % 7 === 6) return null;
			return { a: g % 5 === 0 ? null : g * 3, b: g % 3 === 0 ? null : 'b' + g, c: g / 8, d: g % 2 === 0 };
	}
	throw new Error(name);
}

function decimalData(type, vals) {
	const n = vals.length;
	const words = new Uint32Array(n * 4);
	const bm = new Uint8Array((n + 7) >> 3);
	let nulls = 0;
	vals.forEach((v, i) => {
		if (v === null) {
			nulls++;
			return;
		}
		bm[i >> 3] |= 1 << (i & 7);
		const u = BigInt.asUintN(128, v);
		for (let w = 0; w < 4; w++)
			words[i * 4 + w] = Number((u >> BigInt(32 * w)) & 0xffffffffn);
	});
	return arrow.makeData({ type, length: n, nullCount: nulls, nullBitmap: bm, data: words });
}

// NO_NULL_STRUCTS=1 (2.0 datasets, which keep no struct validity): only the
// ids whose row has no NULL struct, nor a NULL struct item in "lst".
const keep = (g) => process.env.NO_NULL_STRUCTS !== '1' || (g % 7 !== 6 && g % 3 !== 2);

function batch(from, to) {
	const ids = Array.from({ length: to - from }, (_, i) => from + i).filter(keep);
	const children = [arrow.makeData({ type: new arrow.Int64(), length: ids.length, nullCount: 0,
		data: BigInt64Array.from(ids, BigInt) })];
	for (const [name, type] of Object.entries(T)) {
		const vals = ids.map((g) => expected(name, g));
		children.push(type instanceof arrow.Decimal ? decimalData(type, vals)
			: arrow.vectorFromArray(vals, type).data[0]);
	}
	const data = arrow.makeData({ type: new arrow.Struct(SCHEMA.fields), length: ids.length,
		nullCount: 0, children });
	return new arrow.Table(SCHEMA, new arrow.RecordBatch(SCHEMA, data));
}

// Canonical text of a value as read (Arrow) and as expected.
function fmtGot(name, v) {
	if (v === null || v === undefined)
		return 'N';
	if (name === 'dm' || name === 'dm2') {
		let u = 0n;
		for (let w = 3; w >= 0; w--)
			u = (u << 32n) | BigInt(v[w] >>> 0);
		return String(BigInt.asIntN(128, u));
	}
	if (name === 'st')
		return '{' + MEMBERS.map((k) => (v[k] === null || v[k] === undefined ? 'N' : String(v[k]))).join(',') + '}';
	// item by item: toArray() of a numeric vector drops its nulls
	const item = (x) => (x === null ? 'N' : name === 'lst'
		? '{' + ['x', 'y'].map((k) => (x[k] === null ? 'N' : String(x[k]))).join(',') + '}'
		: typeof x === 'object'
		? '[' + Array.from({ length: x.length }, (_, j) => String(x.get ? x.get(j) : x[j])).join(',') + ']'
		: String(x));
	return '[' + Array.from({ length: v.length }, (_, k) => item(v.get(k))).join(',') + ']';
}

function fmtWant(name, v) {
	if (v === null)
		return 'N';
	if (name === 'dm' || name === 'dm2')
		return String(v);
	if (name === 'st')
		return '{' + MEMBERS.map((k) => (v[k] === null ? 'N' : String(v[k]))).join(',') + '}';
	return '[' + v.map((x) => (x === null ? 'N' : Array.isArray(x) ? '[' + x.join(',') + ']'
		: typeof x === 'object' ? '{' + ['x', 'y'].map((k) => (x[k] === null ? 'N' : String(x[k]))).join(',') + '}'
		: String(x))).join(',') + ']';
}

async function check(t) {
	const tbl = await t.query().toArrow();
	const ids = tbl.getChild('id').toArray();
	let bad = 0;
	for (const name of Object.keys(T)) {
		const col = tbl.getChild(name);
		for (let i = 0; i < tbl.numRows; i++) {
			const g = Number(ids[i]);
			let raw = col.get(i);
			// decimals: the four 32-bit words of the value
			if (raw !== null && (name === 'dm' || name === 'dm2')) {
				const data = col.data.find((d, k) => {
					const off = col.data.slice(0, k).reduce((s, x) => s + x.length, 0);
					return i >= off && i < off + d.length;
				});
				const off = i - col.data.slice(0, col.data.indexOf(data)).reduce((s, x) => s + x.length, 0);
				raw = data.values.subarray((data.offset + off) * 4, (data.offset + off) * 4 + 4);
			}
			const got = fmtGot(name, raw);
			const want = fmtWant(name, expected(name, g));
			if (got !== want && bad++ < 5)
				console.log('mismatch', name, g, got, want);
		}
	}
	let sum = 0n;
	for (const v of ids) sum += BigInt(v);
	console.log('rows', tbl.numRows);
	console.log('sum', sum.toString());
	console.log('bad', bad);
}

const db = await lib.connect(dir);
if (cmd === 'create') {
	await db.createTable('n', batch(1, 4), { storageOptions: { new_table_data_storage_version: a3 } });
	console.log('created');
} else if (cmd === 'check') {
	const t = await db.openTable('n');
	await check(t);
	console.log('version', await t.version());
} else if (cmd === 'at') {
	const t = await db.openTable('n');
	await t.checkout(Number(a3));
	await check(t);
} else if (cmd === 'add') {
	const t = await db.openTable('n');
	await t.add(batch(Number(a3), Number(a4)));
	console.log('version', await t.version());
} else if (cmd === 'optimize') {
	const t = await db.openTable('n');
	await t.optimize();
	console.log('rows', await t.countRows());
	console.log('version', await t.version());
} else {
	throw new Error('unknown command ' + cmd);
}
