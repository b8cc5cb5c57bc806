// Password hashing with argon2id (OWASP: 19 MiB, 2 passes, 1 lane). @node-rs/argon2 runs off
// the event loop. Verifying an unknown account runs against a fixed dummy hash so that an
// unknown email and a wrong password cost the same time. Hashes imported from other systems
// (password-imports.ts) verify too, and ask to be replaced by an argon2id one (needsRehash).

import { hash, verify } from '@node-rs/argon2';
import { isForeignHash, verifyForeignHash } from './password-imports.js';

const OPTIONS = { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
/** The parameters OPTIONS produce, as an encoded hash spells them. */
const CURRENT = `$argon2id$v=19$m=${OPTIONS.memoryCost},t=${OPTIONS.timeCost},p=${OPTIONS.parallelism}$`;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** Spends the time of a verification and returns false. */
  verifyNothing(password: string): Promise<false>;
  /** True for a hash not made with the current settings (imported, or older parameters): rehash after a successful login. */
  needsRehash(passwordHash: string): boolean;
}

export function argon2Hasher(): PasswordHasher {
  let dummy: Promise<string> | null = null;
  const check = async (passwordHash: string, password: string) => {
    if (isForeignHash(passwordHash)) return verifyForeignHash(passwordHash, password);
    try {
      return await verify(passwordHash, password);
    } catch {
      return false; // a corrupt hash must fail closed, not throw a 500
    }
  };
  return {
    hash: (password) => hash(password, OPTIONS),
    verify: check,
    async verifyNothing(password) {
      dummy ??= hash('baste-dummy-password', OPTIONS);
      await check(await dummy, password);
      return false;
    },
    needsRehash: (passwordHash) => !passwordHash.startsWith(CURRENT),
  };
}
