// Password hashes made by other systems, accepted by `baste users import` (`password_hash`) so
// users moving from them keep their passwords. Each is verified at the first login and then
// replaced by Baste's own argon2id hash (PasswordHasher.needsRehash). Stored forms:
//   argon2 (PHC string)   $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>   (also argon2i / argon2d)
//   bcrypt                $2a$ / $2b$ / $2y$<cost>$<salt+hash>
//   scrypt (PHC string)   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>   (base64, padding optional)
//   Firebase's scrypt     $firebase-scrypt$m=<mem_cost>,r=<rounds>$<salt>$<salt separator>$<signer key>$<hash>
// A Firebase export gives each user's `passwordHash` and `salt` and the project's hash parameters
// apart: the import takes them together as an object (see importPasswordHash).

import { createCipheriv, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import bcrypt from 'bcryptjs';

const scrypt = (password: string | Buffer, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCallback(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** scrypt's memory use is 128·N·r bytes: allow what real parameters need (N = 2^17, r = 8 is 128 MiB), refuse more. */
const SCRYPT_MAXMEM = 256 * 1024 * 1024;
const B64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

const b64 = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

const ARGON2 = /^\$argon2(id|i|d)\$(v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const SCRYPT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/_-]+={0,2})\$([A-Za-z0-9+/_-]+={0,2})$/;
const FIREBASE = /^\$firebase-scrypt\$m=(\d{1,2}),r=(\d{1,3})\$([^$]+)\$([^$]+)\$([^$]+)\$([^$]+)$/;

/** Whether a stored hash is one of the foreign forms above (verified here, not by argon2). */
export const isForeignHash = (stored: string): boolean => BCRYPT.test(stored) || SCRYPT.test(stored) || FIREBASE.test(stored);

function checkScryptCost(log2n: number, r: number, p: number): string | null {
  if (log2n < 1 || log2n > 20 || r < 1 || r > 32 || p < 1 || p > 16) return 'scrypt parameters out of range (ln 1..20, r 1..32, p 1..16)';
  if (128 * 2 ** log2n * r > SCRYPT_MAXMEM) return `scrypt parameters need more than ${SCRYPT_MAXMEM >> 20} MiB`;
  return null;
}

/**
 * `password_hash` of an imported user → the stored form, or why it cannot be used. A string in one
 * of the forms above, or Firebase's parameters as an object:
 * `{algorithm: "firebase-scrypt", hash, salt, signer_key, salt_separator, rounds, mem_cost}`
 * (the `base64_signer_key`, `base64_salt_separator`, `rounds` and `mem_cost` of the project's
 * password hash parameters, and the user's `passwordHash` and `salt`; base64 as Firebase gives them).
 */
export function importPasswordHash(value: unknown): { hash: string } | { error: string } {
  if (typeof value === 'string') {
    if (ARGON2.test(value) || BCRYPT.test(value)) return { hash: value };
    const s = SCRYPT.exec(value);
    if (s) {
      const bad = checkScryptCost(Number(s[1]), Number(s[2]), Number(s[3]));
      if (bad) return { error: bad };
      if (b64(s[5]!).length < 16) return { error: 'the scrypt hash is shorter than 16 bytes' };
      return { hash: value };
    }
    return { error: 'not a hash Baste knows: expected argon2 ($argon2id$…), bcrypt ($2a$/$2b$/$2y$…), scrypt ($scrypt$ln=…,r=…,p=…$salt$hash) or a firebase-scrypt object' };
  }
  if (typeof value === 'object' && value !== null && (value as { algorithm?: unknown }).algorithm === 'firebase-scrypt') {
    const v = value as Record<string, unknown>;
    for (const key of ['hash', 'salt', 'signer_key', 'salt_separator'] as const) {
      if (typeof v[key] !== 'string' || !B64.test(v[key] as string)) return { error: `firebase-scrypt ${key} must be a base64 string` };
    }
    const rounds = v.rounds;
    const memCost = v.mem_cost;
    if (!Number.isInteger(rounds) || !Number.isInteger(memCost)) return { error: 'firebase-scrypt rounds and mem_cost must be integers' };
    const bad = checkScryptCost(memCost as number, rounds as number, 1);
    if (bad) return { error: bad };
    return { hash: `$firebase-scrypt$m=${memCost},r=${rounds}$${v.salt}$${v.salt_separator}$${v.signer_key}$${v.hash}` };
  }
  return { error: 'must be a hash string, or a firebase-scrypt object' };
}

const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/** Verifies a password against a foreign hash (isForeignHash); false for anything malformed. */
export async function verifyForeignHash(stored: string, password: string): Promise<boolean> {
  try {
    if (BCRYPT.test(stored)) return await bcrypt.compare(password, stored);
    const s = SCRYPT.exec(stored);
    if (s) {
      const [, ln, r, p, salt, hash] = s;
      const expected = b64(hash!);
      const key = await scrypt(password, b64(salt!), expected.length, { N: 2 ** Number(ln), r: Number(r), p: Number(p), maxmem: SCRYPT_MAXMEM });
      return sameBytes(key, expected);
    }
    const f = FIREBASE.exec(stored);
    if (f) {
      // Firebase's scrypt: the key scrypt derives (salt followed by the separator, N = 2^mem_cost,
      // r = rounds, p = 1) encrypts the project's signer key with AES-256-CTR and a zero IV; the
      // result is the stored hash (github.com/firebase/scrypt).
      const [, memCost, rounds, salt, separator, signerKey, hash] = f;
      const key = await scrypt(password, Buffer.concat([b64(salt!), b64(separator!)]), 32, { N: 2 ** Number(memCost), r: Number(rounds), p: 1, maxmem: SCRYPT_MAXMEM });
      const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
      return sameBytes(Buffer.concat([cipher.update(b64(signerKey!)), cipher.final()]), b64(hash!));
    }
  } catch {
    // a hash that cannot be computed fails closed
  }
  return false;
}
