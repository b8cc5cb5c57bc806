import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { storeConformance } from './store/conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'baste-store-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

storeConformance('sqlite', async () => openSqliteStore(join(dir, `store-${n++}.sqlite`)));

it('sqlite: keeps what was committed across a reopen, and migrates an existing file without loss', async () => {
  const file = join(dir, 'durable.sqlite');
  const first = openSqliteStore(file);
  await first.loginIdentity({ identity: { externalId: 'e', providerName: 'anon-user', providerType: 'anon-user', providerId: 'p', data: {} }, newUserId: 'd'.repeat(24), userType: 'normal', now: 1 });
  await first.close();
  const second = openSqliteStore(file);
  assert.equal((await second.getUser('d'.repeat(24)))?.identities.length, 1);
  await second.close();
});
