// LanceDB's own reads of the benchmark dataset (the baseline of run.sh):
// full scans (query().toArrow(), every column) and exact top-10 vector
// searches (vectorSearch().bypassVectorIndex(), no index), timed in this
// process.  Writes the query vectors and LanceDB's answers as JSON.
//
//   node lancedb_read.mjs DIR NQUERIES OUT.json
import * as lancedb from 'lancedb039';
import fs from 'node:fs';

const [dir, nqArg, out] = process.argv.slice(2);
const nq = Number(nqArg || 20);
const DIM = 128;

function rng(seed) {
	return () => {
		seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const db = await lancedb.connect(dir);
const tbl = await db.openTable('items');
const rows = await tbl.countRows();

// full scans: the best of 3 (the first one also warms the page cache)
let best = Infinity;
let scanned = 0;
for (let i = 0; i < 3; i++) {
	const t0 = process.hrtime.bigint();
	const t = await tbl.query().toArrow();
	const ms = Number(process.hrtime.bigint() - t0) / 1e6;
	scanned = t.numRows;
	best = Math.min(best, ms);
}

// top-10 by L2 distance, exact
const r = rng(424242);
const queries = Array.from({ length: nq }, () => Array.from({ length: DIM }, () => Number((r() * 2 - 1).toFixed(6))));
await tbl.vectorSearch(queries[0]).bypassVectorIndex().limit(10).toArray();	/* warm-up */
const lat = [];
const ids = [];
for (const q of queries) {
	const t0 = process.hrtime.bigint();
	const res = await tbl.vectorSearch(q).bypassVectorIndex().distanceType('l2').limit(10).toArray();
	lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
	ids.push(res.map((x) => Number(x.id)));
}
lat.sort((a, b) => a - b);
const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
fs.writeFileSync(out, JSON.stringify({
	rows, scanned, scan_ms: best, scan_rows_per_s: scanned / (best / 1000),
	topk_mean_ms: mean, topk_p50_ms: lat[Math.floor(lat.length / 2)], queries, ids,
}));
console.log(`lancedb: scan ${scanned} rows in ${best.toFixed(0)} ms (${(scanned / best * 1000).toFixed(0)} rows/s); ` +
	`top-10 mean ${mean.toFixed(1)} ms over ${nq} queries`);
