// Partition-Based Sync permissions (2020–2022 exports): `config.sync` of a mongodb-atlas service
// (`services/<svc>/config.json`, realm-cli 20200603) or `sync/config.json` (20210101):
//   { "state": "enabled", "partition": { "key": "_partition", "type": "string",
//     "permissions": { "read": Expr, "write": Expr } } }
// (some exports put `permissions` beside `partition`). Baste serves no Sync, but on the platform
// these permissions were the data access rules of the whole cluster: "{+service+} enforces data
// access rules for all requests to a synced cluster … If sync is enabled for a cluster, any
// non-sync rules defined for the cluster do not apply" (sync/data-access-patterns/permissions.txt,
// "Non-Sync Rules"), and "You define a partition key whose value determines whether the user can
// read or write a document" (reference/partition-based-sync.txt). So a data service request is
// judged per document, with `%%partition` the document's partition key value:
// * `write` holds → the user reads and writes the whole document (inserts and deletes too);
//   "write permissions require read permissions" (Partition-Based Sync Rule Behavior);
// * else `read` holds → the user reads the whole document;
// * else the document does not exist for the user.
// That is two roles, tried in order, with `%%partition` rewritten to `%%root.<key>`: an update
// must leave the document in a partition the user may write (a role's apply_when must still hold
// after a write), and the pushed-down prefilter narrows reads by the partition key.

import type { PartitionSyncConfig, RoleConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, type Warn } from './check.js';
import { NOT_SUPPORTED_MESSAGE } from './features.js';

/** `state` as exports spell it: "enabled" (realm-cli), true (some docs), "disabled" / "" / false. */
const enabled = (state: unknown) => state === 'enabled' || state === true;

/** `%%partition` (and `%%partition.<path>`) in keys and values, as `%%root.<key>`. */
export function partitionToRoot(expr: unknown, key: string): unknown {
  const swap = (s: string) => (s === '%%partition' || s.startsWith('%%partition.') ? `%%root.${key}${s.slice('%%partition'.length)}` : s);
  if (typeof expr === 'string') return swap(expr);
  if (Array.isArray(expr)) return expr.map((e) => partitionToRoot(e, key));
  if (!isObject(expr)) return expr;
  return Object.fromEntries(Object.entries(expr).map(([k, v]) => [swap(k), partitionToRoot(v, key)]));
}

function roles(key: string, read: unknown, write: unknown): RoleConfig[] {
  const whole = { search: true, fields: {}, additionalFields: { read: false, write: false } };
  return [
    { name: 'sync-write', applyWhen: partitionToRoot(write, key), read: true, write: true, insert: true, delete: true, ...whole },
    { name: 'sync-read', applyWhen: partitionToRoot(read, key), read: true, write: false, insert: false, delete: false, ...whole },
  ];
}

/**
 * The Partition-Based Sync permissions in `sync` (the object holding `state` and `partition`),
 * when Sync is enabled with them; undefined otherwise. `sync` is read from `fields.file`.
 */
export function readPartitionSync(sync: Fields): PartitionSyncConfig | undefined {
  if (!enabled(sync.raw('state'))) return undefined;
  const partition = sync.nested('partition');
  if (!partition) return undefined; // Flexible Sync: the collection roles apply
  const key = partition.string('key');
  if (!key) throw partition.refuse('key', 'must name the partition key field');
  const permissions = partition.nested('permissions') ?? sync.nested('permissions');
  // No permissions at all: nobody but the system user may read or write (the platform's default was false).
  const read = permissions?.raw('read') ?? false;
  const write = permissions?.raw('write') ?? false;
  return { key, read, write, roles: roles(key, read, write), file: sync.file };
}

/** The one warning for Sync found enabled with partition permissions: what is ignored, and what applies. */
export function warnPartitionSync(sync: Fields, config: PartitionSyncConfig, ignoredRuleFiles: readonly string[], warn: Warn): void {
  const roles = ignoredRuleFiles.length
    ? `; the collection roles of ${ignoredRuleFiles.join(', ')} do not apply, as on the platform (their schemas still check writes)`
    : '';
  warn(
    sync.file,
    `${sync.prefix || 'sync'}: Sync is not served by Baste; its partition permissions (read and write over %%partition, ` +
      `the document's "${config.key}") govern every data service request to this cluster${roles}`,
  );
}

/** `sync/config.json` (20210101 layout): Partition-Based Sync of the data source it names. */
export interface SyncFolder {
  readonly serviceName?: string;
  readonly config: PartitionSyncConfig;
}

/**
 * Reads `sync/`: with Partition-Based Sync enabled, its permissions for the data source to attach
 * them to (load.ts); otherwise (Flexible Sync, disabled) one warning that Sync is ignored.
 */
export async function readSyncFolder(dir: AppDir, warn: Warn): Promise<SyncFolder | undefined> {
  if (!(await dir.isDir('sync'))) return undefined;
  const file = 'sync/config.json';
  const fields = (await dir.isFile(file)) ? new Fields(file, asObject(await dir.readJson(file), file)) : undefined;
  const config = fields && readPartitionSync(fields);
  if (!fields || !config) {
    warn('sync', NOT_SUPPORTED_MESSAGE);
    return undefined;
  }
  const serviceName = fields.string('service_name');
  warn(
    file,
    `Sync is not served by Baste; its partition permissions (read and write over %%partition, the document's "${config.key}") ` +
      `govern every data service request to ${serviceName ? `"${serviceName}"` : 'the synced data source'}, whose collection roles do not apply, as on the platform`,
  );
  return { serviceName, config };
}
