// Turns a rule expression about a document (a role's `apply_when`) into a MongoDB query that every
// document satisfying the expression also satisfies, for one caller. The data service ANDs it into
// the query it sends to the engine, so an owner-only collection is read through an index instead
// of in full. It is a pre-filter only: roles are still evaluated on every document it returns, so
// the translation may be loose (match too much) but must never be strict (lose a document).
// Pure, like the evaluator it leans on.

import { ObjectId } from 'bson';
import { evaluate, type EvaluateOptions, type ExpressionVars } from './expressions.js';

/** No document can satisfy the expression for this caller. */
export const NONE: unique symbol = Symbol('none');
/** A MongoDB query; `{}` when nothing is known about the document. */
export type PreFilter = Record<string, unknown> | typeof NONE;

/** Expansions whose value depends on the document: a translation cannot expand them ahead of time. */
const DOCUMENT_ROOTS = new Set(['root', 'prevRoot', 'this', 'prev']);
const EQUALITY_OPERATORS = new Set(['%eq', '$eq', '%in', '$in', '%exists', '$exists']);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ObjectId) && !(v instanceof Date);

/** Values that equal the same documents under the evaluator and under MongoDB equality. */
const isScalar = (v: unknown) =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || v instanceof ObjectId || v instanceof Date;

/** Does the value mention the document, call a function, or hold anything the translation should not touch? */
function opaque(value: unknown): boolean {
  if (typeof value === 'string') return value.startsWith('%%') && DOCUMENT_ROOTS.has(value.slice(2).split('.')[0] ?? '');
  if (Array.isArray(value)) return value.some(opaque);
  if (!isPlainObject(value)) return false;
  return Object.entries(value).some(([k, v]) => k === '%function' || opaque(k) || opaque(v));
}

/** The conjunction of pre-filters. */
export function allOf(parts: PreFilter[]): PreFilter {
  if (parts.includes(NONE)) return NONE;
  const queries = (parts as Record<string, unknown>[]).filter((q) => Object.keys(q).length > 0);
  if (queries.length === 0) return {};
  return queries.length === 1 ? queries[0]! : { $and: queries };
}

/** The disjunction of pre-filters. */
export function anyOf(parts: PreFilter[]): PreFilter {
  const live = parts.filter((p): p is Record<string, unknown> => p !== NONE);
  if (live.length === 0) return NONE;
  if (live.some((q) => Object.keys(q).length === 0)) return {};
  return live.length === 1 ? live[0]! : { $or: live };
}

/** The document field a key names, or null when the key is not about the document. */
function fieldOf(key: string, opts: EvaluateOptions): string | null {
  if (key.startsWith('%%root.')) return key.slice('%%root.'.length) || null;
  if (key.startsWith('%') || key.startsWith('$')) return null;
  return opts.bareKeysRefer === 'root' ? key : null;
}

/** `{field: value}` or `{field: {$in|$exists: ...}}`, when the expanded value can be compared exactly. */
function fieldCondition(field: string, value: unknown, vars: ExpressionVars): PreFilter {
  if (opaque(value)) return {};
  if (isPlainObject(value) && !isConversion(value) && Object.keys(value).length > 0 && Object.keys(value).every((k) => k.startsWith('%') || k.startsWith('$'))) {
    const conditions: PreFilter[] = [];
    for (const [op, arg] of Object.entries(value)) {
      if (!EQUALITY_OPERATORS.has(op)) continue; // other operators: not narrowed
      const expanded = expandAlone(arg, vars);
      if (expanded === undefined) continue;
      const name = op.slice(1);
      if (name === 'exists') conditions.push(expanded ? { [field]: { $exists: true } } : {});
      else if (name === 'eq' && isScalar(expanded)) conditions.push({ [field]: expanded });
      else if (name === 'in' && Array.isArray(expanded) && expanded.every(isScalar)) conditions.push(expanded.length ? { [field]: { $in: expanded } } : NONE);
    }
    return allOf(conditions);
  }
  const expanded = expandAlone(value, vars);
  return isScalar(expanded) ? { [field]: expanded } : {};
}

const CONVERSIONS = new Set(['%stringToOid', '%oidToString']);

/** `{"%stringToOid": ...}` and `{"%oidToString": ...}` stand for a value, not for a test. */
const isConversion = (v: unknown): v is Record<string, unknown> => isPlainObject(v) && Object.keys(v).length === 1 && CONVERSIONS.has(Object.keys(v)[0]!);

/** The value of a literal or a caller expansion; undefined when it cannot be known exactly. */
function expandAlone(value: unknown, vars: ExpressionVars): unknown {
  if (typeof value === 'string' && value.startsWith('%%')) {
    const [head, ...rest] = value.slice(2).split('.');
    if (head === 'true' || head === 'false') return head === 'true';
    if (!head || !(head in vars)) return undefined;
    let current = vars[head];
    for (const part of rest) {
      // A path through an array yields several values: leave it to the evaluator.
      if (!isPlainObject(current)) return undefined;
      current = current[part];
    }
    return current;
  }
  if (Array.isArray(value)) return value.map((v) => expandAlone(v, vars));
  if (isConversion(value)) {
    const arg = expandAlone(value['%stringToOid'] ?? value['%oidToString'], vars);
    if ('%stringToOid' in value) return arg instanceof ObjectId ? arg : typeof arg === 'string' && /^[0-9a-f]{24}$/i.test(arg) ? new ObjectId(arg) : undefined;
    return arg instanceof ObjectId ? arg.toHexString() : typeof arg === 'string' ? arg : undefined;
  }
  // Other objects (embedded documents, nested operators): not narrowed.
  return isPlainObject(value) ? undefined : value;
}

/**
 * A query every document satisfying `expr` (with `vars` for the caller, no document) also matches.
 * `{}` means nothing could be narrowed; NONE that the expression is false for every document.
 */
export async function toPreFilter(expr: unknown, vars: ExpressionVars, opts: EvaluateOptions = {}): Promise<PreFilter> {
  if (expr === true || expr === undefined) return {};
  if (expr === false || expr === null) return NONE;
  if (!isPlainObject(expr)) return {};
  const parts: PreFilter[] = [];
  for (const [key, value] of Object.entries(expr)) {
    if (key === '%and' || key === '$and') {
      if (Array.isArray(value)) parts.push(allOf(await Promise.all(value.map((v) => toPreFilter(v, vars, opts)))));
      continue;
    }
    if (key === '%or' || key === '$or') {
      if (Array.isArray(value)) parts.push(anyOf(await Promise.all(value.map((v) => toPreFilter(v, vars, opts)))));
      continue;
    }
    const field = fieldOf(key, opts);
    if (field !== null) {
      parts.push(fieldCondition(field, value, vars));
      continue;
    }
    if (key.startsWith('%%') && !opaque(key) && !opaque(value) && key !== '%%true' && key !== '%%false') {
      // About the caller only (`{"%%user.data.role": "admin"}`): decided now, for every document.
      try {
        if (!(await evaluate({ [key]: value }, vars, opts))) return NONE;
      } catch {
        // An expression that fails here fails on every document too; leave that to the evaluator.
      }
    }
  }
  return allOf(parts);
}
