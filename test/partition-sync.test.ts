// Partition-Based Sync permissions (2020-era `config.sync.partition.permissions`): Baste serves no
// Sync, but on the platform these permissions were the rules of every request to the synced
// cluster, collection roles not applying ("Non-Sync Rules", sync/data-access-patterns/permissions.txt).
// A realm-cli 20200603 export (fixture) served over HTTP to realm-web, on SQLite and PostgreSQL:
// users write their own partition, read it and PUBLIC, and insert their custom user data under
// nothing but these permissions.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as Realm from 'realm-web';
import { loadAppDirectory } from '../src/app/load.js';
import { ConfigError } from '../src/errors.js';
import { startServer, type TestServer } from './helpers/server.js';
import { newPasswordUser } from './helpers/realm.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, 'fixtures', 'apps', 'realm-2020-partition-sync');

describe('Partition-Based Sync permissions govern the data service', () => {
  let server: TestServer;
  let alice: Realm.User;
  let bob: Realm.User;

  before(async () => {
    const { config } = await loadAppDirectory(FIXTURE);
    server = await startServer(config, { functions: { timeoutMs: 5000, memoryMb: 64 } });
    alice = await newPasswordUser(server, 'alice');
    bob = await newPasswordUser(server, 'bob');
  });
  after(async () => {
    await server?.close();
  });

  const coll = (user: Realm.User, name: string) => user.mongoClient('mongodb-atlas').db('tracker').collection<any>(name);
  const refused = (e: any) => e.statusCode >= 400 && e.statusCode < 500 && e.statusCode !== 401;
  const names = (docs: any[]) => docs.map((d) => d.name).sort();

  it('loads the permissions as the cluster rules and says so once, naming the rule file whose roles they replace', async () => {
    const { config, warnings } = await loadAppDirectory(FIXTURE);
    const sync = config.dataSources?.get('mongodb-atlas')?.partitionSync;
    assert.equal(sync?.key, '_partition');
    assert.deepEqual(sync?.write, { '%%partition': '%%user.id' });
    const mine = warnings.filter((w) => w.file.startsWith('services/'));
    assert.equal(mine.length, 1, JSON.stringify(mine));
    assert.equal(mine[0]!.file, 'services/mongodb-atlas/config.json');
    assert.match(mine[0]!.message, /^config\.sync: Sync is not served by Baste; its partition permissions .* "_partition"/);
    assert.match(mine[0]!.message, /services\/mongodb-atlas\/rules\/tracker\.custom_user_data\.json do not apply/);
  });

  it('a user inserts custom user data and tasks in their own partition (a role granting nothing does not apply)', async () => {
    await coll(alice, 'custom_user_data').insertOne({ _partition: alice.id, user_id: alice.id, name: 'Alice' });
    await coll(alice, 'Task').insertOne({ _partition: alice.id, name: 'alice task', status: 'Open' });
    await coll(bob, 'Task').insertOne({ _partition: bob.id, name: 'bob task', status: 'Open' });
    assert.equal((await alice.refreshCustomData()).name, 'Alice');
  });

  it('reads: their own partition and PUBLIC, never another user\'s', async () => {
    await alice.functions.callFunction('seedPublic', 'welcome');
    assert.deepEqual(names(await coll(alice, 'Task').find({})), ['alice task', 'welcome']);
    assert.deepEqual(names(await coll(bob, 'Task').find({})), ['bob task', 'welcome']);
    assert.equal(await coll(bob, 'Task').count({ _partition: alice.id }), 0);
    assert.equal(await coll(bob, 'custom_user_data').findOne({}), null);
  });

  it('writes: only in a partition the user may write, and never moving a document out of it', async () => {
    const tasks = coll(alice, 'Task');
    await assert.rejects(tasks.insertOne({ _partition: bob.id, name: 'forged' }), refused);
    await assert.rejects(tasks.insertOne({ _partition: 'PUBLIC', name: 'spam' }), refused);
    await assert.rejects(tasks.insertOne({ name: 'no partition' }), refused);
    // readable but not writable: the update and the delete are refused whole
    await assert.rejects(tasks.updateMany({}, { $set: { status: 'Done' } }), refused);
    await assert.rejects(tasks.deleteOne({ _partition: 'PUBLIC' }), refused);
    await assert.rejects(tasks.updateOne({ _partition: alice.id }, { $set: { _partition: bob.id } }), refused);
    assert.equal((await tasks.updateOne({ _partition: alice.id }, { $set: { status: 'Done' } })).modifiedCount, 1);
    assert.deepEqual((await coll(bob, 'Task').find({})).map((t) => t.status).sort(), ['Open', 'Open']);
  });

  it('the collection schema still checks writes', async () => {
    await assert.rejects(coll(alice, 'Task').insertOne({ _partition: alice.id, status: 'Open' }), (e: any) => e.errorCode === 'SchemaValidationFailedWrite');
    assert.deepEqual((await coll(alice, 'Task').deleteOne({ name: 'alice task' })).deletedCount, 1);
    assert.deepEqual(names(await coll(alice, 'Task').find({})), ['welcome']);
  });
});

describe('Partition-Based Sync in the other layouts', () => {
  let dir: string;
  const write = (files: Record<string, unknown>) => {
    dir = mkdtempSync(join(tmpdir(), 'baste-psync-'));
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content, null, 4));
    }
    return dir;
  };
  after(() => rmSync(dir, { recursive: true, force: true }));
  const base = {
    'realm_config.json': { app_id: 'psync-abcde', name: 'psync', config_version: 20210101 },
    'auth/providers.json': { 'anon-user': { name: 'anon-user', type: 'anon-user', disabled: false } },
    'data_sources/mongodb-atlas/config.json': { name: 'mongodb-atlas', type: 'mongodb-atlas', config: { clusterName: 'Cluster0' } },
    'data_sources/mongodb-atlas/app/Item/rules.json': { database: 'app', collection: 'Item', roles: [{ name: 'r', apply_when: {}, read: true, write: true }] },
  };

  it('20210101 sync/config.json: the data source it names gets the permissions', async () => {
    const { config, warnings } = await loadAppDirectory(
      write({
        ...base,
        'sync/config.json': {
          type: 'partition',
          state: 'enabled',
          development_mode_enabled: false,
          service_name: 'mongodb-atlas',
          database_name: 'app',
          partition: { key: 'owner_id', type: 'string', permissions: { read: true, write: { '%%partition': '%%user.id' } } },
        },
      }),
    );
    assert.equal(config.dataSources?.get('mongodb-atlas')?.partitionSync?.key, 'owner_id');
    assert.deepEqual(warnings.filter((w) => w.file.startsWith('sync')).map((w) => w.file), ['sync/config.json']);
  });

  it('Flexible Sync or Sync disabled: the collection roles apply, Sync is warned about once', async () => {
    for (const sync of [{ type: 'flexible', state: 'enabled', flexible_sync: { state: 'enabled' } }, { state: 'disabled', partition: { key: 'k', permissions: { read: true, write: true } } }]) {
      const { config, warnings } = await loadAppDirectory(write({ ...base, 'sync/config.json': sync }));
      assert.equal(config.dataSources?.get('mongodb-atlas')?.partitionSync, undefined);
      assert.deepEqual(warnings.filter((w) => w.file.startsWith('sync')).map((w) => `${w.file}: ${w.message}`), ['sync: not supported by Baste (ignored)']);
    }
  });

  it('a broken permission expression is refused at load, naming the file and the permission', async () => {
    await assert.rejects(
      loadAppDirectory(
        write({
          ...base,
          'sync/config.json': { state: 'enabled', service_name: 'mongodb-atlas', partition: { key: 'k', permissions: { read: 'yes', write: false } } },
        }),
      ),
      (e: unknown) => e instanceof ConfigError && /sync\/config\.json/.test(e.message) && /read/.test(e.message),
    );
  });
});
