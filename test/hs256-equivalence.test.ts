// The hand-written HS256 fast path must decide every token exactly as jose would: run the
// differential check (crafted tokens plus thousands of random mutations) as part of the suite.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';

it('the access-token fast path agrees with jose on every token it decides', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'hs256-equivalence.ts')], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /agrees with jose on \d+ crafted tokens and \d+ mutated tokens/);
});
