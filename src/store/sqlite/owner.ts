// The claim of an SQLite file by one app (src/store/owner.ts), for the store and the document
// engine: two apps given the same --data-dir get the same refusal as on a shared PostgreSQL.

import type Database from 'better-sqlite3';
import { mustClaim, OWNER_TABLE, type DatabaseOwner } from '../owner.js';

/**
 * Claims the file for `owner` in one immediate transaction (so two processes opening it at once
 * take turns), or throws DatabaseOwnedError, leaving the file as it was. Run before migrations.
 */
export function claimFile(db: Database.Database, file: string, owner: DatabaseOwner): void {
  db.transaction(() => {
    db.exec(OWNER_TABLE);
    const recorded = db.prepare('SELECT app_id FROM baste_owner').pluck().get() as string | undefined;
    let legacy: 'empty' | 'ours' | 'foreign' = 'empty';
    if (recorded === undefined && db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'identities'").get()) {
      const ours = db
        .prepare('SELECT EXISTS (SELECT 1 FROM identities WHERE provider_id IN (SELECT value FROM json_each(?)))')
        .pluck()
        .get(JSON.stringify(owner.providerIds));
      const any = db.prepare('SELECT EXISTS (SELECT 1 FROM identities)').pluck().get();
      legacy = ours ? 'ours' : any ? 'foreign' : 'empty';
    }
    const place = { what: `SQLite file ${file}`, fix: `give app '${owner.appId}' a data directory of its own (--data-dir)` };
    if (mustClaim(owner, recorded, legacy, place)) {
      db.prepare('INSERT INTO baste_owner (singleton, app_id, claimed_at) VALUES (1, ?, ?)').run(owner.appId, Date.now());
    }
  }).immediate();
}
