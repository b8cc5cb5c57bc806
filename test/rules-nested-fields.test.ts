// Nested field rules in CollectionAccess, table-driven: what a role reads of a document and which
// changes it may write, level by level (behaviour.md §E.2: a field's permissions override its
// sub-fields'; `additional_fields` covers what has no entry; `%%this` / `%%prev` are the sub-field's).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectId } from 'bson';
import type { RoleConfig } from '../src/app/model.js';
import { CollectionAccess } from '../src/services/mongodb/permissions.js';
import { role } from './helpers/server.js';

const ROLE: RoleConfig = role('peer', {
  fields: {
    title: { read: true, write: true },
    profile: {
      fields: {
        name: { read: true, write: true },
        email: { read: true },
        // %%this / %%prev are the sub-field's values
        score: { read: true, write: { '%%this': { $gte: '%%prev' } } },
        address: { fields: { city: { read: true, write: true } } },
      },
    },
    meta: { read: true, write: true, fields: { locked: { read: false, write: false } } },
    tags: { fields: { name: { read: true, write: true } } },
    open: { fields: {}, additionalFields: { read: true, write: true } },
  },
});

const access = new CollectionAccess({ roles: [ROLE], filters: [] }, { user: { id: 'u1' } }, {});
const id = new ObjectId();
const base = {
  _id: id,
  title: 't',
  secret: 's',
  profile: { name: 'n', email: 'e', score: 5, ssn: '123', address: { city: 'c', zip: 'z' } },
  meta: { locked: true, v: 1 },
  tags: [{ name: 'a', hidden: 1 }],
  open: { anything: 1 },
};

describe('nested field rules', () => {
  it('reads: sub-fields by their own rules, parents granting whole, arrays as leaves, nested additional_fields', async () => {
    assert.deepEqual(await access.readable(ROLE, base), {
      _id: id,
      title: 't',
      profile: { name: 'n', email: 'e', score: 5, address: { city: 'c' } },
      meta: { locked: true, v: 1 },
      open: { anything: 1 },
    });
    assert.equal(await access.readable(ROLE, { _id: id, secret: 's', profile: { ssn: '1' } }), null);
  });

  // [name, change applied to a copy of `base`, allowed?]
  const writes: [string, (d: any) => void, boolean][] = [
    ['a writable top-level field', (d) => (d.title = 'T'), true],
    ['a field without a rule', (d) => (d.secret = 'S'), false],
    ['a writable sub-field', (d) => (d.profile.name = 'N'), true],
    ['a read-only sub-field', (d) => (d.profile.email = 'E'), false],
    ['an unlisted sub-field (additional_fields of the role)', (d) => (d.profile.ssn = '9'), false],
    ['a sub-field rule using %%this and %%prev: up', (d) => (d.profile.score = 6), true],
    ['a sub-field rule using %%this and %%prev: down', (d) => (d.profile.score = 4), false],
    ['two levels down, writable', (d) => (d.profile.address.city = 'C'), true],
    ['two levels down, unlisted', (d) => (d.profile.address.zip = 'Z'), false],
    ['replacing an embedded document drops a protected sub-field', (d) => (d.profile.address = { city: 'x' }), false],
    ['removing an embedded document with a protected sub-field', (d) => delete d.profile.address, false],
    ['replacing an embedded document by a scalar', (d) => (d.profile = 'flat'), false],
    ['a parent grant overrides its sub-field rules', (d) => (d.meta.locked = false), true],
    ['an array of documents is one value (no per-element rules)', (d) => (d.tags[0].name = 'b'), false],
    ['nested additional_fields allow unlisted sub-fields', (d) => (d.open.more = 2), true],
    ['creating an empty embedded document needs the parent', (d) => (d.open2 = {}), false],
  ];
  for (const [name, change, allowed] of writes) {
    it(`writes: ${name} → ${allowed ? 'allowed' : 'refused'}`, async () => {
      const after = structuredClone(base) as any;
      after._id = id;
      change(after);
      assert.equal(await access.canWrite(ROLE, after, base), allowed);
    });
  }

  it('inserts need write on every sub-field; deletes need write on every field the document holds', async () => {
    assert.equal(await access.canInsert(ROLE, { _id: id, title: 't', profile: { name: 'n' } }), true);
    assert.equal(await access.canInsert(ROLE, { _id: id, title: 't', profile: { name: 'n', email: 'e' } }), false);
    assert.equal(await access.canInsert(ROLE, { _id: id, profile: {} }), false);
    assert.equal(await access.canDelete(ROLE, { _id: id, title: 't', profile: { name: 'n', address: { city: 'c' } } }), true);
    assert.equal(await access.canDelete(ROLE, { _id: id, title: 't', profile: { email: 'e' } }), false);
    assert.equal(await access.canDelete(ROLE, { _id: id }), false, 'nothing to hold write on: document-level write is needed');
  });
});
