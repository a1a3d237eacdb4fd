// Client interop tests: node-postgres (pg) and pgvector's own Node client
// against a real server with the lancedb extension installed.
//
// Connection settings come from PGHOST / PGPORT / PGUSER / PGDATABASE (set
// by test/run).  Run with: node --test test/node/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pgvector from 'pgvector/pg';

const table = `lancedb_node_${process.pid}_${Date.now()}`;
let client;
let vectorOid;
let halfvecOid;

// pgvector binary format (vector_send/vector_recv): int16 dim, int16 unused
// (0), then dim float4, all big-endian.
function encodeVector(values) {
  const buf = Buffer.alloc(4 + 4 * values.length);
  buf.writeInt16BE(values.length, 0);
  buf.writeInt16BE(0, 2);
  values.forEach((v, i) => buf.writeFloatBE(v, 4 + 4 * i));
  return buf;
}

function decodeVector(buf) {
  assert.ok(Buffer.isBuffer(buf), `expected a Buffer, got ${typeof buf}`);
  const dim = buf.readInt16BE(0);
  assert.equal(buf.readInt16BE(2), 0, 'unused header field must be 0');
  assert.equal(buf.length, 4 + 4 * dim, 'binary vector length');
  return Array.from({ length: dim }, (_, i) => buf.readFloatBE(4 + 4 * i));
}

// halfvec binary format: int16 dim, int16 unused, then dim uint16 IEEE 754
// binary16 bit patterns, big-endian.
function encodeHalfBits(bits) {
  const buf = Buffer.alloc(4 + 2 * bits.length);
  buf.writeInt16BE(bits.length, 0);
  buf.writeInt16BE(0, 2);
  bits.forEach((b, i) => buf.writeUInt16BE(b, 4 + 2 * i));
  return buf;
}

function decodeHalfBits(buf) {
  assert.ok(Buffer.isBuffer(buf), `expected a Buffer, got ${typeof buf}`);
  const dim = buf.readInt16BE(0);
  assert.equal(buf.readInt16BE(2), 0, 'unused header field must be 0');
  assert.equal(buf.length, 4 + 2 * dim, 'binary halfvec length');
  return Array.from({ length: dim }, (_, i) => buf.readUInt16BE(4 + 2 * i));
}

// binary16 bit pattern -> number (exact).
function halfToNumber(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// Binary result format.  node-postgres 8.23.1 requests it ({ binary: true }
// -> Bind with result format 1) but its protocol parser decodes every
// DataRow field as UTF-8 and turns it back into a Buffer, so bytes that are
// not valid UTF-8 come back altered (brianc/node-postgres#3495, open).  To
// check what the server really sent, this taps the connection's socket
// while the query runs and decodes the DataRow messages itself.  The
// connection is idle between queries, so the first byte received after the
// query is sent starts a protocol message.
async function binaryQuery(text, values = []) {
  const stream = client.connection.stream;
  const chunks = [];
  const tap = (chunk) => chunks.push(Buffer.from(chunk));
  stream.on('data', tap);
  let result;
  try {
    result = await client.query({ text, values, binary: true, queryMode: 'extended' });
  } finally {
    stream.removeListener('data', tap);
  }
  const wire = Buffer.concat(chunks);
  const wireRows = [];
  for (let off = 0; off + 5 <= wire.length;) {
    const type = String.fromCharCode(wire[off]);
    const len = wire.readInt32BE(off + 1);
    if (type === 'D') {
      let p = off + 5;
      const n = wire.readInt16BE(p);
      p += 2;
      const row = [];
      for (let i = 0; i < n; i++) {
        const flen = wire.readInt32BE(p);
        p += 4;
        row.push(flen < 0 ? null : wire.subarray(p, p + flen));
        if (flen > 0) p += flen;
      }
      wireRows.push(row);
    }
    off += 1 + len;
  }
  assert.equal(wireRows.length, result.rows.length, 'DataRow messages seen on the wire');
  for (const f of result.fields) {
    assert.equal(f.format, 'binary', `column ${f.name} came back in binary format`);
  }
  return { result, wireRows };
}

before(async () => {
  client = new pg.Client();
  await client.connect();
  await client.query('SET client_min_messages = warning');
  await client.query('CREATE EXTENSION IF NOT EXISTS lancedb');
  await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v vector(3), h halfvec(3))`);
  await pgvector.registerTypes(client);
  const { rows } = await client.query(
    "SELECT typname, oid FROM pg_type WHERE typname IN ('vector', 'halfvec') ORDER BY typname");
  halfvecOid = Number(rows.find((r) => r.typname === 'halfvec')?.oid);
  vectorOid = Number(rows.find((r) => r.typname === 'vector')?.oid);
  assert.ok(vectorOid > 0, 'vector type exists');
  assert.ok(halfvecOid > 0, 'halfvec type exists');
  // No binary parsers for our types in node-postgres: hand out the Buffer.
  client.setTypeParser(vectorOid, 'binary', (buf) => buf);
  client.setTypeParser(halfvecOid, 'binary', (buf) => buf);
});

after(async () => {
  if (client) {
    try {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
    } finally {
      await client.end();
    }
  }
});

test('text protocol: pgvector.toSql in, registerTypes parser out (vector and halfvec)', async () => {
  assert.equal(pgvector.toSql([1.5, 2, 3]), '[1.5,2,3]');
  await client.query(`INSERT INTO ${table} (id, v, h) VALUES ($1, $2, $3)`,
    [1, pgvector.toSql([1.5, 2, 3]), pgvector.toSql([0.5, -2, 1024])]);
  const { rows } = await client.query(`SELECT v, h FROM ${table} WHERE id = 1`);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0].v, [1.5, 2, 3]);
  assert.deepEqual(rows[0].h, [0.5, -2, 1024]);

  // Parameters compared with the operators, and the distance result type.
  const dist = await client.query(`SELECT v <-> $1 AS l2, v <#> $1 AS ip FROM ${table} WHERE id = 1`,
    [pgvector.toSql([1.5, 2, 7])]);
  assert.equal(dist.rows[0].l2, 4);
  assert.equal(dist.rows[0].ip, -(1.5 * 1.5 + 2 * 2 + 3 * 7));

  // Nearest-neighbour ordering with a parameter, as in pgvector's README.
  await client.query(`INSERT INTO ${table} (id, v) VALUES (2, '[10,10,10]'), (3, '[1,2,3]')`);
  const knn = await client.query(`SELECT id FROM ${table} ORDER BY v <-> $1 LIMIT 2`,
    [pgvector.toSql([1, 2, 3])]);
  assert.deepEqual(knn.rows.map((r) => r.id), [3, 1]);
});

test('binary protocol: vector Buffer parameter and binary result', async () => {
  const sent = [1.5, 2, 3];
  const buf = encodeVector(sent);
  assert.equal(buf.toString('hex'), '00030000' + '3fc00000' + '40000000' + '40400000');
  // node-postgres sends Buffer parameters in binary format -> vector_recv.
  await client.query(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [10, buf]);

  const { result, wireRows } = await binaryQuery(`SELECT v FROM ${table} WHERE id = $1`, [10]);
  assert.equal(result.fields[0].dataTypeID, vectorOid);
  const got = wireRows[0][0];
  assert.equal(got.toString('hex'), buf.toString('hex'), 'vector_send returns the bytes vector_recv got');
  assert.deepEqual(decodeVector(got), sent);

  const text = await client.query(`SELECT v::text AS t, vector_send(v) AS send FROM ${table} WHERE id = 10`);
  assert.equal(text.rows[0].t, '[1.5,2,3]');
  assert.equal(text.rows[0].send.toString('hex'), buf.toString('hex'), 'vector_send() as bytea');

  // Values that need full float4 precision survive both protocols.
  const precise = [Math.fround(0.1), Math.fround(-1e-7), Math.fround(3.4e38)];
  await client.query(`INSERT INTO ${table} (id, v) VALUES (11, $1)`, [encodeVector(precise)]);
  const back = await binaryQuery(`SELECT v FROM ${table} WHERE id = $1`, [11]);
  assert.deepEqual(decodeVector(back.wireRows[0][0]), precise);
  const backText = await client.query(`SELECT v FROM ${table} WHERE id = 11`);
  // The text form is the shortest decimal that reads back as the same float4.
  assert.deepEqual(backText.rows[0].v.map(Math.fround), precise, 'text output round-trips float4 exactly');

  // Through node-postgres's own result object: with bytes below 0x80 (which
  // survive its UTF-8 detour) the Buffer it hands out is the wire value.
  const safe = encodeVector([2.5, 2, 0.5]);
  assert.ok(safe.every((b) => b < 0x80));
  const viaPg = await binaryQuery('SELECT $1::vector AS v', [safe]);
  assert.ok(Buffer.isBuffer(viaPg.result.rows[0].v));
  assert.equal(viaPg.result.rows[0].v.toString('hex'), safe.toString('hex'));
  assert.deepEqual(decodeVector(viaPg.result.rows[0].v), [2.5, 2, 0.5]);

  // Binary parameters as operator arguments.
  const d = await client.query('SELECT $1::vector <-> $2::vector AS d',
    [encodeVector([0, 0, 0]), encodeVector([3, 4, 0])]);
  assert.equal(d.rows[0].d, 5);
});

test('binary protocol: halfvec round trip', async () => {
  // 1.5 = 0x3e00, -2 = 0xc000, 65504 (largest finite half) = 0x7bff
  const bits = [0x3e00, 0xc000, 0x7bff];
  const buf = encodeHalfBits(bits);
  await client.query(`INSERT INTO ${table} (id, h) VALUES ($1, $2)`, [20, buf]);

  const { result, wireRows } = await binaryQuery(`SELECT h FROM ${table} WHERE id = $1`, [20]);
  assert.equal(result.fields[0].dataTypeID, halfvecOid);
  assert.equal(wireRows[0][0].toString('hex'), buf.toString('hex'));
  assert.deepEqual(decodeHalfBits(wireRows[0][0]), bits);
  assert.deepEqual(decodeHalfBits(wireRows[0][0]).map(halfToNumber), [1.5, -2, 65504]);

  const text = await client.query(`SELECT h::text AS t, h AS parsed FROM ${table} WHERE id = 20`);
  assert.equal(text.rows[0].t, '[1.5,-2,65504]');
  assert.deepEqual(text.rows[0].parsed, [1.5, -2, 65504]);

  // Text in, binary out: 0.1 rounds to the nearest half, 0x2e66.
  await client.query(`INSERT INTO ${table} (id, h) VALUES (21, $1)`, [pgvector.toSql([0.1, 0, -0.25])]);
  const rounded = await binaryQuery(`SELECT h FROM ${table} WHERE id = $1`, [21]);
  assert.deepEqual(decodeHalfBits(rounded.wireRows[0][0]), [0x2e66, 0x0000, 0xb400]);
});

test('errors carry SQLSTATE', async () => {
  await assert.rejects(
    client.query(`INSERT INTO ${table} (id, v) VALUES (30, $1)`, [pgvector.toSql([1, 2])]),
    (err) => {
      assert.equal(err.code, '22000');
      assert.match(err.message, /expected 3 dimensions, not 2/);
      return true;
    });
  await assert.rejects(
    client.query("SELECT '[1,2,3]'::vector <-> '[1,2]'"),
    (err) => {
      assert.equal(err.code, '22000');
      assert.match(err.message, /different vector dimensions 3 and 2/);
      return true;
    });
  // A malformed binary value is rejected too, not misread.
  await assert.rejects(
    client.query(`INSERT INTO ${table} (id, v) VALUES (31, $1)`, [encodeVector([1, 2])]),
    (err) => {
      assert.equal(err.code, '22000');
      assert.match(err.message, /expected 3 dimensions, not 2/);
      return true;
    });
  await assert.rejects(
    client.query(`INSERT INTO ${table} (id, h) VALUES (32, $1)`, [encodeHalfBits([0x3c00, 0x7e00, 0x3c00])]),
    { code: '22000', message: /NaN not allowed in halfvec/ });
  const badHeader = encodeVector([1, 2, 3]);
  badHeader.writeInt16BE(1, 2);
  await assert.rejects(
    client.query(`INSERT INTO ${table} (id, v) VALUES (33, $1)`, [badHeader]),
    { code: '22000', message: /expected unused to be 0, not 1/ });
  // The connection is still usable after the errors.
  const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table} WHERE id >= 30`);
  assert.equal(rows[0].n, 0);
});
