// The rule-to-query pre-filter (src/rules/to-query.ts): table-driven translations, and a sweep that
// checks the one property the data service relies on: a document the rule accepts is never
// filtered out by the translated query (mingo decides the query, the evaluator the rule).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectId } from 'bson';
import { Query } from 'mingo';
import { evaluate } from '../src/rules/expressions.js';
import { NONE, toPreFilter } from '../src/rules/to-query.js';

const oid = new ObjectId('5f00000000000000000000ee');
const vars = {
  user: { id: 'u1', type: 'normal', data: { email: 'ann@example.com', role: 'dev', teams: ['t1', 't2'] }, custom_data: { manages: ['u2', 'u3'], team: 't1' } },
  values: { adminId: 'u9', owner: oid.toHexString() },
  environment: { tag: 'production', values: {} },
  request: {},
};
const opts = { bareKeysRefer: 'root' } as const;

const cases: [string, unknown, unknown][] = [
  ['true: everything', true, {}],
  ['empty object: everything', {}, {}],
  ['false: nothing', false, NONE],
  ['owner equality', { owner_id: '%%user.id' }, { owner_id: 'u1' }],
  ['%%root path', { '%%root.owner_id': '%%user.id' }, { owner_id: 'u1' }],
  ['dotted field', { 'meta.owner': '%%user.id' }, { 'meta.owner': 'u1' }],
  ['literal value', { public: true }, { public: true }],
  ['two fields ANDed', { owner_id: '%%user.id', team: '%%user.custom_data.team' }, { $and: [{ owner_id: 'u1' }, { team: 't1' }] }],
  ['%stringToOid of a value', { owner: { '%stringToOid': '%%values.owner' } }, { owner: oid }],
  ['$in of a caller array', { owner_id: { $in: '%%user.custom_data.manages' } }, { owner_id: { $in: ['u2', 'u3'] } }],
  ['%in literal', { status: { '%in': ['a', 'b'] } }, { status: { $in: ['a', 'b'] } }],
  ['$in of an empty array: nothing', { status: { $in: [] } }, NONE],
  ['$exists true', { owner_id: { $exists: true } }, { owner_id: { $exists: true } }],
  ['$exists false: not narrowed', { owner_id: { $exists: false } }, {}],
  ['$gt: not narrowed', { n: { $gt: 3 } }, {}],
  ['$ne: not narrowed', { owner_id: { $ne: '%%user.id' } }, {}],
  ['caller-only true', { '%%user.data.role': 'dev' }, {}],
  ['caller-only false: nothing', { '%%user.data.role': 'admin' }, NONE],
  ['caller-only false ANDed with a field', { '%%user.id': '%%values.adminId', owner_id: '%%user.id' }, NONE],
  ['%or of owners and public', { '%or': [{ owner_id: '%%user.id' }, { public: true }] }, { $or: [{ owner_id: 'u1' }, { public: true }] }],
  ['%or with an unknowable branch', { '%or': [{ owner_id: '%%user.id' }, { n: { $gt: 1 } }] }, {}],
  ['%or with a false branch', { '%or': [{ '%%user.id': 'nobody' }, { owner_id: '%%user.id' }] }, { owner_id: 'u1' }],
  ['%and', { '%and': [{ owner_id: '%%user.id' }, { n: { $lt: 2 } }] }, { owner_id: 'u1' }],
  ['%not: not narrowed', { '%not': { owner_id: '%%user.id' } }, {}],
  ['value from the document: not narrowed', { owner_id: '%%root.creator' }, {}],
  ['%function: not narrowed, not called', { '%%true': { '%function': { name: 'check', arguments: ['%%root'] } } }, {}],
  ['path through a caller array: not narrowed', { team: '%%user.identities.id' }, {}],
  ['embedded document value: not narrowed', { owner: { id: '%%user.id' } }, {}],
  ['unknown expansion: left to the evaluator', { owner_id: '%%nope.id' }, {}],
];

describe('toPreFilter', () => {
  for (const [name, expr, expected] of cases) {
    it(name, async () => {
      const called: string[] = [];
      const got = await toPreFilter(expr, vars, { ...opts, callFunction: async (n) => (called.push(n), true) });
      assert.deepEqual(got, expected);
      assert.deepEqual(called, [], 'the translation never calls functions');
    });
  }

  it('bare keys are not document fields outside MongoDB rules', async () => {
    assert.deepEqual(await toPreFilter({ owner_id: '%%user.id' }, vars, { bareKeysRefer: 'args' }), {});
  });
});

describe('a document the rule accepts always passes its pre-filter', () => {
  const docs: Record<string, unknown>[] = [
    {},
    { owner_id: 'u1' },
    { owner_id: 'u2', public: true },
    { owner_id: ['u0', 'u1'] },
    { owner_id: null },
    { owner_id: 'u1', team: 't1', n: 1 },
    { owner_id: 'u3', team: ['t1', 't3'], status: 'a' },
    { owner: oid, meta: { owner: 'u1' } },
    { owner: oid.toHexString(), status: 'b', n: 5 },
    { meta: [{ owner: 'u1' }, { owner: 'u2' }] },
    { creator: 'u1', owner_id: 'u1' },
    { public: false, owner_id: 'u2' },
  ];
  let compared = 0;
  for (const [name, expr] of cases) {
    it(name, async () => {
      const pre = await toPreFilter(expr, vars, opts);
      for (const doc of docs) {
        let accepted: boolean;
        try {
          accepted = await evaluate(expr, { ...vars, root: doc }, { ...opts, callFunction: async () => true });
        } catch {
          continue; // an invalid rule denies through the evaluator; nothing to compare
        }
        if (!accepted) continue;
        compared += 1;
        assert.notEqual(pre, NONE, `rule accepts ${JSON.stringify(doc)} but the pre-filter excludes everything`);
        assert.ok(new Query(pre as never).test(doc), `rule accepts ${JSON.stringify(doc)} but ${JSON.stringify(pre)} does not match it`);
      }
    });
  }
  it('compared enough accepted documents to mean something', () => {
    assert.ok(compared >= 60, `only ${compared} accepted (rule, document) pairs`);
  });
});
