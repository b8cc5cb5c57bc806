// The document store on PostgreSQL, for apps served by several instances: the same shape as the
// SQLite engine (a row per document, canonical EJSON text, a side table of index entries), and the
// same query code (embedded.ts), so both behave alike.
//
// The change outbox (`change_events`) gets its rows at the end of the write's transaction, under a
// transaction-scoped advisory lock per namespace: a BIGSERIAL is drawn at insert, not at commit, so
// without the lock a later seq could commit first and a reader past it would skip the earlier one.
// With it, seq order within a namespace is commit order.

import pg from 'pg';
import { DuplicateKeyError, WriteConflictError, type ChangeOp, type Doc, type DocumentEngine, type WriteBatch } from './engine.js';
import type { DatabaseOwner } from '../store/owner.js';
import { claimSchema, prepareSchema } from '../store/postgres/owner.js';
import { changeDrafts, decodeDoc, duplicateMessage, embeddedEngine, encodeDoc, idKey, type Candidates, type ExpectedRow, type indexEntries } from './embedded.js';

export interface PostgresDocumentsOptions {
  /** Keep the table in this schema (tests use one per run). */
  readonly schema?: string;
  readonly maxConnections?: number;
  /**
   * Run on this pool (the store's: one pool per instance) instead of opening one; it stays open
   * at close, its owner ends it. Its int8 values may come parsed as numbers: every one is read
   * through Number() here.
   */
  readonly pool?: pg.Pool;
  /** The app served: claims the schema for it, or refuses one another app claimed (src/store/owner.ts). */
  readonly owner?: DatabaseOwner;
}

/** Arbitrary first half of the advisory lock key ('bdoc'); the second half is the schema. */
const CREATE_LOCK = 0x62646f63;
/** First half of the advisory lock keys that order a namespace's change events ('bchg'). */
const CHANGE_LOCK = 0x62636867;

/**
 * Creates the table when missing. Two `CREATE TABLE IF NOT EXISTS` racing each other can still
 * collide in PostgreSQL's catalog, so instances starting together take turns under a lock.
 */
async function createTable(pool: pg.Pool, schema: string | undefined, owner: DatabaseOwner | undefined): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const name = await prepareSchema(client, CREATE_LOCK, schema);
    // First, so a refused app creates nothing.
    if (owner) await claimSchema(client, name, owner);
    // A serial column keeps insertion order.
    await client.query(`CREATE TABLE IF NOT EXISTS documents (
      seq BIGSERIAL,
      ns  TEXT NOT NULL,
      id  TEXT NOT NULL,
      doc TEXT NOT NULL,
      PRIMARY KEY (ns, id)
    )`);
    await client.query('CREATE INDEX IF NOT EXISTS documents_in_order ON documents (ns, seq)');
    await client.query(`CREATE TABLE IF NOT EXISTS document_indexed_fields (
      ns    TEXT NOT NULL,
      field TEXT NOT NULL,
      PRIMARY KEY (ns, field)
    )`);
    await client.query(`CREATE TABLE IF NOT EXISTS document_index (
      ns        TEXT NOT NULL,
      field     TEXT NOT NULL,
      value_key TEXT NOT NULL,
      id        TEXT NOT NULL,
      PRIMARY KEY (ns, field, value_key, id)
    )`);
    await client.query('CREATE INDEX IF NOT EXISTS document_index_by_id ON document_index (ns, id)');
    await client.query(`CREATE TABLE IF NOT EXISTS change_events (
      seq    BIGSERIAL PRIMARY KEY,
      ns     TEXT NOT NULL,
      op     TEXT NOT NULL,
      id     TEXT NOT NULL,
      after  TEXT,
      before TEXT,
      at     BIGINT NOT NULL
    )`);
    await client.query('CREATE INDEX IF NOT EXISTS change_events_in_order ON change_events (ns, seq)');
    // Namespaces some instance's watch streams need recorded, until when (ms): see write().
    await client.query(`CREATE TABLE IF NOT EXISTS change_holds (
      ns     TEXT NOT NULL,
      holder TEXT NOT NULL,
      until  BIGINT NOT NULL,
      PRIMARY KEY (ns, holder)
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
  const owned = !opts.pool;
  const pool =
    opts.pool ??
    new pg.Pool({
      connectionString: url,
      max: opts.maxConnections ?? 10,
      ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
    });
  if (owned) pool.on('error', () => undefined); // an idle connection dropping is not fatal; the next query reconnects
  try {
    await createTable(pool, opts.schema, opts.owner);
  } catch (err) {
    if (owned) await pool.end();
    throw err;
  }

  const inTransaction = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };

  /** Inserts index entries, a bounded number per statement. */
  const addEntries = async (client: pg.PoolClient, ns: string, rows: { id: string; field: string; key: string }[]) => {
    for (let i = 0; i < rows.length; i += 5000) {
      const chunk = rows.slice(i, i + 5000);
      await client.query(
        `INSERT INTO document_index (ns, field, value_key, id)
         SELECT $1, u.field, u.value_key, u.id FROM unnest($2::text[], $3::text[], $4::text[]) AS u(field, value_key, id)
         ON CONFLICT DO NOTHING`,
        [ns, chunk.map((r) => r.field), chunk.map((r) => r.key), chunk.map((r) => r.id)],
      );
    }
  };
  const entryRows = (docs: readonly Doc[], fields: readonly string[], entries: typeof indexEntries) =>
    docs.flatMap((doc) => {
      const id = idKey(doc._id);
      return entries(doc, fields).map((e) => ({ id, field: e.field, key: e.key }));
    });

  return embeddedEngine({
    async rows(ns: string, c?: Candidates) {
      const q = c ? candidateQuery(ns, c) : named('SELECT doc FROM documents WHERE ns = $1 ORDER BY seq', [ns]);
      return q ? (await pool.query<[string]>(q)).rows.map((r) => r[0]) : [];
    },

    async indexedFields() {
      const { rows } = await pool.query<{ ns: string; field: string }>('SELECT ns, field FROM document_indexed_fields');
      const out = new Map<string, string[]>();
      for (const r of rows) out.set(r.ns, [...(out.get(r.ns) ?? []), r.field]);
      return out;
    },

    async addIndexes(ns, fields, entries) {
      await inTransaction(async (client) => {
        // Waits for writes in flight and holds new ones (of every namespace: this runs at start-up)
        // until the entries exist; taken by one instance at a time.
        await client.query('LOCK TABLE documents IN SHARE ROW EXCLUSIVE MODE');
        await client.query('INSERT INTO document_indexed_fields (ns, field) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [ns, fields]);
        const { rows } = await client.query<{ doc: string }>('SELECT doc FROM documents WHERE ns = $1', [ns]);
        await addEntries(client, ns, entryRows(rows.map((r) => decodeDoc(r.doc)), fields, entries));
      });
    },

    async write(ns, batch: WriteBatch, entries, expected, capture) {
      await inTransaction(async (client) => {
        if (expected.length) {
          // Locked until commit, so nothing changes them between this check and the writes below.
          const { rows } = await client.query<{ id: string; doc: string }>(
            'SELECT id, doc FROM documents WHERE ns = $1 AND id = ANY($2::text[]) FOR UPDATE',
            [ns, expected.map((e) => e.id)],
          );
          const now = new Map(rows.map((r) => [r.id, r.doc]));
          if (expected.some((e) => now.get(e.id) !== e.text)) throw new WriteConflictError(`a document of ${ns} changed during the write`);
        }
        const inserts = batch.inserts ?? [];
        const replaces = batch.replaces ?? [];
        const removes = (batch.removes ?? []).map(idKey);
        if (inserts.length) {
          try {
            await client.query(
              `INSERT INTO documents (ns, id, doc)
               SELECT $1, u.id, u.doc FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(id, doc, n) ORDER BY u.n`,
              [ns, inserts.map((d) => idKey(d._id)), inserts.map(encodeDoc)],
            );
          } catch (err) {
            if ((err as { code?: string }).code === '23505') throw new DuplicateKeyError(duplicateMessage(ns, duplicateOf(err, ns)));
            throw err;
          }
        }
        // A document removed meanwhile stays removed (and gets no index entries).
        const replaced = replaces.length
          ? (
              await client.query<{ id: string }>(
                `UPDATE documents d SET doc = u.doc FROM unnest($2::text[], $3::text[]) AS u(id, doc)
                 WHERE d.ns = $1 AND d.id = u.id RETURNING d.id`,
                [ns, replaces.map((d) => idKey(d._id)), replaces.map(encodeDoc)],
              )
            ).rows.map((r) => r.id)
          : [];
        const removed = removes.length
          ? (await client.query<{ id: string }>('DELETE FROM documents WHERE ns = $1 AND id = ANY($2::text[]) RETURNING id', [ns, removes])).rows.map((r) => r.id)
          : [];
        if (!inserts.length && !replaced.length && !removed.length) return;
        // One statement, read only now, for two things. The indexed fields: the statements above
        // hold the table in ROW EXCLUSIVE mode, so an index being added (addIndexes) either
        // committed before (and is listed) or waits for this commit. And whether another
        // instance's watch streams hold this namespace: a hold committed before this statement is
        // seen, so a stream that reads its start position after committing its hold never misses a
        // write recorded here. (Recording every namespace instead serializes the commits of each
        // one, under the lock below: half or less of the insert throughput on one collection,
        // measured; this check rides on a query every write makes anyway.)
        const { rows: meta } = await client.query<{ field: string | null; held: boolean }>(
          `SELECT f.field, h.held FROM (SELECT EXISTS (SELECT 1 FROM change_holds WHERE ns = $1 AND until > $2) AS held) h
           LEFT JOIN document_indexed_fields f ON f.ns = $1`,
          [ns, Date.now()],
        );
        if (capture || meta[0]?.held === true) {
          const drafts = changeDrafts(batch, expected, new Set([...replaced, ...removed]));
          // Held to commit: the namespace's next writer draws its seq after this one committed.
          await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [CHANGE_LOCK, ns]);
          await client.query(
            `INSERT INTO change_events (ns, op, id, after, before, at)
             SELECT $1, u.op, u.id, u.after, u.before, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(op, id, after, before, n) ORDER BY u.n`,
            [ns, drafts.map((d) => d.op), drafts.map((d) => d.id), drafts.map((d) => d.after), drafts.map((d) => d.before), Date.now()],
          );
        }
        const fields = meta.flatMap((r) => (r.field === null ? [] : [r.field]));
        if (!fields.length) return;
        const stale = [...replaced, ...removes];
        if (stale.length) await client.query('DELETE FROM document_index WHERE ns = $1 AND id = ANY($2::text[])', [ns, stale]);
        const kept = new Set(replaced);
        await addEntries(client, ns, entryRows([...inserts, ...replaces.filter((d) => kept.has(idKey(d._id)))], fields, entries));
      });
    },

    async readChanges(ns, after, limit) {
      const { rows } = await pool.query<{ seq: string; ns: string; op: string; id: string; after: string | null; before: string | null; at: string }>(
        'SELECT seq, ns, op, id, after, before, at FROM change_events WHERE ns = $1 AND seq > $2 ORDER BY seq LIMIT $3',
        [ns, after, limit],
      );
      return rows.map((r) => ({ ...r, seq: Number(r.seq), op: r.op as ChangeOp, at: Number(r.at) }));
    },
    async latestChange(ns) {
      const { rows } = await pool.query<{ seq: string | null }>('SELECT MAX(seq) AS seq FROM change_events WHERE ns = $1', [ns]);
      return Number(rows[0]?.seq ?? 0);
    },
    async countChanges(ns, after) {
      const { rows } = await pool.query<{ n: string }>('SELECT COUNT(*) AS n FROM change_events WHERE ns = $1 AND seq > $2', [ns, after]);
      return Number(rows[0]?.n ?? 0);
    },
    async shareHold(ns, holder, until) {
      if (until === 0) await pool.query('DELETE FROM change_holds WHERE ns = $1 AND holder = $2', [ns, holder]);
      else {
        await pool.query(
          'INSERT INTO change_holds (ns, holder, until) VALUES ($1, $2, $3) ON CONFLICT (ns, holder) DO UPDATE SET until = EXCLUDED.until',
          [ns, holder, until],
        );
      }
      // Holds of instances that died without withdrawing them.
      await pool.query('DELETE FROM change_holds WHERE until < $1', [Date.now() - 60_000]);
    },
    async pruneChanges(ns, upTo, before) {
      // Changes up to a trigger's position stay while some instance's streams hold the namespace.
      const res = await pool.query(
        `DELETE FROM change_events WHERE ns = $1 AND (at < $3 OR (seq <= $2 AND NOT EXISTS (SELECT 1 FROM change_holds WHERE ns = $1 AND until > $4)))`,
        [ns, upTo, before, Date.now()],
      );
      return res.rowCount ?? 0;
    },

    async close() {
      if (owned) await pool.end();
    },
  });
}

/**
 * Named statements: parsed once per connection, and planned once when a generic plan is as good
 * (PostgreSQL decides); a few shapes at most (see candidateQuery). They need session-level
 * connections, as Baste's own pool gives (a transaction-mode pooler before PgBouncer 1.21 loses
 * them). Rows as arrays: no object per row.
 */
const statementNames = new Map<string, string>();
function named(text: string, values: unknown[]): pg.QueryArrayConfig {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < 64) statementNames.set(text, (name = `baste_docs_${statementNames.size}`));
  return name === undefined ? { text, values, rowMode: 'array' } : { name, text, values, rowMode: 'array' };
}

/**
 * The query reading the candidate rows, in insertion order, or undefined when there are none.
 * Each document is fetched by its primary key in a LATERAL subquery that OFFSET 0 keeps from
 * being flattened, so PostgreSQL always runs a nested loop of key lookups: as a plain join or
 * `id IN (...)`, it hash-joins over a scan of the whole namespace when a table is small or its
 * statistics are missing or stale (measured: ~0.3 ms for 20 of 1,020 rows, against ~0.1 ms).
 * One key is an equality, which stays an index condition without statistics (`= ANY` then
 * became a filter over every entry of the field).
 */
function candidateQuery(ns: string, c: Candidates): pg.QueryArrayConfig | undefined {
  const values: unknown[] = [ns];
  const parts: string[] = [];
  let distinct = true;
  if (c.ids.length) {
    values.push(c.ids);
    parts.push(`SELECT unnest($${values.length}::text[]) AS id`);
  }
  for (const { field, keys } of c.index) {
    if (!keys.length) continue;
    values.push(field);
    const where = `ns = $1 AND field = $${values.length}`;
    if (keys.length === 1) {
      values.push(keys[0]);
      parts.push(`SELECT id FROM document_index WHERE ${where} AND value_key = $${values.length}`);
    } else {
      values.push(keys);
      parts.push(`SELECT id FROM document_index WHERE ${where} AND value_key = ANY($${values.length}::text[])`);
      distinct = false; // an array holding several of the keys has an entry for each
    }
  }
  if (!parts.length) return undefined;
  const ids = parts.length === 1 && distinct ? parts[0]! : `SELECT DISTINCT id FROM (${parts.join(' UNION ALL ')}) AS u`;
  return named(
    `SELECT d.doc FROM (${ids}) AS c, LATERAL (SELECT doc, seq FROM documents WHERE ns = $1 AND id = c.id OFFSET 0) AS d ORDER BY d.seq`,
    values,
  );
}

/** The `_id` named by a unique violation's detail (`Key (ns, id)=(db.c, "x") already exists.`). */
function duplicateOf(err: unknown, ns: string): string {
  const detail = (err as { detail?: string }).detail ?? '';
  const m = /^Key \(ns, id\)=\((.*)\) already exists\.$/s.exec(detail);
  return m?.[1]?.startsWith(`${ns}, `) ? m[1].slice(ns.length + 2) : '?';
}
