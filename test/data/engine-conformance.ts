// One suite for every document engine: `engineConformance(name, open)`, `open()` giving an empty engine.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Binary, Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import { collect, DuplicateKeyError, WriteConflictError, type Doc, type DocumentEngine, type Filter, type FindOptions } from '../../src/data/engine.js';

export interface ConformanceOptions {
  /** Whether a failed batch leaves nothing written (a MongoDB standalone server has no transactions). */
  readonly atomicBatches?: (engine: DocumentEngine) => Promise<boolean>;
}

const idOf = (d: Doc) => (d._id instanceof ObjectId ? d._id.toHexString() : d._id);

export function engineConformance(name: string, open: () => Promise<DocumentEngine>, options: ConformanceOptions = {}): void {
  describe(`document engine conformance: ${name}`, () => {
    let engine: DocumentEngine;
    beforeEach(async () => {
      engine = await open();
    });
    afterEach(() => engine.close());

    const all = (ns: string) => collect(engine.find(ns, {}));
    const ids = async (ns: string, filter: Filter, opts?: FindOptions) => (await collect(engine.find(ns, filter, opts))).map(idOf);

    it('keeps documents per namespace, in insertion order, with every BSON type', async () => {
      const oid = new ObjectId();
      const doc = { _id: oid, n: 1, d: new Date(5), l: Long.fromString('9007199254740993'), dec: Decimal128.fromString('1.25'), bin: new Binary(Buffer.from('hi')), nested: { a: [1, 'x'] } };
      await engine.write('db.a', { inserts: [doc, { _id: 'second', n: 2 }] });
      await engine.write('db.b', { inserts: [{ _id: oid, other: true }] });
      const docs = await all('db.a');
      assert.deepEqual(docs.map(idOf), [oid.toHexString(), 'second']);
      const back = docs[0]!;
      assert.equal(back.n, 1);
      assert.equal((back.d as Date).getTime(), 5);
      assert.equal((back.l as Long).toString(), '9007199254740993');
      assert.equal((back.dec as Decimal128).toString(), '1.25');
      assert.equal(Buffer.from((back.bin as Binary).buffer).toString(), 'hi');
      assert.deepEqual(back.nested, { a: [1, 'x'] });
      assert.equal((await all('db.b')).length, 1);
      assert.deepEqual(await all('db.none'), []);
    });

    it('keeps 64-bit integers beyond the Int32 range as Long, and gives small ones back as numbers', async () => {
      await engine.write('db.nums', { inserts: [{ _id: 1, big: 5_000_000_000, small: Long.fromNumber(7), i: new Int32(3), f: new Double(2) }] });
      const [back] = await all('db.nums');
      assert.equal(back!.big, 5_000_000_000);
      assert.equal(back!.small, 7);
      assert.equal(back!.i, 3);
      assert.equal(back!.f, 2);
      assert.deepEqual(await ids('db.nums', { big: Long.fromNumber(5_000_000_000) }), [1]);
    });

    it('findAll, where offered, gives what find yields (filter, sort, limit, projection, forWrite)', async () => {
      if (!engine.findAll) return;
      await engine.write('db.fa', { inserts: [{ _id: 'b', k: 2, o: 'x' }, { _id: 'a', k: 1, o: 'y' }, { _id: 'c', k: 3, o: 'x' }, { _id: 'd', k: 0, o: 'x' }] });
      for (const [filter, opts] of [
        [{}, {}],
        [{ o: 'x' }, { sort: { k: -1 } }],
        [{ k: { $gt: 0 } }, { sort: { _id: 1 }, limit: 2, projection: { o: 0 } }],
      ] as [Filter, FindOptions][]) {
        assert.deepEqual(await engine.findAll('db.fa', filter, opts), await collect(engine.find('db.fa', filter, opts)));
      }
      // What it reads for a write is what a compare-and-swap checks.
      const [doc] = await engine.findAll('db.fa', { _id: 'a' }, { forWrite: true });
      await engine.write('db.fa', { replaces: [{ ...doc!, k: 10 }], expected: [doc!] });
      await assert.rejects(engine.write('db.fa', { replaces: [{ ...doc!, k: 11 }], expected: [doc!] }), WriteConflictError);
      assert.equal((await engine.findAll('db.fa', { _id: 'a' }))[0]!.k, 10);
    });

    it('replaces and removes by _id', async () => {
      await engine.write('db.c', { inserts: [{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }, { _id: 3, v: 'c' }] });
      await engine.write('db.c', { replaces: [{ _id: 2, v: 'B' }], removes: [3] });
      assert.deepEqual(await all('db.c'), [{ _id: 1, v: 'a' }, { _id: 2, v: 'B' }]);
    });

    it('replaces and removes only documents still as they were read (compare-and-swap)', async () => {
      await engine.write('db.cas', { inserts: [{ _id: 1, n: 1 }, { _id: 2, n: 1.5, tags: ['a'] }] });
      const forWrite = (ns: string) => collect(engine.find(ns, {}, { forWrite: true }));
      const [one, two] = await forWrite('db.cas');
      // Unchanged since read: applies.
      await engine.write('db.cas', { replaces: [{ _id: 1, n: 2 }], expected: [one!] });
      assert.deepEqual(await all('db.cas'), [{ _id: 1, n: 2 }, { _id: 2, n: 1.5, tags: ['a'] }]);
      // `one` is stale now: a replace or a remove based on it is refused and changes nothing.
      await assert.rejects(engine.write('db.cas', { replaces: [{ _id: 1, n: 99 }], expected: [one!] }), WriteConflictError);
      await assert.rejects(engine.write('db.cas', { removes: [1], expected: [one!] }), WriteConflictError);
      assert.deepEqual(await all('db.cas'), [{ _id: 1, n: 2 }, { _id: 2, n: 1.5, tags: ['a'] }]);
      // A document removed since it was read is a conflict too.
      await engine.write('db.cas', { removes: [2] });
      await assert.rejects(engine.write('db.cas', { replaces: [{ _id: 2, n: 3 }], expected: [two!] }), WriteConflictError);
      assert.deepEqual(await all('db.cas'), [{ _id: 1, n: 2 }]);
      // Read afresh: applies again.
      const [fresh] = await forWrite('db.cas');
      await engine.write('db.cas', { removes: [1], expected: [fresh!] });
      assert.deepEqual(await all('db.cas'), []);
    });

    it('refuses a duplicate _id and writes nothing of that batch', async () => {
      await engine.write('db.d', { inserts: [{ _id: 'x', v: 1 }] });
      await assert.rejects(engine.write('db.d', { inserts: [{ _id: 'y', v: 2 }, { _id: 'x', v: 3 }] }), DuplicateKeyError);
      const atomic = options.atomicBatches ? await options.atomicBatches(engine) : true;
      const left = await all('db.d');
      if (atomic) assert.deepEqual(left, [{ _id: 'x', v: 1 }]);
      else assert.deepEqual(left.map(idOf).sort(), ['x', 'y'], 'without transactions, the insert before the duplicate stays');
    });

    it('finds with a filter, sort, limit and projection', async () => {
      await engine.write('db.f', {
        inserts: [
          { _id: 1, team: 'x', v: 3, tags: ['a'] },
          { _id: 2, team: 'y', v: 1 },
          { _id: 3, team: 'x', v: 2, tags: ['b'] },
          { _id: 4, team: 'x', v: 5 },
        ],
      });
      assert.deepEqual(await ids('db.f', { team: 'x' }), [1, 3, 4]);
      assert.deepEqual(await ids('db.f', { team: 'x' }, { sort: { v: -1 } }), [4, 1, 3]);
      assert.deepEqual(await ids('db.f', { team: 'x' }, { sort: { v: 1 }, limit: 2 }), [3, 1]);
      assert.deepEqual(await ids('db.f', { v: { $gte: 2 } }, { limit: 1 }), [1]);
      assert.deepEqual(await ids('db.f', { $or: [{ team: 'y' }, { v: 5 }] }), [2, 4]);
      assert.deepEqual(await ids('db.f', { tags: { $exists: false } }), [2, 4]);
      assert.deepEqual(await collect(engine.find('db.f', { _id: 3 }, { projection: { v: 1 } })), [{ _id: 3, v: 2 }]);
      assert.deepEqual(await collect(engine.find('db.f', { team: 'y' }, { projection: { _id: 0, team: 1 } })), [{ team: 'y' }]);
      assert.deepEqual(await ids('db.f', { team: 'z' }), []);
    });

    it('finds by _id through the primary key: strings, ObjectIds and $in', async () => {
      const oid = new ObjectId();
      await engine.write('db.ids', { inserts: [{ _id: 'a', n: 1 }, { _id: oid, n: 2 }, { _id: 7, n: 3 }, { _id: 'b', n: 4 }] });
      assert.deepEqual(await ids('db.ids', { _id: 'a' }), ['a']);
      assert.deepEqual(await ids('db.ids', { _id: new ObjectId(oid.toHexString()) }), [oid.toHexString()]);
      // (sorted: a real MongoDB answers an _id lookup in _id index order, not insertion order)
      assert.deepEqual((await ids('db.ids', { _id: { $in: ['b', oid, 'zz'] } })).sort(), ['b', oid.toHexString()].sort());
      assert.deepEqual(await ids('db.ids', { _id: 7 }), [7]);
      assert.deepEqual(await ids('db.ids', { _id: 'a', n: 2 }), []);
      assert.deepEqual(await ids('db.ids', { _id: { $in: [] } }), []);
    });

    describe('indexed equality never loses a match', () => {
      const owner = new ObjectId();
      const docs: Doc[] = [
        { _id: 1, tags: ['a', 'b'], n: new Int32(1), owner, s: 'x', d: new Date(5), ok: true },
        { _id: 2, tags: 'a', n: new Double(1), owner: owner.toHexString(), s: 'y' },
        { _id: 3, tags: ['c'], n: Long.fromNumber(1), s: 'x' },
        { _id: 4, tags: [], n: 1, owner: [owner, 'other'], ok: false },
        { _id: 5, tags: [['a']], n: 2, s: null, big: Long.fromString('9007199254740993') },
        { _id: 6, n: 1.5, s: 'X', big: Long.fromString('9007199254740992') },
        { _id: 7, n: -0, s: 'x', nested: { s: 'x' }, d: new Date(6) },
      ];
      /** Every case, with the ids MongoDB returns. */
      const cases: [Filter, unknown[]][] = [
        [{ tags: 'a' }, [1, 2]],
        [{ tags: { $eq: 'b' } }, [1]],
        [{ tags: { $in: ['c', 'zz'] } }, [3]],
        [{ tags: { $in: ['b', 'a'] } }, [1, 2]], // 1 holds both keys: once
        [{ n: 1 }, [1, 2, 3, 4]],
        [{ n: Long.fromNumber(1) }, [1, 2, 3, 4]],
        [{ n: new Double(1) }, [1, 2, 3, 4]],
        [{ n: 1.5 }, [6]],
        [{ n: 0 }, [7]],
        [{ n: { $in: [2, 1.5] } }, [5, 6]],
        [{ owner }, [1, 4]],
        [{ owner: owner.toHexString() }, [2]],
        [{ owner: { $in: [owner, 'other'] } }, [1, 4]],
        [{ s: 'x' }, [1, 3, 7]],
        [{ s: 'x', n: 1 }, [1, 3]],
        [{ s: 'x', n: { $gt: 0 } }, [1, 3]],
        [{ $and: [{ s: 'x' }, { tags: 'a' }] }, [1]],
        [{ $or: [{ s: 'y' }, { tags: 'c' }] }, [2, 3]],
        [{ $or: [{ s: 'x' }, { tags: 'a' }] }, [1, 2, 3, 7]], // 1 found through both fields: once
        [{ $or: [{ s: 'y' }, { s: 'x' }, { n: 2 }] }, [1, 2, 3, 5, 7]],
        [{ $or: [{ s: 'y' }, { n: { $gt: 1 } }] }, [2, 5, 6]],
        [{ d: new Date(5) }, [1]],
        [{ ok: true }, [1]],
        [{ ok: false }, [4]],
        [{ big: Long.fromString('9007199254740993') }, [5]],
        [{ big: Long.fromString('9007199254740992') }, [6]],
        [{ s: null }, [4, 5]],
        [{ tags: ['a', 'b'] }, [1]],
        [{ s: { $in: [] } }, []],
        [{ s: 'zz' }, []],
      ];

      it('answers the same with and without indexes, including indexes built after the documents', async () => {
        await engine.write('db.plain', { inserts: docs });
        await engine.ensureIndexes('db.early', ['tags', 'n', 'owner', 's', 'd', 'ok', 'big']);
        await engine.write('db.early', { inserts: docs });
        await engine.write('db.late', { inserts: docs });
        await engine.ensureIndexes('db.late', ['tags', 'n', 'owner', 's', 'd', 'ok', 'big']);
        await engine.ensureIndexes('db.late', ['tags', 's']); // again: nothing changes
        for (const [filter, expected] of cases) {
          for (const ns of ['db.plain', 'db.early', 'db.late']) {
            assert.deepEqual(await ids(ns, filter), expected, `${ns} ${JSON.stringify(filter)}`);
          }
        }
      });

      it('combines _id and index lookups, each document once, in insertion order', async () => {
        await engine.ensureIndexes('db.mixed', ['owner']);
        // inserted out of _id order, so insertion order shows
        await engine.write('db.mixed', {
          inserts: [{ _id: 'k3', owner: 'u1' }, { _id: 'k1', owner: 'u1' }, { _id: 'k4', owner: ['u1', 'u2'] }, { _id: 'k2', owner: 'u2' }],
        });
        await engine.write('db.mixed', { replaces: [{ _id: 'k3', owner: 'u1', v: 1 }] }); // keeps its place
        assert.deepEqual(await ids('db.mixed', { owner: 'u1' }), ['k3', 'k1', 'k4']);
        assert.deepEqual(await ids('db.mixed', { owner: { $in: ['u2', 'u1'] } }), ['k3', 'k1', 'k4', 'k2']);
        assert.deepEqual(await ids('db.mixed', { $or: [{ _id: 'k2' }, { owner: 'u1' }] }), ['k3', 'k1', 'k4', 'k2']);
        assert.deepEqual(await ids('db.mixed', { $or: [{ _id: { $in: ['k1', 'zz'] } }, { owner: 'u2' }] }), ['k1', 'k4', 'k2']);
        assert.deepEqual(await ids('db.mixed', { $or: [{ _id: 'k4' }, { owner: 'u2' }] }), ['k4', 'k2']);
        assert.deepEqual(await ids('db.mixed', { $or: [{ _id: { $in: ['k2', 'k3'] } }, { owner: { $in: ['u2', 'nobody'] } }] }), ['k3', 'k4', 'k2']);
        assert.deepEqual(await ids('db.mixed', { _id: { $in: ['k2', 'k1', 'k1'] } }), ['k1', 'k2']);
        assert.deepEqual(await ids('db.mixed', { $or: [{ _id: 'zz' }, { owner: 'nobody' }] }), []);
        assert.deepEqual(await ids('db.mixed', { $or: [{ _id: { $in: [] } }, { owner: { $in: [] } }] }), []);
        assert.deepEqual(await ids('db.mixed', { owner: { $in: [] } }), []);
        assert.deepEqual(await ids('db.other', { owner: 'u1' }), []);
      });

      it('keeps the index in step with replaces and removes', async () => {
        await engine.ensureIndexes('db.sync', ['tags', 'owner']);
        await engine.write('db.sync', { inserts: [{ _id: 1, tags: ['a'], owner: 'u1' }, { _id: 2, tags: 'a', owner: 'u2' }] });
        assert.deepEqual(await ids('db.sync', { tags: 'a' }), [1, 2]);
        await engine.write('db.sync', { replaces: [{ _id: 1, tags: ['b', 'c'], owner: 'u2' }] });
        assert.deepEqual(await ids('db.sync', { tags: 'a' }), [2]);
        assert.deepEqual(await ids('db.sync', { tags: 'c' }), [1]);
        assert.deepEqual(await ids('db.sync', { owner: 'u2' }), [1, 2]);
        assert.deepEqual(await ids('db.sync', { owner: 'u1' }), []);
        await engine.write('db.sync', { removes: [2] });
        assert.deepEqual(await ids('db.sync', { owner: 'u2' }), [1]);
        assert.deepEqual(await ids('db.sync', { tags: 'a' }), []);
        // a removed _id inserted again is found by its new values only
        await engine.write('db.sync', { inserts: [{ _id: 2, tags: 'z', owner: 'u3' }] });
        assert.deepEqual(await ids('db.sync', { tags: 'z' }), [2]);
        assert.deepEqual(await ids('db.sync', { owner: 'u2' }), [1]);
        // a replace of a document that is gone writes nothing
        await engine.write('db.sync', { replaces: [{ _id: 9, tags: 'z' }] });
        assert.deepEqual(await ids('db.sync', { tags: 'z' }), [2]);
        // a failed batch leaves the index as it was
        await assert.rejects(engine.write('db.sync', { inserts: [{ _id: 2, tags: 'q' }] }), DuplicateKeyError);
        assert.deepEqual(await ids('db.sync', { tags: 'q' }), []);
      });
    });

    it('records a namespace while a watch stream holds it, and keeps what a hold may still read from pruning', async (t) => {
      const log = engine.changes;
      if (!log) return t.skip('no change outbox (a real MongoDB reports changes through change streams)');
      await engine.write('db.held', { inserts: [{ _id: 1 }] });
      assert.equal(await log.latest('db.held'), 0, 'nobody holds it: not recorded');
      const release = await log.hold('db.held');
      await engine.write('db.held', { inserts: [{ _id: 2, v: 'x' }] });
      const seq = await log.latest('db.held');
      assert.ok(seq > 0);
      const [change] = await log.read('db.held', 0, 10);
      assert.equal(change?.op, 'insert');
      assert.equal(await log.prune('db.held', seq, 0), 0, 'held: a trigger position does not prune it');
      await release();
      await engine.write('db.held', { inserts: [{ _id: 3 }] });
      assert.equal(await log.latest('db.held'), seq, 'released: recording stopped');
      assert.equal(await log.prune('db.held', seq, 0), 1);
    });
  });
}
