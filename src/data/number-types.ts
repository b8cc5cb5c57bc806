// Which numbers of a document are Int64 or integral Doubles. Documents are matched, updated and
// checked against rules as plain JS numbers (mingo compares nothing else), which forgets whether a
// client wrote `5` as an Int32, an Int64 or the Double 5.0. realm-core reads fields with exact
// casts (Swift's `Int` is Int64 and `AnyBSON.int64Value` is nil for an Int32; a Double read of an
// Int32 asserts), so the types a client wrote must come back. This module keeps them beside the
// document, by dotted path: read from the request's canonical EJSON on the way in, written into the
// stored text as `$numberLong` / `$numberDouble`, and found again there on the way out. Int32 is the
// default and is recorded only where it must override a stored type (an update setting a field).

import { Double, Long } from 'bson';
import { isPlain } from './values.js';

export type NumberType = 'int32' | 'long' | 'double';
/** Dotted path (array elements by index) → the BSON type of the number there. */
export type NumberTypes = ReadonlyMap<string, NumberType>;

/** The operators whose operands typesAfterUpdate reads (the others set no number a client wrote). */
const UPDATE_OPERATORS = new Set(['$set', '$setOnInsert', '$inc', '$mul', '$min', '$max']);

/** Number types of decoded stored documents, by document object (set by the embedded engines' decoder). */
export const documentNumberTypes = new WeakMap<object, NumberTypes>();

/** The one-key number wrappers of canonical EJSON, typed; undefined for anything else. */
function wrapperType(obj: Record<string, unknown>): NumberType | undefined {
  const keys = Object.keys(obj);
  if (keys.length !== 1) return undefined;
  const v = obj[keys[0]!];
  if (typeof v !== 'string') return undefined;
  switch (keys[0]) {
    case '$numberInt':
      return 'int32';
    case '$numberLong':
      return 'long';
    case '$numberDouble':
      // A fractional Double reads back as a Double anyway: only integral ones need remembering.
      return Number.isInteger(Number(v)) ? 'double' : undefined;
  }
  return undefined;
}

/**
 * The typed numbers of a JSON-parsed canonical EJSON value (before it is decoded). `int32: false`
 * leaves Int32s out (stored documents: it is the default there).
 */
export function numberTypesOf(raw: unknown, opts: { int32?: boolean } = {}): Map<string, NumberType> {
  const out = new Map<string, NumberType>();
  const keepInt32 = opts.int32 !== false;
  const walk = (v: unknown, path: string, depth: number): void => {
    if (depth > 100 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], path ? `${path}.${i}` : String(i), depth + 1);
      return;
    }
    const obj = v as Record<string, unknown>;
    const type = wrapperType(obj);
    if (type !== undefined) {
      if (path && (type !== 'int32' || keepInt32)) out.set(path, type);
      return;
    }
    const keys = Object.keys(obj);
    // Other wrappers ($date, $oid...) hold no number a client reads back as one.
    if (keys.length === 1 && keys[0]!.charCodeAt(0) === 36 && !UPDATE_OPERATORS.has(keys[0]!)) return;
    // Update operators are walked like fields: `update.$set.n`.
    for (const key of keys) walk(obj[key], path ? `${path}.${key}` : key, depth + 1);
  };
  walk(raw, '', 0);
  return out;
}

/** The types below `prefix` (`document`, `documents.2`, `update.$set`), with the prefix taken off. */
export function typesUnder(types: NumberTypes | undefined, prefix: string): Map<string, NumberType> {
  const out = new Map<string, NumberType>();
  if (!types) return out;
  const start = `${prefix}.`;
  for (const [path, type] of types) if (path.startsWith(start)) out.set(path.slice(start.length), type);
  return out;
}

const WIDTH: Record<NumberType, number> = { int32: 0, long: 1, double: 2 };

/**
 * The types of a document after `update` (its operators' typed arguments `updateTypes`, as
 * typesUnder(types, 'update') gives them) over the document's `before` types: a field an operator
 * sets takes the operand's type; $inc, $mul, $min and $max keep the wider of the two, as MongoDB's
 * arithmetic does (Int32 + Int64 is an Int64, anything + a Double is a Double).
 */
export function typesAfterUpdate(before: NumberTypes | undefined, updateTypes: NumberTypes): Map<string, NumberType> {
  const out = new Map(before ?? []);
  for (const [opPath, type] of updateTypes) {
    const dot = opPath.indexOf('.');
    if (dot < 0) continue;
    const op = opPath.slice(0, dot);
    const path = opPath.slice(dot + 1);
    // A field set as a whole drops the types recorded beneath it.
    for (const key of [...out.keys()]) if (key.startsWith(`${path}.`)) out.delete(key);
    if (op === '$set' || op === '$setOnInsert') out.set(path, type);
    else if (op === '$inc' || op === '$mul' || op === '$min' || op === '$max') {
      const old = out.get(path) ?? 'int32';
      out.set(path, WIDTH[type] > WIDTH[old] ? type : old);
    }
  }
  for (const [path, type] of out) if (type === 'int32') out.delete(path);
  return out;
}

/**
 * `doc` with the numbers at typed paths as bson Long / Double (what encodes as `$numberLong` /
 * `$numberDouble`); copies only the objects on those paths, and leaves a path alone when what is
 * there now is not a number of that kind (a field since changed or removed).
 */
export function withNumberTypes<T>(doc: T, types: NumberTypes | undefined): T {
  if (!types || types.size === 0) return doc;
  let out: unknown = doc;
  for (const [path, type] of types) {
    if (type === 'int32') continue;
    out = setTyped(out, path.split('.'), 0, type);
  }
  return out as T;
}

function setTyped(node: unknown, keys: string[], i: number, type: NumberType): unknown {
  if (i === keys.length) {
    if (typeof node !== 'number') return node;
    if (type === 'long') return Number.isSafeInteger(node) ? Long.fromNumber(node) : node;
    return new Double(node);
  }
  const key = keys[i]!;
  if (Array.isArray(node)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= node.length) return node;
    const next = setTyped(node[index], keys, i + 1, type);
    if (next === node[index]) return node;
    const copy = node.slice();
    copy[index] = next;
    return copy;
  }
  if (!isPlain(node) || !Object.hasOwn(node, key)) return node;
  const next = setTyped(node[key], keys, i + 1, type);
  if (next === node[key]) return node;
  return { ...node, [key]: next };
}

/** The number types a stored document's text records, when it may hold any (Int64s, Doubles). */
export function storedNumberTypes(text: string): Map<string, NumberType> | undefined {
  if (!text.includes('"$numberLong"') && !text.includes('"$numberDouble"')) return undefined;
  const types = numberTypesOf(JSON.parse(text), { int32: false });
  return types.size > 0 ? types : undefined;
}
