// The document store behind the data service: namespaces (`<db>.<collection>`) of BSON documents.
// Engines find and keep documents; rules happen above them, in the service, in one place. Every
// engine takes MongoDB query filters, so a filter the service builds (the request's query ANDed
// with the rule filters) runs where the data is: in mingo over indexed candidates for the embedded
// engines, on the server for a real MongoDB.

export type Doc = Record<string, unknown>;
/** A MongoDB query filter. */
export type Filter = Record<string, unknown>;

export interface FindOptions {
  /** A MongoDB sort specification (`{ v: -1 }`); without it, insertion (natural) order. */
  readonly sort?: Record<string, unknown>;
  /** At most this many documents (undefined or 0: all). */
  readonly limit?: number;
  /** A MongoDB projection of what is returned. */
  readonly projection?: Record<string, unknown>;
  /**
   * The documents may come back as a write's `expected` (read-check-write): engines that check
   * those by their stored text keep it only then.
   */
  readonly forWrite?: boolean;
}

export interface WriteBatch {
  readonly inserts?: readonly Doc[];
  /** Whole documents replacing those with the same `_id`. */
  readonly replaces?: readonly Doc[];
  readonly removes?: readonly unknown[];
  /**
   * Documents as this engine's `find` returned them, which the replaced and removed documents must
   * still be when the batch applies: a user's update is read, checked against the rules and written
   * back, and a write in between (another request, another instance) would otherwise be lost.
   * When one has changed or gone, the batch fails with WriteConflictError and changes nothing.
   */
  readonly expected?: readonly Doc[];
  /** What the `replaces` were, for change events: `update` (the default) or `replace`. */
  readonly replaceKind?: 'update' | 'replace';
}

export type ChangeOp = 'insert' | 'update' | 'replace' | 'delete';

/** One document change, recorded in the same transaction as the write that made it. */
export interface StoredChange {
  /** Commit order within the namespace (and an increasing number across the store). */
  readonly seq: number;
  readonly ns: string;
  readonly op: ChangeOp;
  /** The document's `_id` as canonical EJSON. */
  readonly id: string;
  /** The document after the change (canonical EJSON), for inserts, updates and replaces. */
  readonly after: string | null;
  /** The document before the change, for updates, replaces and deletes. */
  readonly before: string | null;
  /** Wall-clock ms of the write. */
  readonly at: number;
}

/**
 * The change outbox of an embedded engine: database triggers and watch streams read it. Only
 * namespaces someone captures or holds are recorded (recording costs the writes of a namespace
 * their concurrency on PostgreSQL, see postgres-engine.ts); consumers keep their own positions (seq).
 */
export interface ChangeLog {
  /** Records the changes of `ns` from now on, for good (database triggers: writes made by this process). */
  capture(ns: string): void;
  /**
   * Records the changes of `ns` while held (watch streams), by every instance sharing the store:
   * resolves once writes that start from then on record (on PostgreSQL, once the hold is in the
   * shared table). The returned function releases this hold (resolving once other instances can see it).
   */
  hold(ns: string): Promise<() => Promise<void>>;
  /** Called after a write of this process that recorded changes commits; returns the unsubscribe. */
  subscribe(listener: (ns: string) => void): () => void;
  /** The changes of `ns` after `seq`, in commit order, at most `limit`. */
  read(ns: string, after: number, limit: number): Promise<StoredChange[]>;
  /** The highest seq recorded for `ns` (0: none). */
  latest(ns: string): Promise<number>;
  /** How many changes of `ns` come after `seq`. */
  count(ns: string, after: number): Promise<number>;
  /** Removes the changes of `ns` up to `seq`, and any older than `before` (ms); returns how many. */
  prune(ns: string, upTo: number, before: number): Promise<number>;
}

export class DuplicateKeyError extends Error {
  override readonly name = 'DuplicateKeyError';
}

/** A document of `expected` changed before the batch applied: read again and retry. */
export class WriteConflictError extends Error {
  override readonly name = 'WriteConflictError';
}

/** The query, update or pipeline was refused by the engine (unknown operator, immutable field, …). */
export class QueryError extends Error {
  override readonly name = 'QueryError';
}

export interface UpdateOutcome {
  readonly matchedCount: number;
  readonly modifiedCount: number;
  /** Only when a document was upserted. */
  readonly upsertedId?: unknown;
}

export interface FindOneAndOptions {
  readonly sort?: Record<string, unknown>;
  readonly projection?: Record<string, unknown>;
  readonly upsert: boolean;
  readonly returnNewDocument: boolean;
}

/**
 * Whole operations a server-side engine (a real MongoDB) runs itself, in one round trip. The
 * service uses them only for the system user: for everyone else it must see each document to
 * choose a role, so it reads through `find` and writes through `write`. Updates arrive with
 * operators (an operator-less update is already turned into `$set`).
 */
export interface ServerOperations {
  count(ns: string, filter: Filter, limit?: number): Promise<number>;
  /** The pipeline's results, at most `maxResults` of them. */
  aggregate(ns: string, pipeline: readonly Doc[], maxResults: number): Promise<Doc[]>;
  update(ns: string, filter: Filter, update: Doc, opts: { many: boolean; upsert: boolean; arrayFilters?: readonly Doc[] }): Promise<UpdateOutcome>;
  /** How many documents were deleted. */
  delete(ns: string, filter: Filter, many: boolean): Promise<number>;
  /** `change` is the update (with operators) or the replacement; absent for 'delete'. */
  findOneAnd(ns: string, kind: 'update' | 'replace' | 'delete', filter: Filter, change: Doc | undefined, opts: FindOneAndOptions): Promise<Doc | null>;
}

export interface DocumentEngine {
  /** Documents matching the MongoDB filter: in insertion order unless sorted, then limited and projected. */
  find(ns: string, filter: Filter, opts?: FindOptions): AsyncIterable<Doc>;
  /**
   * The same documents as `find`, as one array: engines that read every match before the first
   * (the embedded ones) offer it, so callers skip a promise per document.
   */
  findAll?(ns: string, filter: Filter, opts?: FindOptions): Promise<Doc[]>;
  /**
   * Top-level fields that queries on `ns` compare by equality. The embedded engines index them
   * (building the index from the documents already there); a real MongoDB leaves its indexes to
   * its operator. Idempotent; fields already indexed cost nothing.
   */
  ensureIndexes(ns: string, fields: readonly string[]): Promise<void>;
  /**
   * Applies the batch: all of it or (on a duplicate `_id`) none of it. A MongoDB without
   * transactions (a standalone server) applies what came before the failure (see mongodb-engine.ts).
   */
  write(ns: string, batch: WriteBatch): Promise<void>;
  /** Present on the embedded engines: the outbox of recorded changes. */
  readonly changes?: ChangeLog;
  /** Present when the engine can run whole operations itself (a real MongoDB). */
  readonly server?: ServerOperations;
  close(): Promise<void>;
}

/** Every document `engine.find` yields, as an array (in one step where the engine offers it). */
export function findAll(engine: DocumentEngine, ns: string, filter: Filter, opts?: FindOptions): Promise<Doc[]> {
  return engine.findAll ? engine.findAll(ns, filter, opts) : collect(engine.find(ns, filter, opts));
}

/** Every document a `find` yields, as an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
