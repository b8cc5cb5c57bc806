// PostgreSQL for tests: BASTE_TEST_DATABASE_URL names a database the tests may create schemas
// and databases from (e.g. postgres://postgres@127.0.0.1:5432/baste_test). Without it the
// PostgreSQL tests are skipped, saying so.

import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.BASTE_TEST_DATABASE_URL || undefined;

/** For `describe(..., { skip })`: false when PostgreSQL tests can run, otherwise why `what` does not. */
export const skipWithoutPostgres = (what: string): false | string =>
  TEST_DATABASE_URL ? false : `BASTE_TEST_DATABASE_URL not set: ${what} skipped`;

/** A name no other test run uses: `<prefix>_<pid>_<random>`. */
export const uniqueName = (prefix: string) => `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;

/** Runs one statement on the test database with a short-lived connection. */
export async function adminQuery(sql: string, params: unknown[] = [], url = TEST_DATABASE_URL): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** Creates an empty database next to the test database (`<its name>_<pid>_<random>`); `drop()` removes it (closing what still uses it). */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('BASTE_TEST_DATABASE_URL is not set');
  const url = new URL(TEST_DATABASE_URL);
  // Named after the test database, so runs sharing a server each keep to their own prefix.
  const name = uniqueName(decodeURIComponent(url.pathname.slice(1)).slice(0, 40) || 'baste_db');
  await adminQuery(`CREATE DATABASE "${name}"`);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}
