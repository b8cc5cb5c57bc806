// Regular expressions in filters: BSONRegExp (what EJSON decodes `$regex` and `$regularExpression`
// into) becomes a JS RegExp wherever it sits, and a filter without one is left as it is.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BSONRegExp, ObjectId } from 'bson';
import { withJsRegExps } from '../../src/data/regex.js';

describe('withJsRegExps', () => {
  it('returns a deep filter without regular expressions as the same object, every level untouched', () => {
    const inner = { $in: [1, 2, { x: [3, { y: 'z' }] }] };
    const list = [{ a: inner }, { b: { $gt: 4 } }];
    const filter = { $and: list, id: new ObjectId(), when: new Date(0), deep: { a: { b: { c: { d: [[['e']]] } } } } };
    const out = withJsRegExps(filter);
    assert.equal(out, filter);
    assert.equal(out.$and, list);
    assert.equal(out.$and[0]!.a, inner);
  });

  it('converts a regular expression at any depth, copying only the containers on its path', () => {
    const untouched = { $gt: 1 };
    const sibling = [{ q: 1 }];
    const filter = {
      first: untouched,
      $or: [...sibling, { name: { $regex: new BSONRegExp('^al', 'ix') } }],
      after: 'kept',
    };
    const out = withJsRegExps(filter);
    assert.notEqual(out, filter);
    assert.deepEqual(Object.keys(out), ['first', '$or', 'after'], 'key order kept');
    assert.equal(out.first, untouched, 'a branch without a regex is shared, not copied');
    assert.equal(out.$or[0], filter.$or[0]);
    const re = (out.$or[1] as { name: { $regex: unknown } }).name.$regex;
    assert.ok(re instanceof RegExp);
    assert.equal((re as RegExp).source, '^al');
    assert.equal((re as RegExp).flags, 'i');
    assert.equal(out.after, 'kept');
    assert.ok((filter.$or[1] as { name: { $regex: unknown } }).name.$regex instanceof BSONRegExp, 'the input is not modified');
  });

  it('converts a regular expression at the top and inside arrays after unchanged elements', () => {
    assert.ok(withJsRegExps(new BSONRegExp('a', '')) instanceof RegExp);
    const out = withJsRegExps([1, 'two', new BSONRegExp('b', 'm')]);
    assert.equal(out.length, 3);
    assert.equal(out[0], 1);
    assert.equal(out[1], 'two');
    assert.ok(out[2] instanceof RegExp && out[2].flags === 'm');
  });
});
