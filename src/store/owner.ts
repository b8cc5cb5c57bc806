// Which app a database holds. Nothing in the store or the document tables says which app a row
// belongs to, so two apps on one database (or one data directory) would accept each other's
// tokens, API keys and admin tokens and read each other's documents. Instead of namespacing
// every row, a database records its app in `baste_owner` (one row, claimed by the first app to
// open it, in the transaction that creates or migrates it) and refuses every other app.

import type { AppConfig } from '../app/model.js';

export interface DatabaseOwner {
  /** The client app id, the one thing two apps never share. */
  readonly appId: string;
  /**
   * Ids of the app's auth providers (disabled ones too). Every identity records the id of the
   * provider that created it, and a provider id is the export's own id or derived from the app
   * id, so a database written before the owner row existed shows whose users it holds.
   */
  readonly providerIds: readonly string[];
}

export const ownerOf = (app: AppConfig): DatabaseOwner => ({
  appId: app.appId,
  providerIds: [...app.providers.values()].map((p) => p.id),
});

/** One row at most (`singleton` can only be 1). Same text on SQLite and PostgreSQL. */
export const OWNER_TABLE = `CREATE TABLE IF NOT EXISTS baste_owner (
  singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
  app_id     TEXT NOT NULL,
  claimed_at BIGINT NOT NULL
)`;

/** Where the data is, for the refusal: what was opened and how another app gets a place of its own. */
export interface OwnerPlace {
  /** E.g. `PostgreSQL database "baste" (schema "public")`, `data directory /srv/a`. */
  readonly what: string;
  /** What the refused app should do instead. */
  readonly fix: string;
}

/** Opening a database that holds another app's data. The message is one line, for the console. */
export class DatabaseOwnedError extends Error {
  override readonly name = 'DatabaseOwnedError';
  constructor(message: string) {
    super(message);
  }
}

/**
 * Decides whether `owner` may use a database whose owner row says `recorded` (undefined: no
 * row). Without a row, `legacy` tells what the existing rows show: `foreign` when there are
 * identities and none of them comes from one of the app's providers. Returns true when the
 * caller must write the owner row; throws DatabaseOwnedError when the app must not start.
 */
export function mustClaim(owner: DatabaseOwner, recorded: string | undefined, legacy: 'empty' | 'ours' | 'foreign', place: OwnerPlace): boolean {
  if (recorded === owner.appId) return false;
  if (recorded !== undefined) {
    throw new DatabaseOwnedError(`the ${place.what} holds the data of app '${recorded}', not of app '${owner.appId}'; apps cannot share one: ${place.fix}`);
  }
  if (legacy === 'foreign') {
    throw new DatabaseOwnedError(
      `the ${place.what} holds users from auth providers that app '${owner.appId}' does not have (another app's data?); ${place.fix}` +
        ` (if the data is this app's, record that with: ${OWNER_TABLE.replace(/\s+/g, ' ')}; INSERT INTO baste_owner VALUES (1, '${owner.appId}', 0))`,
    );
  }
  return true;
}

/** A schema name an app id suggests (unquoted identifiers: lower case, letters, digits, `_`). */
export const schemaFor = (appId: string) => `app_${appId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);

/** The fix to offer on PostgreSQL: a database or a schema of the app's own. */
export const postgresFix = (appId: string) =>
  `give app '${appId}' a database of its own, or a schema of its own through its connection string, e.g. ?options=-c%20search_path%3D${schemaFor(appId)}`;
