// Loading rules beyond the basics: nested field rules, collection schemas in both layouts (checked
// at load, with the file and field of a bad one named), and the Stitch v1 rule form.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../src/errors.js';
import { loadAppDirectory } from '../src/app/load.js';
import { translateStitchV1Rule } from '../src/app/legacy-rules.js';

let scratch: string | undefined;
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function load(files: Record<string, unknown>) {
  scratch ??= await mkdtemp(join(tmpdir(), 'baste-rules-load-'));
  const dir = await mkdtemp(join(scratch, 'app-'));
  for (const [path, content] of Object.entries(files)) {
    const abs = join(dir, ...path.split('/'));
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return loadAppDirectory(dir);
}

const ANON = { name: 'anon-user', type: 'anon-user', disabled: false };
const SOURCE = 'data_sources/mongodb-atlas';
const modern = (extra: Record<string, unknown>) => ({
  'realm_config.json': { app_id: 'rules-abcde', name: 'rules', config_version: 20210101 },
  'auth/providers.json': { 'anon-user': ANON },
  [`${SOURCE}/config.json`]: { name: 'mongodb-atlas', type: 'mongodb-atlas', config: { clusterName: 'c' } },
  ...extra,
});
const legacy = (extra: Record<string, unknown>) => ({
  'stitch.json': { app_id: 'old-abcde', name: 'old', config_version: 20180301 },
  'auth_providers/anon-user.json': ANON,
  'services/mongodb-atlas/config.json': { name: 'mongodb-atlas', type: 'mongodb-atlas', config: { clusterName: 'c' } },
  ...extra,
});
const configError = (file: string, field: string | undefined) => (e: unknown) => e instanceof ConfigError && e.file === file && e.field === field;
const ROLE = { name: 'r', apply_when: {}, read: true, write: true };

describe('loading rules', () => {
  it('reads nested field rules, with additional_fields at any level; a non-object entry is refused by path', async () => {
    const rules = {
      database: 'app',
      collection: 'people',
      roles: [{ ...ROLE, read: false, fields: { profile: { read: false, fields: { name: { read: true }, address: { fields: { city: { read: true } }, additional_fields: { read: true } } } } } }],
    };
    const { config, warnings } = await load(modern({ [`${SOURCE}/app/people/rules.json`]: rules }));
    const fields = config.dataSources?.get('mongodb-atlas')?.collections.get('app.people')?.roles[0]?.fields;
    assert.equal(fields?.profile?.fields?.name?.read, true);
    assert.equal(fields?.profile?.fields?.address?.fields?.city?.read, true);
    assert.deepEqual(fields?.profile?.fields?.address?.additionalFields, { read: true, write: undefined });
    assert.deepEqual(warnings, []);
    const bad = { ...rules, roles: [{ ...ROLE, fields: { profile: { fields: { name: true } } } }] };
    await assert.rejects(load(modern({ [`${SOURCE}/app/people/rules.json`]: bad })), configError(`${SOURCE}/app/people/rules.json`, 'roles[0].fields.profile.fields.name'));
  });

  it('serves schema.json beside rules.json, and a schema without rules under the default roles', async () => {
    const schema = { title: 'Item', bsonType: 'object', required: ['name'], properties: { name: { bsonType: 'string' } } };
    const { config, warnings } = await load(
      modern({
        [`${SOURCE}/app/items/rules.json`]: { database: 'app', collection: 'items', roles: [ROLE] },
        [`${SOURCE}/app/items/schema.json`]: schema,
        [`${SOURCE}/app/logs/schema.json`]: { bsonType: 'object', properties: { level: { enum: ['info'] } } },
        [`${SOURCE}/app/empty/rules.json`]: { database: 'app', collection: 'empty', roles: [ROLE] },
        [`${SOURCE}/app/empty/schema.json`]: {},
      }),
    );
    const collections = config.dataSources?.get('mongodb-atlas')?.collections;
    assert.deepEqual(collections?.get('app.items')?.schema, schema);
    assert.deepEqual(collections?.get('app.logs')?.roles, []);
    assert.ok(collections?.get('app.logs')?.schema);
    assert.equal(collections?.get('app.empty')?.schema, undefined);
    assert.deepEqual(warnings, [], 'nothing is "not served yet" any more');
  });

  it('refuses a schema it cannot enforce, naming the file and field; warns about keywords it does not enforce', async () => {
    const file = `${SOURCE}/app/items/schema.json`;
    await assert.rejects(load(modern({ [file]: { bsonType: 'object', properties: { qty: { bsonType: 'integer' } } } })), configError(file, 'properties.qty.bsonType'));
    await assert.rejects(load(modern({ [file]: { bsonType: 'array' } })), configError(file, 'bsonType'));
    await assert.rejects(load(modern({ [file]: [] })), configError(file, undefined));
    const { warnings } = await load(modern({ [file]: { bsonType: 'object', properties: { email: { bsonType: 'string', format: 'email' } } } }));
    assert.deepEqual(warnings.map((w) => `${w.file}: ${w.message}`), [`${file}: properties.email.format: schema keyword not enforced by Baste (ignored)`]);
  });

  it('serves the schema of a legacy rule file, and refuses a bad one under `schema`', async () => {
    const file = 'services/mongodb-atlas/rules/app.items.json';
    const schema = { bsonType: 'object', properties: { qty: { bsonType: 'int', minimum: 0 } } };
    const { config, warnings } = await load(legacy({ [file]: { database: 'app', collection: 'items', roles: [ROLE], schema } }));
    assert.deepEqual(config.dataSources?.get('mongodb-atlas')?.collections.get('app.items')?.schema, schema);
    assert.deepEqual(warnings, []);
    await assert.rejects(load(legacy({ [file]: { roles: [ROLE], schema: { properties: { qty: { minimum: 'zero' } } } } })), configError(file, 'schema.properties.qty.minimum'));
  });

  it('translates Stitch v1 rule files: defaults, field rules as values, filters, the namespace', async () => {
    const file = 'services/mongodb-atlas/rules/todo.items.json';
    const v1 = {
      namespace: 'todo.tasks',
      fields: { _id: { write: { '%%this': { '%exists': true } } }, owner_id: { valid: '%%user.id' }, secret: { read: false } },
      filters: [{ when: {}, match_expression: { owner_id: '%%user.id' } }],
    };
    const { config } = await load(legacy({ [file]: v1 }));
    const rules = config.dataSources?.get('mongodb-atlas')?.collections.get('todo.tasks');
    const role = rules?.roles[0];
    // read / write default to owner-only
    assert.deepEqual(role?.applyWhen, { owner_id: '%%user.id' });
    assert.equal(role?.read, false);
    assert.equal(role?.write, false);
    assert.deepEqual(role?.fields.owner_id, { read: true, write: { owner_id: '%%user.id' } });
    // a field its read rule hides is not writable either (write implies read in the roles model)
    assert.deepEqual(role?.fields.secret, { read: false, write: false });
    // _id's write rule moves to insert, about %%root._id
    assert.deepEqual(role?.insert, { '%and': [{ owner_id: '%%user.id' }, { '%%root._id': { '%exists': true } }] });
    assert.deepEqual(role?.additionalFields, { read: false, write: false });
    assert.deepEqual(rules?.schema, { bsonType: 'object', properties: { _id: {}, owner_id: { validate: { '%%this': '%%user.id' } }, secret: {} } });
    assert.equal(rules?.filters[0]?.name, 'filter-0');

    const nested = { namespace: 'a.b', read: {}, write: {}, fields: { profile: { fields: { name: {} } } } };
    await assert.rejects(load(legacy({ [file]: nested })), configError(file, 'fields.profile.fields'));
    await assert.rejects(load(legacy({ [file]: { namespace: 'nodot', read: {} } })), configError(file, 'namespace'));
  });

  it('keeps document-level permissions when v1 rules have none per field', () => {
    const t = translateStitchV1Rule({ read: { a: 1 }, write: { b: 2 }, valid: { c: 3 }, other_fields: {}, fields: { x: {} } }, 'f.json');
    assert.deepEqual([t.roles[0]?.read, t.roles[0]?.write, t.roles[0]?.insert], [true, { b: 2 }, true]);
    assert.deepEqual(t.roles[0]?.fields, {});
    assert.deepEqual(t.schema, { bsonType: 'object', validate: { c: 3 }, properties: { x: {} } });
  });
});
