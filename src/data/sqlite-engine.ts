// Embedded document store on SQLite: one table, a row per document keyed by namespace and the
// canonical EJSON of its `_id`, the document kept as canonical EJSON so every BSON type survives.

import Database from 'better-sqlite3';
import { EJSON } from 'bson';
import { parseDocumentEjson } from '../util/ejson.js';
import { DuplicateKeyError, type Doc, type DocumentEngine, type WriteBatch } from './engine.js';

const idKey = (id: unknown) => EJSON.stringify(id, { relaxed: false });
const encode = (doc: Doc) => EJSON.stringify(doc, { relaxed: false });
const decode = (text: string) => parseDocumentEjson(text) as Doc;

export function openSqliteDocuments(file: string): DocumentEngine {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TABLE IF NOT EXISTS documents (
    ns  TEXT NOT NULL,
    id  TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (ns, id)
  )`);
  const q = {
    all: db.prepare('SELECT doc FROM documents WHERE ns = ? ORDER BY rowid'),
    insert: db.prepare('INSERT INTO documents (ns, id, doc) VALUES (?, ?, ?)'),
    replace: db.prepare('UPDATE documents SET doc = ? WHERE ns = ? AND id = ?'),
    remove: db.prepare('DELETE FROM documents WHERE ns = ? AND id = ?'),
  };
  const apply = db.transaction((ns: string, batch: WriteBatch) => {
    for (const doc of batch.inserts ?? []) {
      try {
        q.insert.run(ns, idKey(doc._id), encode(doc));
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new DuplicateKeyError(`E11000 duplicate key error collection: ${ns} index: _id_ dup key: { _id: ${idKey(doc._id)} }`);
        }
        throw err;
      }
    }
    for (const doc of batch.replaces ?? []) q.replace.run(encode(doc), ns, idKey(doc._id));
    for (const id of batch.removes ?? []) q.remove.run(ns, idKey(id));
  });
  return {
    async all(ns) {
      return (q.all.all(ns) as { doc: string }[]).map((r) => decode(r.doc));
    },
    async write(ns, batch) {
      apply.immediate(ns, batch);
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
