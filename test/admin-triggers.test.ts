// Triggers in the admin API, on a real server with an injected clock: `GET …/triggers` lists
// authentication, scheduled and database triggers in the platform's Trigger shape with Baste's
// status (last run, last error, backlog), read from the store; `GET …/triggers/{id}` by `_id` or
// name; `PUT …/triggers/{id}/resume` (the platform's, with `disable_token`) for database
// triggers, audited; bad input is refused with nothing changed. SQLite, and PostgreSQL with
// BASTE_TEST_BACKEND=postgres (scripts/test.mjs runs it both ways).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { AdminTokens } from '../src/admin/tokens.js';
import type { AdminTrigger } from '../src/admin/triggers.js';
import type { AppConfig, DatabaseTriggerConfig, DataSourceConfig } from '../src/app/model.js';
import { appConfig, appFunction, databaseTrigger, provider, role, startServer, type TestServer } from './helpers/server.js';

const DATA_SOURCE: DataSourceConfig = {
  name: 'mongodb-atlas',
  type: 'mongodb-atlas',
  defaultRules: { roles: [role('all', { read: true, write: true })], filters: [] },
  collections: new Map(),
};

const database = (name: string, extra: Partial<DatabaseTriggerConfig> = {}) =>
  databaseTrigger(name, { functionName: 'onItem', database: 'shop', collection: 'items' }, extra);

const START = Date.parse('2024-05-01T10:00:30Z');
const EXPORT_ID = '65f0c1d2e3a4b5c6d7e8f901';

function app(): AppConfig {
  return {
    ...appConfig([provider('anon-user')], 'trigger-admin-abcde'),
    functions: new Map([
      appFunction('onItem', 'exports = function(event) { if (event.fullDocument.bad) throw new Error("bad item " + event.fullDocument.n); };', { private: true }),
      appFunction('tick', 'exports = function() { return 1; };', { private: true }),
      appFunction('failTick', 'exports = function() { throw new Error("no report today"); };', { private: true }),
      appFunction('welcome', 'exports = function(event) { return event.user.id; };', { private: true }),
    ]),
    dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
    triggers: new Map([['welcome', { name: 'welcome', id: EXPORT_ID, functionName: 'welcome', operations: ['CREATE'], providers: ['anon-user'], disabled: false }]]),
    scheduledTriggers: new Map([
      ['everyMinute', { name: 'everyMinute', functionName: 'tick', schedule: '* * * * *', skipCatchupEvents: false, disabled: false }],
      ['report', { name: 'report', functionName: 'failTick', schedule: '*/2 * * * *', skipCatchupEvents: true, disabled: false }],
    ]),
    databaseTriggers: new Map([database('onItem'), database('paused', { disabled: true, operations: ['INSERT', 'DELETE'], match: { 'fullDocument.n': { $gt: 1 } } })]),
  };
}

describe('triggers in the admin API', () => {
  let server: TestServer;
  let token: string;
  let now = START;
  let base: string;
  let user: Realm.User;

  before(async () => {
    server = await startServer(app(), { clock: () => now, scheduleCheckMs: 0, databaseTriggers: { pollMs: 0 } });
    token = (await new AdminTokens(server.baste.store, Date.now).create('trigger test')).token;
    base = `${server.url}/api/admin/v3.0/groups/g1/apps/${server.appId}/triggers`;
  });
  after(() => server?.close());

  const call = async (method: string, path: string, body?: unknown, bearer = token) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  const list = async () => {
    const r = await call('GET', '');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return new Map((r.body as AdminTrigger[]).map((t) => [t.name, t]));
  };
  const tick = async () => {
    await server.baste.scheduledTriggers.runDue();
  };
  // Another instance holding a database trigger's lease: this one leaves its events pending.
  const holdElsewhere = async (trigger: string) => assert.ok(await server.baste.store.leaseDatabaseTrigger(trigger, 'other-instance', now, now + 3_600_000));
  const letGo = (trigger: string) => server.baste.store.releaseDatabaseTrigger(trigger, 'other-instance');

  it('lists every trigger, ordered by name, in the platform’s shape with what it listens to and an empty status', async () => {
    const r = await call('GET', '');
    const triggers = r.body as AdminTrigger[];
    assert.deepEqual(triggers.map((t) => [t.name, t.type]), [
      ['everyMinute', 'SCHEDULED'],
      ['onItem', 'DATABASE'],
      ['paused', 'DATABASE'],
      ['report', 'SCHEDULED'],
      ['welcome', 'AUTHENTICATION'],
    ]);
    const byName = new Map(triggers.map((t) => [t.name, t]));
    const welcome = byName.get('welcome')!;
    assert.deepEqual(welcome, {
      _id: EXPORT_ID,
      name: 'welcome',
      type: 'AUTHENTICATION',
      disabled: false,
      function_name: 'welcome',
      config: { operation_type: 'CREATE', providers: ['anon-user'] },
      event_processors: { FUNCTION: { config: { function_name: 'welcome' } } },
      listens_to: 'CREATE by anon-user',
      status: { last_run_date: null, last_error: null, runs: 0, failures: 0, backlog: null },
    });
    const paused = byName.get('paused')!;
    assert.match(paused._id, /^[0-9a-f]{24}$/);
    assert.equal(paused.disabled, true);
    assert.deepEqual(paused.config, {
      database: 'shop',
      collection: 'items',
      operation_types: ['INSERT', 'DELETE'],
      match: { 'fullDocument.n': { $gt: { $numberInt: '1' } } },
      project: {},
      full_document: false,
      full_document_before_change: false,
      unordered: false,
      skip_catchup_events: false,
    });
    assert.equal(paused.listens_to, 'INSERT, DELETE on shop.items (disabled, with a match)');
    assert.deepEqual(byName.get('report')!.config, { schedule: '*/2 * * * *', skip_catchup_events: true });
    assert.deepEqual(byName.get('onItem')!.status, { last_run_date: null, last_error: null, runs: 0, failures: 0, backlog: 0, delivering_instance: null });
    // Another start gives the same derived ids.
    assert.equal((await list()).get('paused')!._id, paused._id);
  });

  it('shows scheduled triggers’ last run, last error and missed ticks', async () => {
    await tick(); // the first start claims a baseline, without running
    now = Date.parse('2024-05-01T10:02:05Z');
    await tick();
    let triggers = await list();
    const every = triggers.get('everyMinute')!.status;
    assert.equal(every.runs, 1);
    assert.equal(every.last_run_date, Math.floor(now / 1000));
    assert.equal(every.backlog, 0);
    const report = triggers.get('report')!.status;
    assert.equal(report.runs, 1);
    assert.equal(report.failures, 1);
    assert.deepEqual(report.last_error, { message: 'no report today', date: Math.floor(now / 1000) });
    // Five minutes where no instance checked: five missed ticks of the every-minute trigger, two of the other.
    now = Date.parse('2024-05-01T10:07:10Z');
    triggers = await list();
    assert.equal(triggers.get('everyMinute')!.status.backlog, 5);
    assert.equal(triggers.get('report')!.status.backlog, 2);
    await tick(); // caught up once; the other skips them (skip_catchup_events)
    triggers = await list();
    assert.equal(triggers.get('everyMinute')!.status.backlog, 0);
    assert.equal(triggers.get('everyMinute')!.status.runs, 2);
    assert.equal(triggers.get('report')!.status.backlog, 0);
    assert.equal(triggers.get('report')!.status.runs, 1, 'skipped, not run');
  });

  it('shows authentication triggers’ runs', async () => {
    user = await new Realm.App({ id: server.appId, baseUrl: server.url }).logIn(Realm.Credentials.anonymous());
    await server.baste.triggers.settled();
    const welcome = (await list()).get('welcome')!.status;
    assert.equal(welcome.runs, 1);
    assert.equal(welcome.failures, 0);
    assert.equal(welcome.last_run_date, Math.floor(now / 1000));
  });

  it('shows database triggers’ backlog before delivery, then runs, failures and the last error', async () => {
    const items = user.mongoClient('mongodb-atlas').db('shop').collection('items');
    await holdElsewhere('onItem');
    await items.insertMany([{ n: 1 }, { n: 2, bad: true }, { n: 3 }]);
    await server.baste.databaseTriggers.settled();
    let triggers = await list();
    assert.equal(triggers.get('onItem')!.status.backlog, 3);
    assert.equal(triggers.get('onItem')!.status.delivering_instance, 'other-instance');
    assert.equal(triggers.get('paused')!.status.backlog, 3, 'a disabled trigger’s backlog is what it catches up when enabled');
    await letGo('onItem');
    await server.baste.databaseTriggers.runDue();
    triggers = await list();
    const status = triggers.get('onItem')!.status;
    assert.equal(status.backlog, 0);
    assert.equal(status.runs, 3);
    assert.equal(status.failures, 1);
    assert.equal(status.last_error?.message, 'bad item 2');
    assert.equal(status.last_run_date, Math.floor(now / 1000));
  });

  it('gets one trigger by _id or by name, and answers TriggerNotFound for others', async () => {
    const byId = await call('GET', `/${EXPORT_ID}`);
    assert.equal(byId.status, 200);
    assert.equal((byId.body as AdminTrigger).name, 'welcome');
    const byName = await call('GET', '/onItem');
    assert.equal((byName.body as AdminTrigger).type, 'DATABASE');
    const missing = await call('GET', '/nope');
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { error_code: string }).error_code, 'TriggerNotFound');
  });

  it('resumes a database trigger, past its pending events with disable_token, and audits it', async () => {
    const items = user.mongoClient('mongodb-atlas').db('shop').collection('items');
    // The instance holding it is stuck: resume moves past its events and frees the lease.
    await holdElsewhere('onItem');
    await items.insertMany([{ n: 10 }, { n: 11 }]);
    await server.baste.databaseTriggers.settled();
    assert.equal((await list()).get('onItem')!.status.backlog, 2);
    const skipped = await call('PUT', '/onItem/resume', { disable_token: true });
    assert.equal(skipped.status, 204, JSON.stringify(skipped.body));
    await server.baste.databaseTriggers.settled();
    let status = (await list()).get('onItem')!.status;
    assert.equal(status.backlog, 0);
    assert.equal(status.runs, 3, 'the skipped events never ran');
    assert.equal(status.delivering_instance, null);
    // Without disable_token: delivers what is pending at once, without waiting for a poll.
    await holdElsewhere('onItem');
    await items.insertOne({ n: 12 });
    await server.baste.databaseTriggers.settled();
    await letGo('onItem');
    assert.equal((await list()).get('onItem')!.status.backlog, 1);
    const resumed = await call('PUT', '/onItem/resume');
    assert.equal(resumed.status, 204);
    await server.baste.databaseTriggers.settled();
    status = (await list()).get('onItem')!.status;
    assert.equal(status.runs, 4);
    assert.equal(status.backlog, 0);
    const audit = await fetch(`${server.url}/api/admin/v3.0/apps/${server.appId}/audit_log`, { headers: { authorization: `Bearer ${token}` } });
    const entries = (await audit.json()) as { action: string; details: Record<string, unknown> }[];
    assert.deepEqual(
      entries.filter((e) => e.action === 'trigger.resume').map((e) => e.details),
      [
        { name: 'onItem', skipped_pending: false },
        { name: 'onItem', skipped_pending: true },
      ],
    );
  });

  it('refuses to resume what it cannot, changing nothing', async () => {
    const before = await list();
    for (const [path, body, code] of [
      ['/report/resume', {}, 'InvalidParameter'],
      ['/paused/resume', {}, 'InvalidParameter'],
      ['/onItem/resume', { disable_token: 'yes' }, 'InvalidParameter'],
      ['/nope/resume', {}, 'TriggerNotFound'],
    ] as const) {
      const r = await call('PUT', path, body);
      assert.equal((r.body as { error_code: string }).error_code, code, path);
      assert.equal(r.status, code === 'TriggerNotFound' ? 404 : 400);
      assert.match((r.body as { error: string }).error, /\S/);
    }
    const noToken = await call('PUT', '/onItem/resume', {}, 'not-a-token');
    assert.equal(noToken.status, 401);
    assert.deepEqual(await list(), before);
  });
});
