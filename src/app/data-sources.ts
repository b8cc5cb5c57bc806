// MongoDB data sources with their collection rules and schemas: `data_sources/<svc>/` (20210101;
// schema in `<db>/<coll>/schema.json`) or `services/<svc>/` of type mongodb-atlas / mongodb (older
// layouts; schema inside the rule file, or Stitch v1 rules, see legacy-rules.ts). Other service types in
// `services/` are third-party services (services.ts; their incoming webhooks are read by endpoints.ts).

import { ConfigError } from '../errors.js';
import type { CollectionRules, DataSourceConfig, FieldRule, FilterConfig, PartitionSyncConfig, RoleConfig } from './model.js';
import { readPartitionSync, warnPartitionSync } from './partition-sync.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, typeName, type JsonObject, type Warn } from './check.js';
import { compileSchema, isEmptySchema, SchemaError } from '../rules/schema.js';
import { isStitchV1Rule, translateStitchV1Rule } from './legacy-rules.js';

const MONGO_TYPES = new Set(['mongodb-atlas', 'mongodb']);

function readPermission(f: Fields, key: string): { read?: unknown; write?: unknown } | undefined {
  const p = f.nested(key);
  return p && { read: p.raw('read'), write: p.raw('write') };
}

/** `fields` of a role or of a field: name → {read, write, fields, additional_fields}, nested as deep as the documents are. */
function readFieldRules(f: Fields, key: string): Record<string, FieldRule> {
  const out: Record<string, FieldRule> = {};
  for (const [name, raw] of Object.entries(f.object(key) ?? {})) {
    const path = f.path(`${key}.${name}`);
    if (!isObject(raw)) throw new ConfigError(f.file, path, `must be an object, not ${typeName(raw)}`);
    const ff = new Fields(f.file, raw, path);
    out[name] = {
      read: ff.raw('read'),
      write: ff.raw('write'),
      ...(ff.has('fields') ? { fields: readFieldRules(ff, 'fields') } : {}),
      ...(ff.has('additional_fields') ? { additionalFields: readPermission(ff, 'additional_fields') } : {}),
    };
  }
  return out;
}

function readRole(raw: unknown, file: string, path: string): RoleConfig {
  if (!isObject(raw)) throw new ConfigError(file, path, `must be an object, not ${typeName(raw)}`);
  const f = new Fields(file, raw, path);
  const name = f.string('name') ?? '';
  if (name.length > 100) throw f.refuse('name', 'must be at most 100 characters');
  const additional = f.object('additional_fields') ?? {};
  return {
    name,
    applyWhen: f.raw('apply_when') ?? {},
    read: f.raw('read') ?? false,
    write: f.raw('write') ?? false,
    insert: f.raw('insert') ?? true,
    delete: f.raw('delete') ?? true,
    search: f.raw('search') ?? true,
    fields: readFieldRules(f, 'fields'),
    additionalFields: { read: additional.read ?? false, write: additional.write ?? false },
    documentFilters: f.object('document_filters') as RoleConfig['documentFilters'],
  };
}

function readFilter(raw: unknown, file: string, path: string): FilterConfig {
  if (!isObject(raw)) throw new ConfigError(file, path, `must be an object, not ${typeName(raw)}`);
  const f = new Fields(file, raw, path);
  return {
    name: f.string('name') ?? '',
    applyWhen: f.raw('apply_when') ?? {},
    query: f.object('query') ?? {},
    // The docs spell it `projection`, one example `project`: accept both.
    projection: f.object('projection') ?? f.object('project') ?? {},
  };
}

/**
 * A collection schema, checked now so a bad one fails the load naming its place; keywords Baste
 * does not enforce are warned about. Empty schemas (`{}`, a title alone) are none.
 */
function readSchema(raw: unknown, file: string, field: string | undefined, warn: Warn): JsonObject | undefined {
  if (raw === undefined || raw === null || isEmptySchema(raw)) return undefined;
  if (!isObject(raw)) throw new ConfigError(file, field, `must be a schema object, not ${typeName(raw)}`);
  const schema = acceptBooleanAlias(raw, file, field ?? '', warn);
  try {
    const { ignored } = compileSchema(schema);
    for (const path of ignored) warn(file, `${field ? `${field}.` : ''}${path}: schema keyword not enforced by Baste (ignored)`);
  } catch (err) {
    if (err instanceof SchemaError) throw new ConfigError(file, [field, err.path].filter(Boolean).join('.') || undefined, err.reason);
    throw err;
  }
  return schema;
}

/**
 * The platform accepted `bsonType: "boolean"` (JSON Schema's spelling of BSON's `bool`) and real
 * schemas use it: read it as `bool`, with a warning at each place.
 */
function acceptBooleanAlias(node: JsonObject, file: string, path: string, warn: Warn): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    const here = path ? `${path}.${key}` : key;
    if (key === 'bsonType' && (value === 'boolean' || (Array.isArray(value) && value.includes('boolean')))) {
      warn(file, `${here}: "boolean" read as "bool"`);
      out[key] = Array.isArray(value) ? value.map((t) => (t === 'boolean' ? 'bool' : t)) : 'bool';
    } else if (isObject(value)) out[key] = acceptBooleanAlias(value, file, here, warn);
    else if (Array.isArray(value)) out[key] = value.map((v, i) => (isObject(v) ? acceptBooleanAlias(v, file, `${here}[${i}]`, warn) : v));
    else out[key] = value;
  }
  return out;
}

/**
 * What else a collection folder holds: `relationships.json` (GraphQL relationships; realm-cli writes
 * `{}` when there are none) and anything unknown, each said once.
 */
async function warnOtherCollectionFiles(dir: AppDir, collPath: string, warn: Warn): Promise<void> {
  for (const entry of await dir.list(collPath)) {
    if (entry.name.startsWith('.') || entry.name === 'rules.json' || entry.name === 'schema.json') continue;
    if (entry.name === 'relationships.json' && entry.kind === 'file') {
      const doc = await dir.readJson(entry.path);
      if (isObject(doc) && Object.keys(doc).length === 0) continue;
      warn(entry.path, 'relationships are used by GraphQL, which Baste does not serve (ignored)');
      continue;
    }
    warn(entry.path, 'unknown file or folder (ignored)');
  }
}

/**
 * Sync configured inside a data source (2020-era exports): not served, so said once. With
 * Partition-Based Sync enabled its permissions become the cluster's rules (partition-sync.ts).
 */
function readSync(config: Fields, collections: ReadonlyMap<string, CollectionRules>, warn: Warn): PartitionSyncConfig | undefined {
  const sync = config.raw('sync');
  if (!isObject(sync) || Object.keys(sync).length === 0 || sync.state === '' || sync.state === 'disabled' || sync.state === false) return undefined;
  const fields = config.nested('sync')!;
  const partition = readPartitionSync(fields);
  if (partition) {
    warnPartitionSync(fields, partition, rulesWithRoles(collections), warn);
    return partition;
  }
  warn(config.file, `${config.path('sync')}: Sync is not supported by Baste (ignored); clients reach the data through the data service, under these rules`);
  return undefined;
}

/** The rule files whose roles Partition-Based Sync permissions replace. */
export const rulesWithRoles = (collections: ReadonlyMap<string, CollectionRules>): string[] =>
  [...collections.values()].filter((c) => c.roles.length > 0).map((c) => c.file);

interface RulesDoc {
  readonly roles: RoleConfig[];
  readonly filters: FilterConfig[];
  readonly schema?: JsonObject;
  readonly database?: string;
  readonly collection?: string;
  readonly readableQueries?: boolean;
}

function readRulesDoc(doc: unknown, file: string, warn: Warn): RulesDoc {
  const f = new Fields(file, asObject(doc, file));
  // Stitch v1 rules (read/write/valid per document and field) become a role, filters and a schema.
  if (isStitchV1Rule(f.doc)) {
    const v1 = translateStitchV1Rule(f.doc, file);
    return { ...v1, schema: readSchema(v1.schema, file, undefined, warn), readableQueries: true };
  }
  return {
    roles: (f.array('roles') ?? []).map((r, i) => readRole(r, file, `roles[${i}]`)),
    filters: (f.array('filters') ?? []).map((r, i) => readFilter(r, file, `filters[${i}]`)),
    schema: readSchema(f.raw('schema'), file, 'schema', warn),
    database: f.string('database'),
    collection: f.string('collection'),
  };
}

async function readDefault(dir: AppDir, file: string, warn: Warn): Promise<DataSourceConfig['defaultRules']> {
  if (!(await dir.isFile(file))) return undefined;
  const { roles, filters, schema, readableQueries } = readRulesDoc(await dir.readJson(file), file, warn);
  // Default rules are roles and filters; a schema belongs to one collection.
  if (schema) warn(file, 'schema: a schema in the default rules is not applied (ignored)');
  return { roles, filters, file, ...(readableQueries ? { readableQueries } : {}) };
}

export async function loadDataSources(dir: AppDir, warn: Warn): Promise<Map<string, DataSourceConfig>> {
  const sources = new Map<string, DataSourceConfig>();
  const add = (source: DataSourceConfig, file: string) => {
    if (sources.has(source.name)) throw new ConfigError(file, 'name', `data source "${source.name}" is defined twice`);
    sources.set(source.name, source);
  };

  // 20210101: data_sources/<svc>/{config.json, default_rule.json, <db>/<coll>/rules.json}
  for (const svc of await dir.list('data_sources')) {
    if (svc.kind !== 'dir' || svc.name.startsWith('.')) continue;
    const configFile = `${svc.path}/config.json`;
    const f = new Fields(configFile, (await dir.isFile(configFile)) ? asObject(await dir.readJson(configFile), configFile) : {});
    const type = f.string('type') ?? 'mongodb-atlas';
    const name = f.string('name') ?? svc.name;
    if (!MONGO_TYPES.has(type)) {
      warn(svc.path, `${type} data sources are not served by Baste (ignored)`);
      continue;
    }
    const collections = new Map<string, CollectionRules>();
    for (const db of await dir.list(svc.path)) {
      if (db.kind !== 'dir' || db.name.startsWith('.')) continue;
      for (const coll of await dir.list(db.path)) {
        if (coll.kind !== 'dir' || coll.name.startsWith('.')) continue;
        const rulesFile = `${coll.path}/rules.json`;
        const schemaFile = `${coll.path}/schema.json`;
        await warnOtherCollectionFiles(dir, coll.path, warn);
        const hasRules = await dir.isFile(rulesFile);
        const fileSchema = (await dir.isFile(schemaFile)) ? readSchema(await dir.readJson(schemaFile), schemaFile, undefined, warn) : undefined;
        const rules: RulesDoc = hasRules ? readRulesDoc(await dir.readJson(rulesFile), rulesFile, warn) : { roles: [], filters: [] };
        if (fileSchema && rules.schema) throw new ConfigError(rulesFile, 'schema', `the collection schema is also in ${schemaFile}: keep one`);
        const schema = fileSchema ?? rules.schema;
        // A schema without rules still applies, under the data source's default roles.
        if (!hasRules && !schema) continue;
        const database = rules.database ?? db.name;
        const collection = rules.collection ?? coll.name;
        collections.set(`${database}.${collection}`, {
          database,
          collection,
          roles: rules.roles,
          filters: rules.filters,
          ...(schema ? { schema } : {}),
          ...(rules.readableQueries ? { readableQueries: true } : {}),
          file: hasRules ? rulesFile : schemaFile,
        });
      }
    }
    const fc = f.nested('config') ?? new Fields(configFile, {}, 'config');
    const partitionSync = readSync(fc, collections, warn);
    add({ name, type, uri: fc.string('uri'), defaultRules: await readDefault(dir, `${svc.path}/default_rule.json`, warn), collections, ...(partitionSync ? { partitionSync } : {}) }, configFile);
  }

  // Older layouts: services/<svc>/{config.json, rules/<db>.<coll>.json, default_rule.json}
  for (const svc of await dir.list('services')) {
    if (svc.kind !== 'dir' || svc.name.startsWith('.')) continue;
    const configFile = `${svc.path}/config.json`;
    if (!(await dir.isFile(configFile))) continue;
    const f = new Fields(configFile, asObject(await dir.readJson(configFile), configFile));
    const type = f.string('type') ?? '';
    // Other types are third-party services: services.ts reads and reports them.
    if (!MONGO_TYPES.has(type)) continue;
    const collections = new Map<string, CollectionRules>();
    for (const entry of await dir.list(`${svc.path}/rules`)) {
      if (entry.kind !== 'file' || !entry.name.endsWith('.json')) continue;
      const rules = readRulesDoc(await dir.readJson(entry.path), entry.path, warn);
      const [dbFromName, ...rest] = entry.name.slice(0, -'.json'.length).split('.');
      const database = rules.database ?? dbFromName ?? '';
      const collection = rules.collection ?? rest.join('.');
      if (!database || !collection) throw new ConfigError(entry.path, 'database', 'must name the database and collection (or the file must be <db>.<coll>.json)');
      collections.set(`${database}.${collection}`, {
        database,
        collection,
        roles: rules.roles,
        filters: rules.filters,
        ...(rules.schema ? { schema: rules.schema } : {}),
        ...(rules.readableQueries ? { readableQueries: true } : {}),
        file: entry.path,
      });
    }
    const fc = f.nested('config') ?? new Fields(configFile, {}, 'config');
    const partitionSync = readSync(fc, collections, warn);
    add(
      { name: f.string('name') ?? svc.name, type, uri: fc.string('uri'), defaultRules: await readDefault(dir, `${svc.path}/default_rule.json`, warn), collections, ...(partitionSync ? { partitionSync } : {}) },
      configFile,
    );
  }
  return sources;
}
