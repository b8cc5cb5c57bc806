// Fast EJSON for the function sandbox's bridge: parsing with plain JS numbers and canonical
// stringifying, giving exactly what bson's EJSON.parse(text, {relaxed: true}) and
// EJSON.stringify(value, {relaxed: false}) give (test/ejson-codec.test.ts compares them on
// generated values), with one difference: a $numberLong beyond 2^53 parses to an exact BSON.Long,
// where bson's relaxed parse rounds it to the nearest double. Functions had 64-bit integers on the
// platform (BSON.Long, docs-app-services source/functions/globals.txt), and a client's id or
// counter beyond 2^53 must reach the function, the store and the client unchanged; the host's
// document decoder (src/util/ejson.ts) keeps them the same way. bson walks every value through
// a JSON.parse reviver and builds a copy of every object before JSON.stringify; for the documents
// functions read and return (ObjectIds, dates, numbers, strings) that was ~125 µs to parse and ~45 µs
// to stringify 20 to-do items, four times per `find` that a function returns. Here the common forms
// are done in one pass and anything else is handed to bson, for the whole value, so rare types,
// odd shapes and errors stay bson's own.
//
// The same function runs on the host and inside each isolate (runtime.ts evaluates its source
// there with the isolate's own bson), so it must stay self-contained: no imports, no outer names.

import * as bson from 'bson';

/** What the codec needs of a bson module (the host's, or the bundle inside an isolate). */
export interface BsonForCodec {
  readonly EJSON: {
    parse(text: string, options?: { relaxed?: boolean; useBigInt64?: boolean }): unknown;
    stringify(value: unknown, options?: { relaxed?: boolean }): string;
  };
  readonly ObjectId: { new (id: Uint8Array): unknown; prototype: object };
  readonly Long: { prototype: object; fromString(text: string): unknown };
}

export interface EjsonCodec {
  /** As `EJSON.parse(text, { relaxed: true })`, except that Int64 values beyond 2^53 stay exact Longs. */
  readonly parse: (text: string) => unknown;
  /** As `EJSON.stringify(value, { relaxed: false })`. */
  readonly stringifyCanonical: (value: unknown) => string;
}

export function makeEjsonCodec(bson: BsonForCodec): EjsonCodec {
  const { EJSON } = bson;
  // The classes themselves, through their prototypes: inside an isolate BSON.ObjectId and
  // BSON.Long are Proxies (BSON_SETUP lets them be called without `new`), and every construction
  // or `.prototype` read through one cost ~1 µs, a fifth of parsing a 20-document find there.
  // Instances are the same either way (the proxy constructs the class with the same prototype).
  const OBJECT_ID = bson.ObjectId.prototype;
  const LONG = bson.Long.prototype;
  const ObjectId = OBJECT_ID.constructor as BsonForCodec['ObjectId'];
  const Long = LONG.constructor as unknown as BsonForCodec['Long'];
  const INT32 = /^(0|-?[1-9]\d{0,9})$/;
  const INT64 = /^(0|-?[1-9]\d{0,18})$/;
  const DOUBLE = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
  const OID = /^[0-9a-fA-F]{24}$/;
  /** A $numberLong of 16 digits or more: maybe beyond 2^53. */
  const BIG_LONG = /"\$numberLong"\s*:\s*"-?\d{16,}"/;
  /** Thrown inside a pass to hand the whole value to bson. */
  const GIVE_UP = { giveUp: true };
  const MAX_DEPTH = 100;

  // ObjectId hex by table: the browser bundle in the isolates converts hex digit by digit through
  // regular expressions and template strings (a fifth of a 20-document find's time in an isolate).
  const HEX: string[] = [];
  // A hex digit's value by character code (callers have checked the text against OID).
  const NIBBLE = new Uint8Array(128);
  for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));
  for (let i = 0; i < 16; i++) {
    NIBBLE[i.toString(16).charCodeAt(0)] = i;
    NIBBLE[i.toString(16).toUpperCase().charCodeAt(0)] = i;
  }
  const objectIdFromHex = (hex: string): unknown => {
    const bytes = new Uint8Array(12);
    for (let i = 0; i < 12; i++) bytes[i] = NIBBLE[hex.charCodeAt(2 * i)]! * 16 + NIBBLE[hex.charCodeAt(2 * i + 1)]!;
    return new ObjectId(bytes);
  };
  const objectIdHex = (oid: unknown): string => {
    const bytes = (oid as { id: Uint8Array }).id;
    let out = '';
    for (let i = 0; i < 12; i++) out += HEX[bytes[i]!];
    return out;
  };

  // Relaxed: numbers as plain numbers; only the exact canonical forms, anything else gives up.
  const wrapper = (key: string, v: unknown): unknown => {
    switch (key) {
      case '$oid':
        if (typeof v === 'string' && OID.test(v)) return objectIdFromHex(v);
        break;
      case '$numberInt':
        if (typeof v === 'string' && INT32.test(v)) {
          const n = Number(v);
          if (n >= -2147483648 && n <= 2147483647) return n;
        }
        break;
      case '$numberDouble':
        if (typeof v === 'string' && DOUBLE.test(v)) return Number(v);
        break;
      case '$numberLong':
        if (typeof v === 'string' && INT64.test(v)) {
          const n = Number(v);
          if (Number.isSafeInteger(n)) return n;
        }
        break;
      case '$date': {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) break;
        const inner = v as Record<string, unknown>;
        const keys = Object.keys(inner);
        const ms = keys.length === 1 && keys[0] === '$numberLong' ? inner.$numberLong : undefined;
        if (typeof ms === 'string' && INT64.test(ms)) {
          const n = Number(ms);
          if (Number.isSafeInteger(n)) return new Date(n);
        }
        break;
      }
    }
    throw GIVE_UP;
  };

  // JSON.parse's output is fresh: wrappers are replaced in place.
  const decode = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = decode(value[i]);
      return value;
    }
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0]!.charCodeAt(0) === 36) return wrapper(keys[0]!, obj[keys[0]!]);
    for (const k of keys) {
      // bson reads a wrapper from a `$` key in any position, DBRefs from `$ref`/`$id`.
      if (k.charCodeAt(0) === 36) throw GIVE_UP;
      obj[k] = decode(obj[k]);
    }
    return obj;
  };

  // bson's relaxed parse, asked for every $numberLong as a bigint (the only bigints JSON text can
  // give), which becomes a number within 2^53 as relaxed parsing makes it, and an exact Long beyond.
  const unbig = (v: unknown): unknown => {
    if (typeof v === 'bigint') {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : Long.fromString(String(v));
    }
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = unbig(v[i]);
      return v;
    }
    if (Object.getPrototypeOf(v) !== Object.prototype) return v;
    const obj = v as Record<string, unknown>;
    for (const k of Object.keys(obj)) obj[k] = unbig(obj[k]);
    return obj;
  };

  const parse = (text: string): unknown => {
    // bson refuses field names with a NUL, which JSON can only spell as \u0000.
    if (text.indexOf('\\u0000') === -1) {
      try {
        return decode(JSON.parse(text));
      } catch (err) {
        if (err !== GIVE_UP) throw err;
      }
    }
    // bson's own value and errors; parsed again for the Longs only when one may lie beyond 2^53.
    const relaxed = EJSON.parse(text, { relaxed: true });
    return BIG_LONG.test(text) ? unbig(EJSON.parse(text, { relaxed: true, useBigInt64: true })) : relaxed;
  };

  const number = (v: number): string => {
    if (Number.isInteger(v) && !Object.is(v, -0)) {
      if (v >= -2147483648 && v <= 2147483647) return `{"$numberInt":"${v}"}`;
      if (v >= -9223372036854775808 && v <= 9223372036854775807) return `{"$numberLong":"${v}"}`;
    }
    return `{"$numberDouble":"${Object.is(v, -0) ? '-0.0' : String(v)}"}`;
  };

  const encode = (v: unknown, depth: number): string => {
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return number(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'undefined':
        return 'null';
      case 'object':
        break;
      default:
        throw GIVE_UP;
    }
    if (v === null) return 'null';
    if (depth > MAX_DEPTH) throw GIVE_UP; // deep or circular: bson says which
    if (Array.isArray(v)) {
      let out = '[';
      for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + encode(v[i], depth + 1);
      return out + ']';
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === OBJECT_ID) return `{"$oid":"${objectIdHex(v)}"}`;
    if (proto === Date.prototype) return `{"$date":{"$numberLong":"${(v as Date).getTime()}"}}`;
    if (proto === LONG) return `{"$numberLong":"${String(v)}"}`;
    if (proto !== Object.prototype && proto !== null) throw GIVE_UP;
    const obj = v as Record<string, unknown>;
    if (obj._bsontype !== undefined) throw GIVE_UP;
    let out = '{';
    let first = true;
    for (const k of Object.keys(obj)) {
      const value = obj[k];
      // A function value is dropped by JSON.stringify, and a `toJSON` one called: bson's business.
      if (typeof value === 'function') throw GIVE_UP;
      out += (first ? '' : ',') + JSON.stringify(k) + ':' + encode(value, depth + 1);
      first = false;
    }
    return out + '}';
  };

  const stringifyCanonical = (value: unknown): string => {
    try {
      return encode(value, 0);
    } catch (err) {
      if (err !== GIVE_UP) throw err;
    }
    return EJSON.stringify(value, { relaxed: false });
  };

  return { parse, stringifyCanonical };
}

/** The host's codec, over the host's bson. */
export const hostEjson = makeEjsonCodec(bson);
