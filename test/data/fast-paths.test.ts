// The sort and projection fast paths (src/data/fast-paths.ts) against mingo, which they replace
// for common shapes: every shape they accept must give mingo's answer, and the others must be
// left to mingo (undefined).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EJSON, Long, ObjectId } from 'bson';
import { Query } from 'mingo';
import { fastMatcher, fastProject, fastSort } from '../../src/data/fast-paths.js';

const MINGO = { scriptEnabled: false, idKey: '_id' } as const;
const text = (docs: unknown) => EJSON.stringify(docs, { relaxed: false });
const oid = (n: number) => new ObjectId(n.toString(16).padStart(24, '0'));

// Distinct values per sort field, so the order does not depend on how either sort breaks ties.
const docs: Record<string, unknown>[] = [
  { _id: oid(5), n: 3, s: 'pear', b: true, d: new Date(3000), mixed: 'x', t: 1 },
  { _id: oid(2), n: -1.5, s: 'Apple', b: false, d: new Date(1000), mixed: 7, t: 2 },
  { _id: oid(9), n: 10, s: 'apple', d: new Date(2000), mixed: null, t: 3 },
  { _id: oid(1), n: 0, s: 'Zebra', b: null, mixed: oid(3), t: 4 },
  { _id: oid(7), s: 'éclair', mixed: true, t: 5 },
  { _id: oid(3), n: 2.5, s: '', mixed: new Date(5), t: 6 },
];

const mingoSort = (spec: Record<string, 1 | -1>) => new Query({}, MINGO).find(docs).sort(spec as never).all();
const mingoProject = (spec: Record<string, unknown>) => new Query({}, MINGO).find(docs, spec as never).all() as Record<string, unknown>[];

describe('fastSort', () => {
  const specs: Record<string, 1 | -1>[] = [{ _id: 1 }, { _id: -1 }, { n: 1 }, { n: -1 }, { s: 1 }, { s: -1 }, { d: 1 }, { t: -1 }, { b: 1, t: 1 }, { b: -1, t: -1 }];
  for (const spec of specs) {
    it(`sorts like mingo: ${JSON.stringify(spec)}`, () => {
      const fast = fastSort(docs, spec);
      assert.ok(fast, 'the fast path takes this shape');
      assert.equal(text(fast), text(mingoSort(spec)));
    });
  }

  // mingo orders ObjectIds after dates; MongoDB's documented order (null, numbers, strings,
  // ObjectId, boolean, date) is what the fast path follows.
  it('orders mixed types as MongoDB does', () => {
    const order = (spec: Record<string, 1 | -1>) => fastSort(docs, spec)!.map((d) => d.t);
    assert.deepEqual(order({ mixed: 1 }), [3, 2, 1, 4, 5, 6]);
    assert.deepEqual(order({ mixed: -1 }), [6, 5, 4, 1, 2, 3]);
  });

  it('leaves other shapes to mingo', () => {
    assert.equal(fastSort(docs, { 'a.b': 1 }), undefined, 'dotted paths');
    assert.equal(fastSort([{ a: [1, 2] }, { a: 3 }], { a: 1 }), undefined, 'arrays');
    assert.equal(fastSort([{ a: { x: 1 } }, { a: 3 }], { a: 1 }), undefined, 'embedded documents');
    assert.equal(fastSort([{ a: Long.fromNumber(3) }, { a: 3 }], { a: 1 }), undefined, 'Longs');
    assert.equal(fastSort([{ a: '\u{1F600}' }, { a: '\uFFFD' }], { a: 1 }), undefined, 'strings beyond the BMP');
    assert.equal(fastSort(docs, { n: 0 as never }), undefined, 'a direction other than 1 or -1');
  });
});

describe('fastProject', () => {
  const specs: Record<string, unknown>[] = [
    { s: 1 },
    { s: 1, n: 1 },
    { n: true, _id: 0 },
    { s: 0 },
    { s: 0, n: false },
    { _id: 0 },
    { _id: 1 },
    { _id: 0, t: 0 },
    { missing: 1 },
    { s: 5 },
  ];
  for (const spec of specs) {
    it(`projects like mingo: ${JSON.stringify(spec)}`, () => {
      const fast = fastProject(docs, spec);
      assert.ok(fast, 'the fast path takes this shape');
      // Same fields and values; the order of keys is MongoDB's (the document's, `_id` first),
      // where mingo puts `_id` last.
      const sorted = (list: Record<string, unknown>[]) => list.map((d) => Object.fromEntries(Object.entries(d).sort(([a], [b]) => (a < b ? -1 : 1))));
      assert.equal(text(sorted(fast)), text(sorted(mingoProject(spec))));
      for (const [i, d] of fast.entries()) assert.deepEqual(Object.keys(d), Object.keys(docs[i]!).filter((k) => k in d));
    });
  }

  it('leaves other shapes to mingo', () => {
    assert.equal(fastProject(docs, { 'a.b': 1 }), undefined, 'dotted paths');
    assert.equal(fastProject(docs, { s: 1, n: 0 }), undefined, 'mixed inclusion and exclusion');
    assert.equal(fastProject(docs, { s: { $slice: 1 } }), undefined, 'operators');
    assert.equal(fastProject(docs, { s: 'x' }), undefined, 'strings');
  });
});

describe('fastMatcher', () => {
  const a = oid(1);
  const b = oid(2);
  const pool: Record<string, unknown>[] = [
    { _id: 1, owner: 'u1', done: true, ref: a },
    { _id: 2, owner: 'u2', done: false, ref: b },
    { _id: 3, owner: ['u1', 'u3'], done: [false, true], ref: [b, a] },
    { _id: 4, owner: { id: 'u1' }, done: 1, ref: a.toHexString() },
    { _id: 5, owner: null, done: 'true', ref: null },
    { _id: 6 },
    { _id: 7, owner: 'U1', done: new Date(1), ref: [[a]] },
    { _id: 8, owner: ['u1'], done: [true], ref: [a.toHexString()] },
  ];
  const filters: Record<string, unknown>[] = [
    {},
    { owner: 'u1' },
    { owner: 'u3' },
    { done: true },
    { done: false },
    { ref: a },
    { ref: oid(2) },
    { owner: 'u1', done: true },
    { $and: [{ owner: 'u1' }, { ref: a }] },
    { $and: [{ owner: 'u1' }, { $and: [{ done: true }] }], ref: a },
    { owner: '' },
  ];
  for (const filter of filters) {
    it(`matches like mingo: ${text(filter)}`, () => {
      const matches = fastMatcher(filter);
      assert.ok(matches, 'the fast path takes this shape');
      const expected = new Query(filter as never, MINGO).find(pool).all().map((d) => (d as { _id: unknown })._id);
      assert.deepEqual(pool.filter(matches).map((d) => d._id), expected);
    });
  }

  it('leaves other shapes to mingo', () => {
    for (const filter of [{ n: 1 }, { 'a.b': 'x' }, { a: null }, { a: { $eq: 'x' } }, { $or: [{ a: 'x' }] }, { a: /x/ }, { $and: [] }, { $and: [{ n: 1 }] }, { d: new Date(1) }, { a: ['x'] }]) {
      assert.equal(fastMatcher(filter as never), undefined, text(filter));
    }
  });
});
