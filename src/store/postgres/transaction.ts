// The one way the PostgreSQL store runs a transaction of several statements: on one pooled
// connection, run again from the start when it lost a race rather than failed on its own terms.

import type pg from 'pg';

/** Attempts of a transaction (or of loginIdentity's statement) before its last error is thrown. */
export const MAX_ATTEMPTS = 5;

/** Aborts that a new attempt, with a new snapshot, may not meet again. */
const RETRYABLE = new Set(['40001' /* serialization_failure */, '40P01' /* deadlock_detected */]);
const UNIQUE_VIOLATION = '23505';

/**
 * Thrown inside a transaction whose reads a concurrent commit made stale without PostgreSQL
 * noticing (READ COMMITTED): the transaction is run again.
 */
export class StaleRead extends Error {}

export interface TransactionOptions {
  /**
   * Also run again on unique_violation: for a transaction that checks for a row before inserting
   * it, where the violation means a concurrent one inserted it after the check (the next attempt
   * sees it).
   */
  readonly retryUniqueViolation?: boolean;
}

export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = await pool.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch((e: Error) => {
        broken = e; // the connection is unusable: let the pool discard it
      });
      const code = (err as { code?: unknown } | null)?.code;
      const again = err instanceof StaleRead || RETRYABLE.has(code as string) || (opts.retryUniqueViolation === true && code === UNIQUE_VIOLATION);
      if (attempt < MAX_ATTEMPTS && again) {
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
        continue;
      }
      throw err;
    } finally {
      c.release(broken);
    }
  }
}
