// The schema Baste's tables go in, and the claim of that schema by one app (src/store/owner.ts),
// shared by the store and the document engine. Both run inside the transaction that creates
// their tables, so a refusal leaves the database as it was.

import type pg from 'pg';
import { mustClaim, OWNER_TABLE, postgresFix, type DatabaseOwner } from '../owner.js';

/** Advisory lock key class for claims ('bown'); the second half is the schema. */
const OWNER_LOCK_CLASS = 0x626f776e;

/**
 * The schema tables are created in, created when missing, under an advisory lock of class
 * `lockClass` keyed by its name (held until the transaction ends). Without `explicit`, that is
 * the connection's current schema, or, when its search_path names only schemas that do not exist
 * yet (a connection string with `?options=-c search_path=app_b`), the first of them.
 */
export async function prepareSchema(c: pg.PoolClient, lockClass: number, explicit: string | undefined): Promise<string> {
  let name = explicit;
  let create = explicit !== undefined;
  if (name === undefined) {
    const { rows } = await c.query<{ s: string | null; path: string }>("SELECT current_schema() AS s, current_setting('search_path') AS path");
    const row = rows[0]!;
    name = row.s ?? searchPathSchemas(row.path).find((s) => s !== '$user');
    if (name === undefined) throw new Error(`no schema to create tables in (search_path is '${row.path}')`);
    create = row.s === null;
  }
  await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [lockClass, name]);
  if (create) await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(name)}`);
  return name;
}

/** The names of a search_path setting (`"$user", public`, `"My App", x`), unquoted. */
export function searchPathSchemas(path: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/gy;
  for (let m = re.exec(path); m && m[0] !== ''; m = re.exec(path)) out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!.toLowerCase());
  return out;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Claims `schema` for `owner`, or throws DatabaseOwnedError when another app holds it. A schema
 * written before owners were recorded is claimed only when the users it holds, if any, are this
 * app's (see mustClaim); documents alone carry nothing that names their app.
 */
export async function claimSchema(c: pg.PoolClient, schema: string, owner: DatabaseOwner): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [OWNER_LOCK_CLASS, schema]);
  await c.query(OWNER_TABLE);
  const recorded = (await c.query<{ app_id: string }>('SELECT app_id FROM baste_owner')).rows[0]?.app_id;
  let legacy: 'empty' | 'ours' | 'foreign' = 'empty';
  const identities = async () =>
    (await c.query<{ t: string | null }>("SELECT to_regclass(format('%I.identities', $1::text)) AS t", [schema])).rows[0]?.t != null;
  if (recorded === undefined && (await identities())) {
    const table = `${quoteIdent(schema)}.identities`;
    const { rows } = await c.query<{ any: boolean; ours: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${table}) AS any, EXISTS (SELECT 1 FROM ${table} WHERE provider_id = ANY($1::text[])) AS ours`,
      [owner.providerIds],
    );
    legacy = rows[0]!.ours ? 'ours' : rows[0]!.any ? 'foreign' : 'empty';
  }
  const database = (await c.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
  const place = { what: `PostgreSQL database "${database}" (schema "${schema}")`, fix: postgresFix(owner.appId) };
  if (mustClaim(owner, recorded, legacy, place)) {
    await c.query('INSERT INTO baste_owner (singleton, app_id, claimed_at) VALUES (1, $1, $2)', [owner.appId, Date.now()]);
  }
}
