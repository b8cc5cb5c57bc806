// The document store on PostgreSQL, for apps served by several instances: the same shape as the
// SQLite engine (a row per document, canonical EJSON text), so both behave alike.

import { EJSON } from 'bson';
import pg from 'pg';
import { parseDocumentEjson } from '../util/ejson.js';
import { DuplicateKeyError, type Doc, type DocumentEngine, type WriteBatch } from './engine.js';

const idKey = (id: unknown) => EJSON.stringify(id, { relaxed: false });
const encode = (doc: Doc) => EJSON.stringify(doc, { relaxed: false });

export interface PostgresDocumentsOptions {
  /** Keep the table in this schema (tests use one per run). */
  readonly schema?: string;
  readonly maxConnections?: number;
}

/** Arbitrary first half of the advisory lock key ('bdoc'); the second half is the schema. */
const CREATE_LOCK = 0x62646f63;

/**
 * Creates the table when missing. Two `CREATE TABLE IF NOT EXISTS` racing each other can still
 * collide in PostgreSQL's catalog, so instances starting together take turns under a lock.
 */
async function createTable(pool: pg.Pool, schema: string | undefined): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CREATE_LOCK, schema ?? '']);
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    // A serial column keeps insertion order.
    await client.query(`CREATE TABLE IF NOT EXISTS documents (
      seq BIGSERIAL,
      ns  TEXT NOT NULL,
      id  TEXT NOT NULL,
      doc TEXT NOT NULL,
      PRIMARY KEY (ns, id)
    )`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export async function openPostgresDocuments(url: string, opts: PostgresDocumentsOptions = {}): Promise<DocumentEngine> {
  if (opts.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(opts.schema)) throw new Error(`invalid PostgreSQL schema name '${opts.schema}'`);
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.maxConnections ?? 10,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  pool.on('error', () => undefined); // an idle connection dropping is not fatal; the next query reconnects
  try {
    await createTable(pool, opts.schema);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return {
    async all(ns) {
      const { rows } = await pool.query<{ doc: string }>('SELECT doc FROM documents WHERE ns = $1 ORDER BY seq', [ns]);
      return rows.map((r) => parseDocumentEjson(r.doc) as Doc);
    },
    async write(ns, batch: WriteBatch) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (const doc of batch.inserts ?? []) {
          try {
            await client.query('INSERT INTO documents (ns, id, doc) VALUES ($1, $2, $3)', [ns, idKey(doc._id), encode(doc)]);
          } catch (err) {
            if ((err as { code?: string }).code === '23505') {
              throw new DuplicateKeyError(`E11000 duplicate key error collection: ${ns} index: _id_ dup key: { _id: ${idKey(doc._id)} }`);
            }
            throw err;
          }
        }
        for (const doc of batch.replaces ?? []) await client.query('UPDATE documents SET doc = $1 WHERE ns = $2 AND id = $3', [encode(doc), ns, idKey(doc._id)]);
        for (const id of batch.removes ?? []) await client.query('DELETE FROM documents WHERE ns = $1 AND id = $2', [ns, idKey(id)]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}
