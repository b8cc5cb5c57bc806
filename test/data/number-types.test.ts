// The bookkeeping that keeps a client's Int64s and integral Doubles through the data service
// (src/data/number-types.ts); realm-core.test.ts checks the same end to end.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Double, EJSON, Long } from 'bson';
import { numberTypesOf, storedNumberTypes, typesAfterUpdate, typesUnder, withNumberTypes } from '../../src/data/number-types.js';

const raw = (text: string) => JSON.parse(text) as unknown;

describe('number types', () => {
  it('reads typed numbers from canonical EJSON, by dotted path, update operators included', () => {
    const types = numberTypesOf(
      raw('{"document":{"a":{"$numberLong":"1"},"b":{"$numberDouble":"2.0"},"c":{"$numberDouble":"2.5"},"d":{"$numberInt":"3"},"at":{"$date":{"$numberLong":"0"}},"l":[{"$numberLong":"4"}]},"update":{"$inc":{"n":{"$numberLong":"1"}}}}'),
    );
    assert.deepEqual(Object.fromEntries(types), {
      'document.a': 'long',
      'document.b': 'double',
      'document.d': 'int32',
      'document.l.0': 'long',
      'update.$inc.n': 'long',
    });
    assert.deepEqual(Object.fromEntries(typesUnder(types, 'document')), { a: 'long', b: 'double', d: 'int32', 'l.0': 'long' });
  });

  it('writes them back as Long and Double, copying only what it changes and skipping what is no longer a number', () => {
    const doc = { a: 1, b: 2, keep: { x: 1 }, gone: 'text', l: [4, 5] };
    const out = withNumberTypes(doc, new Map([['a', 'long'], ['b', 'double'], ['gone', 'long'], ['l.0', 'long'], ['missing.x', 'long']] as const));
    assert.equal(EJSON.stringify(out, { relaxed: false }), '{"a":{"$numberLong":"1"},"b":{"$numberDouble":"2.0"},"keep":{"x":{"$numberInt":"1"}},"gone":"text","l":[{"$numberLong":"4"},{"$numberInt":"5"}]}');
    assert.equal(out.keep, doc.keep);
    assert.deepEqual(doc, { a: 1, b: 2, keep: { x: 1 }, gone: 'text', l: [4, 5] }, 'the input is not changed');
    assert.ok((out.a as unknown) instanceof Long && (out.b as unknown) instanceof Double);
  });

  it('after an update: $set takes the operand type, arithmetic the wider one, Int32 is the default', () => {
    const before = new Map([['n', 'long'], ['p', 'double'], ['s', 'long'], ['sub.x', 'long']] as const);
    const after = typesAfterUpdate(before, new Map([['$inc.n', 'int32'], ['$inc.i', 'long'], ['$mul.p', 'int32'], ['$set.s', 'int32'], ['$set.sub', 'int32']] as const));
    assert.deepEqual(Object.fromEntries(after), { n: 'long', p: 'double', i: 'long' });
  });

  it('finds the types a stored text records, only when it may hold any', () => {
    assert.equal(storedNumberTypes('{"a":{"$numberInt":"1"},"b":{"$numberDouble":"2.5"}}'), undefined);
    assert.equal(storedNumberTypes('{"a":{"$numberInt":"1"}}'), undefined);
    assert.deepEqual(Object.fromEntries(storedNumberTypes('{"a":{"$numberLong":"1"},"b":{"$numberDouble":"2.0"},"c":{"$numberInt":"3"}}')!), { a: 'long', b: 'double' });
  });
});
