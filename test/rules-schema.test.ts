// Table-driven tests of the document schema validator (behaviour.md §E.2 "Schema"): every keyword
// passing and failing, on documents as the data service holds them (bson classes, plain numbers).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Binary, Decimal128, Long, ObjectId, Timestamp, UUID } from 'bson';
import { compileSchema, isEmptySchema, SchemaError, validateDocument, type JsonSchema } from '../src/rules/schema.js';

/** A schema with one property `v`, and a document holding `value` there. */
const field = (schema: Record<string, unknown>): JsonSchema => ({ bsonType: 'object', properties: { v: schema } });

// [name, schema of `v`, value, violation path or null when the value passes]
const cases: [string, Record<string, unknown>, unknown, string | null][] = [
  ['bsonType objectId passes', { bsonType: 'objectId' }, new ObjectId(), null],
  ['bsonType objectId fails on a hex string', { bsonType: 'objectId' }, '5f00000000000000000000ee', 'v'],
  ['bsonType date passes', { bsonType: 'date' }, new Date(0), null],
  ['bsonType date fails on an ISO string', { bsonType: 'date' }, '1970-01-01T00:00:00Z', 'v'],
  ['bsonType long passes on a big Long', { bsonType: 'long' }, Long.fromString('9007199254740993'), null],
  ['bsonType long passes on a decoded small integer', { bsonType: 'long' }, 42, null],
  ['bsonType long fails on a fraction', { bsonType: 'long' }, 1.5, 'v'],
  ['bsonType int passes', { bsonType: 'int' }, 7, null],
  ['bsonType int fails beyond 32 bits', { bsonType: 'int' }, 2 ** 40, 'v'],
  ['bsonType int fails on a fraction', { bsonType: 'int' }, 0.5, 'v'],
  ['bsonType double passes', { bsonType: 'double' }, 0.25, null],
  ['bsonType double fails on a string', { bsonType: 'double' }, '0.25', 'v'],
  ['bsonType decimal passes', { bsonType: 'decimal' }, Decimal128.fromString('1.10'), null],
  ['bsonType decimal fails on a number', { bsonType: 'decimal' }, 1.1, 'v'],
  ['bsonType binData passes', { bsonType: 'binData' }, new Binary(Buffer.from('hi')), null],
  ['bsonType binData fails on a string', { bsonType: 'binData' }, 'aGk=', 'v'],
  ['bsonType uuid passes', { bsonType: 'uuid' }, new UUID(), null],
  ['bsonType uuid fails on generic binary', { bsonType: 'uuid' }, new Binary(Buffer.from('hi')), 'v'],
  ['bsonType bool passes', { bsonType: 'bool' }, false, null],
  ['bsonType bool fails on 0', { bsonType: 'bool' }, 0, 'v'],
  ['bsonType string passes', { bsonType: 'string' }, '', null],
  ['bsonType string fails on null', { bsonType: 'string' }, null, 'v'],
  ['bsonType object passes', { bsonType: 'object' }, { a: 1 }, null],
  ['bsonType object fails on an array', { bsonType: 'object' }, [1], 'v'],
  ['bsonType object fails on an ObjectId', { bsonType: 'object' }, new ObjectId(), 'v'],
  ['bsonType array passes', { bsonType: 'array' }, [], null],
  ['bsonType array fails on an object', { bsonType: 'array' }, { 0: 'a' }, 'v'],
  ['bsonType null passes', { bsonType: 'null' }, null, null],
  ['bsonType null fails on a string', { bsonType: 'null' }, 'null', 'v'],
  ['bsonType number passes on a Decimal128', { bsonType: 'number' }, Decimal128.fromString('3'), null],
  ['bsonType number passes on a Long', { bsonType: 'number' }, Long.fromString('9007199254740993'), null],
  ['bsonType number fails on a numeric string', { bsonType: 'number' }, '3', 'v'],
  ['bsonType timestamp is not a long', { bsonType: 'long' }, new Timestamp({ t: 1, i: 1 }), 'v'],
  ['bsonType list passes on either', { bsonType: ['string', 'null'] }, null, null],
  ['bsonType list fails on neither', { bsonType: ['string', 'null'] }, 1, 'v'],
  ['type integer passes', { type: 'integer' }, 3, null],
  ['type integer fails on a fraction', { type: 'integer' }, 3.5, 'v'],
  ['type boolean passes', { type: 'boolean' }, true, null],
  ['type number fails on a string', { type: 'number' }, 'x', 'v'],
  ['type list passes', { type: ['string', 'number'] }, 4, null],
  ['enum passes', { enum: ['a', 'b'] }, 'b', null],
  ['enum fails', { enum: ['a', 'b'] }, 'c', 'v'],
  ['enum compares numbers by value (Long vs plain)', { enum: [{ $numberLong: '5' }] }, 5, null],
  ['enum of ObjectIds in EJSON passes', { enum: [{ $oid: '5f00000000000000000000ee' }] }, new ObjectId('5f00000000000000000000ee'), null],
  ['enum of ObjectIds fails on another id', { enum: [{ $oid: '5f00000000000000000000ee' }] }, new ObjectId('5f00000000000000000000ef'), 'v'],
  ['enum compares documents', { enum: [{ a: 1 }] }, { a: 1 }, null],
  ['minimum passes at the bound', { minimum: 0 }, 0, null],
  ['minimum fails below', { minimum: 0 }, -1, 'v'],
  ['exclusiveMinimum fails at the bound', { minimum: 0, exclusiveMinimum: true }, 0, 'v'],
  ['maximum passes', { maximum: 10 }, 10, null],
  ['maximum fails above (Decimal128)', { maximum: 10 }, Decimal128.fromString('10.5'), 'v'],
  ['exclusiveMaximum fails at the bound', { maximum: 10, exclusiveMaximum: true }, 10, 'v'],
  ['maximum fails above (big Long)', { maximum: 2 ** 53 }, Long.fromString('9007199254740993'), 'v'],
  ['numeric keywords ignore strings', { minimum: 5 }, 'abc', null],
  ['multipleOf passes', { multipleOf: 0.5 }, 2.5, null],
  ['multipleOf fails', { multipleOf: 0.5 }, 2.3, 'v'],
  ['minLength passes', { minLength: 2 }, 'ab', null],
  ['minLength fails', { minLength: 2 }, 'a', 'v'],
  ['minLength counts code points', { maxLength: 1 }, '😀', null],
  ['maxLength fails', { maxLength: 2 }, 'abc', 'v'],
  ['pattern passes', { pattern: '^[a-z]+@[a-z]+$' }, 'ann@example', null],
  ['pattern fails', { pattern: '^[a-z]+$' }, 'Ann', 'v'],
  ['string keywords ignore numbers', { minLength: 3 }, 1, null],
  ['minItems passes', { minItems: 1 }, ['a'], null],
  ['minItems fails', { minItems: 1 }, [], 'v'],
  ['maxItems fails', { maxItems: 1 }, ['a', 'b'], 'v'],
  ['uniqueItems passes', { uniqueItems: true }, [1, 2], null],
  ['uniqueItems fails', { uniqueItems: true }, [1, 2, 1], 'v'],
  ['items passes', { items: { bsonType: 'string' } }, ['a', 'b'], null],
  ['items fails at the element', { items: { bsonType: 'string' } }, ['a', 2], 'v.1'],
  ['tuple items with additionalItems false fails on extras', { items: [{ bsonType: 'string' }], additionalItems: false }, ['a', 'b'], 'v'],
  ['tuple items passes', { items: [{ bsonType: 'string' }, { bsonType: 'int' }] }, ['a', 1], null],
  ['properties apply inside', { bsonType: 'object', properties: { n: { bsonType: 'int' } } }, { n: 'x' }, 'v.n'],
  ['properties skip absent fields', { bsonType: 'object', properties: { n: { bsonType: 'int' } } }, {}, null],
  ['required passes', { bsonType: 'object', required: ['n'] }, { n: 1 }, null],
  ['required fails', { bsonType: 'object', required: ['n'] }, { m: 1 }, 'v.n'],
  ['additionalProperties false passes on listed fields', { bsonType: 'object', properties: { n: {} }, additionalProperties: false }, { n: 1 }, null],
  ['additionalProperties false fails on others', { bsonType: 'object', properties: { n: {} }, additionalProperties: false }, { n: 1, m: 2 }, 'v.m'],
  ['additionalProperties schema fails', { bsonType: 'object', additionalProperties: { bsonType: 'string' } }, { m: 2 }, 'v.m'],
  ['patternProperties fail', { bsonType: 'object', patternProperties: { '^x_': { bsonType: 'int' } } }, { x_a: 'no' }, 'v.x_a'],
  ['minProperties fails', { bsonType: 'object', minProperties: 1 }, {}, 'v'],
  ['maxProperties fails', { bsonType: 'object', maxProperties: 1 }, { a: 1, b: 2 }, 'v'],
  ['anyOf passes', { anyOf: [{ bsonType: 'string' }, { bsonType: 'int' }] }, 3, null],
  ['anyOf fails', { anyOf: [{ bsonType: 'string' }, { bsonType: 'int' }] }, true, 'v'],
  ['oneOf fails on both', { oneOf: [{ bsonType: 'int' }, { bsonType: 'double' }] }, 3, 'v'],
  ['allOf fails on one', { allOf: [{ bsonType: 'int' }, { minimum: 5 }] }, 3, 'v'],
  ['not fails', { not: { bsonType: 'string' } }, 's', 'v'],
  ['title and description are ignored', { title: 'V', description: 'anything' }, 1, null],
];

describe('schema validation, keyword by keyword', () => {
  for (const [name, schema, value, path] of cases) {
    it(name, async () => {
      const bad = await validateDocument(field(schema), { _id: new ObjectId(), v: value });
      assert.equal(bad?.path ?? null, path, bad ? `${bad.path}: ${bad.reason}` : 'passed');
    });
  }

  it('checks the document root: required fields and types', async () => {
    const schema = { bsonType: 'object', required: ['title'], properties: { _id: { bsonType: 'objectId' }, title: { bsonType: 'string' } } };
    assert.equal(await validateDocument(schema, { _id: new ObjectId(), title: 't' }), null);
    assert.deepEqual(await validateDocument(schema, { _id: new ObjectId() }), { path: 'title', reason: 'is required' });
    assert.equal((await validateDocument(schema, { _id: 'not an oid', title: 't' }))?.path, '_id');
  });

  it('runs `validate` expressions through the callback with %%this and %%prev, and fails closed without one', async () => {
    const schema = { bsonType: 'object', properties: { owner: { validate: { '%%this': '%%user.id' } } } };
    const seen: unknown[] = [];
    const check = async (_expr: unknown, at: { this: unknown; prev: unknown }) => {
      seen.push(at);
      return at.this === 'u1';
    };
    assert.equal(await validateDocument(schema, { owner: 'u1' }, { before: { owner: 'u0' }, check }), null);
    assert.deepEqual(seen, [{ this: 'u1', prev: 'u0' }]);
    assert.equal((await validateDocument(schema, { owner: 'u2' }, { check }))?.path, 'owner');
    assert.equal((await validateDocument(schema, { owner: 'u1' }))?.reason, 'failed its validate expression');
  });
});

describe('schema compilation', () => {
  const refused: [string, unknown, string][] = [
    ['unknown bsonType', { bsonType: 'object', properties: { a: { bsonType: 'integer' } } }, 'properties.a.bsonType'],
    ['a root that is not an object', { bsonType: 'array' }, 'bsonType'],
    ['a bad pattern', { properties: { a: { pattern: '(' } } }, 'properties.a.pattern'],
    ['a negative minLength', { properties: { a: { minLength: -1 } } }, 'properties.a.minLength'],
    ['a non-numeric minimum', { properties: { a: { minimum: 'x' } } }, 'properties.a.minimum'],
    ['required that is not a list of names', { required: 'a' }, 'required'],
    ['an empty enum', { properties: { a: { enum: [] } } }, 'properties.a.enum'],
    ['properties that is not an object', { properties: [] }, 'properties'],
  ];
  for (const [name, schema, path] of refused) {
    it(`refuses ${name}`, () => {
      assert.throws(() => compileSchema(schema), (e: unknown) => e instanceof SchemaError && e.path === path);
    });
  }

  it('reports keywords it does not enforce, and knows an empty schema', () => {
    assert.deepEqual(compileSchema({ bsonType: 'object', dependencies: {}, properties: { a: { format: 'email' } } }).ignored, ['dependencies', 'properties.a.format']);
    assert.equal(isEmptySchema({}), true);
    assert.equal(isEmptySchema({ title: 'Note' }), true);
    assert.equal(isEmptySchema({ bsonType: 'object' }), false);
  });
});
