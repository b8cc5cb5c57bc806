// The rule expression language (behaviour.md §E.3), pure: expansions (`%%user.id`, `%%values.x`,
// `%%root`, ...), comparison operators in both spellings (`%gt` / `$gt`), `%and`/`%or`/`%nor`/`%not`,
// `%stringToOid` / `%oidToString`, and `%function` through a callback the caller passes in.
// Used by function `can_evaluate`, collection rules, filters and schema `validate`. Imports nothing
// outside src/rules/.

import { ObjectId } from 'bson';
import { bsonTypesOf } from './bson-types.js';

export interface ExpressionVars {
  /** Expansion roots by name without `%%`: `user`, `values`, `environment`, `request`, `args`, `root`, `prevRoot`, `this`, `prev`. */
  readonly [name: string]: unknown;
}

export interface EvaluateOptions {
  /** Where bare (non-`%%`) keys point: `root` for MongoDB rules, `args` for functions and services. */
  readonly bareKeysRefer?: string;
  /** `%function`: runs an app function (as the system user) and returns its result. */
  readonly callFunction?: (name: string, args: unknown[]) => Promise<unknown>;
}

export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
}

const LOGICAL = new Set(['%and', '$and', '%or', '$or', '%nor', '$nor', '%not', '$not']);
const isOperatorKey = (k: string) => (k.startsWith('%') && !k.startsWith('%%')) || k.startsWith('$');
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ObjectId) && !(v instanceof Date);

/** An object whose every key is an operator applies those operators to the value it is compared with. */
const isOperatorObject = (v: unknown): v is Record<string, unknown> =>
  isPlainObject(v) && Object.keys(v).length > 0 && Object.keys(v).every(isOperatorKey);

function walk(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const part of path) {
    if (current === null || current === undefined) return undefined;
    if (Array.isArray(current) && !/^\d+$/.test(part)) {
      // MongoDB-style: a path through an array reaches into each element.
      current = current.map((el) => walk(el, [part])).filter((v) => v !== undefined);
      continue;
    }
    if (typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** The value of one expansion (`%%user.id`); unknown roots throw ExpressionError. */
export function expand(name: string, vars: ExpressionVars): unknown {
  const [head, ...rest] = name.slice(2).split('.');
  if (head === 'true') return true;
  if (head === 'false') return false;
  if (!head || !(head in vars)) throw new ExpressionError(`unknown expansion '%%${head ?? ''}'`);
  return walk(vars[head], rest);
}

function bareKey(key: string, vars: ExpressionVars, opts: EvaluateOptions): unknown {
  const root = opts.bareKeysRefer ?? 'args';
  return walk(vars[root], key.split('.'));
}

/** Canonical form for equality: ObjectIds and Dates compare by value. */
function canonical(v: unknown): unknown {
  if (v instanceof ObjectId) return `oid:${v.toHexString()}`;
  if (v instanceof Date) return `date:${v.getTime()}`;
  if (Array.isArray(v)) return v.map(canonical);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, canonical(x)]));
  if (v !== null && typeof v === 'object' && 'toJSON' in (v as object)) return JSON.stringify(v);
  return v;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** MongoDB query semantics: a scalar matches an array that contains it. */
function matches(left: unknown, right: unknown): boolean {
  if (deepEqual(left, right)) return true;
  return Array.isArray(left) && !Array.isArray(right) && left.some((el) => deepEqual(el, right));
}

function comparable(v: unknown): number | string | null {
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (v instanceof Date) return v.getTime();
  if (v !== null && typeof v === 'object' && typeof (v as { valueOf(): unknown }).valueOf() === 'number') {
    return (v as { valueOf(): number }).valueOf(); // Int32, Double, Long-like wrappers
  }
  return null;
}

function compare(left: unknown, right: unknown, test: (c: number) => boolean): boolean {
  const candidates = Array.isArray(left) ? left : [left];
  const r = comparable(right);
  if (r === null) return false;
  return candidates.some((l) => {
    const c = comparable(l);
    if (c === null || typeof c !== typeof r) return false;
    return test(c < r ? -1 : c > r ? 1 : 0);
  });
}

/** MongoDB's numeric codes for `%type` / `$type`, next to the aliases. */
const TYPE_CODES: Readonly<Record<number, string>> = {
  1: 'double', 2: 'string', 3: 'object', 4: 'array', 5: 'binData', 6: 'undefined', 7: 'objectId', 8: 'bool', 9: 'date',
  10: 'null', 11: 'regex', 13: 'javascript', 14: 'symbol', 16: 'int', 17: 'timestamp', 18: 'long', 19: 'decimal', [-1]: 'minKey', 127: 'maxKey',
};

/** `%type` (Stitch v1 rules use `{"%%this": {"%type": "bool"}}`): an alias, a code, or a list of them. An array also matches by its elements. */
function hasType(left: unknown, arg: unknown): boolean {
  const wanted = (Array.isArray(arg) ? arg : [arg]).map((t) => (typeof t === 'number' ? TYPE_CODES[t] : t));
  if (wanted.some((t) => typeof t !== 'string')) throw new ExpressionError('%type needs a BSON type name or code');
  const types = new Set(bsonTypesOf(left));
  if (Array.isArray(left)) for (const el of left) for (const t of bsonTypesOf(el)) types.add(t);
  return wanted.some((t) => types.has(t as string));
}

async function expandValue(value: unknown, vars: ExpressionVars, opts: EvaluateOptions): Promise<unknown> {
  if (typeof value === 'string' && value.startsWith('%%')) return expand(value, vars);
  if (Array.isArray(value)) return Promise.all(value.map((v) => expandValue(v, vars, opts)));
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = value[key];
    switch (key) {
      case '%function':
        return callFunction(arg, vars, opts);
      case '%stringToOid': {
        const s = await expandValue(arg, vars, opts);
        if (s instanceof ObjectId) return s;
        if (typeof s !== 'string' || !ObjectId.isValid(s)) throw new ExpressionError('%stringToOid needs a 24-hex string');
        return new ObjectId(s);
      }
      case '%oidToString': {
        const o = await expandValue(arg, vars, opts);
        return o instanceof ObjectId ? o.toHexString() : typeof o === 'string' ? o : null;
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = await expandValue(v, vars, opts);
  return out;
}

async function callFunction(spec: unknown, vars: ExpressionVars, opts: EvaluateOptions): Promise<unknown> {
  if (!isPlainObject(spec) || typeof spec.name !== 'string') throw new ExpressionError('%function needs {name, arguments}');
  if (!opts.callFunction) throw new ExpressionError('%function is not available here');
  const args = spec.arguments === undefined ? [] : await expandValue(spec.arguments, vars, opts);
  if (!Array.isArray(args)) throw new ExpressionError('%function arguments must be an array');
  return opts.callFunction(spec.name, args);
}

/** Applies an operator object (`{$gt: 1, $lt: 5}`) to a value. */
async function applyOperators(left: unknown, ops: Record<string, unknown>, vars: ExpressionVars, opts: EvaluateOptions): Promise<boolean> {
  for (const [op, rawArg] of Object.entries(ops)) {
    const name = op.slice(1);
    if (name === 'and' || name === 'or' || name === 'nor') {
      if (!Array.isArray(rawArg)) throw new ExpressionError(`${op} needs an array`);
      const results = [];
      for (const sub of rawArg) results.push(isOperatorObject(sub) ? await applyOperators(left, sub, vars, opts) : matches(left, await expandValue(sub, vars, opts)));
      const ok = name === 'and' ? results.every(Boolean) : name === 'or' ? results.some(Boolean) : !results.some(Boolean);
      if (!ok) return false;
      continue;
    }
    if (name === 'not') {
      if (!isOperatorObject(rawArg)) throw new ExpressionError(`${op} needs an operator object`);
      if (await applyOperators(left, rawArg, vars, opts)) return false;
      continue;
    }
    if (name === 'function' || name === 'stringToOid' || name === 'oidToString') {
      if (!matches(left, await expandValue({ [op]: rawArg }, vars, opts))) return false;
      continue;
    }
    const arg = await expandValue(rawArg, vars, opts);
    let ok: boolean;
    switch (name) {
      case 'eq':
        ok = matches(left, arg);
        break;
      case 'ne':
        ok = !matches(left, arg);
        break;
      case 'gt':
        ok = compare(left, arg, (c) => c > 0);
        break;
      case 'gte':
        ok = compare(left, arg, (c) => c >= 0);
        break;
      case 'lt':
        ok = compare(left, arg, (c) => c < 0);
        break;
      case 'lte':
        ok = compare(left, arg, (c) => c <= 0);
        break;
      case 'in':
      case 'nin': {
        if (!Array.isArray(arg)) throw new ExpressionError(`${op} needs an array`);
        const found = arg.some((a) => matches(left, a));
        ok = name === 'in' ? found : !found;
        break;
      }
      case 'exists':
        ok = (left !== undefined) === Boolean(arg);
        break;
      case 'type':
        ok = hasType(left, arg);
        break;
      default:
        throw new ExpressionError(`unknown operator '${op}'`);
    }
    if (!ok) return false;
  }
  return true;
}

/** Evaluates an expression to a boolean. Unknown expansions and operators throw ExpressionError. */
export async function evaluate(expr: unknown, vars: ExpressionVars, opts: EvaluateOptions = {}): Promise<boolean> {
  if (expr === true || expr === undefined) return true;
  if (expr === false || expr === null) return false;
  if (!isPlainObject(expr)) throw new ExpressionError('an expression is true, false or an object');
  for (const [key, value] of Object.entries(expr)) {
    if (LOGICAL.has(key)) {
      const kind = key.slice(1);
      if (kind === 'not') {
        if (await evaluate(value, vars, opts)) return false;
        continue;
      }
      if (!Array.isArray(value)) throw new ExpressionError(`${key} needs an array of expressions`);
      const results = [];
      for (const sub of value) results.push(await evaluate(sub, vars, opts));
      const ok = kind === 'and' ? results.every(Boolean) : kind === 'or' ? results.some(Boolean) : !results.some(Boolean);
      if (!ok) return false;
      continue;
    }
    if (isOperatorKey(key)) throw new ExpressionError(`operator '${key}' needs a value to apply to`);
    const left = key.startsWith('%%') ? expand(key, vars) : bareKey(key, vars, opts);
    const ok = isOperatorObject(value) ? await applyOperators(left, value, vars, opts) : matches(left, await expandValue(value, vars, opts));
    if (!ok) return false;
  }
  return true;
}
