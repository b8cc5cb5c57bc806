// The compiled (synchronous) evaluation path against the reference interpreter: a seeded sweep of
// random expressions over random variables must give the same boolean, or the same thrown error,
// on both; plus the shapes that must stay with the interpreter (`%function`, and arrays whose
// elements could throw in an order only Promise.all decides).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decimal128, Int32, Long, ObjectId } from 'bson';
import { ExpressionError, evaluate, interpret, syncEvaluator, type EvaluateOptions, type ExpressionVars } from '../src/rules/expressions.js';
import { seededRandom } from './helpers/random.js';

/** A small seeded PRNG, so a failure names a reproducible case. */
const rng = seededRandom;
type R = ReturnType<typeof rng>;

const OIDS = ['5f00000000000000000000ee', '5f00000000000000000000ef', '64b7f0c2a1b2c3d4e5f60718'].map((h) => new ObjectId(h));
const DATES = [new Date(0), new Date('2024-01-01T00:00:00Z'), new Date('2030-06-15T12:00:00Z')];
const STRINGS = ['u1', 'u2', 'admin', 'dev', '', '5f00000000000000000000ee', 'oid:5f00000000000000000000ee', 'zzz'];
const NUMBERS = [0, -0, 1, 2, 7, 42, -3, 2.5, 2 ** 31 + 1, NaN, Infinity, -Infinity];
const FIELDS = ['a', 'b', 'owner_id', 'tags', 'n', 'when', 'ref', 'items', 'sub'];

function scalar(r: R): unknown {
  switch (r.int(9)) {
    case 0:
      return r.pick(STRINGS);
    case 1:
      return r.pick(['u1', 'u2']);
    case 2:
      return r.pick(NUMBERS);
    case 3:
      return r.pick([1, 7, 42]);
    case 4:
      return r.chance(0.5);
    case 5:
      return null;
    case 6:
      return r.pick(OIDS);
    case 7:
      return r.pick(DATES);
    default:
      return r.pick([new Int32(7), Long.fromNumber(42), Decimal128.fromString('2.5'), undefined]);
  }
}

/** A document-ish value: scalars, arrays (of scalars or of sub-documents), embedded documents. */
function docValue(r: R, depth: number): unknown {
  const k = r.int(depth > 0 ? 6 : 4);
  if (k < 3) return scalar(r);
  if (k === 3) return Array.from({ length: r.int(4) }, () => scalar(r));
  if (k === 4) return Array.from({ length: 1 + r.int(3) }, () => doc(r, depth - 1));
  return doc(r, depth - 1);
}

function doc(r: R, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) if (r.chance(0.45)) out[f] = docValue(r, depth);
  return out;
}

function makeVars(r: R): { vars: ExpressionVars; opts: EvaluateOptions } {
  const vars: Record<string, unknown> = {
    user: { id: r.pick(['u1', 'u2']), type: 'normal', data: { email: 'ann@example.com', roles: ['admin', 'dev'] }, custom_data: { manages: ['u2', 'u3'] } },
    values: { adminId: 'u1', limits: { max: 42 }, ids: [OIDS[0], OIDS[1]], hex: '5f00000000000000000000ef' },
    environment: { tag: 'production', values: {} },
    request: { remoteIPAddress: '127.0.0.1' },
  };
  // Which document roots exist varies, as between a filter, a role and a field rule.
  const kind = r.int(4);
  if (kind >= 1) {
    vars.root = doc(r, 2);
    vars.prevRoot = r.chance(0.3) ? undefined : r.chance(0.5) ? vars.root : doc(r, 2);
  }
  if (kind >= 2) {
    vars.this = docValue(r, 1);
    vars.prev = r.chance(0.5) ? vars.this : docValue(r, 1);
  }
  if (kind === 3) vars.args = doc(r, 1);
  const opts: EvaluateOptions = r.chance(0.7) ? { bareKeysRefer: 'root' } : r.chance(0.5) ? { bareKeysRefer: 'args' } : {};
  return { vars, opts };
}

// Mostly roots that exist; some that exist only in some variables (`this`, `args`), some never.
const ROOTS = [...'root root root root prevRoot prevRoot prevRoot user user user values true true true false request environment'.split(' '), 'this', 'prev', 'args', 'nope', ''];
const PATH_PARTS = [...FIELDS, '0', '1', 'id', 'data', 'roles', 'email', 'manages', 'adminId', 'limits', 'max', 'ids', 'hex', 'tag', 'x'];

function path(r: R): string {
  return Array.from({ length: r.int(3) }, (_, i) => (i === 0 && r.chance(0.6) ? r.pick(FIELDS) : r.pick(PATH_PARTS))).join('.');
}

function expansion(r: R): string {
  const p = path(r);
  return `%%${r.pick(ROOTS)}${p ? `.${p}` : ''}`;
}

function value(r: R, depth: number): unknown {
  const k = r.int(depth > 0 ? 12 : 8);
  if (k < 3) return scalar(r);
  if (k < 6) return expansion(r);
  if (k === 6) return r.pick(STRINGS);
  if (k === 7) return r.chance(0.5) ? '%%true' : '%%false';
  if (k === 8) return Array.from({ length: r.int(4) }, () => value(r, depth - 1));
  if (k === 9) return { '%stringToOid': r.chance(0.5) ? value(r, depth - 1) : r.pick([...STRINGS, '%%values.hex']) };
  if (k === 10) return { [r.pick(['%oidToString', '$stringToOid', '%oidToString'])]: value(r, depth - 1) };
  const out: Record<string, unknown> = {};
  for (let i = 0; i < 1 + r.int(2); i++) out[r.pick([...FIELDS, '%%user.id'])] = value(r, depth - 1);
  return out;
}

const COMPARE_OPS = ['$eq', '%eq', '$ne', '%ne', '$gt', '%gt', '$gte', '%gte', '$lt', '%lt', '$lte', '%lte'];

function operators(r: R, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < 1 + r.int(2); i++) {
    const k = r.int(depth > 0 ? 16 : 11);
    if (k < 4) out[r.pick(COMPARE_OPS)] = value(r, depth - 1);
    else if (k < 6) out[r.pick(['$in', '%in', '$nin', '%nin'])] = r.chance(0.8) ? Array.from({ length: r.int(4) }, () => value(r, 0)) : value(r, 0);
    else if (k === 6) out[r.pick(['$exists', '%exists'])] = r.pick([true, false, 1, 0, '%%true', expansion(r)]);
    else if (k === 7) out[r.pick(['$type', '%type'])] = r.pick(['string', 'int', 'double', 'bool', 'date', 'objectId', 'array', 'object', 'null', 'undefined', 'long', 'decimal', 2, 8, 9, 16, 99, ['string', 'null'], ['bool', 7]]);
    else if (k === 8) out[r.pick(['%stringToOid', '%oidToString'])] = value(r, 0);
    else if (k === 9) out[r.pick(['$regexish', '%where'])] = value(r, 0);
    else if (k === 10) out[r.pick(['$eq', '%in'])] = expansion(r);
    else if (k < 14) {
      const list = Array.from({ length: r.int(4) }, () => (r.chance(0.6) ? operators(r, depth - 1) : value(r, 0)));
      out[r.pick(['%and', '$and', '%or', '$or', '%nor', '$nor'])] = r.chance(0.9) ? list : operators(r, 0);
    } else out[r.pick(['%not', '$not'])] = r.chance(0.85) ? operators(r, depth - 1) : value(r, 0);
  }
  return out;
}

function expression(r: R, depth: number): unknown {
  const k = r.int(40);
  if (k === 0) return r.pick([true, false, null, undefined, {}]);
  if (k === 1) return r.pick(['yes', 5, [], OIDS[0]]);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < (r.chance(0.6) ? 1 : 2 + r.int(2)); i++) {
    const c = r.int(depth > 0 ? 14 : 10);
    if (c < 10) {
      const key = r.chance(0.5) ? expansion(r) : r.pick([...FIELDS, 'sub.a', 'items.a', 'tags.0', 'items.1.b', 'sub.items.owner_id']);
      out[key] = r.chance(0.55) ? operators(r, 2) : value(r, 2);
    } else if (c < 12) {
      const list = Array.from({ length: r.int(4) }, () => expression(r, depth - 1));
      out[r.pick(['%and', '$and', '%or', '$or', '%nor', '$nor'])] = r.chance(0.9) ? list : expression(r, 0);
    } else if (c === 12) out[r.pick(['%not', '$not'])] = expression(r, depth - 1);
    else if (r.chance(0.3)) out[r.pick(['%gt', '$in', '%stringToOid'])] = value(r, 0);
  }
  return out;
}

type Outcome = { ok: boolean } | { error: string };
const describeError = (err: unknown): string =>
  err instanceof ExpressionError ? `ExpressionError: ${err.message}` : err instanceof Error ? `${err.constructor.name}: ${err.message}` : `thrown ${String(err)}`;

async function reference(expr: unknown, vars: ExpressionVars, opts: EvaluateOptions): Promise<Outcome> {
  try {
    return { ok: await interpret(expr, vars, opts) };
  } catch (err) {
    return { error: describeError(err) };
  }
}

function compiled(run: NonNullable<ReturnType<typeof syncEvaluator>>, vars: ExpressionVars, opts: EvaluateOptions): Outcome {
  try {
    return { ok: run(vars, opts) };
  } catch (err) {
    return { error: describeError(err) };
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v) && (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

const show = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (x === undefined ? '<undefined>' : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x));

describe('compiled rule expressions', () => {
  it('agree with the interpreter on a seeded sweep of expressions and variables', async () => {
    const r = rng(20261127);
    const tally = { true: 0, false: 0, error: 0, interpreted: 0 };
    const errors = new Set<string>();
    for (let i = 0; i < 6000; i++) {
      const expr = i % 2 ? deepFreeze(expression(r, 2)) : expression(r, 2);
      const run = syncEvaluator(expr);
      if (!run) tally.interpreted++;
      for (let j = 0; j < 4; j++) {
        const { vars, opts } = makeVars(r);
        const want = await reference(expr, vars, opts);
        const got = run ? compiled(run, vars, opts) : want;
        assert.deepEqual(got, want, `case ${i}/${j}: ${show(expr)} over ${show(vars)} (${show(opts)})`);
        const viaEvaluate = await evaluate(expr, vars, opts).then(
          (ok): Outcome => ({ ok }),
          (err: unknown): Outcome => ({ error: describeError(err) }),
        );
        assert.deepEqual(viaEvaluate, want, `evaluate(), case ${i}/${j}: ${show(expr)}`);
        if ('error' in want) {
          tally.error++;
          errors.add(want.error.replace(/'.*'/, "'…'"));
        } else tally[want.ok ? 'true' : 'false']++;
      }
    }
    // The sweep means something only if it reaches every kind of outcome, mostly compiled.
    assert.ok(tally.true > 2000 && tally.false > 5000 && tally.error > 3000, JSON.stringify(tally));
    assert.ok(tally.interpreted < 60, `${tally.interpreted} of 6000 expressions left to the interpreter`);
    for (const kind of ['unknown expansion', 'unknown operator', 'needs a value to apply to', '%stringToOid needs', '%type needs', 'needs an array', 'needs an operator object', 'an expression is true, false or an object']) {
      assert.ok([...errors].some((e) => e.includes(kind)), `no case raised '${kind}': ${[...errors].join(' | ')}`);
    }
  });

  it('agree on hand-picked cases: arrays through paths, ObjectIds, Dates, non-finite numbers, missing roots', async () => {
    const id = OIDS[0]!;
    const vars: ExpressionVars = {
      user: { id: 'u1' },
      values: { ids: [id], hex: id.toHexString() },
      root: { owner_id: 'u1', items: [{ a: 1 }, { a: [2, 3] }, { b: 1 }], ref: id, when: DATES[1], n: NaN, tags: ['x', 'y'], nested: [[{ a: 5 }]] },
      prevRoot: undefined,
    };
    const opts = { bareKeysRefer: 'root' };
    const exprs: unknown[] = [
      { owner_id: '%%user.id' },
      { 'items.a': 2 },
      { 'items.a': [2, 3] },
      { 'items.a': { $in: [9, 3] } },
      { 'items.0.a': 1 },
      { 'nested.a': 5 },
      { 'nested.0.0.a': 5 },
      { ref: { '%stringToOid': '%%values.hex' } },
      { ref: { $in: '%%values.ids' } },
      { ref: 'oid:5f00000000000000000000ee' },
      { '%%root.ref': { '%oidToString': '%%values.ids.0' } },
      { when: { $gt: new Date(0), $lt: DATES[2] } },
      { n: null },
      { n: { $eq: Infinity } },
      { '%%prevRoot': { $exists: false } },
      { '%%prevRoot.owner_id': { $exists: false } },
      { '%%this': 1 },
      { '%%root.tags': { $type: 'string' } },
      { '%%root.tags': ['x', 'y'] },
      { tags: { $nin: ['z'] }, missing: { $exists: false } },
      { '%and': [{ owner_id: 'u1' }, { '%%nope': 1 }] },
      { '%or': [{ owner_id: 'u2' }, { '%not': { 'items.b': 1 } }] },
      { '%nor': [] },
      { owner_id: { '%not': { $in: ['u2'] }, $ne: null } },
      { owner_id: { $and: [{ $gte: 'u' }, 'u1'] } },
    ];
    for (const expr of exprs) {
      const run = syncEvaluator(expr);
      assert.ok(run, show(expr));
      assert.deepEqual(compiled(run, vars, opts), await reference(expr, vars, opts), show(expr));
    }
  });

  it('leaves %function, and arrays whose elements could throw in a Promise.all-decided order, to the interpreter', async () => {
    const withFunction = deepFreeze({ '%%true': { '%function': { name: 'isAdmin', arguments: ['%%user.id'] } } });
    assert.equal(syncEvaluator(withFunction), null);
    assert.equal(syncEvaluator({ a: { $in: [{ '%oidToString': '%%nope' }, '%%gone'] } }), null);
    assert.ok(syncEvaluator({ a: { $in: ['%%gone', { '%oidToString': '%%nope' }] } }), 'an expansion first throws first either way');
    assert.ok(syncEvaluator({ a: { $in: [{ '%oidToString': '%%user.id' }, 'x'] } }), 'only one element can throw');
    // The interpreter's answer there: the expansion's error, which rejects first.
    await assert.rejects(evaluate({ a: { $in: [{ '%oidToString': '%%nope' }, '%%gone'] } }, { user: {} }), /'%%gone'/);
    const calls: unknown[] = [];
    const callFunction = async (name: string, args: unknown[]) => {
      calls.push([name, args]);
      return true;
    };
    assert.equal(await evaluate(withFunction, { user: { id: 'u1' } }, { callFunction }), true);
    assert.deepEqual(calls, [['isAdmin', ['u1']]]);
  });

  it('compiles an expression object once', () => {
    const expr = { owner_id: '%%user.id' };
    const run = syncEvaluator(expr);
    assert.equal(syncEvaluator(expr), run);
    assert.equal(syncEvaluator(deepFreeze({ owner_id: '%%user.id' })) === run, false, 'by identity, not by value');
  });
});
