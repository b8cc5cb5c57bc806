// Numbers as the data service handles them, whichever engine holds the documents: plain JS
// numbers for Int32, Double and 64-bit integers that fit (what mingo compares, type-strictly),
// Long only beyond 2^53 — the same shapes the embedded engines get from canonical EJSON.

import { Double, Int32, Long } from 'bson';

/** A plain object (`{}` or a parsed JSON object): not an array, a Date or a bson value. */
export const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** Int32 / Double / safe Long wrappers → numbers, through plain objects and arrays (not other objects). */
export function normalizeNumbers(value: unknown): unknown {
  if (value instanceof Int32 || value instanceof Double) return value.valueOf();
  if (value instanceof Long) {
    const n = value.toNumber();
    return Number.isSafeInteger(n) ? n : value;
  }
  if (Array.isArray(value)) return value.map(normalizeNumbers);
  if (isPlain(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeNumbers(v);
    return out;
  }
  return value;
}

/**
 * For a MongoDB server: integral numbers outside the Int32 range become Long, as canonical EJSON
 * (and so the embedded engines) store them; the BSON serializer alone would write a Double.
 */
export function toServerNumbers(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0x7fffffff || value < -0x80000000) ? Long.fromNumber(value) : value;
  }
  if (Array.isArray(value)) return value.map(toServerNumbers);
  if (isPlain(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toServerNumbers(v);
    return out;
  }
  return value;
}
