// Table-driven tests of the rule expression language (behaviour.md §E.3).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectId } from 'bson';
import { ExpressionError, evaluate } from '../src/rules/expressions.js';

const oid = new ObjectId('5f00000000000000000000ee');
const vars = {
  user: { id: 'u1', type: 'normal', data: { email: 'ann@example.com', roles: ['admin', 'dev'] }, custom_data: { manages: ['u2', 'u3'] } },
  values: { adminId: 'u1', limits: { max: 42 } },
  environment: { tag: 'production', values: {} },
  request: { remoteIPAddress: '127.0.0.1' },
  args: { n: 7, name: 'bob', owners: ['u1', 'u9'], ref: oid, nested: { deep: true } },
};

const cases: [string, unknown, boolean][] = [
  ['true', true, true],
  ['false', false, false],
  ['empty object', {}, true],
  ['expansion equals literal', { '%%user.id': 'u1' }, true],
  ['expansion differs', { '%%user.id': 'u2' }, false],
  ['expansion equals expansion', { '%%user.id': '%%values.adminId' }, true],
  ['bare key refers to args', { name: 'bob' }, true],
  ['dotted bare key', { 'nested.deep': true }, true],
  ['scalar in array (membership)', { '%%args.owners': '%%user.id' }, true],
  ['scalar not in array', { '%%args.owners': 'u7' }, false],
  ['fields are ANDed', { '%%user.id': 'u1', name: 'alice' }, false],
  ['$gt', { '%%args.n': { $gt: 5 } }, true],
  ['%gt spelling', { '%%args.n': { '%gt': 7 } }, false],
  ['$gte and $lte', { '%%args.n': { $gte: 7, $lte: 7 } }, true],
  ['%and of operators', { '%%args.n': { '%and': [{ $gt: 0 }, { $lte: '%%values.limits.max' }] } }, true],
  ['%or of operators', { '%%args.n': { '%or': [{ $gt: 100 }, { $lt: 0 }] } }, false],
  ['$in', { '%%user.id': { $in: ['u0', 'u1'] } }, true],
  ['$in against an expansion', { 'owners': { $in: '%%user.custom_data.manages' } }, false],
  ['$nin', { '%%user.id': { $nin: ['u0', 'u1'] } }, false],
  ['$exists true', { '%%user.data.email': { $exists: true } }, true],
  ['%exists false on a missing path', { '%%user.data.phone': { '%exists': false } }, true],
  ['$ne', { '%%user.type': { $ne: 'server' } }, true],
  ['array path membership', { '%%user.data.roles': 'admin' }, true],
  ['top-level %or', { '%or': [{ '%%user.id': 'x' }, { '%%user.type': 'normal' }] }, true],
  ['top-level %nor', { '%nor': [{ '%%user.id': 'u1' }] }, false],
  ['top-level %not', { '%not': { '%%user.id': 'u2' } }, true],
  ['%stringToOid equals an ObjectId', { '%%args.ref': { '%stringToOid': '5f00000000000000000000ee' } }, true],
  ['%oidToString', { '%%true': { $eq: true }, '%%values.adminId': { '%oidToString': 'u1' } }, true],
  ['%%true constant', { '%%true': true }, true],
  ['environment tag', { '%%environment.tag': 'production' }, true],
  ['%type string', { '%%args.name': { '%type': 'string' } }, true],
  ['%type by code (2 = string)', { '%%args.name': { $type: 2 } }, true],
  ['%type mismatch', { '%%args.n': { '%type': 'bool' } }, false],
  ['%type objectId', { '%%args.ref': { '%type': 'objectId' } }, true],
  ['%type list', { '%%args.n': { '%type': ['string', 'int'] } }, true],
  ['%type array matches by its elements', { '%%args.owners': { '%type': 'string' } }, true],
  ['%type of a missing field', { '%%args.missing': { '%type': 'null' } }, false],
];

describe('rule expressions', () => {
  for (const [name, expr, expected] of cases) {
    it(name, async () => assert.equal(await evaluate(expr, vars), expected));
  }

  it('calls %function with expanded arguments and compares the result', async () => {
    const calls: unknown[] = [];
    const callFunction = async (fn: string, args: unknown[]) => {
      calls.push([fn, args]);
      return args[0] === 'u1';
    };
    assert.equal(await evaluate({ '%%true': { '%function': { name: 'isAdmin', arguments: ['%%user.id'] } } }, vars, { callFunction }), true);
    assert.equal(await evaluate({ '%%false': { '%function': { name: 'isAdmin', arguments: ['%%user.id'] } } }, vars, { callFunction }), false);
    assert.deepEqual(calls, [['isAdmin', ['u1']], ['isAdmin', ['u1']]]);
  });

  it('points bare keys at %%root for MongoDB rules', async () => {
    assert.equal(await evaluate({ owner: '%%user.id' }, { ...vars, root: { owner: 'u1' } }, { bareKeysRefer: 'root' }), true);
  });

  it('refuses unknown expansions and operators, and %function without a runner', async () => {
    await assert.rejects(evaluate({ '%%nope.x': 1 }, vars), ExpressionError);
    await assert.rejects(evaluate({ '%%args.n': { $regexish: 1 } }, vars), /unknown operator/);
    await assert.rejects(evaluate({ '%%true': { '%function': { name: 'f' } } }, vars), /not available/);
    await assert.rejects(evaluate('yes', vars), ExpressionError);
    await assert.rejects(evaluate({ '%%args.n': { '%type': 99 } }, vars), /%type needs/);
  });
});
