// A stand-in MongoDB server on loopback, speaking the wire protocol (OP_MSG, and OP_QUERY for the
// handshake) well enough for the official driver's find, aggregate, count, insert, update, delete
// and findAndModify, with mingo doing the matching. It checks Baste's driver plumbing — options,
// result shapes, cursors, error translation — where no real server can be installed; it is not
// MongoDB (a standalone server without transactions, numbers compared as JS numbers). Tests run
// against a real one with BASTE_TEST_MONGODB_URI.

import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { BSON, EJSON, Long } from 'bson';
import { Aggregator, Query } from 'mingo';
import { update as applyModifier } from 'mingo/updater';
import { normalizeNumbers } from '../../src/data/values.js';

type Doc = Record<string, unknown>;

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const MINGO = { scriptEnabled: false, idKey: '_id' } as const;

class CommandError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const keyOf = (v: unknown) => EJSON.stringify({ v }, { relaxed: false });
const copy = (doc: Doc): Doc => normalizeNumbers(BSON.deserialize(BSON.serialize(doc), { promoteLongs: false })) as Doc;
const hasOperators = (u: Doc) => Object.keys(u).some((k) => k.startsWith('$'));

function seedOf(query: Doc): Doc {
  const seed: Doc = {};
  for (const [k, v] of Object.entries(query)) {
    if (k.startsWith('$') || k.includes('.')) continue;
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && Object.keys(v).some((x) => x.startsWith('$'))) continue;
    seed[k] = v;
  }
  return seed;
}

export interface FakeMongo {
  /** A connection string for the driver. */
  readonly uri: string;
  /** The write commands received (insert, update, delete, findAndModify), oldest first, as decoded: what Baste sent. */
  readonly writes: Doc[];
  close(): Promise<void>;
}

const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findAndModify']);

export async function startFakeMongo(): Promise<FakeMongo> {
  const dbs = new Map<string, Map<string, Doc[]>>();
  const writes: Doc[] = [];
  const collection = (db: string, coll: string, create = false): Doc[] => {
    let colls = dbs.get(db);
    if (!colls) {
      colls = new Map();
      if (create) dbs.set(db, colls);
    }
    let docs = colls.get(coll);
    if (!docs) {
      docs = [];
      if (create) colls.set(coll, docs);
    }
    return docs;
  };
  const matching = (docs: Doc[], filter: unknown, sort?: unknown): Doc[] => {
    let cursor = new Query((filter ?? {}) as never, MINGO).find(docs);
    if (sort && Object.keys(sort).length) cursor = cursor.sort(sort as never);
    return cursor.all() as Doc[];
  };

  const insertOne = (docs: Doc[], doc: Doc) => {
    if (docs.some((d) => keyOf(d._id) === keyOf(doc._id))) throw new CommandError(11000, `E11000 duplicate key error index: _id_ dup key: { _id: ${keyOf(doc._id)} }`);
    docs.push(doc);
  };

  /** The document after an update (operators) or a replacement, `_id` kept. */
  const modified = (doc: Doc, u: Doc, arrayFilters?: Doc[]): Doc => {
    const next = copy(doc);
    if (hasOperators(u)) {
      applyModifier(next, u as never, arrayFilters as never, undefined, { queryOptions: MINGO });
      if (keyOf(next._id) !== keyOf(doc._id)) throw new CommandError(66, "Performing an update on the path '_id' would modify the immutable field '_id'");
      return next;
    }
    if (u._id !== undefined && keyOf(u._id) !== keyOf(doc._id)) throw new CommandError(66, "the (immutable) field '_id' was found to have been altered");
    return { _id: doc._id, ...copy(u) };
  };

  /** What an upsert starts from: the query's equality fields, and a replacement's own `_id` when it has one, as MongoDB does. */
  const upsertBase = (q: Doc, u: Doc): Doc => {
    const seed = { _id: new BSON.ObjectId(), ...seedOf(q) };
    return !hasOperators(u) && u._id !== undefined ? { ...seed, _id: u._id } : seed;
  };

  const cursorReply = (ns: string, batch: Doc[]) => ({ cursor: { id: Long.ZERO, ns, firstBatch: batch }, ok: 1 });

  function command(cmd: Doc): Doc {
    const name = Object.keys(cmd)[0] ?? '';
    const db = String(cmd.$db ?? 'admin');
    const coll = String(cmd[name]);
    switch (name) {
      case 'hello':
      case 'isMaster':
      case 'ismaster':
        return {
          helloOk: true,
          isWritablePrimary: true,
          ismaster: true,
          maxBsonObjectSize: 16 * 1024 * 1024,
          maxMessageSizeBytes: 48_000_000,
          maxWriteBatchSize: 100_000,
          localTime: new Date(),
          logicalSessionTimeoutMinutes: 30,
          connectionId: 1,
          minWireVersion: 0,
          maxWireVersion: 21,
          readOnly: false,
          ok: 1,
        };
      case 'ping':
      case 'endSessions':
      case 'killCursors':
        return { ok: 1 };
      case 'buildInfo':
        return { version: '7.0.0', versionArray: [7, 0, 0, 0], ok: 1 };
      case 'listDatabases':
        return { databases: [...dbs.keys()].map((n) => ({ name: n, sizeOnDisk: 0, empty: false })), totalSize: 0, ok: 1 };
      case 'dropDatabase':
        dbs.delete(db);
        return { ok: 1 };
      case 'find': {
        let cursor = new Query((cmd.filter ?? {}) as never, MINGO).find(collection(db, coll), (cmd.projection ?? {}) as never);
        if (cmd.sort && Object.keys(cmd.sort).length) cursor = cursor.sort(cmd.sort as never);
        if (typeof cmd.skip === 'number' && cmd.skip) cursor = cursor.skip(cmd.skip);
        if (typeof cmd.limit === 'number' && cmd.limit) cursor = cursor.limit(Math.abs(cmd.limit));
        return cursorReply(`${db}.${coll}`, (cursor.all() as Doc[]).map(copy));
      }
      case 'aggregate': {
        const pipeline = cmd.pipeline as Doc[];
        const out = new Aggregator(pipeline as never, { ...MINGO, collectionResolver: (c: string) => collection(db, c) }).run(collection(db, coll)) as Doc[];
        return cursorReply(`${db}.${coll}`, out.map(copy));
      }
      case 'insert': {
        const docs = collection(db, coll, true);
        const writeErrors: Doc[] = [];
        let n = 0;
        for (const [index, doc] of (cmd.documents as Doc[]).entries()) {
          try {
            insertOne(docs, copy(doc));
            n++;
          } catch (err) {
            if (!(err instanceof CommandError)) throw err;
            writeErrors.push({ index, code: err.code, errmsg: err.message });
            if (cmd.ordered !== false) break;
          }
        }
        return { n, ...(writeErrors.length ? { writeErrors } : {}), ok: 1 };
      }
      case 'update': {
        const docs = collection(db, coll, true);
        let n = 0;
        let nModified = 0;
        const upserted: Doc[] = [];
        const writeErrors: Doc[] = [];
        for (const [index, s] of (cmd.updates as Doc[]).entries()) {
          try {
            const targets = matching(docs, s.q);
            const chosen = s.multi ? targets : targets.slice(0, 1);
            if (chosen.length === 0 && s.upsert) {
              const doc = modified(upsertBase(s.q as Doc, s.u as Doc), s.u as Doc, s.arrayFilters as Doc[]);
              insertOne(docs, doc);
              upserted.push({ index, _id: doc._id });
              n++;
              continue;
            }
            for (const doc of chosen) {
              const next = modified(doc, s.u as Doc, s.arrayFilters as Doc[]);
              n++;
              if (keyOf(next) !== keyOf(doc)) {
                docs[docs.indexOf(doc)] = next;
                nModified++;
              }
            }
          } catch (err) {
            if (!(err instanceof CommandError)) throw err;
            writeErrors.push({ index, code: err.code, errmsg: err.message });
            if (cmd.ordered !== false) break;
          }
        }
        return { n, nModified, ...(upserted.length ? { upserted } : {}), ...(writeErrors.length ? { writeErrors } : {}), ok: 1 };
      }
      case 'delete': {
        const docs = collection(db, coll);
        let n = 0;
        for (const s of cmd.deletes as Doc[]) {
          const targets = matching(docs, s.q);
          for (const doc of Number(s.limit) === 1 ? targets.slice(0, 1) : targets) {
            docs.splice(docs.indexOf(doc), 1);
            n++;
          }
        }
        return { n, ok: 1 };
      }
      case 'findAndModify': {
        const docs = collection(db, coll, true);
        const [target] = matching(docs, cmd.query, cmd.sort);
        const shown = (doc: Doc | null) => (doc && cmd.fields ? (new Query({}, MINGO).find([doc], cmd.fields as never).all()[0] as Doc) : doc);
        if (cmd.remove) {
          if (target) docs.splice(docs.indexOf(target), 1);
          return { lastErrorObject: { n: target ? 1 : 0 }, value: shown(target ? copy(target) : null), ok: 1 };
        }
        if (!target) {
          if (!cmd.upsert) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
          const doc = modified(upsertBase((cmd.query ?? {}) as Doc, cmd.update as Doc), cmd.update as Doc);
          insertOne(docs, doc);
          return { lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id }, value: cmd.new ? shown(copy(doc)) : null, ok: 1 };
        }
        const next = modified(target, cmd.update as Doc);
        docs[docs.indexOf(target)] = next;
        return { lastErrorObject: { n: 1, updatedExisting: true }, value: shown(copy(cmd.new ? next : target)), ok: 1 };
      }
      default:
        throw new CommandError(59, `no such command: '${name}'`);
    }
  }

  const answer = (cmd: Doc): Doc => {
    if (WRITE_COMMANDS.has(Object.keys(cmd)[0] ?? '')) writes.push(cmd);
    try {
      return command(cmd);
    } catch (err) {
      const code = err instanceof CommandError ? err.code : 2;
      return { ok: 0, errmsg: (err as Error).message, code, codeName: code === 11000 ? 'DuplicateKey' : 'BadValue' };
    }
  };

  const frame = (requestId: number, opCode: number, body: Buffer) => {
    const header = Buffer.alloc(16);
    header.writeInt32LE(16 + body.length, 0);
    header.writeInt32LE(0, 4);
    header.writeInt32LE(requestId, 8);
    header.writeInt32LE(opCode, 12);
    return Buffer.concat([header, body]);
  };
  const DESERIALIZE = { promoteLongs: false } as const;

  /** One message in, its reply out (none for moreToCome). */
  function handle(msg: Buffer): Buffer | null {
    const requestId = msg.readInt32LE(4);
    const opCode = msg.readInt32LE(12);
    if (opCode === OP_QUERY) {
      let at = 20;
      while (msg[at] !== 0) at++;
      at += 9; // the name's NUL, numberToSkip, numberToReturn
      const query = normalizeNumbers(BSON.deserialize(msg.subarray(at, at + msg.readInt32LE(at)), DESERIALIZE)) as Doc;
      const reply = BSON.serialize(answer(query));
      const body = Buffer.alloc(20);
      body.writeInt32LE(1, 16); // numberReturned; flags, cursor id and startingFrom stay 0
      return frame(requestId, OP_REPLY, Buffer.concat([body, reply]));
    }
    if (opCode !== OP_MSG) return null;
    const flags = msg.readUInt32LE(16);
    const end = msg.length - (flags & 1 ? 4 : 0);
    let at = 20;
    let cmd: Doc = {};
    const sequences: [string, Doc[]][] = [];
    while (at < end) {
      const kind = msg[at++];
      if (kind === 0) {
        const size = msg.readInt32LE(at);
        cmd = BSON.deserialize(msg.subarray(at, at + size), DESERIALIZE);
        at += size;
      } else {
        const size = msg.readInt32LE(at);
        const stop = at + size;
        let p = at + 4;
        const nameEnd = msg.indexOf(0, p);
        const id = msg.toString('utf8', p, nameEnd);
        p = nameEnd + 1;
        const docs: Doc[] = [];
        while (p < stop) {
          const len = msg.readInt32LE(p);
          docs.push(BSON.deserialize(msg.subarray(p, p + len), DESERIALIZE));
          p += len;
        }
        sequences.push([id, docs]);
        at = stop;
      }
    }
    for (const [id, docs] of sequences) cmd[id] = docs;
    const reply = BSON.serialize(answer(normalizeNumbers(cmd) as Doc));
    if (flags & 2) return null; // moreToCome: no answer wanted
    const body = Buffer.alloc(5); // flagBits 0, section kind 0
    return frame(requestId, OP_MSG, Buffer.concat([body, reply]));
  }

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const size = pending.readInt32LE(0);
        const out = handle(pending.subarray(0, size));
        pending = pending.subarray(size);
        if (out) socket.write(out);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    writes,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
