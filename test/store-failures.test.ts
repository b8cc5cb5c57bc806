// Which database errors are "unavailable, retry later" (503) rather than bugs (500): the shapes
// node-postgres and the SQLite driver give them, as seen in the hardening runs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { storeFailureOf } from '../src/store/failures.js';

/** A node-postgres DatabaseError as the driver builds it from the server's error message. */
const pgError = (code: string, severity: string, message: string) => Object.assign(new Error(message), { code, severity });

describe('storeFailureOf', () => {
  it('a full disk on PostgreSQL: 53100 on a write, and the FATAL of a session opened after crash recovery on the full disk', () => {
    assert.equal(storeFailureOf(pgError('53100', 'ERROR', 'could not extend file "base/16384/16412": No space left on device'))?.kind, 'unavailable');
    // Seen after the checkpointer PANICked on a full disk: XX000 is "internal error", but FATAL ended the session.
    assert.deepEqual(storeFailureOf(pgError('XX000', 'FATAL', 'could not write init file')), { kind: 'unavailable', what: 'PostgreSQL: could not write init file' });
    assert.equal(storeFailureOf(pgError('57P02', 'FATAL', 'terminating connection because of crash of another server process'))?.kind, 'unavailable');
  });

  it('an ERROR without a session-ending severity stays a bug (500), NUL text stays the request’s fault', () => {
    assert.equal(storeFailureOf(pgError('XX000', 'ERROR', 'cache lookup failed')), null);
    assert.equal(storeFailureOf(pgError('42P01', 'ERROR', 'relation "x" does not exist')), null);
    assert.equal(storeFailureOf(new Error('boom')), null);
    assert.deepEqual(storeFailureOf(pgError('22021', 'ERROR', 'invalid byte sequence for encoding "UTF8": 0x00')), { kind: 'unstorable-text' });
  });
});
