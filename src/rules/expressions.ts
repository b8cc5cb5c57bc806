// The rule expression language (https://www.mongodb.com/docs/atlas/app-services/rules/expressions/), pure: expansions (`%%user.id`, `%%values.x`,
// `%%root`, ...), comparison operators in both spellings (`%gt` / `$gt`), `%and`/`%or`/`%nor`/`%not`,
// `%stringToOid` / `%oidToString`, and `%function` through a callback the caller passes in.
// Used by function `can_evaluate`, collection rules, filters and schema `validate`. Imports nothing
// outside src/rules/. Two evaluators with the same answers: `interpret` (the reference, async, for
// expressions that call `%function`) and closures compiled once per expression object (everything
// else, synchronous: collection rules run per document). `evaluate` picks; `syncEvaluator` gives
// the compiled one to callers that want to skip promises.

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

/**
 * The reference evaluator: walks the expression on every call, awaiting as it goes. evaluate() uses
 * it for expressions that may call `%function`; the compiled path below must agree with it exactly
 * (test/rules-expressions-compiled.test.ts sweeps both).
 */
export async function interpret(expr: unknown, vars: ExpressionVars, opts: EvaluateOptions = {}): Promise<boolean> {
  if (expr === true || expr === undefined) return true;
  if (expr === false || expr === null) return false;
  if (!isPlainObject(expr)) throw new ExpressionError('an expression is true, false or an object');
  for (const [key, value] of Object.entries(expr)) {
    if (LOGICAL.has(key)) {
      const kind = key.slice(1);
      if (kind === 'not') {
        if (await interpret(value, vars, opts)) return false;
        continue;
      }
      if (!Array.isArray(value)) throw new ExpressionError(`${key} needs an array of expressions`);
      const results = [];
      for (const sub of value) results.push(await interpret(sub, vars, opts));
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

// ---------------------------------------------------------------------------------------------
// The compiled path. Rules are evaluated per document (a role's `apply_when`, then `read`, ...), so
// an expression is turned once into closures that do only what depends on the variables: property
// reads along precomputed paths and comparisons. Everything decided by the expression's shape
// (which key is an operator, which object is an operator object, how a path splits, which errors
// it must raise) is decided at compile time; errors are raised when evaluation reaches them, in the
// order the interpreter reaches them. Expressions that may call `%function` are not compiled: they
// are what the interpreter's awaits are for.

/** An expression compiled to a synchronous test of its variables. */
export type SyncEvaluator = (vars: ExpressionVars, opts?: EvaluateOptions) => boolean;

type Clause = (vars: ExpressionVars, bare: string) => boolean;
type Value = (vars: ExpressionVars, bare: string) => unknown;
type Test = (left: unknown, vars: ExpressionVars, bare: string) => boolean;

const INDEX = /^\d+$/;

/** `walk` along a path split at compile time (`index[i]`: the part is an array index). */
function walkParts(value: unknown, parts: readonly string[], index: readonly boolean[]): unknown {
  let current = value;
  for (let i = 0; i < parts.length; i++) {
    if (current === null || current === undefined) return undefined;
    const part = parts[i]!;
    if (Array.isArray(current) && !index[i]) {
      current = current.map((el) => walk(el, [part])).filter((v) => v !== undefined);
      continue;
    }
    if (typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A path reader; one-part paths (`owner_id`, `%%user.id`'s `id`) without the loop. */
function pathReader(parts: readonly string[]): (value: unknown) => unknown {
  if (parts.length === 0) return (value) => value;
  const index = parts.map((p) => INDEX.test(p));
  if (parts.length === 1 && !index[0]) {
    const part = parts[0]!;
    return (value) => {
      if (value === null || value === undefined) return undefined;
      if (Array.isArray(value)) return walk(value, parts);
      if (typeof value !== 'object') return undefined;
      return (value as Record<string, unknown>)[part];
    };
  }
  return (value) => walkParts(value, parts, index);
}

const fail = (message: string) => (): never => {
  throw new ExpressionError(message);
};

/** `expand()`, split once. */
function compileExpansion(name: string): Value {
  const [head = '', ...rest] = name.slice(2).split('.');
  if (head === 'true') return () => true;
  if (head === 'false') return () => false;
  if (!head) return fail(`unknown expansion '%%${head}'`);
  const read = pathReader(rest);
  return (vars) => {
    if (!(head in vars)) throw new ExpressionError(`unknown expansion '%%${head}'`);
    return read(vars[head]);
  };
}

/** `bareKey()`, split once; where bare keys point is the caller's option. */
function compileBareKey(key: string): Value {
  const read = pathReader(key.split('.'));
  return (vars, bare) => read(vars[bare]);
}

/**
 * Could expanding the value throw (in the interpreter's `expandValue`, without `%function`)? Only
 * expansions (their root may be missing) and `%stringToOid` (a bad string) can.
 */
function valueMayThrow(value: unknown): boolean {
  if (typeof value === 'string') {
    if (!value.startsWith('%%')) return false;
    const head = value.slice(2).split('.')[0];
    return head !== 'true' && head !== 'false';
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (valueMayThrow(value[i])) return true;
    return false;
  }
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '%stringToOid') return true;
  return Object.values(value).some(valueMayThrow);
}

/** Raised at compile time when only the interpreter gives the right answer; the caller falls back to it. */
class NotCompilable extends Error {}

/** `expandValue()`. */
function compileValue(value: unknown): Value {
  if (typeof value === 'string' && value.startsWith('%%')) return compileExpansion(value);
  if (Array.isArray(value)) {
    // The interpreter expands an array's elements with Promise.all: when two of them throw, the
    // first to reject wins, and an expansion string rejects before an object or array that
    // awaits inside (those reject a few ticks later). In order, the first element would win.
    // Both agree unless an awaiting element that may throw comes before another that may throw:
    // such arrays (never seen in real rules) are left to the interpreter.
    let lateThrower = false;
    for (let i = 0; i < value.length; i++) {
      const el: unknown = value[i];
      if (!valueMayThrow(el)) continue;
      if (lateThrower) throw new NotCompilable();
      if (typeof el !== 'string') lateThrower = true;
    }
    const elements: Value[] = [];
    for (let i = 0; i < value.length; i++) elements.push(compileValue(value[i])); // holes expand to undefined, as in Promise.all
    return (vars, bare) => {
      const out = new Array<unknown>(elements.length);
      for (let i = 0; i < elements.length; i++) out[i] = elements[i]!(vars, bare);
      return out;
    };
  }
  if (!isPlainObject(value)) return () => value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key] = keys as [string];
    switch (key) {
      case '%function':
        throw new NotCompilable();
      case '%stringToOid': {
        const inner = compileValue(value[key]);
        return (vars, bare) => {
          const s = inner(vars, bare);
          if (s instanceof ObjectId) return s;
          if (typeof s !== 'string' || !ObjectId.isValid(s)) throw new ExpressionError('%stringToOid needs a 24-hex string');
          return new ObjectId(s);
        };
      }
      case '%oidToString': {
        const inner = compileValue(value[key]);
        return (vars, bare) => {
          const o = inner(vars, bare);
          return o instanceof ObjectId ? o.toHexString() : typeof o === 'string' ? o : null;
        };
      }
    }
  }
  const entries = Object.entries(value).map(([k, v]) => [k, compileValue(v)] as const);
  return (vars, bare) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[k] = v(vars, bare);
    return out;
  };
}

/**
 * `deepEqual()`: the same answers, without the JSON round trip when both sides are strings,
 * numbers or booleans (the usual `owner_id` against `%%user.id`). JSON spells every non-finite
 * number `null`, so those equal each other; a string never equals a number, a boolean or nothing.
 */
function equal(a: unknown, b: unknown): boolean {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'string') {
    if (tb === 'string') return a === b;
    if (b === null || tb === 'undefined' || tb === 'number' || tb === 'boolean') return false;
  } else if (tb === 'string') {
    if (a === null || ta === 'undefined' || ta === 'number' || ta === 'boolean') return false;
  } else if (ta === 'number' && tb === 'number') {
    return a === b || (!Number.isFinite(a as number) && !Number.isFinite(b as number));
  } else if (ta === 'boolean' && tb === 'boolean') {
    return a === b;
  }
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** `matches()` over `equal()`. */
function matchesFast(left: unknown, right: unknown): boolean {
  if (equal(left, right)) return true;
  return Array.isArray(left) && !Array.isArray(right) && left.some((el) => equal(el, right));
}

const GT = (c: number) => c > 0;
const GTE = (c: number) => c >= 0;
const LT = (c: number) => c < 0;
const LTE = (c: number) => c <= 0;
const COMPARISONS: Readonly<Record<string, (c: number) => boolean>> = { gt: GT, gte: GTE, lt: LT, lte: LTE };

/** Sub-tests of `%and` / `%or` / `%nor`: all run (as in the interpreter, so the same errors surface), then combine. */
function combine(kind: string, tests: readonly Test[]): Test {
  return (left, vars, bare) => {
    let all = true;
    let any = false;
    for (const t of tests) {
      if (t(left, vars, bare)) any = true;
      else all = false;
    }
    return kind === 'and' ? all : kind === 'or' ? any : !any;
  };
}

/** One operator of an operator object (`applyOperators()`'s loop body). */
function compileOperator(op: string, rawArg: unknown): Test {
  const name = op.slice(1);
  if (name === 'and' || name === 'or' || name === 'nor') {
    if (!Array.isArray(rawArg)) return fail(`${op} needs an array`);
    const tests: Test[] = [];
    for (let i = 0; i < rawArg.length; i++) {
      const sub: unknown = rawArg[i];
      if (isOperatorObject(sub)) tests.push(compileOperators(sub));
      else {
        const value = compileValue(sub);
        tests.push((left, vars, bare) => matchesFast(left, value(vars, bare)));
      }
    }
    return combine(name, tests);
  }
  if (name === 'not') {
    if (!isOperatorObject(rawArg)) return fail(`${op} needs an operator object`);
    const inner = compileOperators(rawArg);
    return (left, vars, bare) => !inner(left, vars, bare);
  }
  if (name === 'function' || name === 'stringToOid' || name === 'oidToString') {
    const value = compileValue({ [op]: rawArg });
    return (left, vars, bare) => matchesFast(left, value(vars, bare));
  }
  const arg = compileValue(rawArg);
  switch (name) {
    case 'eq':
      return (left, vars, bare) => matchesFast(left, arg(vars, bare));
    case 'ne':
      return (left, vars, bare) => !matchesFast(left, arg(vars, bare));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const test = COMPARISONS[name]!;
      return (left, vars, bare) => compare(left, arg(vars, bare), test);
    }
    case 'in':
    case 'nin': {
      const inList = name === 'in';
      return (left, vars, bare) => {
        const list = arg(vars, bare);
        if (!Array.isArray(list)) throw new ExpressionError(`${op} needs an array`);
        return list.some((a) => matchesFast(left, a)) === inList;
      };
    }
    case 'exists':
      return (left, vars, bare) => (left !== undefined) === Boolean(arg(vars, bare));
    case 'type':
      return (left, vars, bare) => hasType(left, arg(vars, bare));
    default:
      return (_left, vars, bare) => {
        arg(vars, bare);
        throw new ExpressionError(`unknown operator '${op}'`);
      };
  }
}

/** `applyOperators()`: every operator must hold, in order, stopping at the first that does not. */
function compileOperators(ops: Record<string, unknown>): Test {
  const tests = Object.entries(ops).map(([op, arg]) => compileOperator(op, arg));
  if (tests.length === 1) return tests[0]!;
  return (left, vars, bare) => {
    for (const t of tests) if (!t(left, vars, bare)) return false;
    return true;
  };
}

const ALWAYS: Clause = () => true;
const NEVER: Clause = () => false;
const NOT_AN_EXPRESSION = fail('an expression is true, false or an object');

/** The body of `interpret()`. */
function compileExpression(expr: unknown): Clause {
  if (expr === true || expr === undefined) return ALWAYS;
  if (expr === false || expr === null) return NEVER;
  if (!isPlainObject(expr)) return NOT_AN_EXPRESSION;
  const clauses: Clause[] = [];
  for (const [key, value] of Object.entries(expr)) {
    if (LOGICAL.has(key)) {
      const kind = key.slice(1);
      if (kind === 'not') {
        const inner = compileExpression(value);
        clauses.push((vars, bare) => !inner(vars, bare));
        continue;
      }
      if (!Array.isArray(value)) {
        clauses.push(fail(`${key} needs an array of expressions`));
        continue;
      }
      const subs: Clause[] = [];
      for (let i = 0; i < value.length; i++) subs.push(compileExpression(value[i]));
      const test = combine(kind, subs.map((s): Test => (_left, vars, bare) => s(vars, bare)));
      clauses.push((vars, bare) => test(undefined, vars, bare));
      continue;
    }
    if (isOperatorKey(key)) {
      clauses.push(fail(`operator '${key}' needs a value to apply to`));
      continue;
    }
    const left = key.startsWith('%%') ? compileExpansion(key) : compileBareKey(key);
    if (isOperatorObject(value)) {
      const test = compileOperators(value);
      clauses.push((vars, bare) => test(left(vars, bare), vars, bare));
    } else {
      const right = compileValue(value);
      clauses.push((vars, bare) => {
        const l = left(vars, bare);
        return matchesFast(l, right(vars, bare));
      });
    }
  }
  if (clauses.length === 0) return ALWAYS;
  if (clauses.length === 1) return clauses[0]!;
  return (vars, bare) => {
    for (const c of clauses) if (!c(vars, bare)) return false;
    return true;
  };
}

/** Does `%function` appear anywhere (as a key) in the expression? Then it goes to the interpreter. */
function mentionsFunction(value: unknown): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (mentionsFunction(value[i])) return true;
    return false;
  }
  if (!isPlainObject(value)) return false;
  for (const [k, v] of Object.entries(value)) if (k === '%function' || mentionsFunction(v)) return true;
  return false;
}

function compile(expr: unknown): SyncEvaluator | null {
  if (mentionsFunction(expr)) return null;
  let clause: Clause;
  try {
    clause = compileExpression(expr);
  } catch (err) {
    if (err instanceof NotCompilable) return null;
    throw err;
  }
  return (vars, opts) => clause(vars, opts?.bareKeysRefer ?? 'args');
}

const ALWAYS_TRUE: SyncEvaluator = () => true;
const ALWAYS_FALSE: SyncEvaluator = () => false;
const NEVER_VALID: SyncEvaluator = () => NOT_AN_EXPRESSION();
/**
 * Compiled expressions by identity, as src/rules/schema.ts keeps compiled schemas: expressions are
 * values of the loaded config, which is immutable (an expression object must not be changed once
 * evaluated). Throwaway objects (to-query's one-key wrappers) are collected with their entries.
 */
const compiled = new WeakMap<object, SyncEvaluator | null>();

/**
 * The expression as a synchronous function of its variables, or null when it may call `%function`
 * (or is one of the odd shapes only the interpreter answers exactly): then use evaluate(). Same
 * answers and same ExpressionErrors as evaluate(), thrown instead of rejected.
 */
export function syncEvaluator(expr: unknown): SyncEvaluator | null {
  if (expr === true || expr === undefined) return ALWAYS_TRUE;
  if (expr === false || expr === null) return ALWAYS_FALSE;
  if (typeof expr !== 'object') return NEVER_VALID;
  let run = compiled.get(expr);
  if (run === undefined) {
    run = compile(expr);
    compiled.set(expr, run);
  }
  return run;
}

/** Evaluates an expression to a boolean. Unknown expansions and operators throw ExpressionError. */
export async function evaluate(expr: unknown, vars: ExpressionVars, opts: EvaluateOptions = {}): Promise<boolean> {
  const run = syncEvaluator(expr);
  return run ? run(vars, opts) : interpret(expr, vars, opts);
}
