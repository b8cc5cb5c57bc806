// The data service on a real MongoDB, through the official driver: namespace `<db>.<coll>` is that
// database and collection. Queries run on the server (filter, sort, limit, projection), and so do
// whole operations for the system user (`server`). Documents come back in the shapes the embedded
// engines give (values.ts), so rules and mingo see the same values whichever engine holds them.
// They are decoded here, with the app's own `bson`: the driver loads the CommonJS build of the same
// package, whose classes are not the ones the rest of Baste checks with instanceof.
//
// Write batches run in a transaction (session.withTransaction) when the server supports them: a
// replica set or a sharded cluster (MongoDB 4.4+ creates collections inside transactions). A
// standalone server has none, so a batch there is applied in order without one: a duplicate `_id`
// in the middle of an insertMany leaves the documents before it written, as the driver's ordered
// insertMany does.

import { BSON, EJSON } from 'bson';
import {
  MongoClient,
  MongoInvalidArgumentError,
  MongoServerError,
  type AnyBulkWriteOperation,
  type ClientSession,
  type Document,
  type Sort,
} from 'mongodb';
import {
  DuplicateKeyError,
  QueryError,
  WriteConflictError,
  type Doc,
  type DocumentEngine,
  type Filter,
  type FindOptions,
  type ServerOperations,
  type WriteBatch,
} from './engine.js';
import { updateDiff } from './update-diff.js';
import { normalizeNumbers, toServerNumbers } from './values.js';

export interface MongoDocumentsOptions {
  /**
   * Prepended to every database name (`<prefix><db>`): keeps several apps, or test runs, apart
   * on one cluster. Empty by default: the app's databases are the cluster's.
   */
  readonly databasePrefix?: string;
  /** How long to look for a usable server before an operation fails (driver default 30 s). */
  readonly serverSelectionTimeoutMS?: number;
}

export interface MongoDocumentEngine extends DocumentEngine {
  readonly server: ServerOperations;
  /** Whether write batches run in transactions (a replica set or mongos). */
  supportsTransactions(): Promise<boolean>;
  /** A change stream of the namespace (database triggers): events in the app's classes. */
  watch(ns: string, opts: ChangeStreamRequest): Promise<ChangeFeed>;
}

export interface ChangeStreamRequest {
  /** Stages after the stream ($match, $project), on the server. */
  readonly pipeline: readonly Doc[];
  /** Resume after this token (the last event handled), or start now. */
  readonly resumeAfter?: Doc;
  /** Update events carry the document as it is now (`updateLookup`). */
  readonly fullDocument: boolean;
  /** Events carry the pre-image when the collection records them (`whenAvailable`). */
  readonly fullDocumentBeforeChange: boolean;
}

export interface ChangeFeed extends AsyncIterable<Doc> {
  close(): Promise<void>;
}

/**
 * Server errors about our credentials or the cluster's state (elections, shutdowns, time limits)
 * rather than the request: they stay server errors. The others become QueryError (the client's 400).
 */
const NOT_THE_REQUEST = new Set([6, 7, 13, 18, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

function translated(err: unknown): unknown {
  if (err instanceof MongoServerError) {
    if (err.code === 11000) return new DuplicateKeyError(err.message);
    if ((typeof err.code === 'number' && NOT_THE_REQUEST.has(err.code)) || err.hasErrorLabel('TransientTransactionError')) return err;
    return new QueryError(err.message);
  }
  if (err instanceof MongoInvalidArgumentError) return new QueryError(err.message);
  return err;
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translated(err);
  }
}

const DECODE = { promoteLongs: false, promoteBuffers: false } as const;
/** A document the driver returned raw (`raw: true`), in the app's classes. */
const fromRaw = (raw: unknown): Doc => normalizeNumbers(BSON.deserialize(raw as Uint8Array, DECODE)) as Doc;
/** A value the driver decoded (its classes), in the app's. */
const toLocal = (value: unknown): unknown => normalizeNumbers(BSON.deserialize(BSON.serialize({ value }), DECODE).value);
const toServer = (doc: Doc): Document => toServerNumbers(doc) as Document;
const nonEmpty = (o: Record<string, unknown> | undefined) => (o && Object.keys(o).length ? o : undefined);

export function openMongoDocuments(uri: string, opts: MongoDocumentsOptions = {}): MongoDocumentEngine {
  // The constructor only parses the connection string (a bad one throws here, at start-up).
  const client = new MongoClient(uri, {
    appName: 'baste',
    // In what the driver decodes itself (write results), Longs stay Long rather than lossy doubles.
    promoteLongs: false,
    ignoreUndefined: true,
    ...(opts.serverSelectionTimeoutMS !== undefined ? { serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS } : {}),
  });
  const prefix = opts.databasePrefix ?? '';
  // Connected on first use, explicitly: the driver's own connect-on-first-operation gives up for
  // good when the cluster is unreachable that once, where connect() tries afresh next time. Once
  // connected, the driver follows the cluster through outages and elections by itself.
  let connecting: Promise<unknown> | undefined;
  const connected = async () => {
    connecting ??= client.connect().catch((err: unknown) => {
      connecting = undefined;
      throw err;
    });
    await connecting;
  };
  const coll = async (ns: string) => {
    const dot = ns.indexOf('.');
    if (dot <= 0 || dot === ns.length - 1) throw new QueryError(`invalid namespace '${ns}'`);
    await connected();
    return client.db(prefix + ns.slice(0, dot)).collection(ns.slice(dot + 1));
  };

  let transactions: Promise<boolean> | undefined;
  const supportsTransactions = (): Promise<boolean> => {
    transactions ??= (async () => {
      await connected();
      const admin = client.db('admin');
      const hello = await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }));
      return typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
    })().catch((err: unknown) => {
      transactions = undefined; // not reachable yet: ask again next time
      throw err;
    });
    return transactions;
  };

  const applyBatch = async (ns: string, batch: WriteBatch, session?: ClientSession) => {
    const c = await coll(ns);
    // Compare-and-swap: a document that was read must still be exactly what was read.
    const expected = new Map((batch.expected ?? []).map((d) => [EJSON.stringify(d._id, { relaxed: false }), d]));
    const target = (id: unknown): Document => {
      const was = expected.get(EJSON.stringify(id, { relaxed: false }));
      return was ? { _id: id, $expr: { $eq: ['$$ROOT', { $literal: toServer(was) }] } } : { _id: id };
    };
    const conflict = () => new WriteConflictError(`a document of ${ns} changed during the write`);
    /**
     * A user's update (read, checked, written back) goes as an update of what changed, under the
     * same compare-and-swap filter, so change streams report `update` (update-diff.ts); a
     * replacement, or a change no update path can name, as a replace.
     */
    const rewrite = (doc: Doc): AnyBulkWriteOperation => {
      const was = batch.replaceKind === 'replace' ? undefined : expected.get(EJSON.stringify(doc._id, { relaxed: false }));
      const diff = was ? updateDiff(was, doc) : null;
      return diff
        ? { updateOne: { filter: target(doc._id), update: toServer(diff as Doc) } }
        : { replaceOne: { filter: target(doc._id), replacement: toServer(doc) } };
    };
    if (batch.inserts?.length) await c.insertMany(batch.inserts.map(toServer), { ordered: true, session });
    if (batch.replaces?.length) {
      const r = await c.bulkWrite(batch.replaces.map(rewrite), { ordered: true, session });
      if (expected.size && r.matchedCount < batch.replaces.length) throw conflict();
    }
    if (batch.removes?.length) {
      const r = await c.deleteMany({ $or: batch.removes.map(target) } as Document, { session });
      if (expected.size && r.deletedCount < batch.removes.length) throw conflict();
    }
  };

  const server: ServerOperations = {
    count: (ns, filter, limit) => guard(async () => (await coll(ns)).countDocuments(filter, limit ? { limit } : {})),

    aggregate: (ns, pipeline, maxResults) =>
      guard(async () => {
        const cursor = (await coll(ns)).aggregate(pipeline.map(toServer), { raw: true });
        const out: Doc[] = [];
        try {
          for await (const raw of cursor) {
            out.push(fromRaw(raw));
            if (out.length >= maxResults) break;
          }
        } finally {
          await cursor.close();
        }
        return out;
      }),

    update: (ns, filter, update, { many, upsert, arrayFilters }) =>
      guard(async () => {
        const options = { upsert, ...(arrayFilters ? { arrayFilters: arrayFilters as Document[] } : {}) };
        const c = await coll(ns);
        const r = many ? await c.updateMany(filter, toServer(update), options) : await c.updateOne(filter, toServer(update), options);
        return {
          matchedCount: r.matchedCount,
          modifiedCount: r.modifiedCount,
          ...(r.upsertedId !== null && r.upsertedId !== undefined ? { upsertedId: toLocal(r.upsertedId) } : {}),
        };
      }),

    delete: (ns, filter, many) =>
      guard(async () => {
        const c = await coll(ns);
        return (many ? await c.deleteMany(filter) : await c.deleteOne(filter)).deletedCount;
      }),

    findOneAnd: (ns, kind, filter, change, o) =>
      guard(async () => {
        const c = await coll(ns);
        const common = { sort: nonEmpty(o.sort) as Sort | undefined, projection: nonEmpty(o.projection), includeResultMetadata: false as const };
        const writing = { ...common, upsert: o.upsert, returnDocument: o.returnNewDocument ? ('after' as const) : ('before' as const) };
        const doc =
          kind === 'delete'
            ? await c.findOneAndDelete(filter, common)
            : kind === 'update'
              ? await c.findOneAndUpdate(filter, toServer(change ?? {}), writing)
              : await c.findOneAndReplace(filter, toServer(change ?? {}), writing);
        return doc ? (toLocal(doc) as Doc) : null;
      }),
  };

  return {
    async *find(ns: string, filter: Filter, o: FindOptions = {}) {
      const cursor = (await coll(ns)).find(filter, {
        sort: nonEmpty(o.sort) as Sort | undefined,
        limit: o.limit ?? 0,
        projection: nonEmpty(o.projection),
        raw: true,
      });
      try {
        for await (const raw of cursor) yield fromRaw(raw);
      } catch (err) {
        throw translated(err);
      } finally {
        await cursor.close();
      }
    },

    // The cluster's indexes are its operator's to choose (the hosted service never made any).
    async ensureIndexes() {},

    async write(ns, batch) {
      await guard(async () => {
        if (!(await supportsTransactions())) return applyBatch(ns, batch);
        const session = client.startSession();
        try {
          await session.withTransaction(() => applyBatch(ns, batch, session));
        } finally {
          await session.endSession();
        }
      });
    },

    server,
    supportsTransactions,

    async watch(ns, req) {
      const stream = (await coll(ns)).watch(req.pipeline.map((stage) => toServer(stage)), {
        ...(req.resumeAfter ? { resumeAfter: toServer(req.resumeAfter) } : {}),
        ...(req.fullDocument ? { fullDocument: 'updateLookup' as const } : {}),
        ...(req.fullDocumentBeforeChange ? { fullDocumentBeforeChange: 'whenAvailable' as const } : {}),
      });
      return {
        async *[Symbol.asyncIterator]() {
          try {
            for await (const event of stream) yield toLocal(event) as Doc;
          } catch (err) {
            throw translated(err);
          }
        },
        close: () => stream.close(),
      };
    },

    async close() {
      await client.close();
    },
  };
}
