// Roles' `document_filters` in CollectionAccess (mongodb/tables/role-configuration.rst): `read`
// gates the read permissions, `write` the write ones (which imply read); an undefined filter holds,
// except that a false `read` filter denies reading unless a `write` filter is defined and holds.
// Writes are judged on the document after the change too: `apply_when`, the write filter (before
// and after) and the write rules must hold for the result. And the pre-filter pushed to the engine
// narrows by the filters without ever losing a document the role reaches.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Query } from 'mingo';
import type { RoleConfig } from '../src/app/model.js';
import { CollectionAccess } from '../src/services/mongodb/permissions.js';
import { role } from './helpers/server.js';

const OWNER = { owner_id: '%%user.id' };
const access = (r: RoleConfig) => new CollectionAccess({ roles: [r], filters: [] }, { user: { id: 'u1' } }, {});
const mine = { _id: 1, owner_id: 'u1', title: 't' };
const theirs = { _id: 2, owner_id: 'u2', title: 't' };

describe('document_filters', () => {
  it('reads: which documents a role reaches and what it reads of them', async () => {
    const cases: [string, RoleConfig, Record<string, unknown> | null, Record<string, unknown> | null][] = [
      // name, role, readable(mine), readable(theirs)
      ['owner template', role('r', { documentFilters: { read: OWNER, write: OWNER }, read: true, write: true }), mine, null],
      ['read all, write own', role('r', { documentFilters: { read: true, write: OWNER }, read: true, write: true }), mine, theirs],
      // read filter false and write filter undefined: nothing is read, whatever `write` says
      ['read filter only', role('r', { documentFilters: { read: OWNER }, write: true }), mine, null],
      // a defined write filter that holds lets write permissions imply read
      ['write filter lets write imply read', role('r', { documentFilters: { read: false, write: OWNER }, write: true }), mine, null],
      // read permissions are not evaluated where the read filter fails, even field by field
      ['field reads gated', role('r', { documentFilters: { read: OWNER, write: false }, fields: { title: { read: true } } }), { _id: 1, title: 't' }, null],
      ['no filters: as before', role('r', { read: true }), mine, theirs],
    ];
    for (const [name, r, a, b] of cases) {
      const acc = access(r);
      assert.deepEqual(await acc.readable(r, mine), a, `${name}: mine`);
      assert.deepEqual(await acc.readable(r, theirs), b, `${name}: theirs`);
    }
    const own = role('r', { documentFilters: { read: OWNER, write: OWNER }, read: true, write: true });
    assert.equal(await access(own).reaches(own, theirs), false);
    // Reached for writing alone: a read filter that fails, a write filter that holds.
    const writeOnly = role('r', { documentFilters: { read: false, write: { title: 't' } } });
    assert.equal(await access(writeOnly).reaches(writeOnly, theirs), true);
  });

  it('writes: the write filter must hold before and after; apply_when and write rules are judged on the result', async () => {
    const own = role('r', { documentFilters: { read: OWNER, write: OWNER }, read: true, write: true });
    const acc = access(own);
    assert.equal(await acc.canWrite(own, { ...mine, title: 'u' }, mine), true);
    assert.equal(await acc.canWrite(own, { ...mine, owner_id: 'u2' }, mine), false, 'giving it away');
    assert.equal(await acc.canWrite(own, { ...theirs, owner_id: 'u1' }, theirs), false, 'taking it');
    assert.equal(await acc.canInsert(own, theirs), false);
    assert.equal(await acc.canInsert(own, mine), true);
    assert.equal(await acc.canDelete(own, theirs), false);
    assert.equal(await acc.canDelete(own, mine), true);

    const byApply = role('r', { applyWhen: OWNER, read: true, write: true });
    assert.equal(await access(byApply).canWrite(byApply, { ...mine, owner_id: 'u2' }, mine), false, 'leaving the role');
    assert.equal(await access(byApply).canWrite(byApply, { ...mine, title: 'u' }, mine), true);
    // An apply_when may let documents leave on purpose, through %%prevRoot.
    const handOver = role('r', { applyWhen: { '%or': [OWNER, { '%%prevRoot.owner_id': '%%user.id' }] }, read: true, write: true });
    assert.equal(await access(handOver).canWrite(handOver, { ...mine, owner_id: 'u2' }, mine), true);

    const byWrite = role('r', { read: true, write: OWNER });
    assert.equal(await access(byWrite).canWrite(byWrite, { ...mine, owner_id: 'u2' }, mine), false);
  });

  it('the pre-filter narrows by the document filters and keeps every document the role reaches', async () => {
    const docs = [mine, theirs, { _id: 3, title: 't' }, { _id: 4, owner_id: ['u1', 'u3'] }];
    const roles = [
      role('r', { documentFilters: { read: OWNER, write: OWNER }, read: true }),
      role('r', { documentFilters: { read: true, write: OWNER }, read: true }),
      role('r', { documentFilters: { read: false, write: OWNER } }),
      role('r', { documentFilters: { read: OWNER }, applyWhen: { title: 't' } }),
      role('r', { documentFilters: { read: false, write: false } }),
    ];
    for (const r of roles) {
      const acc = access(r);
      const pre = (await acc.prefilter()) ?? { _id: { $in: [] } };
      const passed = new Set((new Query(pre).find(docs).all() as { _id: unknown }[]).map((d) => d._id));
      for (const doc of docs) {
        const applies = (await acc.roleFor(doc)) !== null;
        if (applies && (await acc.reaches(r, doc))) assert.ok(passed.has(doc._id), `${JSON.stringify(r.documentFilters)} lost ${doc._id}`);
      }
    }
    const own = access(roles[0]!);
    assert.deepEqual(await own.prefilter(), { owner_id: 'u1' });
    assert.equal(await access(roles[4]!).prefilter(), null);
  });
});
