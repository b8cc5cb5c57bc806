// Password hashing with argon2id (OWASP: 19 MiB, 2 passes, 1 lane). @node-rs/argon2 runs off
// the event loop. Verifying an unknown account runs against a fixed dummy hash so that an
// unknown email and a wrong password cost the same time.

import { hash, verify } from '@node-rs/argon2';

const OPTIONS = { algorithm: 2 /* Argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /** Spends the time of a verification and returns false. */
  verifyNothing(password: string): Promise<false>;
}

export function argon2Hasher(): PasswordHasher {
  let dummy: Promise<string> | null = null;
  const check = async (passwordHash: string, password: string) => {
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
  };
}
