// In-process cache of findSessionWithUser for the embedded store: every token-authenticated request
// reads its session, user and identities, three statements that cost more than the rest of a
// profile request. SQLite only: PostgreSQL is shared by several instances, and this cache can only
// see the writes of its own process and of other connections to the same file.
//
// Revocation must stay immediate, so the cache never serves anything older than the last commit:
// - the store clears it whenever one of its own writes runs (SqliteStore.write);
// - every lookup reads `PRAGMA data_version`, which changes when another connection (the CLI, any
//   process) has committed to the file since the last read, and clears it then. The version is
//   read before the rows that fill an entry, so an entry never claims a newer version than its rows.
// No write bypasses SqliteStore.write: migrations run before the store (and its cache) exists.

import { deepFreeze } from '../../util/deep-freeze.js';
import type { ActiveSession, UserRecord } from '../store.js';

export interface SessionWithUser {
  readonly active: ActiveSession;
  readonly user: UserRecord;
}

export class SessionCache {
  /** Successful lookups only: a miss is never cached (a session id may be created after it). */
  private readonly entries = new Map<string, SessionWithUser>();
  private dataVersion: number;

  /** `dataVersion` reads `PRAGMA data_version` on the store's connection. */
  constructor(
    private readonly readDataVersion: () => number,
    private readonly maxEntries = 10_000,
  ) {
    this.dataVersion = readDataVersion();
  }

  /** The entry, unless another connection has committed since it was stored. Call before reading rows to fill it. */
  get(sessionId: string): SessionWithUser | undefined {
    const version = this.readDataVersion();
    if (version !== this.dataVersion) {
      this.entries.clear();
      this.dataVersion = version;
      return undefined;
    }
    return this.entries.get(sessionId);
  }

  /** Stores a lookup read right after a `get` that missed; returns it frozen (later callers get the same objects). */
  set(sessionId: string, value: SessionWithUser): SessionWithUser {
    // Bounded by insertion order: the oldest entry goes, hit or not. Cheap, and a session evicted
    // while still in use only costs one read to come back.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    deepFreeze(value);
    this.entries.set(sessionId, value);
    return value;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
