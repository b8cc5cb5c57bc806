// How the embedded engines choose candidate rows (embedded.ts) and which fields the data service
// asks them to index (index-fields.ts): table-driven, no database.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import type { RoleConfig } from '../../src/app/model.js';
import { idKey, indexEntries, plan, valueKey } from '../../src/data/embedded.js';
import { indexFields } from '../../src/services/mongodb/index-fields.js';
import { role as namedRole } from '../helpers/server.js';

describe('index keys', () => {
  it('gives every numeric type one key per value, and others a key of their own type', () => {
    const one = ['n:1'];
    for (const v of [1, 1.0, new Int32(1), new Double(1), Long.fromNumber(1), Decimal128.fromString('1.00')]) assert.deepEqual([valueKey(v)], one, String(v));
    assert.equal(valueKey(-0), 'n:0');
    assert.equal(valueKey('1'), 's:1');
    assert.equal(valueKey(true), 'b:1');
    assert.equal(valueKey(new Date(5)), 'd:5');
    const oid = new ObjectId();
    assert.equal(valueKey(oid), `o:${oid.toHexString()}`);
    for (const v of [null, undefined, { a: 1 }, [1], /x/]) assert.equal(valueKey(v), undefined);
  });

  it('indexes each scalar element of an array, once', () => {
    assert.deepEqual(indexEntries({ _id: 1, tags: ['a', 'b', 'a', ['c'], { d: 1 }], n: 2, none: null }, ['tags', 'n', 'none', 'missing']), [
      { field: 'tags', key: 's:a' },
      { field: 'tags', key: 's:b' },
      { field: 'n', key: 'n:2' },
    ]);
  });
});

describe('candidate plans', () => {
  const indexed = new Set(['owner', 'tags']);
  const cases: [string, Record<string, unknown>, unknown][] = [
    ['no equality: scan', { v: { $gt: 1 } }, undefined],
    ['unindexed field: scan', { title: 'x' }, undefined],
    ['indexed equality', { owner: 'u1' }, [{ field: 'owner', keys: ['s:u1'] }]],
    ['$eq', { owner: { $eq: 'u1' } }, [{ field: 'owner', keys: ['s:u1'] }]],
    ['$in', { tags: { $in: ['a', 'b', 'a'] } }, [{ field: 'tags', keys: ['s:a', 's:b'] }]],
    ['$in with a regex: scan', { tags: { $in: ['a', /b/] } }, undefined],
    ['$in with null: scan (null matches missing fields)', { tags: { $in: ['a', null] } }, undefined],
    ['null: scan', { owner: null }, undefined],
    ['array equality: scan', { tags: ['a'] }, undefined],
    ['embedded document: scan', { owner: { id: 'u1' } }, undefined],
    ['other operators: scan', { owner: { $ne: 'u1' } }, undefined],
    ['_id string through the primary key', { _id: 'x' }, [{ field: '_id', keys: [idKey('x')] }]],
    ['_id number: scan (numbers have several spellings)', { _id: 1 }, undefined],
    ['_id preferred over an index', { owner: 'u1', _id: 'x' }, [{ field: '_id', keys: [idKey('x')] }]],
    ['inside $and', { $and: [{ v: 1 }, { owner: 'u1' }] }, [{ field: 'owner', keys: ['s:u1'] }]],
    ['$or of indexed branches: union', { $or: [{ owner: 'u1' }, { tags: 'a' }] }, [{ field: 'owner', keys: ['s:u1'] }, { field: 'tags', keys: ['s:a'] }]],
    ['$or with an unindexed branch: scan', { $or: [{ owner: 'u1' }, { title: 'a' }] }, undefined],
    ['$nor: scan', { $nor: [{ owner: 'u1' }] }, undefined],
    ['dotted path: scan', { 'owner.id': 'u1' }, undefined],
    ['rule filter ANDed with a query', { $and: [{ title: 'x' }, { $and: [{ owner: 'u1' }] }] }, [{ field: 'owner', keys: ['s:u1'] }]],
  ];
  for (const [name, filter, expected] of cases) {
    it(name, () => assert.deepEqual(plan(filter, indexed), expected));
  }
});

describe('fields the data service indexes', () => {
  const role = (applyWhen: unknown, extra: Partial<RoleConfig> = {}): RoleConfig => namedRole('r', { applyWhen, read: true, write: true, ...extra });
  const cases: [string, Parameters<typeof indexFields>[0], string[]][] = [
    ['none', undefined, []],
    ['owner-only role', { roles: [role({ owner_id: '%%user.id' })], filters: [] }, ['owner_id']],
    ['%%root.<field>', { roles: [role({ '%%root.team': '%%user.custom_data.team' })], filters: [] }, ['team']],
    ['literal and %in', { roles: [role({ shared: true, group: { '%in': '%%user.custom_data.groups' } })], filters: [] }, ['shared', 'group']],
    ['through %or / %and', { roles: [role({ '%or': [{ a: '%%user.id' }, { '%and': [{ b: 1 }] }] })], filters: [] }, ['a', 'b']],
    ['document_filters.read', { roles: [role({}, { documentFilters: { read: { tenant: '%%user.data.tenant' } } })], filters: [] }, ['tenant']],
    ['document_filters.write', { roles: [role({}, { documentFilters: { read: true, write: { owner_id: '%%user.id' } } })], filters: [] }, ['owner_id']],
    [
      'not indexed: document expansions, functions, nested paths, operators, _id',
      {
        roles: [role({ a: '%%root.b', '%%true': { '%function': { name: 'f' } }, 'x.y': '%%user.id', _id: '%%user.id', c: { '%gt': 1 } })],
        filters: [],
      },
      [],
    ],
    [
      'filter queries',
      { roles: [], filters: [{ name: 'f', applyWhen: {}, query: { archived: false, owner: { $in: ['a'] }, n: { $gt: 1 }, $or: [{ oid: { $oid: '5f00000000000000000000ee' } }] }, projection: {} }] },
      ['archived', 'owner', 'oid'],
    ],
  ];
  for (const [name, rules, expected] of cases) {
    it(name, () => assert.deepEqual(indexFields(rules), expected));
  }
});
