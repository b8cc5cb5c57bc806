// A user's find on the embedded engines judges the documents over one array (engine.findAll)
// instead of through the async generators other reads use. These pin that it gives what the
// generator path gives: roles chosen per document (`%function` ones too, answered later), field
// rules and filter projections applied, the limit counted after roles, the sort, and the stored
// number types. On SQLite, and on PostgreSQL when BASTE_TEST_DATABASE_URL names one.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { Double, EJSON, Long, ObjectId } from 'bson';
import type { AppConfig, CollectionRules, DataSourceConfig, RoleConfig } from '../src/app/model.js';
import type { Doc, DocumentEngine } from '../src/data/engine.js';
import { openPostgresDocuments } from '../src/data/postgres-engine.js';
import { openSqliteDocuments } from '../src/data/sqlite-engine.js';
import { MongoService } from '../src/services/mongodb/service.js';
import { adminQuery, TEST_DATABASE_URL, uniqueName } from './helpers/postgres.js';
import { role } from './helpers/server.js';

const rules = (coll: string, roles: RoleConfig[], filters: CollectionRules['filters'] = []): [string, CollectionRules] => [
  `db.${coll}`,
  { database: 'db', collection: coll, roles, filters, file: `data_sources/mongodb-atlas/db/${coll}/rules.json` },
];

const SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: undefined,
  collections: new Map([
    // The owner reads all; anyone else reads the title of shared items only.
    rules('items', [
      role('owner', { applyWhen: { owner_id: '%%user.id' }, read: true, write: true }),
      role('shared', { applyWhen: { shared: true }, fields: { title: { read: true } } }),
    ]),
    // Roles answered by a function (asynchronously): only even-numbered items apply.
    rules('gated', [role('even', { applyWhen: { '%%true': { '%function': { name: 'isEven', arguments: ['%%root.n'] } } }, read: true })]),
    // Only callers whose request says so (the expression request is built only for rules naming it).
    rules('teams', [role('blue', { applyWhen: { '%%request.requestHeaders.x-team': 'blue' }, read: true })]),
    // A filter hides `secret` from every find.
    rules('filtered', [role('all', { read: true })], [{ name: 'noSecret', applyWhen: {}, query: {}, projection: { secret: 0 } }]),
  ]),
} as unknown as DataSourceConfig;

const APP = {
  values: new Map(),
  secrets: new Map(),
  environment: '',
  environmentValues: {},
  dataSources: new Map([['mongodb-atlas', SOURCE]]),
} as unknown as AppConfig;

const user = (id: string) => ({ user: { id, type: 'normal', data: {}, custom_data: {}, identities: [] } as never, system: false });
const canonical = (v: unknown) => EJSON.stringify(v, { relaxed: false });

function suite(name: string, open: () => Promise<DocumentEngine>): void {
  describe(`rule-checked find over one array: ${name}`, () => {
    let engine: DocumentEngine;
    let service: MongoService;
    const find = (coll: string, who: string, args: Record<string, unknown> = {}) =>
      service.execute('mongodb-atlas', 'find', { database: 'db', collection: coll, query: {}, ...args }, user(who)) as Promise<Doc[]>;

    beforeEach(async () => {
      engine = await open();
      service = new MongoService(APP, () => engine, async (fn, args) => {
        assert.equal(fn, 'isEven');
        await new Promise((resolve) => setTimeout(resolve, 1));
        return (args[0] as number) % 2 === 0;
      });
      await service.prepare();
    });
    afterEach(() => engine.close());

    it('is the path taken: the engine offers findAll', () => {
      assert.equal(typeof engine.findAll, 'function');
    });

    it('applies field rules and projections, sorts, and counts the limit after roles', async () => {
      const ids = Array.from({ length: 6 }, (_, i) => new ObjectId(i.toString(16).padStart(24, '0')));
      await engine.write('db.items', {
        inserts: [
          { _id: ids[5], owner_id: 'u1', title: 'mine b', body: 'x', shared: false },
          { _id: ids[1], owner_id: 'u2', title: 'theirs shared', body: 'hidden', shared: true },
          { _id: ids[3], owner_id: 'u2', title: 'theirs private', body: 'hidden', shared: false },
          { _id: ids[0], owner_id: 'u1', title: 'mine a', body: 'y', shared: true },
          { _id: ids[4], owner_id: 'u2', title: 'theirs shared 2', body: 'hidden', shared: true },
        ],
      });
      assert.deepEqual((await find('items', 'u1', { sort: { _id: 1 } })).map((d) => d.title), ['mine a', 'theirs shared', 'theirs shared 2', 'mine b']);
      // Another user's shared items show their title alone (and _id).
      const seen = await find('items', 'u1', { sort: { _id: -1 }, project: { title: 1, body: 1 } });
      assert.deepEqual(seen.map((d) => Object.keys(d).sort().join()), ['_id,body,title', '_id,title', '_id,title', '_id,body,title']);
      assert.deepEqual(seen.map((d) => d.body ?? null), ['x', null, null, 'y']);
      // u3 owns nothing: the private item is skipped and the limit counts only what shows.
      assert.deepEqual((await find('items', 'u3', { sort: { _id: 1 }, limit: 2 })).map((d) => d.title), ['mine a', 'theirs shared']);
      assert.deepEqual(await find('items', 'u3', { query: { shared: false } }), []);
    });

    it('waits for roles answered by a function, in order, the limit after them', async () => {
      await engine.write('db.gated', { inserts: Array.from({ length: 7 }, (_, n) => ({ _id: `d${n}`, n })) });
      assert.deepEqual((await find('gated', 'u1', { sort: { n: -1 } })).map((d) => d.n), [6, 4, 2, 0]);
      assert.deepEqual((await find('gated', 'u1', { limit: 2 })).map((d) => d.n), [0, 2]);
    });

    it('gives rules that name %%request the request, lower-case header names included', async () => {
      await engine.write('db.teams', { inserts: [{ _id: 't' }] });
      const ask = (headers: Record<string, string[]>) =>
        service.execute('mongodb-atlas', 'find', { database: 'db', collection: 'teams', query: {} }, { ...user('u1'), request: { requestHeaders: headers } });
      assert.deepEqual(await ask({ 'X-Team': ['blue'] }), [{ _id: 't' }]);
      assert.deepEqual(await ask({ 'X-Team': ['red'] }), []);
      // The other collections' rules never read it: their finds do not depend on it.
      await engine.write('db.items', { inserts: [{ _id: 'i', owner_id: 'u1' }] });
      assert.deepEqual(await service.execute('mongodb-atlas', 'find', { database: 'db', collection: 'items', query: {} }, { ...user('u1'), request: { requestHeaders: { 'X-Team': ['blue'] } } }), [{ _id: 'i', owner_id: 'u1' }]);
    });

    it("keeps the filters' projection and the stored number types", async () => {
      await engine.write('db.filtered', {
        inserts: [{ _id: 'a', secret: 's', long: Long.fromNumber(5), double: new Double(2), big: Long.fromString('9007199254740993'), n: 3 }],
      });
      const [doc] = await find('filtered', 'u1');
      assert.equal(canonical(doc), canonical({ _id: 'a', long: Long.fromNumber(5), double: new Double(2), big: Long.fromString('9007199254740993'), n: 3 }));
      const [projected] = await find('filtered', 'u1', { project: { n: 0, big: 0 } });
      assert.equal(canonical(projected), canonical({ _id: 'a', long: Long.fromNumber(5), double: new Double(2) }));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'baste-find-array-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
suite('sqlite', async () => openSqliteDocuments(join(dir, `docs-${n++}.sqlite`)));

const url = TEST_DATABASE_URL;
if (url) {
  const schemas: string[] = [];
  const schema = () => {
    const s = uniqueName('find_array');
    schemas.push(s);
    return s;
  };
  suite('postgres', async () => openPostgresDocuments(url, { schema: schema(), maxConnections: 2 }));
  after(async () => {
    for (const s of schemas) await adminQuery(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  });
}
