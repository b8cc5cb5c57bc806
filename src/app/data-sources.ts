// MongoDB data sources and their collection rules: `data_sources/<svc>/` (20210101) or
// `services/<svc>/` of type mongodb-atlas / mongodb (older layouts). Other service types in
// `services/` are reported as not served (their incoming webhooks are read by endpoints.ts).

import { ConfigError } from '../errors.js';
import type { CollectionRules, DataSourceConfig, FilterConfig, RoleConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, typeName, type Warn } from './check.js';

const MONGO_TYPES = new Set(['mongodb-atlas', 'mongodb']);

function readRole(raw: unknown, file: string, path: string): RoleConfig {
  if (!isObject(raw)) throw new ConfigError(file, path, `must be an object, not ${typeName(raw)}`);
  const f = new Fields(file, raw, path);
  const name = f.string('name') ?? '';
  if (name.length > 100) throw f.refuse('name', 'must be at most 100 characters');
  const fields = f.object('fields') ?? {};
  const additional = f.object('additional_fields') ?? {};
  return {
    name,
    applyWhen: f.raw('apply_when') ?? {},
    read: f.raw('read') ?? false,
    write: f.raw('write') ?? false,
    insert: f.raw('insert') ?? true,
    delete: f.raw('delete') ?? true,
    search: f.raw('search') ?? true,
    fields: fields as RoleConfig['fields'],
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

function readRulesDoc(doc: unknown, file: string): { roles: RoleConfig[]; filters: FilterConfig[]; hasSchema: boolean; fields: Fields } {
  const f = new Fields(file, asObject(doc, file));
  return {
    roles: (f.array('roles') ?? []).map((r, i) => readRole(r, file, `roles[${i}]`)),
    filters: (f.array('filters') ?? []).map((r, i) => readFilter(r, file, `filters[${i}]`)),
    hasSchema: f.has('schema') && Object.keys(f.object('schema') ?? {}).length > 0,
    fields: f,
  };
}

async function readDefault(dir: AppDir, file: string): Promise<DataSourceConfig['defaultRules']> {
  if (!(await dir.isFile(file))) return undefined;
  const { roles, filters } = readRulesDoc(await dir.readJson(file), file);
  return { roles, filters };
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
        if (await dir.isFile(`${coll.path}/schema.json`)) warn(`${coll.path}/schema.json`, 'schema validation is not served yet by Baste (ignored)');
        if (!(await dir.isFile(rulesFile))) continue;
        const rules = readRulesDoc(await dir.readJson(rulesFile), rulesFile);
        const database = rules.fields.string('database') ?? db.name;
        const collection = rules.fields.string('collection') ?? coll.name;
        collections.set(`${database}.${collection}`, { database, collection, roles: rules.roles, filters: rules.filters, file: rulesFile });
      }
    }
    const fc = f.nested('config') ?? new Fields(configFile, {}, 'config');
    add({ name, type, uri: fc.string('uri'), defaultRules: await readDefault(dir, `${svc.path}/default_rule.json`), collections }, configFile);
  }

  // Older layouts: services/<svc>/{config.json, rules/<db>.<coll>.json, default_rule.json}
  for (const svc of await dir.list('services')) {
    if (svc.kind !== 'dir' || svc.name.startsWith('.')) continue;
    const configFile = `${svc.path}/config.json`;
    if (!(await dir.isFile(configFile))) continue;
    const f = new Fields(configFile, asObject(await dir.readJson(configFile), configFile));
    const type = f.string('type') ?? '';
    if (!MONGO_TYPES.has(type)) {
      if (type !== 'http') warn(svc.path, `${type || 'untyped'} services are not served by Baste (ignored)`);
      else if (await dir.isDir(`${svc.path}/rules`)) warn(`${svc.path}/rules`, 'HTTP service rules are not served by Baste (ignored)');
      continue;
    }
    const collections = new Map<string, CollectionRules>();
    for (const entry of await dir.list(`${svc.path}/rules`)) {
      if (entry.kind !== 'file' || !entry.name.endsWith('.json')) continue;
      const rules = readRulesDoc(await dir.readJson(entry.path), entry.path);
      const [dbFromName, ...rest] = entry.name.slice(0, -'.json'.length).split('.');
      const database = rules.fields.string('database') ?? dbFromName ?? '';
      const collection = rules.fields.string('collection') ?? rest.join('.');
      if (!database || !collection) throw new ConfigError(entry.path, 'database', 'must name the database and collection (or the file must be <db>.<coll>.json)');
      if (rules.hasSchema) warn(entry.path, 'schema validation is not served yet by Baste (ignored)');
      collections.set(`${database}.${collection}`, { database, collection, roles: rules.roles, filters: rules.filters, file: entry.path });
    }
    const fc = f.nested('config') ?? new Fields(configFile, {}, 'config');
    add({ name: f.string('name') ?? svc.name, type, uri: fc.string('uri'), defaultRules: await readDefault(dir, `${svc.path}/default_rule.json`), collections }, configFile);
  }
  return sources;
}
