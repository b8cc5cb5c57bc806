// The document decoder (src/util/ejson.ts) decodes the common canonical EJSON wrappers itself;
// everything it decodes must come out exactly as bson's EJSON.parse + normalize made it (the
// reference), including what throws.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Binary, BSONRegExp, Decimal128, Double, EJSON, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'bson';
import { normalizeNumbers } from '../src/data/values.js';
import { parseDocumentEjson } from '../src/util/ejson.js';

/** The reference: bson's own decoder, then numbers as documents hold them (what the decoder replaced). */
const parseDocumentEjsonReference = (text: string): unknown => normalizeNumbers(EJSON.parse(text, { relaxed: false }));

/** Type-exact rendering: canonical EJSON plus the constructor of every value and -0. */
function shape(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'number' && Object.is(v, -0) ? '-0' : [typeof v, v];
  if (Array.isArray(v)) return v.map(shape);
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
  return [proto?.constructor?.name, EJSON.stringify({ v }, { relaxed: false })];
}

const same = (text: string) => {
  let expected: unknown;
  let expectedError: unknown;
  try {
    expected = shape(parseDocumentEjsonReference(text));
  } catch (err) {
    expectedError = err;
  }
  if (expectedError) {
    assert.throws(() => parseDocumentEjson(text), (err: Error) => err.message === (expectedError as Error).message, text);
    return;
  }
  assert.deepEqual(shape(parseDocumentEjson(text)), expected, text);
};

it('decodes every BSON type a document holds exactly as bson does', () => {
  const values: unknown[] = [
    new ObjectId(), 0, 1, -1, 2147483647, -2147483648, 2147483648, 1.5, -0, new Double(2), new Double(-0), Infinity, -Infinity, NaN,
    Long.fromString('9007199254740993'), Long.fromString('-9007199254740993'), Long.fromNumber(5), Long.fromString('9007199254740991'),
    new Int32(7), new Date(0), new Date(-5), new Date(8.64e15), Decimal128.fromString('1.20'), new Binary(Buffer.from('hi'), 0),
    new Binary(Buffer.alloc(16), 4), new BSONRegExp('a+', 'i'), new Timestamp({ t: 1, i: 2 }), new MinKey(), new MaxKey(), 'text', '', true, false, null,
    [1, 'a', [2.5]], { nested: { deep: [new ObjectId(), { x: 1 }] } }, { $notAType: 1 },
  ];
  for (const v of values) same(EJSON.stringify({ _id: 1, v, arr: [v, v] }, { relaxed: false }));
  same(EJSON.stringify({ all: values }, { relaxed: false }));
});

it('leaves malformed or unusual wrappers to bson, values and errors alike', () => {
  const texts = [
    '{"a":{"$numberInt":"-0"}}', '{"a":{"$numberInt":"2147483648"}}', '{"a":{"$numberInt":"01"}}', '{"a":{"$numberInt":"x"}}', '{"a":{"$numberInt":5}}',
    '{"a":{"$numberDouble":"1e400"}}', '{"a":{"$numberDouble":"-0.0"}}', '{"a":{"$numberDouble":"0x10"}}', '{"a":{"$numberDouble":"1."}}',
    '{"a":{"$numberLong":"-0"}}', '{"a":{"$numberLong":"99999999999999999999"}}', '{"a":{"$numberLong":"12a"}}',
    '{"a":{"$oid":"zz"}}', '{"a":{"$oid":"5f00000000000000000000EE"}}', '{"a":{"$oid":"5f00000000000000000000ee","x":1}}',
    '{"a":{"$date":"2020-01-01T00:00:00Z"}}', '{"a":{"$date":{"$numberLong":"1e3"}}}', '{"a":{"$date":5}}',
    '{"a":{"x":1,"$numberInt":"5"}}', '{"a":{"$ref":"c","$id":1}}', '{"$numberInt":"3"}', '[1,{"$numberInt":"2"}]', '"s"', '3', 'null',
  ];
  for (const t of texts) same(t);
});
