// LanceDB side of the lance_fdw write tests (test/t/025_lance_write.pl).
// Every value of row `id` is a function of id (expected() below; the SQL in
// the TAP test uses the same formulas), so each side checks the other's rows
// exactly.
//
//   node write_interop.mjs create DIR LIB VER [stable]
//                                               table "t" (3 seed rows), with
//                                               stable row ids if "stable"
//   node write_interop.mjs rowids DIR LIB       "rowid ID ROWID" per row
//   node write_interop.mjs check DIR LIB        every row against expected()
//   node write_interop.mjs add DIR LIB FROM TO  LanceDB add() of ids [FROM, TO)
//   node write_interop.mjs mutate DIR LIB       delete id % 10 = 1, optimize()
//   node write_interop.mjs stat DIR LIB         version, rows
//   node write_interop.mjs count DIR LIB WHERE  rows matching a filter
//   node write_interop.mjs delete DIR LIB WHERE LanceDB delete()
//   node write_interop.mjs tags DIR LIB         "tag NAME VERSION ROWS" per tag
//   node write_interop.mjs optimize DIR LIB     optimize() (compaction, cleanup > 7 days)
//   node write_interop.mjs at DIR LIB VERSION   rows of an old version, or "error MSG"
//   node write_interop.mjs index DIR LIB        a btree index on id
//   node write_interop.mjs indices DIR LIB      "indices N", "found ROWS" (id = 2 through it)
//
// LIB is 37 (@lancedb/lancedb 0.37.1) or 39 (0.39.0); VER a data storage
// version.  Output lines are "key value" pairs the test matches.
import * as arrow from 'apache-arrow';
import * as lance37 from 'lancedb037';
import * as lance39 from 'lancedb039';

const [cmd, dir, libname, a3, a4, a5] = process.argv.slice(2);
const lib = libname === '37' ? lance37 : lance39;
const f16 = new arrow.Float16();
const f32 = new arrow.Float32();
const i32 = new arrow.Int32();

const FIELDS = [
	['id', new arrow.Int64(), false],
	['i8', new arrow.Int8()], ['i16', new arrow.Int16()], ['i32', new arrow.Int32()],
	['u8', new arrow.Uint8()], ['u32', new arrow.Uint32()], ['u64', new arrow.Uint64()],
	['f16', f16], ['f32', f32], ['f64', new arrow.Float64()], ['b', new arrow.Bool()],
	['s', new arrow.Utf8()], ['bin', new arrow.Binary()],
	['vec', new arrow.FixedSizeList(8, new arrow.Field('item', f32, true))],
	['hv', new arrow.FixedSizeList(4, new arrow.Field('item', f16, true))],
	['ia', new arrow.FixedSizeList(3, new arrow.Field('item', i32, true))],
	['ts', new arrow.TimestampMicrosecond()], ['dt', new arrow.DateDay()],
];
const SCHEMA = new arrow.Schema(FIELDS.map(([n, t, nl]) => new arrow.Field(n, t, nl !== false)));

// Column c (position in FIELDS) of row g is NULL when (g + c) % 7 == 0.
function isNull(c, g) { return c > 0 && (g + c) % 7 === 0; }

function expected(c, g) {
	if (isNull(c, g))
		return null;
	switch (FIELDS[c][0]) {
		case 'id': return BigInt(g);
		case 'i8': return g % 256 - 128;
		case 'i16': return (g * 37) % 65536 - 32768;
		case 'i32': return g * 1000 - 5000000;
		case 'u8': return (g * 3) % 256;
		case 'u32': return (g * 2654435761) % 4294967296;
		case 'u64': return BigInt(g) * 1000000007n;
		case 'f16': return (g % 2048) / 4;
		case 'f32': return g / 16;
		case 'f64': return g / 3;
		case 'b': return g % 3 === 0;
		case 's': return 'v' + g + (g % 5 === 0 ? '-é日本' : '') + 'x'.repeat(g % 40);
		case 'bin': return Uint8Array.from([g & 255, (g >> 8) & 255, 0, 255].slice(0, g % 5));
		case 'vec': return Array.from({ length: 8 }, (_, k) => g + k * 0.25);
		case 'hv': return Array.from({ length: 4 }, (_, k) => (g % 64) + k * 0.5);
		case 'ia': return [g, -g, 2 * g];
		case 'ts': return 1700000000000000n + BigInt(g) * 1000001n;
		case 'dt': return 19000 + g % 1000;
	}
	throw new Error('field');
}

function column(c, ids) {
	const [, type] = FIELDS[c];
	const n = ids.length;
	const bm = new Uint8Array((n + 7) >> 3);
	let nulls = 0;
	ids.forEach((g, i) => { if (isNull(c, g)) nulls++; else bm[i >> 3] |= 1 << (i & 7); });
	const mk = (data) => arrow.makeData({ type, length: n, nullCount: nulls, nullBitmap: bm, data });
	const vals = ids.map((g) => expected(c, g));
	switch (FIELDS[c][0]) {
		case 'id': return mk(BigInt64Array.from(vals));
		case 'i8': return mk(Int8Array.from(vals, (v) => v ?? 0));
		case 'i16': return mk(Int16Array.from(vals, (v) => v ?? 0));
		case 'i32': return mk(Int32Array.from(vals, (v) => v ?? 0));
		case 'u8': return mk(Uint8Array.from(vals, (v) => v ?? 0));
		case 'u32': return mk(Uint32Array.from(vals, (v) => v ?? 0));
		case 'u64': return mk(BigUint64Array.from(vals, (v) => v ?? 0n));
		case 'f16': return mk(Uint16Array.from(vals, (v) => toHalf(v ?? 0)));
		case 'f32': return mk(Float32Array.from(vals, (v) => v ?? 0));
		case 'f64': return mk(Float64Array.from(vals, (v) => v ?? 0));
		case 'ts': return mk(BigInt64Array.from(vals, (v) => v ?? 0n));
		case 'dt': return mk(Int32Array.from(vals, (v) => v ?? 0));
		case 'b': {
			const bits = new Uint8Array((n + 7) >> 3);
			vals.forEach((v, i) => { if (v) bits[i >> 3] |= 1 << (i & 7); });
			return mk(bits);
		}
		case 's': case 'bin':
			return arrow.vectorFromArray(vals, type).data[0];
		default: {
			const dim = type.listSize;
			const it = type.children[0].type;
			const flat = vals.flatMap((v) => v ?? new Array(dim).fill(0));
			const data = it instanceof arrow.Float16 ? Uint16Array.from(flat, toHalf)
				: it instanceof arrow.Float32 ? Float32Array.from(flat) : Int32Array.from(flat);
			const child = arrow.makeData({ type: it, length: n * dim, nullCount: 0, data });
			return arrow.makeData({ type, length: n, nullCount: nulls, nullBitmap: bm, child });
		}
	}
}

// float -> IEEE binary16 bits (exact for the values used here)
function toHalf(x) {
	if (x === 0) return 0;
	const s = x < 0 ? 0x8000 : 0;
	x = Math.abs(x);
	let e = Math.floor(Math.log2(x));
	const m = Math.round((x / 2 ** e - 1) * 1024);
	return s | ((e + 15) << 10) | m;
}

function batch(from, to) {
	const ids = Array.from({ length: to - from }, (_, i) => from + i);
	const children = FIELDS.map((_, c) => column(c, ids));
	const data = arrow.makeData({ type: new arrow.Struct(SCHEMA.fields), length: ids.length,
		nullCount: 0, children });
	return new arrow.Table(SCHEMA, new arrow.RecordBatch(SCHEMA, data));
}

function same(c, got, want) {
	if (want === null || got === null)
		return want === got;
	switch (FIELDS[c][0]) {
		case 'id': case 'u64':
			return BigInt(got) === want;
		case 'ts':
			// read back as milliseconds (a float): exact to the microsecond here
			return BigInt(Math.round(Number(got) * 1000)) === want;
		case 'dt':
			// DateDay reads back as milliseconds since the epoch
			return Number(got instanceof Date ? got.getTime() : got) / 86400000 === want;
		case 'bin':
			return got.length === want.length && got.every((v, i) => v === want[i]);
		case 'vec': case 'hv': case 'ia':
			return got.length === want.length && Array.from(got).every((v, i) => Number(v) === want[i]);
		default:
			return got === want;
	}
}

const db = await lib.connect(dir);
if (cmd === 'create') {
	const opts = { new_table_data_storage_version: a3 };
	if (a4 === 'stable')
		opts.new_table_enable_stable_row_ids = 'true';
	await db.createTable('t', batch(1, 4), { storageOptions: opts });
	console.log('created');
} else if (cmd === 'add') {
	const t = await db.openTable('t');
	await t.add(batch(Number(a3), Number(a4)));
	console.log('version', await t.version());
} else if (cmd === 'check') {
	const t = await db.openTable('t');
	const tbl = await t.query().toArrow();
	let bad = 0;
	const ids = tbl.getChild('id').toArray();
	for (let c = 0; c < FIELDS.length; c++) {
		const col = tbl.getChild(FIELDS[c][0]);
		for (let i = 0; i < tbl.numRows; i++) {
			const g = Number(ids[i]);
			let got = col.get(i);
			if (got !== null && FIELDS[c][0] === 'u32') got = Number(got);
			if (!same(c, got, expected(c, g))) {
				if (bad++ < 5)
					console.log('mismatch', FIELDS[c][0], g, String(got), String(expected(c, g)));
			}
		}
	}
	let sum = 0n;
	for (const v of ids) sum += BigInt(v);
	console.log('rows', tbl.numRows);
	console.log('sum', sum.toString());
	console.log('bad', bad);
	console.log('version', await t.version());
} else if (cmd === 'mutate') {
	const t = await db.openTable('t');
	await t.delete('id % 10 = 1');
	await t.optimize();
	console.log('rows', await t.countRows());
	console.log('version', await t.version());
} else if (cmd === 'count') {
	const t = await db.openTable('t');
	console.log('rows', await t.countRows(a3));
} else if (cmd === 'delete') {
	const t = await db.openTable('t');
	await t.delete(a3);
	console.log('version', await t.version());
} else if (cmd === 'rowids') {
	const t = await db.openTable('t');
	const rows = await t.query().select(['id']).withRowId().toArray();
	rows.sort((x, y) => Number(x.id) - Number(y.id));
	for (const r of rows)
		console.log('rowid', Number(r.id), Number(r._rowid));
} else if (cmd === 'tags') {
	const t = await db.openTable('t');
	const tags = await (await t.tags()).list();
	for (const [name, info] of Object.entries(tags).sort()) {
		await t.checkout(name);
		console.log('tag', name, info.version, await t.countRows());
	}
} else if (cmd === 'optimize') {
	const t = await db.openTable('t');
	await t.optimize();
	console.log('rows', await t.countRows());
	console.log('version', await t.version());
} else if (cmd === 'at') {
	const t = await db.openTable('t');
	try {
		await t.checkout(Number(a3));
		console.log('rows', await t.countRows());
	} catch (e) {
		console.log('error', String(e.message).split('\n')[0]);
	}
} else if (cmd === 'index') {
	const t = await db.openTable('t');
	await t.createIndex('id', { config: lib.Index.btree() });
	console.log('indices', (await t.listIndices()).length);
} else if (cmd === 'indices') {
	const t = await db.openTable('t');
	console.log('indices', (await t.listIndices()).length);
	console.log('found', (await t.query().where('id = 2').toArray()).length);
} else if (cmd === 'stat') {
	const t = await db.openTable('t');
	console.log('rows', await t.countRows());
	console.log('version', await t.version());
} else
	throw new Error('unknown command ' + cmd);
