// CollectionAccess reuses one variables object per kind of check for a whole request (the subject
// alone for filters; with `%%root` / `%%prevRoot` for roles and document-level permissions; with
// `%%this` / `%%prev` too for field-level ones). These pin what each check can see, that nothing
// carries over from one document or field to the next, and that `%function` rules (evaluated
// asynchronously, on their own copy) are not disturbed by checks running meanwhile.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectId } from 'bson';
import type { FilterConfig, RoleConfig } from '../src/app/model.js';
import { ExpressionError } from '../src/rules/expressions.js';
import { CollectionAccess } from '../src/services/mongodb/permissions.js';
import { role as namedRole } from './helpers/server.js';

const role = (over: Partial<RoleConfig>): RoleConfig => namedRole('r', over);
const filter = (applyWhen: unknown, query: Record<string, unknown> = { owner_id: '%%user.id' }): FilterConfig => ({ name: 'f', applyWhen, query, projection: { secret: 0 } });
const subject = { user: { id: 'u1' } };
const doc = (owner: string, more: Record<string, unknown> = {}) => ({ _id: new ObjectId(), owner_id: owner, ...more });

describe('CollectionAccess variables', () => {
  it('roles see %%root and %%prevRoot (absent on reads of new documents) but not %%this', async () => {
    const prevRootMissing = role({ applyWhen: { '%%prevRoot': { $exists: false } } });
    const access = new CollectionAccess({ roles: [prevRootMissing], filters: [] }, subject, {});
    assert.equal(await access.roleFor(doc('u1')), prevRootMissing);
    assert.equal(await access.roleFor(doc('u1'), doc('u1')), null);
    const byThis = new CollectionAccess({ roles: [role({ applyWhen: { '%%this': 1 } })], filters: [] }, subject, {});
    await assert.rejects(async () => byThis.roleFor(doc('u1')), (err: unknown) => err instanceof ExpressionError && /'%%this'/.test(err.message));
  });

  it('chooses each document its own role: nothing carries over between documents', async () => {
    const mine = role({ name: 'mine', applyWhen: { owner_id: '%%user.id' }, read: true });
    const shared = role({ name: 'shared', applyWhen: { '%%root.shared': true }, read: { '%%root.owner_id': { $ne: 'u9' } } });
    const access = new CollectionAccess({ roles: [mine, shared], filters: [] }, subject, {});
    const docs = [doc('u1'), doc('u2', { shared: true }), doc('u3'), doc('u9', { shared: true }), doc('u1', { shared: true })];
    const roles = [];
    for (const d of docs) roles.push((await access.roleFor(d))?.name ?? null);
    assert.deepEqual(roles, ['mine', 'shared', null, 'shared', 'mine']);
    assert.equal(await access.readable(shared, docs[1]!), docs[1]);
    assert.equal(await access.readable(shared, docs[3]!), null);
    assert.equal(await access.readable(shared, docs[1]!), docs[1], 'the previous document left nothing behind');
  });

  it('field rules see each field as %%this and %%prev; document-level ones still do not see %%this', async () => {
    const big = role({ additionalFields: { read: { '%%this': { $gt: 2 }, '%%prev': { $gt: 2 } }, write: false } });
    const access = new CollectionAccess({ roles: [big], filters: [] }, subject, {});
    const d = doc('u1', { a: 1, b: 5, c: 3, d: 2 });
    assert.deepEqual(await access.readable(big, d), { _id: d._id, b: 5, c: 3 });
    // After field checks, a document-level rule naming %%this is still an unknown expansion.
    const odd = role({ read: { '%%this': 1 } });
    await assert.rejects(async () => access.readable(odd, d), /'%%this'/);
    // Writes: %%this is the new value, %%prev the old one, %%root / %%prevRoot the documents.
    const up = role({ additionalFields: { read: true, write: { '%%this': { $gt: '%%prev' }, '%%root.owner_id': '%%prevRoot.owner_id' } } });
    const before = doc('u1', { n: 1, m: 1 });
    assert.equal(await access.canWrite(up, { ...before, n: 2, m: 5 }, before), true);
    assert.equal(await access.canWrite(up, { ...before, n: 2, m: 0 }, before), false);
    assert.equal(await access.canWrite(up, { ...before, owner_id: 'u2', n: 2 }, before), false);
    assert.equal(await access.canInsert(role({ insert: { '%%prevRoot': { $exists: false } }, write: true }), doc('u1')), true);
  });

  it('filters see the subject only: %%root is unknown there and bare keys find nothing', async () => {
    const rooted = new CollectionAccess({ roles: [role({})], filters: [filter({ '%%root': { $exists: false } })] }, subject, {});
    await assert.rejects(rooted.filters(), /'%%root'/);
    const bare = new CollectionAccess({ roles: [role({})], filters: [filter({ owner_id: { $exists: false } }), filter({ owner_id: 'u1' })] }, subject, {});
    assert.deepEqual(await bare.filters(), { queries: [{ owner_id: 'u1' }], projection: { secret: 0 } });
  });

  it('answers filters() once per access unless a filter calls %function', async () => {
    const plain = new CollectionAccess({ roles: [role({})], filters: [filter({ '%%user.id': 'u1' })] }, subject, {});
    assert.equal(plain.filters(), plain.filters());
    let calls = 0;
    const callFunction = async () => {
      calls++;
      return true;
    };
    const called = new CollectionAccess({ roles: [role({})], filters: [filter({ '%%true': { '%function': { name: 'f' } } })] }, subject, { callFunction });
    assert.deepEqual((await called.filters()).queries, [{ owner_id: 'u1' }]);
    await called.filters();
    assert.equal(calls, 2);
  });

  it('%function rules keep their own variables while other checks run on the same access', async () => {
    const pending: (() => void)[] = [];
    const callFunction = async () => {
      await new Promise<void>((resolve) => pending.push(resolve));
      return true;
    };
    // `owner_id` is compared after the function answers: it must still be this document's.
    const gated = role({ name: 'gated', applyWhen: { '%%true': { '%function': { name: 'gate', arguments: [] } }, owner_id: '%%user.id' }, read: true });
    const sync = role({ name: 'sync', write: { owner_id: 'u3' } });
    const access = new CollectionAccess({ roles: [gated], filters: [] }, subject, { callFunction });
    const first = access.roleFor(doc('u1'));
    const second = access.roleFor(doc('u2'));
    while (pending.length < 2) await new Promise((r) => setImmediate(r));
    // Synchronous checks of other documents meanwhile, on the shared variables.
    const other = doc('u3');
    assert.equal(await access.canWrite(sync, { ...other, x: 1 }, other), true);
    const mine = doc('u1');
    assert.equal(await access.canWrite(sync, { ...mine, x: 1 }, mine), false);
    for (const resolve of pending.splice(0)) resolve();
    assert.equal(await first, gated);
    assert.equal(await second, null);
  });
});
