import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { collect, type DocumentEngine } from '../src/data/engine.js';
import { openMongoDocuments, type MongoDocumentEngine } from '../src/data/mongodb-engine.js';
import { openPostgresDocuments } from '../src/data/postgres-engine.js';
import { openSqliteDocuments } from '../src/data/sqlite-engine.js';
import { engineConformance } from './data/engine-conformance.js';
import { startFakeMongo, type FakeMongo } from './fakes/mongo-wire.js';
import { dropDatabases, skipWithoutMongo, TEST_MONGODB_URI, uniqueDatabasePrefix } from './helpers/mongodb.js';

const dir = mkdtempSync(join(tmpdir(), 'baste-docs-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));
engineConformance('sqlite', async () => openSqliteDocuments(join(dir, `docs-${n++}.sqlite`)));

const ids = async (engine: DocumentEngine, filter: Record<string, unknown>) => (await collect(engine.find('app.notes', filter))).map((d) => d._id);

/**
 * The index is really used: a row slipped in behind the engine's back (so without index entries)
 * is invisible to an indexed equality but found by a scan and by its primary key.
 */
async function indexIsUsed(engine: DocumentEngine, slipIn: (id: string, doc: string) => Promise<void>) {
  await engine.ensureIndexes('app.notes', ['owner']);
  await engine.write('app.notes', { inserts: [{ _id: 'a', owner: 'u1' }, { _id: 'b', owner: 'u2' }] });
  await slipIn('"hidden"', '{"_id":"hidden","owner":"u1"}');
  assert.deepEqual(await ids(engine, { owner: 'u1' }), ['a']);
  assert.deepEqual(await ids(engine, { owner: { $gte: 'u1', $lt: 'u2' } }), ['a', 'hidden']);
  assert.deepEqual(await ids(engine, { _id: 'hidden' }), ['hidden']);
}

describe('sqlite document engine: indexes', () => {
  it('answers indexed equality from the index, and keeps the index across a restart', async () => {
    const file = join(dir, 'indexed.sqlite');
    let engine = openSqliteDocuments(file);
    const raw = new Database(file);
    const slipIn = async (id: string, doc: string) => void raw.prepare("INSERT INTO documents (ns, id, doc) VALUES ('app.notes', ?, ?)").run(id, doc);
    try {
      await indexIsUsed(engine, slipIn);
      await engine.close();
      engine = openSqliteDocuments(file);
      assert.deepEqual(await ids(engine, { owner: 'u1' }), ['a'], 'the reopened engine reads the recorded index');
      await engine.write('app.notes', { inserts: [{ _id: 'c', owner: 'u1' }] });
      assert.deepEqual(await ids(engine, { owner: 'u1' }), ['a', 'c']);
    } finally {
      raw.close();
      await engine.close();
    }
  });
});

const url = process.env.BASTE_TEST_DATABASE_URL;
if (url) {
  const schemas: string[] = [];
  const freshSchema = () => {
    const schema = `docs_${process.pid}_${Date.now()}_${n++}`;
    schemas.push(schema);
    return schema;
  };
  engineConformance('postgres', async () => openPostgresDocuments(url, { schema: freshSchema(), maxConnections: 2 }));

  describe('postgres document engine: indexes', () => {
    it('answers indexed equality from the index; a second instance sees the recorded index', async () => {
      const schema = freshSchema();
      const engine = await openPostgresDocuments(url, { schema, maxConnections: 2 });
      const twin = await openPostgresDocuments(url, { schema, maxConnections: 2 });
      const raw = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
      await raw.connect();
      try {
        await indexIsUsed(engine, async (id, doc) => void (await raw.query("INSERT INTO documents (ns, id, doc) VALUES ('app.notes', $1, $2)", [id, doc])));
        // the twin never asked for the index, yet keeps its entries in step when it writes
        await twin.write('app.notes', { inserts: [{ _id: 'c', owner: 'u1' }], replaces: [{ _id: 'b', owner: 'u1' }] });
        assert.deepEqual(await ids(engine, { owner: 'u1' }), ['a', 'b', 'c']);
        assert.deepEqual(await ids(engine, { owner: 'u2' }), []);
      } finally {
        await raw.end();
        await engine.close();
        await twin.close();
      }
    });
  });

  describe('postgres document engine: an index added during writes', () => {
    it('misses none of the documents written meanwhile by another instance', async () => {
      const schema = freshSchema();
      const writer = await openPostgresDocuments(url, { schema, maxConnections: 3 });
      const indexer = await openPostgresDocuments(url, { schema, maxConnections: 2 });
      try {
        const ns = 'app.race';
        const writes = Promise.all(
          Array.from({ length: 60 }, (_, i) => writer.write(ns, { inserts: [{ _id: `d${i}`, owner: `u${i % 3}` }] })),
        );
        await indexer.ensureIndexes(ns, ['owner']);
        await writes;
        for (const owner of ['u0', 'u1', 'u2']) {
          const scanned = (await collect(indexer.find(ns, { owner: { $gte: owner, $lte: owner } }))).map((d) => d._id);
          assert.equal(scanned.length, 20);
          assert.deepEqual((await collect(indexer.find(ns, { owner }))).map((d) => d._id), scanned);
        }
      } finally {
        await writer.close();
        await indexer.close();
      }
    });
  });

  after(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await client.end();
  });
} else {
  console.log('BASTE_TEST_DATABASE_URL not set: PostgreSQL document engine tests skipped');
}

// The driver plumbing, always: the MongoDB engine against a wire-protocol stand-in (mingo behind it).
let fake: FakeMongo | undefined;
engineConformance('mongodb driver, wire fake', async () => {
  fake ??= await startFakeMongo();
  return openMongoDocuments(fake.uri, { databasePrefix: `f${n++}_`, serverSelectionTimeoutMS: 5_000 });
}, { atomicBatches: async () => false });
after(() => fake?.close());

const mongoUri = TEST_MONGODB_URI;
if (mongoUri) {
  const prefix = uniqueDatabasePrefix();
  engineConformance('mongodb', async () => openMongoDocuments(mongoUri, { databasePrefix: `${prefix}${n++}_`, serverSelectionTimeoutMS: 10_000 }), {
    atomicBatches: (engine) => (engine as MongoDocumentEngine).supportsTransactions(),
  });
  after(() => dropDatabases(prefix));
} else {
  describe('document engine conformance: mongodb', { skip: skipWithoutMongo('MongoDB document engine tests') }, () => {
    it('runs against a MongoDB server', () => undefined);
  });
}
