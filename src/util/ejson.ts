// Decoding canonical EJSON for documents: numbers become plain JS numbers (what MongoDB-style
// matching compares against), except 64-bit integers beyond 2^53, which stay Long rather than
// lose precision the way relaxed parsing does.

import { Double, EJSON, Int32, Long, ObjectId } from 'bson';

function normalize(value: unknown): unknown {
  if (value instanceof Int32 || value instanceof Double) return value.valueOf();
  if (value instanceof Long) {
    const n = value.toNumber();
    return Number.isSafeInteger(n) ? n : value;
  }
  if (Array.isArray(value)) return value.map(normalize);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v);
    return out;
  }
  return value;
}

// The wrappers every stored document is full of, decoded in one pass over JSON.parse's output
// (in place: those objects are fresh). Anything else, or any value not in the exact canonical
// form, goes to bson's own decoder (then normalize), so the result and the errors are bson's.
const INT32 = /^(0|-?[1-9]\d{0,9})$/;
const INT64 = /^(0|-?[1-9]\d{0,18})$/;
const DOUBLE = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
const OID = /^[0-9a-fA-F]{24}$/;
const NOT_DONE = Symbol('not done');

/** The value of a one-key canonical wrapper handled here, or NOT_DONE. */
function wrapper(key: string, v: unknown): unknown {
  switch (key) {
    case '$oid':
      return typeof v === 'string' && OID.test(v) ? ObjectId.createFromHexString(v) : NOT_DONE;
    case '$numberInt':
      if (typeof v === 'string' && INT32.test(v)) {
        const n = Number(v);
        if (n >= -2147483648 && n <= 2147483647) return n;
      }
      return NOT_DONE;
    case '$numberDouble':
      return typeof v === 'string' && DOUBLE.test(v) ? Number(v) : NOT_DONE;
    case '$numberLong':
      if (typeof v === 'string' && INT64.test(v)) {
        const n = Number(v);
        if (Number.isSafeInteger(n)) return n;
      }
      return NOT_DONE;
    case '$date': {
      const ms = v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 ? (v as { $numberLong?: unknown }).$numberLong : undefined;
      if (typeof ms === 'string' && INT64.test(ms)) {
        const n = Number(ms);
        if (Number.isSafeInteger(n)) return new Date(n);
      }
      return NOT_DONE;
    }
  }
  return NOT_DONE;
}

function decodeParsed(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeParsed(value[i]);
    return value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  // bson reads a wrapper from a `$` key in any position (and DBRefs from `$ref`/`$id`).
  if (keys.some((k) => k.charCodeAt(0) === 36)) {
    const done = keys.length === 1 ? wrapper(keys[0]!, obj[keys[0]!]) : NOT_DONE;
    return done !== NOT_DONE ? done : normalize(EJSON.deserialize(obj, { relaxed: false }));
  }
  for (const k of keys) obj[k] = decodeParsed(obj[k]);
  return obj;
}

/** Canonical EJSON text → values, keeping big Longs. */
export const parseDocumentEjson = (text: string): unknown => decodeParsed(JSON.parse(text));

/** An already JSON-parsed EJSON value → values, keeping big Longs. */
export const decodeDocumentEjson = (value: unknown): unknown => normalize(EJSON.deserialize(value as Record<string, unknown>, { relaxed: false }));
