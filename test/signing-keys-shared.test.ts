// Two instances sharing one store start together: each creates a signing key, so one of them
// signs with a key the other loaded before it existed. A token naming such a key must verify
// (after at most a second), not be refused as unknown; a made-up kid is still refused.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { SigningKeys } from '../src/sessions/keys.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';

const dir = mkdtempSync(join(tmpdir(), 'baste-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('verifies a key another instance created just after this one loaded its keys', async () => {
  const store = openSqliteStore(join(dir, 'shared.sqlite'));
  try {
    const a = new SigningKeys(store, Date.now, 60_000);
    const b = new SigningKeys(store, Date.now, 60_000);
    await a.init(); // creates the first key and loads it
    await store.rotateSigningKey({ kid: 'from-b', secret: Buffer.alloc(64, 1).toString('base64'), createdAt: Date.now(), retiredAt: null });
    await b.init(); // finds b's key active
    const signedByB = await b.signingKey();
    assert.equal(signedByB.kid, 'from-b');
    const started = Date.now();
    assert.ok(await a.verificationKey('from-b'), 'a key created after the last load is found');
    assert.ok(Date.now() - started < 1500);
    // a's own key, retired by b's, still verifies on both (grace period).
    const ownKid = (await a.signingKey()).kid;
    assert.ok(await b.verificationKey(ownKid));
    assert.equal(await a.verificationKey('made-up'), null);
  } finally {
    await store.close();
  }
});
