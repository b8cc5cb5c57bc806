// HS256 signing keys for access tokens. Keys live in the store (so every instance sharing it
// verifies every token) and are created on first start. Rotation adds a key and retires the
// others; a retired key keeps verifying until the tokens it signed have expired.

import { randomBytes, webcrypto } from 'node:crypto';
import type { SigningKeyRecord, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { encodedHs256Header, type Hs256Key } from './hs256.js';

/**
 * Keys are imported once, as WebCrypto keys: jose turns a secret KeyObject (or raw bytes) into a
 * CryptoKey with `crypto.subtle.importKey` on every sign and verify, which halved the rate of
 * token-authenticated routes (see bench/README.md).
 */
export type HmacKey = webcrypto.CryptoKey;

export interface ActiveKey extends Hs256Key {
  readonly kid: string;
  readonly key: HmacKey;
}

/** What verifies a kid's tokens: the WebCrypto key for jose, the raw secret for the fast path (hs256.ts). */
export interface VerificationKey extends Hs256Key {
  readonly key: HmacKey;
}

const importHmacKey = (secretBase64: string): Promise<HmacKey> =>
  webcrypto.subtle.importKey('raw', Buffer.from(secretBase64, 'base64'), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);

const RELOAD_EVERY_MS = 60_000;
const UNKNOWN_KID_RELOAD_MIN_MS = 1_000;

export class SigningKeys {
  private byKid = new Map<string, { key: VerificationKey; record: SigningKeyRecord }>();
  private current: ActiveKey | null = null;
  private loadedAt = 0;
  private reloading: Promise<void> | null = null;
  private delayedReload: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** How long a retired key still verifies: the access-token lifetime. */
    private readonly graceMs: number,
  ) {}

  /** Loads the keys, creating the first one when the store has none. */
  async init(): Promise<void> {
    await this.reload();
    if (!this.current) {
      await this.store.rotateSigningKey(newKeyRecord(this.clock()));
      await this.reload();
    }
  }

  /** Whether a key to sign new tokens with is loaded (readiness). */
  get loaded(): boolean {
    return this.current !== null;
  }

  /** The key new tokens are signed with; re-read from the store once a minute to follow rotations. */
  async signingKey(): Promise<ActiveKey> {
    if (this.clock() - this.loadedAt > RELOAD_EVERY_MS) await this.reloadOnce();
    if (!this.current) throw new Error('signing keys are not loaded');
    return this.current;
  }

  /** The key for a token's `kid`, or null when unknown or retired for longer than the grace period. */
  async verificationKey(kid: string): Promise<VerificationKey | null> {
    // Another instance (or `baste keys rotate`) may have added a key since we last looked.
    if (!this.byKid.has(kid)) await this.reloadForUnknownKid();
    return this.loadedVerificationKey(kid);
  }

  /**
   * The key for `kid` as loaded now, without going to the store; null when unknown or retired past
   * its grace period. Each load makes new key objects, so comparing by identity with a key got
   * earlier also tells whether the keys were reloaded since.
   */
  loadedVerificationKey(kid: string): VerificationKey | null {
    const entry = this.byKid.get(kid);
    if (!entry) return null;
    const { retiredAt } = entry.record;
    if (retiredAt !== null && retiredAt + this.graceMs < this.clock()) return null;
    return entry.key;
  }

  /**
   * Reloads, but no sooner than UNKNOWN_KID_RELOAD_MIN_MS after the last load: a token naming a
   * key created just after that load (another instance starting at the same time, a rotation)
   * waits for the next reload instead of being refused, and made-up kids cost the store at most
   * one read a second. Callers arriving meanwhile share the wait.
   */
  private reloadForUnknownKid(): Promise<void> {
    const wait = Math.min(UNKNOWN_KID_RELOAD_MIN_MS, UNKNOWN_KID_RELOAD_MIN_MS - (this.clock() - this.loadedAt));
    if (wait <= 0) return this.reloadOnce();
    this.delayedReload ??= new Promise<void>((done) => setTimeout(done, wait)).then(() => {
      this.delayedReload = null;
      return this.reloadOnce();
    });
    return this.delayedReload;
  }

  private reloadOnce(): Promise<void> {
    this.reloading ??= this.reload().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  private async reload(): Promise<void> {
    const records = await this.store.listSigningKeys();
    const byKid = new Map<string, { key: VerificationKey; record: SigningKeyRecord }>();
    let current: ActiveKey | null = null;
    for (const record of records) {
      const key = await importHmacKey(record.secret);
      const secret = Buffer.from(record.secret, 'base64');
      byKid.set(record.kid, { key: { key, secret, header: encodedHs256Header(record.kid) }, record });
      if (record.retiredAt === null) current = { kid: record.kid, key, secret, header: encodedHs256Header(record.kid) };
    }
    this.byKid = byKid;
    this.current = current;
    this.loadedAt = this.clock();
  }
}

export function newKeyRecord(now: number): SigningKeyRecord {
  return {
    kid: randomBytes(8).toString('hex'),
    secret: randomBytes(64).toString('base64'),
    createdAt: now,
    retiredAt: null,
  };
}

/** Adds a new signing key and retires the current one (CLI `baste keys rotate`). */
export async function rotateSigningKey(store: Store, now: number): Promise<string> {
  const record = newKeyRecord(now);
  await store.rotateSigningKey(record);
  return record.kid;
}
