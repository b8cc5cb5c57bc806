// Embedded document store on SQLite: one table, a row per document keyed by namespace and the
// canonical EJSON of its `_id`, the document kept as canonical EJSON so every BSON type survives.
// A side table holds the index entries (embedded.ts says which) of the fields recorded as indexed.
// The change outbox (`change_events`) gets a row per change of a captured namespace in the write's
// own transaction; its AUTOINCREMENT seq is commit order (SQLite has one writer at a time).

import Database from 'better-sqlite3';
import type { DatabaseOwner } from '../store/owner.js';
import { claimFile } from '../store/sqlite/owner.js';
import { GroupCommit } from '../util/sqlite-group-commit.js';
import { DuplicateKeyError, WriteConflictError, type ChangeOp, type Doc, type DocumentEngine, type StoredChange, type WriteBatch } from './engine.js';
import { changeDrafts, decodeDoc, duplicateMessage, embeddedEngine, encodeDoc, idKey, type Candidates, type ExpectedRow, type indexEntries } from './embedded.js';
import { DEFAULTS } from '../defaults.js';

/** With `owner`, claims the file for that app, or refuses one another app claimed (src/store/owner.ts). */
export function openSqliteDocuments(file: string, opts: { owner?: DatabaseOwner } = {}): DocumentEngine {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${DEFAULTS.sqliteCacheKib}`);
  if (opts.owner) {
    try {
      claimFile(db, file, opts.owner);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  db.exec(`CREATE TABLE IF NOT EXISTS documents (
    ns  TEXT NOT NULL,
    id  TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (ns, id)
  );
  CREATE TABLE IF NOT EXISTS document_indexed_fields (
    ns    TEXT NOT NULL,
    field TEXT NOT NULL,
    PRIMARY KEY (ns, field)
  );
  CREATE TABLE IF NOT EXISTS document_index (
    ns        TEXT NOT NULL,
    field     TEXT NOT NULL,
    value_key TEXT NOT NULL,
    id        TEXT NOT NULL,
    PRIMARY KEY (ns, field, value_key, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS document_index_by_id ON document_index (ns, id);
  CREATE TABLE IF NOT EXISTS change_events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    ns     TEXT NOT NULL,
    op     TEXT NOT NULL,
    id     TEXT NOT NULL,
    after  TEXT,
    before TEXT,
    at     INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS change_events_in_order ON change_events (ns, seq);`);
  const q = {
    all: db.prepare('SELECT doc FROM documents WHERE ns = ? ORDER BY rowid'),
    current: db.prepare('SELECT doc FROM documents WHERE ns = ? AND id = ?').pluck(),
    fieldsOf: db.prepare('SELECT field FROM document_indexed_fields WHERE ns = ?').pluck(),
    allFields: db.prepare('SELECT ns, field FROM document_indexed_fields'),
    addField: db.prepare('INSERT OR IGNORE INTO document_indexed_fields (ns, field) VALUES (?, ?)'),
    insert: db.prepare('INSERT INTO documents (ns, id, doc) VALUES (?, ?, ?)'),
    replace: db.prepare('UPDATE documents SET doc = ? WHERE ns = ? AND id = ?'),
    remove: db.prepare('DELETE FROM documents WHERE ns = ? AND id = ?'),
    addEntry: db.prepare('INSERT OR IGNORE INTO document_index (ns, field, value_key, id) VALUES (?, ?, ?, ?)'),
    dropEntries: db.prepare('DELETE FROM document_index WHERE ns = ? AND id = ?'),
    rowsOf: db.prepare('SELECT id, doc FROM documents WHERE ns = ?'),
    // The common candidate query (a rule's `owner_id: %%user.id`): one key of one indexed field,
    // a third cheaper than the general form below.
    byOneKey: db
      .prepare('SELECT d.doc FROM document_index i JOIN documents d ON d.ns = i.ns AND d.id = i.id WHERE i.ns = ? AND i.field = ? AND i.value_key = ? ORDER BY d.rowid')
      .pluck(),
    addChange: db.prepare('INSERT INTO change_events (ns, op, id, after, before, at) VALUES (?, ?, ?, ?, ?, ?)'),
    changes: db.prepare('SELECT seq, ns, op, id, after, before, at FROM change_events WHERE ns = ? AND seq > ? ORDER BY seq LIMIT ?'),
    latestChange: db.prepare('SELECT MAX(seq) FROM change_events WHERE ns = ?').pluck(),
    countChanges: db.prepare('SELECT COUNT(*) FROM change_events WHERE ns = ? AND seq > ?').pluck(),
    pruneChanges: db.prepare('DELETE FROM change_events WHERE ns = ? AND (seq <= ? OR at < ?)'),
  };

  // Candidate queries differ only in how many indexed fields they name: one statement per count.
  const byCandidates = new Map<number, Database.Statement>();
  const candidateQuery = (fields: number) => {
    let stmt = byCandidates.get(fields);
    if (!stmt) {
      // One IN over a UNION ALL of candidate ids, so each is a primary-key lookup: `a IN x OR a IN
      // y` makes SQLite scan the whole namespace, and a plain UNION scans the index by id to merge.
      const index = Array.from({ length: fields }, () =>
        ' UNION ALL SELECT id FROM document_index WHERE ns = @ns AND field = ? AND value_key IN (SELECT value FROM json_each(?))');
      stmt = db.prepare(`SELECT doc FROM documents WHERE ns = @ns AND id IN (SELECT value FROM json_each(@ids)${index.join('')}) ORDER BY rowid`).pluck();
      byCandidates.set(fields, stmt);
    }
    return stmt;
  };

  const addEntries = (ns: string, doc: Doc, fields: readonly string[], entries: typeof indexEntries) => {
    const id = idKey(doc._id);
    for (const e of entries(doc, fields)) q.addEntry.run(ns, e.field, e.key, id);
  };

  const apply = db.transaction((ns: string, batch: WriteBatch, entries: typeof indexEntries, expected: readonly ExpectedRow[], capture: boolean) => {
    for (const e of expected) {
      if (q.current.get(ns, e.id) !== e.text) throw new WriteConflictError(`a document of ${ns} changed during the write`);
    }
    const fields = q.fieldsOf.all(ns) as string[];
    // The replaces and removes that found their document, for the change events.
    const applied = new Set<string>();
    for (const doc of batch.inserts ?? []) {
      try {
        q.insert.run(ns, idKey(doc._id), encodeDoc(doc));
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateKeyError(duplicateMessage(ns, idKey(doc._id)));
        throw err;
      }
      if (fields.length) addEntries(ns, doc, fields, entries);
    }
    for (const doc of batch.replaces ?? []) {
      const id = idKey(doc._id);
      // A document removed meanwhile stays removed, and gets no entries.
      if (q.replace.run(encodeDoc(doc), ns, id).changes === 0) continue;
      applied.add(id);
      if (!fields.length) continue;
      q.dropEntries.run(ns, id);
      addEntries(ns, doc, fields, entries);
    }
    for (const id of batch.removes ?? []) {
      const key = idKey(id);
      if (q.remove.run(ns, key).changes > 0) applied.add(key);
      if (fields.length) q.dropEntries.run(ns, key);
    }
    if (!capture) return;
    const at = Date.now();
    for (const c of changeDrafts(batch, expected, applied)) q.addChange.run(ns, c.op, c.id, c.after, c.before, at);
  });

  const backfill = db.transaction((ns: string, fields: readonly string[], entries: typeof indexEntries) => {
    for (const field of fields) q.addField.run(ns, field);
    // (read first: the connection cannot write while a statement iterates)
    for (const row of q.rowsOf.all(ns) as { id: string; doc: string }[]) {
      for (const e of entries(decodeDoc(row.doc), fields)) q.addEntry.run(ns, e.field, e.key, row.id);
    }
  });

  // From here on synchronous = NORMAL, the WAL fsynced off the event loop (sqlite-group-commit.ts):
  // what commits outside `batches` awaits `batches.durable()` before it resolves.
  const batches = new GroupCommit(db);
  return embeddedEngine({
    async rows(ns: string, c?: Candidates) {
      if (!c) return (q.all.all(ns) as { doc: string }[]).map((r) => r.doc);
      const only = c.index.length === 1 ? c.index[0]! : undefined;
      if (!c.ids.length && only?.keys.length === 1) return q.byOneKey.all(ns, only.field, only.keys[0]) as string[];
      const params: unknown[] = c.index.flatMap((i) => [i.field, JSON.stringify(i.keys)]);
      return candidateQuery(c.index.length).all({ ns, ids: JSON.stringify(c.ids) }, ...params) as string[];
    },
    async indexedFields() {
      const out = new Map<string, string[]>();
      for (const r of q.allFields.all() as { ns: string; field: string }[]) out.set(r.ns, [...(out.get(r.ns) ?? []), r.field]);
      return out;
    },
    async addIndexes(ns, fields, entries) {
      backfill.immediate(ns, fields, entries);
      await batches.durable();
    },
    write(ns, batch, entries, expected, capture) {
      // Concurrent requests' writes share one commit (and fsync), each in its own savepoint.
      return batches.write(() => apply(ns, batch, entries, expected, capture));
    },
    // One writer process per file: this process's own holds decide (embedded.ts).
    async shareHold() {},
    async readChanges(ns, after, limit) {
      return (q.changes.all(ns, after, limit) as (Omit<StoredChange, 'op'> & { op: string })[]).map((r) => ({ ...r, op: r.op as ChangeOp }));
    },
    async latestChange(ns) {
      return (q.latestChange.get(ns) as number | null) ?? 0;
    },
    async countChanges(ns, after) {
      return q.countChanges.get(ns, after) as number;
    },
    async pruneChanges(ns, upTo, before) {
      const removed = q.pruneChanges.run(ns, upTo, before).changes;
      if (removed > 0) await batches.durable();
      return removed;
    },
    async close() {
      await batches.close();
      if (db.open) db.close();
    },
  });
}
