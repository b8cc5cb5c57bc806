// MongoDB for tests: BASTE_TEST_MONGODB_URI names a server (a replica set exercises transactions;
// a standalone server works too) where tests may create and drop databases. Every run keeps its
// databases under a prefix of its own and drops them afterwards. Without it the MongoDB tests are
// skipped, saying so.

import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';

export const TEST_MONGODB_URI = process.env.BASTE_TEST_MONGODB_URI || undefined;

/** For `describe(..., { skip })`: false when MongoDB tests can run, otherwise why `what` does not. */
export const skipWithoutMongo = (what: string): false | string =>
  TEST_MONGODB_URI ? false : `BASTE_TEST_MONGODB_URI not set: ${what} skipped`;

/** A database name prefix no other run uses (database names stay well under 64 bytes). */
export const uniqueDatabasePrefix = () => `bt${process.pid}${randomBytes(3).toString('hex')}_`;

/** Drops every database whose name starts with the prefix. */
export async function dropDatabases(prefix: string, uri = TEST_MONGODB_URI): Promise<void> {
  if (!uri) return;
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
    for (const { name } of databases) if (name.startsWith(prefix)) await client.db(name).dropDatabase();
  } finally {
    await client.close();
  }
}
