// Decoding canonical EJSON for documents: numbers become plain JS numbers (what MongoDB-style
// matching compares against), except 64-bit integers beyond 2^53, which stay Long rather than
// lose precision the way relaxed parsing does.

import { Double, EJSON, Int32, Long } from 'bson';

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

/** Canonical EJSON text → values, keeping big Longs. */
export const parseDocumentEjson = (text: string): unknown => normalize(EJSON.parse(text, { relaxed: false }));

/** An already JSON-parsed EJSON value → values, keeping big Longs. */
export const decodeDocumentEjson = (value: unknown): unknown => normalize(EJSON.deserialize(value as Record<string, unknown>, { relaxed: false }));
