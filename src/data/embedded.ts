// The embedded document engines (SQLite, PostgreSQL) share everything but their SQL: documents are
// rows of canonical EJSON text, matched, sorted and projected by mingo. A query with a top-level
// equality on `_id` or on an indexed field reads only the candidate rows the primary key or the
// index names; mingo still does the exact matching, so the candidates only have to be a superset
// of the matches — an index may over-select (1 and 1.0000000000000002 share no key, but Long
// 2^53+1 and 2^53 do), it must never miss.

import { randomUUID } from 'node:crypto';
import { EJSON } from 'bson';
import { Query } from 'mingo';
import { MingoError } from 'mingo/util';
import { parseDocumentEjson } from '../util/ejson.js';
import { QueryError, type ChangeLog, type ChangeOp, type Doc, type DocumentEngine, type Filter, type FindOptions, type StoredChange, type WriteBatch } from './engine.js';
import { fastMatcher, fastProject, fastSort } from './fast-paths.js';
import { isPlain, normalizeNumbers } from './values.js';
import { documentNumberTypes, storedNumberTypes } from './number-types.js';

const MINGO = { scriptEnabled: false, idKey: '_id' } as const;

/** The primary key of a document: the canonical EJSON of its `_id`. */
export const idKey = (id: unknown): string => EJSON.stringify(id, { relaxed: false });
export const encodeDoc = (doc: Doc): string => EJSON.stringify(doc, { relaxed: false });
/** A stored document, its Int64s and integral Doubles remembered beside it (number-types.ts). */
export const decodeDoc = (text: string): Doc => {
  const doc = parseDocumentEjson(text) as Doc;
  const types = storedNumberTypes(text);
  if (types) documentNumberTypes.set(doc, types);
  return doc;
};
export const duplicateMessage = (ns: string, id: string) => `E11000 duplicate key error collection: ${ns} index: _id_ dup key: { _id: ${id} }`;

const bsonType = (v: unknown): string | undefined =>
  v !== null && typeof v === 'object' ? ((v as { _bsontype?: unknown })._bsontype as string | undefined) : undefined;

/**
 * The index key of a scalar, or undefined for values that are not indexed (null, objects,
 * arrays, regular expressions, binaries…). Numbers of every BSON type share one key per double
 * value, because MongoDB equality compares numbers by value (Int32 1 = Double 1.0 = Long 1).
 */
export function valueKey(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return `s:${v}`;
    case 'number':
      return `n:${v}`; // String(-0) is "0", as -0 equals 0
    case 'boolean':
      return v ? 'b:1' : 'b:0';
  }
  if (v instanceof Date) return `d:${v.getTime()}`;
  switch (bsonType(v)) {
    case 'ObjectId':
      return `o:${(v as { toHexString(): string }).toHexString()}`;
    case 'Int32':
    case 'Double':
      return `n:${(v as { valueOf(): number }).valueOf()}`;
    case 'Long':
      return `n:${(v as { toNumber(): number }).toNumber()}`;
    case 'Decimal128':
      return `n:${Number((v as { toString(): string }).toString())}`;
  }
  return undefined;
}

export interface IndexEntry {
  readonly field: string;
  readonly key: string;
}

/** A document's index entries for these fields: each scalar value, and each scalar element of an array. */
export function indexEntries(doc: Doc, fields: Iterable<string>): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const field of fields) {
    const value = doc[field];
    const keys = new Set<string>();
    for (const v of Array.isArray(value) ? value : [value]) {
      const key = valueKey(v);
      if (key !== undefined) keys.add(key);
    }
    for (const key of keys) out.push({ field, key });
  }
  return out;
}

/** Rows a query needs: those whose primary key is in `ids`, or that have one of the index entries. */
export interface Candidates {
  readonly ids: readonly string[];
  readonly index: readonly { readonly field: string; readonly keys: readonly string[] }[];
}

/** One way to find candidates: `_id` through the primary key, another field through the index. */
interface Lookup {
  readonly field: string;
  readonly keys: readonly string[];
}

/** The values a field is compared to by equality (`v`, `{$eq: v}`, `{$in: [...]}`), if it is. */
function equalityValues(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return undefined; // array equality: not indexed
  if (isPlain(v)) {
    if ('$eq' in v) return Array.isArray(v.$eq) ? undefined : [v.$eq];
    if ('$in' in v && Array.isArray(v.$in)) return v.$in.some(Array.isArray) ? undefined : v.$in;
    return undefined;
  }
  return [v];
}

function fieldLookup(field: string, v: unknown, indexed: ReadonlySet<string>): Lookup[] | undefined {
  const values = equalityValues(v);
  if (!values) return undefined;
  if (field === '_id') {
    // The primary key is exact EJSON, so only types with one spelling (not numbers) can use it.
    if (!values.every((x) => typeof x === 'string' || bsonType(x) === 'ObjectId')) return undefined;
    return [{ field, keys: values.map(idKey) }];
  }
  if (!indexed.has(field)) return undefined;
  const keys = values.map(valueKey);
  if (keys.some((k) => k === undefined)) return undefined;
  return [{ field, keys: [...new Set(keys as string[])] }];
}

/**
 * The candidate lookups of a filter (their union holds every match), or undefined for a full
 * scan. Conjunctions take one usable conjunct (the primary key first); a `$or` is usable when all
 * of its branches are.
 */
export function plan(filter: Filter, indexed: ReadonlySet<string>): Lookup[] | undefined {
  let best: Lookup[] | undefined;
  const consider = (p: Lookup[] | undefined) => {
    const onlyIds = (l: Lookup[]) => l.every((x) => x.field === '_id');
    if (p && (!best || (onlyIds(p) && !onlyIds(best)))) best = p;
  };
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and' && Array.isArray(v)) {
      for (const sub of v) consider(isPlain(sub) ? plan(sub, indexed) : undefined);
    } else if (k === '$or' && Array.isArray(v) && v.length > 0) {
      const branches = v.map((sub) => (isPlain(sub) ? plan(sub, indexed) : undefined));
      if (branches.every((b) => b !== undefined)) consider(branches.flat());
    } else if (!k.startsWith('$')) {
      consider(fieldLookup(k, v, indexed));
    }
  }
  return best;
}

function candidates(lookups: Lookup[]): Candidates {
  const ids = new Set<string>();
  const byField = new Map<string, Set<string>>();
  for (const { field, keys } of lookups) {
    if (field === '_id') keys.forEach((k) => ids.add(k));
    else {
      const set = byField.get(field) ?? new Set<string>();
      keys.forEach((k) => set.add(k));
      byField.set(field, set);
    }
  }
  return { ids: [...ids], index: [...byField].map(([field, keys]) => ({ field, keys: [...keys] })) };
}

/** The SQL side of an embedded engine. Document texts are canonical EJSON. */
export interface RowStorage {
  /** Document texts of the namespace in insertion order: every one, or only the candidates. */
  rows(ns: string, candidates?: Candidates): Promise<string[]>;
  /** The indexed fields of every namespace, as recorded. */
  indexedFields(): Promise<Map<string, string[]>>;
  /**
   * Records the fields as indexed for the namespace and writes their entries for the documents
   * already there, so that no write in between is left without entries.
   */
  addIndexes(ns: string, fields: readonly string[], entries: typeof indexEntries): Promise<void>;
  /**
   * Applies the batch in one transaction (all or nothing), replacing the index entries of the
   * documents it touches for the fields recorded as indexed (read inside the transaction: another
   * instance may have added some).
   */
  write(ns: string, batch: WriteBatch, entries: typeof indexEntries, expected: readonly ExpectedRow[], capture: boolean): Promise<void>;
  /**
   * Tells every instance sharing the store that `holder` wants the changes of `ns` recorded until
   * `until` (ms): their writes record then even when they do not capture it themselves (PostgreSQL;
   * a SQLite file has one writer process, whose own holds suffice). `until` 0 withdraws it.
   */
  shareHold(ns: string, holder: string, until: number): Promise<void>;
  /** The change outbox (ChangeLog's reads); `write` with `capture` adds to it in its transaction. */
  readChanges(ns: string, after: number, limit: number): Promise<StoredChange[]>;
  latestChange(ns: string): Promise<number>;
  countChanges(ns: string, after: number): Promise<number>;
  /** Removes changes up to `upTo` (unless some instance holds `ns`: its streams still read them) and older than `before`. */
  pruneChanges(ns: string, upTo: number, before: number): Promise<number>;
  close(): Promise<void>;
}

/** How long a shared hold lasts without renewal; renewed every third of it while held. */
export const HOLD_TTL_MS = 30_000;

/** A change as a write records it (the outbox assigns seq). */
export interface ChangeDraft {
  readonly op: ChangeOp;
  readonly id: string;
  readonly after: string | null;
  readonly before: string | null;
}

/**
 * The changes a batch made, in the order it applied them: every insert, and the replaces and
 * removes that found their document (`applied`, by primary key). The before-images are the texts
 * the write checked (`expected`): what the document was when the change committed.
 */
export function changeDrafts(batch: WriteBatch, expected: readonly ExpectedRow[], applied: ReadonlySet<string>): ChangeDraft[] {
  const before = new Map(expected.map((e) => [e.id, e.text]));
  const out: ChangeDraft[] = [];
  for (const doc of batch.inserts ?? []) out.push({ op: 'insert', id: idKey(doc._id), after: encodeDoc(doc), before: null });
  const kind = batch.replaceKind ?? 'update';
  for (const doc of batch.replaces ?? []) {
    const id = idKey(doc._id);
    if (applied.has(id)) out.push({ op: kind, id, after: encodeDoc(doc), before: before.get(id) ?? null });
  }
  for (const raw of batch.removes ?? []) {
    const id = idKey(raw);
    if (applied.has(id)) out.push({ op: 'delete', id, after: null, before: before.get(id) ?? null });
  }
  return out;
}

/** A document's stored text as it was read: the write applies only if it is still exactly that. */
export interface ExpectedRow {
  readonly id: string;
  readonly text: string;
}

const NONE: ReadonlySet<string> = new Set();
const indexable = (field: string) => field.length > 0 && field !== '_id' && !field.startsWith('$') && !field.includes('.');

function refused(err: unknown): unknown {
  return err instanceof MingoError ? new QueryError(err.message) : err;
}

/** A DocumentEngine over row storage; queries run in mingo. */
export function embeddedEngine(storage: RowStorage): DocumentEngine {
  // What this instance knows to be indexed: recorded fields are never dropped, so using a set
  // that lags behind another instance's is safe (it only reads more rows).
  let known: Promise<Map<string, Set<string>>> | undefined;
  const indexed = (): Promise<Map<string, Set<string>>> => {
    known ??= storage.indexedFields().then(
      (m) => new Map([...m].map(([ns, fields]) => [ns, new Set(fields)])),
      (err: unknown) => {
        known = undefined;
        throw err;
      },
    );
    return known;
  };

  // The stored text of the document objects `find` handed out for a write, for compare-and-swap.
  const readAs = new WeakMap<Doc, string>();
  const read = (text: string): Doc => {
    const doc = decodeDoc(text);
    readAs.set(doc, text);
    return doc;
  };

  // Namespaces whose changes are recorded (for good, or while held), and who hears of new ones (in this process).
  const captured = new Set<string>();
  const holds = new Map<string, number>();
  const holder = randomUUID();
  let renewal: NodeJS.Timeout | undefined;
  const renewHolds = () => {
    const until = Date.now() + HOLD_TTL_MS;
    for (const ns of holds.keys()) void storage.shareHold(ns, holder, until).catch(() => undefined);
  };
  const listeners = new Set<(ns: string) => void>();
  const changes: ChangeLog = {
    capture: (ns) => void captured.add(ns),
    async hold(ns) {
      holds.set(ns, (holds.get(ns) ?? 0) + 1);
      try {
        await storage.shareHold(ns, holder, Date.now() + HOLD_TTL_MS);
      } catch (err) {
        void release(ns);
        throw err;
      }
      if (!renewal) {
        renewal = setInterval(renewHolds, HOLD_TTL_MS / 3);
        renewal.unref();
      }
      let released: Promise<void> | undefined;
      return () => (released ??= release(ns));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    read: (ns, after, limit) => storage.readChanges(ns, after, limit),
    latest: (ns) => storage.latestChange(ns),
    count: (ns, after) => storage.countChanges(ns, after),
    // Changes a stream of this process may still read are kept (other instances' holds: in SQL).
    prune: (ns, upTo, before) => storage.pruneChanges(ns, holds.has(ns) ? 0 : upTo, before),
  };

  function release(ns: string): Promise<void> {
    const n = (holds.get(ns) ?? 1) - 1;
    if (n > 0) {
      holds.set(ns, n);
      return Promise.resolve();
    }
    holds.delete(ns);
    if (holds.size === 0 && renewal) {
      clearInterval(renewal);
      renewal = undefined;
    }
    return storage.shareHold(ns, holder, 0).catch(() => undefined);
  }

  async function findAll(ns: string, filter: Filter, opts: FindOptions = {}): Promise<Doc[]> {
    const criteria = normalizeNumbers(filter) as Filter;
    let docs: Doc[];
    try {
      const matches = fastMatcher(criteria);
      const query = matches ? undefined : new Query(criteria as never, MINGO);
      const lookups = plan(criteria, (await indexed()).get(ns) ?? NONE);
      const rows = await storage.rows(ns, lookups && candidates(lookups));
      const all = rows.map(opts.forWrite ? read : decodeDoc);
      docs = matches ? all.filter(matches) : (query!.find(all).all() as Doc[]);
      if (opts.sort && Object.keys(opts.sort).length) {
        docs = fastSort(docs, opts.sort) ?? (new Query({}, MINGO).find(docs).sort(opts.sort as never).all() as Doc[]);
      }
      if (opts.limit) docs = docs.slice(0, opts.limit);
      if (opts.projection && Object.keys(opts.projection).length) {
        docs = fastProject(docs, opts.projection) ?? (new Query({}, MINGO).find(docs, opts.projection as never).all() as Doc[]);
      }
    } catch (err) {
      throw refused(err);
    }
    return docs;
  }

  return {
    changes,

    findAll,

    async *find(ns, filter, opts) {
      yield* await findAll(ns, filter, opts);
    },

    async ensureIndexes(ns, fields) {
      const known = await indexed();
      const have = known.get(ns) ?? new Set<string>();
      const wanted = [...new Set(fields)].filter((f) => indexable(f) && !have.has(f));
      if (wanted.length === 0) return;
      await storage.addIndexes(ns, wanted, indexEntries);
      known.set(ns, new Set([...(known.get(ns) ?? []), ...wanted])); // as it is now: another call may have added some
    },

    write(ns, batch) {
      const expected: ExpectedRow[] = [];
      for (const doc of batch.expected ?? []) {
        const text = readAs.get(doc);
        // Only documents this engine handed out for a write can be checked: anything else is a bug
        // that would silently turn compare-and-swap off.
        if (text === undefined) return Promise.reject(new Error(`internal: a write on ${ns} expects a document not read with forWrite`));
        expected.push({ id: idKey(doc._id), text });
      }
      if (!captured.has(ns) && !holds.has(ns)) return storage.write(ns, batch, indexEntries, expected, false);
      return storage.write(ns, batch, indexEntries, expected, true).then(() => {
        for (const listener of listeners) listener(ns);
      });
    },

    close() {
      if (renewal) clearInterval(renewal);
      renewal = undefined;
      return storage.close();
    },
  };
}
