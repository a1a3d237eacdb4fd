// LanceDB side of the lance_fdw tests of deeper nesting and decimal256
// (test/t/025_lance_write.pl).  Table "d": id, li list<int32>,
// ll list<list<int32>>, lls list<list<utf8>>,
// sl struct<a int32, l list<utf8>, s struct<x int32, y list<float64>>>,
// lsl list<struct<a list<int32>, b utf8>>, d256 decimal(50, 6) (256 bits).
// Every value of row `id` is a function of id (expected() below; the SQL in
// the TAP test uses the same formulas).  Ids in [100000, 400000) hold long
// runs of NULL and empty lists in li and ll: 100000 NULL, 100000 empty,
// then runs of 9000 of each with a few lists between.
//
//   node write_deep.mjs create DIR LIB VER   table "d" with ids 1..3
//   node write_deep.mjs check DIR LIB        every row against expected()
//   node write_deep.mjs add DIR LIB FROM TO  LanceDB add() of ids [FROM, TO)
//   node write_deep.mjs optimize DIR LIB     optimize() (compaction)
//   node write_deep.mjs at DIR LIB VERSION   check every row of an old version
// A fifth argument names the table: "r" is id, li and ll only (the long
// runs), "m" id and ll, after placeholders: node write_deep.mjs check DIR LIB - - r.
//
// LIB is 37 (@lancedb/lancedb 0.37.1) or 39 (0.39.0).
import * as arrow from 'apache-arrow';
import * as lance37 from 'lancedb037';
import * as lance39 from 'lancedb039';

const [cmd, dir, libname, a3, a4] = process.argv.slice(2);
const lib = libname === '37' ? lance37 : lance39;
const i32 = new arrow.Int32();
const utf8 = new arrow.Utf8();
const f64 = new arrow.Float64();
const list = (t) => new arrow.List(new arrow.Field('item', t, true));
const T = {
	li: list(i32),
	ll: list(list(i32)),
	lls: list(list(utf8)),
	sl: new arrow.Struct([new arrow.Field('a', i32, true), new arrow.Field('l', list(utf8), true),
		new arrow.Field('s', new arrow.Struct([new arrow.Field('x', i32, true),
			new arrow.Field('y', list(f64), true)]), true)]),
	lsl: list(new arrow.Struct([new arrow.Field('a', list(i32), true), new arrow.Field('b', utf8, true)])),
	d256: new arrow.Decimal(6, 50, 256),
};
// table "d" has every column, table "r" (the long runs) id, li and ll,
// table "m" (two-dimensional arrays) id and ll, table "x" id and d256
const TABLE = process.argv[7] ?? 'd';
const COLS = TABLE === 'r' ? ['li', 'll'] : TABLE === 'm' ? ['ll'] : TABLE === 'x' ? ['d256'] : Object.keys(T);
const SCHEMA = new arrow.Schema([
	new arrow.Field('id', new arrow.Int64(), false),
	...COLS.map((n) => new arrow.Field(n, T[n], true)),
]);

const inRuns = (g) => g >= 100000 && g < 400000;
// 0: NULL list, 1: empty list, 2: a list
const runKind = (g) => (g < 200000 ? 0 : g < 300000 ? 1 : g % 50000 === 7 ? 2 : Math.floor(g / 9000) % 2);
const seq = (n, f) => Array.from({ length: Math.max(n, 0) }, (_, k) => f(k));

function expected(name, g) {
	switch (name) {
		case 'li':
			if (inRuns(g))
				return [null, [], [g]][runKind(g)];
			if (g % 6 === 1) return null;
			if (g % 6 === 2) return [];
			return seq(g % 4 + 1, (k) => (k === 1 && g % 5 === 0 ? null : g * 10 + k));
		case 'll':
			if (inRuns(g))
				return [null, [], [[g, null], []]][runKind(g)];
			if (g % 7 === 1) return null;
			if (g % 7 === 2) return [];
			return seq(g % 3 + 1, (k) => (k === 1 && g % 5 === 0 ? null : k === 2 && g % 4 === 0 ? []
				: seq(g % 4 + 1, (q) => (q === 1 && g % 6 === 0 ? null : g * 10 + k * 3 + q))));
		case 'lls':
			if (g % 5 === 3) return null;
			return seq(g % 2 + 1, (k) => seq(g % 3, (q) => (q === 0 && g % 7 === 0 ? null : 's' + g + '.' + k + '.' + q)));
		case 'sl':
			if (g % 6 === 5) return null;
			return {
				a: g % 4 === 0 ? null : g * 2,
				l: g % 5 === 1 ? null : seq(g % 3, (k) => (k === 1 && g % 2 === 0 ? null : 'l' + g + '-' + k)),
				s: g % 7 === 3 ? null : { x: g % 3 === 0 ? null : g, y: g % 4 === 2 ? null : seq(g % 3, (k) => g / 2 + k) },
			};
		case 'lsl':
			if (g % 8 === 4) return null;
			if (g % 8 === 5) return [];
			return seq(g % 3 + 1, (k) => (k === 2 && g % 3 === 0 ? null
				: { a: k === 0 && g % 4 === 1 ? null : seq((g + k) % 3, (q) => g + k + q), b: g % 5 === 0 ? null : 'b' + g + '.' + k }));
		case 'd256':
			if (g % 9 === 2) return null;
			return g % 11 === 0 ? -(10n ** 45n + BigInt(g)) : BigInt(g) * 123456789n - 500000000n;
	}
	throw new Error(name);
}

function decimalData(type, vals) {
	const n = vals.length;
	const nw = type.bitWidth / 32;
	const words = new Uint32Array(n * nw);
	const bm = new Uint8Array((n + 7) >> 3);
	let nulls = 0;
	vals.forEach((v, i) => {
		if (v === null) {
			nulls++;
			return;
		}
		bm[i >> 3] |= 1 << (i & 7);
		const u = BigInt.asUintN(type.bitWidth, v);
		for (let w = 0; w < nw; w++)
			words[i * nw + w] = Number((u >> BigInt(32 * w)) & 0xffffffffn);
	});
	return arrow.makeData({ type, length: n, nullCount: nulls, nullBitmap: bm, data: words });
}

function batch(from, to) {
	const ids = Array.from({ length: to - from }, (_, i) => from + i);
	const children = [arrow.makeData({ type: new arrow.Int64(), length: ids.length, nullCount: 0,
		data: BigInt64Array.from(ids, BigInt) })];
	for (const name of COLS) {
		const type = T[name];
		const vals = ids.map((g) => expected(name, g));
		children.push(type instanceof arrow.Decimal ? decimalData(type, vals)
			: arrow.vectorFromArray(vals, type).data[0]);
	}
	const data = arrow.makeData({ type: new arrow.Struct(SCHEMA.fields), length: ids.length,
		nullCount: 0, children });
	return new arrow.Table(SCHEMA, new arrow.RecordBatch(SCHEMA, data));
}

// Canonical text of a value as read (Arrow vectors and struct rows) and as expected.
function canonGot(v) {
	if (v === null || v === undefined)
		return 'N';
	if (typeof v !== 'object')
		return String(v);
	if (typeof v.get === 'function' && typeof v.length === 'number' && !(v instanceof Map))
		return '[' + Array.from({ length: v.length }, (_, i) => canonGot(v.get(i))).join(',') + ']';
	return '{' + Object.keys(v.toJSON()).map((k) => k + ':' + canonGot(v[k])).join(',') + '}';
}

function canonWant(v) {
	if (v === null)
		return 'N';
	if (Array.isArray(v))
		return '[' + v.map(canonWant).join(',') + ']';
	if (typeof v === 'object')
		return '{' + Object.keys(v).map((k) => k + ':' + canonWant(v[k])).join(',') + '}';
	return String(v);
}

// Validity and length of list i of a column (its chunks walked in order).
function listInfo(col, i, pos) {
	while (i >= pos.off + col.data[pos.k].length) {
		pos.off += col.data[pos.k].length;
		pos.k++;
	}
	const d = col.data[pos.k];
	const j = d.offset + i - pos.off;
	const valid = !(d.nullBitmap && d.nullCount > 0) || ((d.nullBitmap[j >> 3] >> (j & 7)) & 1) === 1;
	return { valid, len: d.valueOffsets[j + 1] - d.valueOffsets[j] };
}

// A decimal's value from its words (the Arrow column's raw data at row i).
function decimalAt(col, i) {
	let off = 0;
	for (const d of col.data) {
		if (i < off + d.length) {
			const j = i - off;
			if (d.nullBitmap && d.nullCount > 0 && !((d.nullBitmap[(d.offset + j) >> 3] >> ((d.offset + j) & 7)) & 1))
				return 'N';
			const nw = d.type.bitWidth / 32;
			let u = 0n;
			for (let w = nw - 1; w >= 0; w--)
				u = (u << 32n) | BigInt(d.values[(d.offset + j) * nw + w] >>> 0);
			return String(BigInt.asIntN(d.type.bitWidth, u));
		}
		off += d.length;
	}
	throw new Error('row out of range');
}

async function check(t) {
	const tbl = await t.query().toArrow();
	const ids = tbl.getChild('id').toArray();
	let bad = 0;
	for (const name of COLS) {
		const col = tbl.getChild(name);
		const pos = { k: 0, off: 0 };
		for (let i = 0; i < tbl.numRows; i++) {
			const g = Number(ids[i]);
			let got;
			if (name === 'd256')
				got = decimalAt(col, i);
			else if (!(T[name] instanceof arrow.List))
				got = canonGot(col.get(i));
			else {
				// NULL and empty lists (the long runs) without building vectors
				const li = listInfo(col, i, pos);
				got = !li.valid ? 'N' : li.len === 0 ? '[]' : canonGot(col.get(i));
			}
			const want = canonWant(expected(name, g));
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
	await db.createTable(TABLE, batch(1, 4), { storageOptions: { new_table_data_storage_version: a3 } });
	console.log('created');
} else if (cmd === 'check') {
	const t = await db.openTable(TABLE);
	await check(t);
	console.log('version', await t.version());
} else if (cmd === 'at') {
	const t = await db.openTable(TABLE);
	await t.checkout(Number(a3));
	await check(t);
} else if (cmd === 'add') {
	const t = await db.openTable(TABLE);
	await t.add(batch(Number(a3), Number(a4)));
	console.log('version', await t.version());
} else if (cmd === 'optimize') {
	const t = await db.openTable(TABLE);
	await t.optimize();
	console.log('rows', await t.countRows());
	console.log('version', await t.version());
} else {
	throw new Error('unknown command ' + cmd);
}
