// The sandbox bridge's fast EJSON (src/util/ejson-codec.ts) against bson's own EJSON, which it
// must equal exactly: the same text out, the same values (types included) in, the same errors;
// except that an Int64 beyond 2^53 parses to an exact Long where bson's relaxed parse rounds it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as bson from 'bson';
import { Binary, Decimal128, Double, EJSON, Int32, Long, MaxKey, ObjectId, Timestamp } from 'bson';
import { makeEjsonCodec } from '../src/util/ejson-codec.js';
import { seededRandom } from './helpers/random.js';

const codec = makeEjsonCodec(bson);

/** A small deterministic PRNG, so a failure names a seed that reproduces it. */
const rng = (seed: number) => seededRandom(seed).next;

const NUMBERS = [0, -0, 1, -1, 42, 2147483647, 2147483648, -2147483648, -2147483649, 2 ** 53 - 1, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64, 1.5, -0.25, 1e21, 1e-7, NaN, Infinity, -Infinity, 123456789.125];
const STRINGS = ['', 'a', 'héllo', '"quoted"\\', 'line\nbreak', '\u2028', '\ud800', 'emoji 🎉', '$oid', '{"$numberInt":"1"}'];
const KEYS = ['a', 'b', '_id', 'owner_id', '', 'é', '$oid', '$numberInt', '$date', '$ref', '$id', '$numberLong', '__proto__', 'toJSON', 'constructor', 'x.y', '$undefined'];

function randomValue(r: () => number, depth: number): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
  const kind = Math.floor(r() * (depth > 3 ? 12 : 16));
  switch (kind) {
    case 0: return pick(NUMBERS);
    case 1: return pick(STRINGS);
    case 2: return r() < 0.5;
    case 3: return null;
    case 4: return new ObjectId();
    case 5: return new Date(pick([0, 1700000000123, -5, 8.64e15, NaN, 253402318800000]));
    case 6: return Math.floor(r() * 1e6) - 5e5;
    case 7: return r() * 1000;
    case 8: return pick([new Int32(7), new Double(1), new Double(-0), Long.fromString('9007199254740993'), Long.fromInt(5), Decimal128.fromString('1.10'), new Binary(Buffer.from('hi')), new Timestamp({ t: 1, i: 2 }), new MaxKey()]);
    case 9: return undefined;
    case 10: return pick([10n, new Map([['k', 1]]), /re/g, () => 1, Symbol('s'), new (class Point { x = 1; })(), Object.create(null)]);
    case 11: return pick(STRINGS) + String(Math.floor(r() * 100));
    default: {
      if (kind < 14) {
        const length = Math.floor(r() * 4);
        const arr: unknown[] = [];
        for (let i = 0; i < length; i++) arr.push(randomValue(r, depth + 1));
        if (r() < 0.05) arr.length += 2; // holes
        return arr;
      }
      const obj: Record<string, unknown> = {};
      const n = Math.floor(r() * 4);
      for (let i = 0; i < n; i++) {
        const key = r() < 0.15 ? pick(KEYS) : pick(['a', 'b', 'c', 'text', 'n']) + i;
        Object.defineProperty(obj, key, { value: randomValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return obj;
    }
  }
}

/** A value spelled out with its types, so that two can be compared (invalid dates, -0, NaN included). */
function typed(v: unknown): unknown {
  if (v instanceof Date) return { Date: String(v.getTime()) };
  if (typeof v === 'number') return { number: Object.is(v, -0) ? '-0' : String(v) };
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return Array.from(v, typed);
  const proto = Object.getPrototypeOf(v);
  const name = proto === null ? 'null-prototype' : proto.constructor.name;
  const fields = typeof (v as { toJSON?: unknown }).toJSON === 'function' && proto !== Object.prototype ? { json: JSON.stringify(v) } : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typed(x)]));
  return { [name]: fields };
}

/** A $numberLong that may lie beyond 2^53: where bson's relaxed parse rounds and ours does not. */
const BIG_LONG = /"\$numberLong":"-?\d{16,}"/;

/** bson's relaxed parse, with every Int64 beyond 2^53 an exact Long (its canonical parse of the same text gives it). */
function relaxedExact(text: string): unknown {
  const relaxed = EJSON.parse(text, { relaxed: true });
  if (!BIG_LONG.test(text)) return relaxed;
  // The same value, each big Int64 taken from the canonical parse: walk both side by side.
  const exact = (r: unknown, c: unknown): unknown => {
    if (c instanceof Long) return Number.isSafeInteger(c.toNumber()) ? r : c;
    if (Array.isArray(r) && Array.isArray(c)) return r.map((x, i) => exact(x, c[i]));
    if (r !== null && typeof r === 'object' && Object.getPrototypeOf(r) === Object.prototype && c !== null && typeof c === 'object') {
      return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, exact(x, (c as Record<string, unknown>)[k])]));
    }
    return r;
  };
  return exact(relaxed, EJSON.parse(text, { relaxed: false }));
}

/** The codec's parse gives bson's relaxed parse exactly, except for big Int64 values, which stay exact Longs. */
function expectParse(text: string, label: string): void {
  assert.deepStrictEqual(outcome(() => codec.parse(text)), outcome(() => relaxedExact(text)), label);
}

/** The outcome of a call: its value, or the error it threw (class and message). */
function outcome<T>(f: () => T): { value: unknown } | { error: string } {
  try {
    return { value: typed(f()) };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

describe('fast EJSON codec', () => {
  it('stringifies canonical EJSON exactly as bson does', () => {
    for (let seed = 1; seed <= 4000; seed++) {
      const value = randomValue(rng(seed), 0);
      assert.deepEqual(outcome(() => codec.stringifyCanonical(value)), outcome(() => EJSON.stringify(value, { relaxed: false })), `seed ${seed}`);
    }
  });

  it('parses EJSON exactly as bson does, from canonical and relaxed text (big Longs exact)', () => {
    for (let seed = 1; seed <= 4000; seed++) {
      const value = randomValue(rng(seed), 0);
      for (const relaxed of [false, true]) {
        let text: string;
        try {
          text = EJSON.stringify(value, { relaxed });
        } catch {
          continue; // circular, unsupported: nothing to parse
        }
        if (typeof text !== 'string') continue;
        expectParse(text, `seed ${seed} (${relaxed ? 'relaxed' : 'canonical'} text ${text})`);
      }
    }
  });

  it('parses hand-written edge cases as bson does, errors included', () => {
    const texts = [
      '{"$oid":"0123456789abcdef01234567"}', '{"$oid":"0123456789ABCDEF01234567"}', '{"$oid":"xyz"}',
      '{"$numberInt":"2147483648"}', '{"$numberInt":"-0"}', '{"$numberInt":"007"}', '{"$numberInt":" 1"}', '{"$numberInt":"1.5"}',
      '{"$numberDouble":"NaN"}', '{"$numberDouble":"-0"}', '{"$numberDouble":"-0.0"}', '{"$numberDouble":"1E5"}', '{"$numberDouble":".5"}', '{"$numberDouble":"Infinity"}',
      '{"$numberLong":"9007199254740993"}', '{"$numberLong":"-9223372036854775808"}', '{"$numberLong":"99999999999999999999"}', '{"$numberLong":"x"}',
      '{"$date":{"$numberLong":"0"}}', '{"$date":{"$numberLong":"-1"}}', '{"$date":"2020-01-02T03:04:05Z"}', '{"$date":123}', '{"$date":{"$numberLong":"8640000000000001"}}',
      '{"$date":{"$numberLong":"1","x":1}}', '{"a":{"$oid":"0123456789abcdef01234567"},"$b":1}', '{"$ref":"c","$id":1}', '{"$undefined":true}',
      '{"$regularExpression":{"pattern":"a","options":"i"}}', '{"$numberDecimal":"1.5"}', '{"$binary":{"base64":"aGk=","subType":"00"}}',
      '{"a\\u0000b":1}', '{"__proto__":{"polluted":true}}', '[1,{"$numberInt":"2"},[{"$numberLong":"3"}]]', '"just a string"', '12', 'null', '{', '',
      '{"$numberInt":"1","$numberDouble":"2"}', '{"$minKey":1}', '{"$maxKey":1}', '{"$timestamp":{"t":1,"i":2}}', '{"$symbol":"s"}',
    ];
    for (const text of texts) {
      expectParse(text, text);
    }
  });

  it('keeps Int64 values beyond 2^53 exact, as Longs, both ways', () => {
    for (const digits of ['9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775808']) {
      const text = `{"n":{"$numberLong":"${digits}"},"in":[{"$numberLong":"${digits}"}],"bin":{"$binary":{"base64":"aGk=","subType":"00"}}}`;
      const parsed = codec.parse(text) as { n: Long; in: Long[] };
      assert.ok(parsed.n instanceof Long && parsed.in[0] instanceof Long, digits);
      assert.equal(parsed.n.toString(), digits);
      assert.equal(codec.stringifyCanonical(parsed), text);
      // Without the rarer type: the fast path says the same.
      assert.equal((codec.parse(`{"n":{"$numberLong":"${digits}"}}`) as { n: Long }).n.toString(), digits);
    }
    // Within 2^53 an Int64 is a plain number, as before.
    assert.equal(codec.parse('{"$numberLong":"9007199254740991"}'), 9007199254740991);
    assert.equal(codec.stringifyCanonical({ l: Long.fromString('12345678901234567') }), '{"l":{"$numberLong":"12345678901234567"}}');
  });

  it('stringifies circular and very deep values as bson does (bson decides)', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    let deep: unknown = 1;
    for (let i = 0; i < 150; i++) deep = { d: deep };
    for (const value of [circular, deep]) {
      assert.deepEqual(outcome(() => codec.stringifyCanonical(value)), outcome(() => EJSON.stringify(value, { relaxed: false })));
    }
  });
});

describe('the codec over proxied BSON classes (as in the isolates, BSON_SETUP)', () => {
  // BSON.ObjectId and BSON.Long are Proxies there, callable without `new`; the codec works through
  // the classes themselves and must still give and recognise the same instances.
  const callable = <T extends object>(C: T): T => new Proxy(C, { apply: (target, _self, args) => Reflect.construct(target as never, args) });
  const proxied = { ...bson, ObjectId: callable(ObjectId), Long: callable(Long) };
  const viaProxies = makeEjsonCodec(proxied as never);

  it('parses to instances of the classes, and encodes values made through the proxies', () => {
    const hex = '0123456789abcdefABCDEF01';
    const parsed = viaProxies.parse(`{"id":{"$oid":"${hex}"},"big":{"$numberLong":"9007199254740993"}}`) as { id: unknown; big: unknown };
    assert.ok(parsed.id instanceof ObjectId && parsed.id instanceof proxied.ObjectId);
    assert.equal((parsed.id as ObjectId).toHexString(), hex.toLowerCase());
    assert.ok(parsed.big instanceof Long);
    assert.equal(String(parsed.big), '9007199254740993');
    const made = { id: (proxied.ObjectId as unknown as (h: string) => ObjectId)(hex), big: new proxied.Long(1, 2097152) };
    assert.equal(viaProxies.stringifyCanonical(made), EJSON.stringify(made, { relaxed: false }));
    assert.equal(viaProxies.stringifyCanonical(parsed), codec.stringifyCanonical(parsed));
  });
});
