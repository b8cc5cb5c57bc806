// One suite for every document engine: `engineConformance(name, open)`, `open()` giving an empty engine.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Binary, Decimal128, Long, ObjectId } from 'bson';
import { DuplicateKeyError, type DocumentEngine } from '../../src/data/engine.js';

export function engineConformance(name: string, open: () => Promise<DocumentEngine>): void {
  describe(`document engine conformance: ${name}`, () => {
    let engine: DocumentEngine;
    beforeEach(async () => {
      engine = await open();
    });
    afterEach(() => engine.close());

    it('keeps documents per namespace, in insertion order, with every BSON type', async () => {
      const oid = new ObjectId();
      const doc = { _id: oid, n: 1, d: new Date(5), l: Long.fromString('9007199254740993'), dec: Decimal128.fromString('1.25'), bin: new Binary(Buffer.from('hi')), nested: { a: [1, 'x'] } };
      await engine.write('db.a', { inserts: [doc, { _id: 'second', n: 2 }] });
      await engine.write('db.b', { inserts: [{ _id: oid, other: true }] });
      const all = await engine.all('db.a');
      assert.deepEqual(all.map((d) => d._id instanceof ObjectId ? d._id.toHexString() : d._id), [oid.toHexString(), 'second']);
      const back = all[0]!;
      assert.equal(back.n, 1);
      assert.equal((back.d as Date).getTime(), 5);
      assert.equal((back.l as Long).toString(), '9007199254740993');
      assert.equal((back.dec as Decimal128).toString(), '1.25');
      assert.equal(Buffer.from((back.bin as Binary).buffer).toString(), 'hi');
      assert.deepEqual(back.nested, { a: [1, 'x'] });
      assert.equal((await engine.all('db.b')).length, 1);
      assert.deepEqual(await engine.all('db.none'), []);
    });

    it('replaces and removes by _id', async () => {
      await engine.write('db.c', { inserts: [{ _id: 1, v: 'a' }, { _id: 2, v: 'b' }, { _id: 3, v: 'c' }] });
      await engine.write('db.c', { replaces: [{ _id: 2, v: 'B' }], removes: [3] });
      assert.deepEqual(await engine.all('db.c'), [{ _id: 1, v: 'a' }, { _id: 2, v: 'B' }]);
    });

    it('refuses a duplicate _id and writes nothing of that batch', async () => {
      await engine.write('db.d', { inserts: [{ _id: 'x', v: 1 }] });
      await assert.rejects(engine.write('db.d', { inserts: [{ _id: 'y', v: 2 }, { _id: 'x', v: 3 }] }), DuplicateKeyError);
      assert.deepEqual(await engine.all('db.d'), [{ _id: 'x', v: 1 }]);
    });
  });
}
