// Scheduled triggers on real servers with an injected clock: a trigger runs on its tick as the
// system user and not before; a failing run is logged and later ticks still run; disabled ones
// never run; missed ticks are caught up once or skipped; two instances sharing a store (one
// SQLite file, or one PostgreSQL schema) run each of 50 ticks exactly once.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AppConfig, ScheduledTriggerConfig } from '../../src/app/model.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import type { TickOutcome } from '../../src/triggers/scheduled.js';
import { adminQuery, skipWithoutPostgres, TEST_DATABASE_URL, uniqueName } from '../helpers/postgres.js';
import { appConfig, appFunction, provider, startServer, type TestServer } from '../helpers/server.js';

type Line = Record<string, unknown>;

/** A logger whose JSON lines land in `lines`. */
function capture(lines: Line[]) {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
        done();
      },
    }),
  );
}

const scheduled = (name: string, schedule: string, extra: Partial<ScheduledTriggerConfig> = {}): [string, ScheduledTriggerConfig] => [
  name,
  { name, functionName: 'record', schedule, skipCatchupEvents: false, disabled: false, ...extra },
];

function app(triggers: [string, ScheduledTriggerConfig][]): AppConfig {
  return {
    ...appConfig([provider('anon-user')]),
    functions: new Map([
      appFunction('record', 'exports = function() { console.log(JSON.stringify({ args: arguments.length, system: context.runningAsSystem() })); };', { private: true }),
      appFunction('explode', 'exports = function() { throw new Error("nightly job went wrong"); };', { private: true }),
    ]),
    scheduledTriggers: new Map(triggers),
  };
}

/** The runs of `record` so far, as the function logged them. */
const runs = (lines: Line[]) => lines.filter((l) => l.function === 'record' && typeof l.msg === 'string').map((l) => JSON.parse(l.msg as string) as Line);
const at = (iso: string) => Date.parse(iso);
const outcomeOf = (outcomes: TickOutcome[], trigger: string) => outcomes.find((o) => o.trigger === trigger)?.outcome;

describe('scheduled triggers', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function serve(triggers: [string, ScheduledTriggerConfig][], clock: () => number, extra: { store?: Store; scheduleCheckMs?: number } = {}) {
    const lines: Line[] = [];
    const started: TestServer = await startServer(app(triggers), { clock, logger: capture(lines), scheduleCheckMs: 0, ...extra });
    let closed = false;
    const server = { ...started, close: async () => void (closed || ((closed = true), await started.close())) };
    cleanups.push(() => server.close());
    return { server, lines, runDue: () => started.baste.scheduledTriggers.runDue() };
  }

  it('runs on its tick as the system user without arguments, not before, and once per tick', async () => {
    let now = at('2024-03-10T10:00:30Z');
    const { lines, runDue } = await serve([scheduled('everyMinute', '* * * * *'), scheduled('hourly', '0 * * * *')], () => now);
    // The first start does not fire the tick that passed before it.
    assert.equal(outcomeOf(await runDue(), 'everyMinute'), 'baseline');
    assert.equal(runs(lines).length, 0);
    now = at('2024-03-10T10:00:59.999Z');
    assert.deepEqual(await runDue(), []);
    assert.equal(runs(lines).length, 0, 'not before its tick');
    now = at('2024-03-10T10:01:00Z');
    assert.deepEqual(await runDue(), [{ trigger: 'everyMinute', tick: now, outcome: 'ran' }]);
    assert.deepEqual(runs(lines), [{ args: 0, system: true }]);
    now = at('2024-03-10T10:01:40Z');
    assert.deepEqual(await runDue(), []);
    assert.equal(runs(lines).length, 1, 'once per tick');
    // 10:59 → 11:00: the minute trigger catches up once for 10:02–10:58, the hourly one is on time.
    now = at('2024-03-10T11:00:00Z');
    const outcomes = await runDue();
    assert.equal(outcomeOf(outcomes, 'everyMinute'), 'caught-up');
    assert.equal(outcomeOf(outcomes, 'hourly'), 'ran');
    assert.equal(runs(lines).length, 3);
  });

  it('looks for due ticks by itself every scheduleCheckMs', async () => {
    let now = at('2024-03-10T10:00:30Z');
    const { lines, server } = await serve([scheduled('everyMinute', '* * * * *')], () => now, { scheduleCheckMs: 10 });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(runs(lines).length, 0);
    now = at('2024-03-10T10:01:00Z');
    for (let i = 0; i < 100 && runs(lines).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await server.baste.scheduledTriggers.settled();
    assert.equal(runs(lines).length, 1);
  });

  it('logs a failing run with the trigger and tick, and runs the next tick anyway; a disabled trigger never runs', async () => {
    let now = at('2024-03-10T10:00:30Z');
    const { lines, runDue } = await serve(
      [scheduled('broken', '* * * * *', { functionName: 'explode' }), scheduled('off', '* * * * *', { disabled: true })],
      () => now,
    );
    await runDue();
    for (const minute of ['01', '02']) {
      now = at(`2024-03-10T10:${minute}:00Z`);
      assert.deepEqual(await runDue(), [{ trigger: 'broken', tick: now, outcome: 'ran' }]);
    }
    const failures = lines.filter((l) => l.msg === 'scheduled trigger failed');
    assert.deepEqual(
      failures.map((l) => [l.trigger, l.tick]),
      [
        ['broken', '2024-03-10T10:01:00.000Z'],
        ['broken', '2024-03-10T10:02:00.000Z'],
      ],
    );
    assert.match(String(failures[0]!.error), /nightly job went wrong/);
    assert.equal(runs(lines).length, 0, 'the disabled trigger never ran');
  });

  it('after a time with no instance running, catches missed ticks up once, or skips them with skip_catchup_events', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baste-sched-'));
    const store = openSqliteStore(join(dir, 'baste.sqlite'));
    // Pushed before the servers start, so it runs after they close.
    cleanups.push(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const triggers = [scheduled('catchUp', '*/5 * * * *'), scheduled('skipper', '*/5 * * * *', { skipCatchupEvents: true })];
    let now = at('2024-03-10T10:00:30Z');
    const first = await serve(triggers, () => now, { store });
    await first.runDue();
    now = at('2024-03-10T10:05:10Z');
    assert.deepEqual((await first.runDue()).map((o) => o.outcome), ['ran', 'ran']);
    await first.server.close();

    // Down from 10:05 to 10:31: ticks 10:10 … 10:30 were missed.
    now = at('2024-03-10T10:31:00Z');
    const second = await serve(triggers, () => now, { store });
    const outcomes = await second.runDue();
    assert.equal(outcomeOf(outcomes, 'catchUp'), 'caught-up');
    assert.equal(outcomeOf(outcomes, 'skipper'), 'skipped');
    assert.equal(runs(second.lines).length, 1, 'one run for all the missed ticks, none for the skipping trigger');
    now = at('2024-03-10T10:35:00Z');
    assert.deepEqual((await second.runDue()).map((o) => o.outcome), ['ran', 'ran']);
    assert.equal(runs(second.lines).length, 3);
  });

  /** Two servers on one store: 50 one-minute ticks, both checking at every tick at once. */
  async function twoInstances(openStore: () => Promise<Store>) {
    let now = at('2024-03-10T10:00:30Z');
    const triggers = [scheduled('everyMinute', '* * * * *')];
    const stores = [await openStore(), await openStore()];
    cleanups.push(async () => {
      for (const s of stores) await s.close();
    });
    const a = await serve(triggers, () => now, { store: stores[0] });
    const b = await serve(triggers, () => now, { store: stores[1] });
    const ranBy = new Map<number, number>();
    for (let minute = 0; minute <= 50; minute++) {
      now = at('2024-03-10T10:00:30Z') + minute * 60_000;
      const [fromA, fromB] = await Promise.all([a.runDue(), b.runDue()]);
      for (const o of [...fromA, ...fromB]) if (o.outcome === 'ran') ranBy.set(o.tick, (ranBy.get(o.tick) ?? 0) + 1);
    }
    assert.equal(ranBy.size, 50, 'every tick after the first start ran');
    assert.ok([...ranBy.values()].every((n) => n === 1), 'no tick ran twice');
    assert.equal(runs(a.lines).length + runs(b.lines).length, 50);
  }

  it('two instances on one SQLite file run each of 50 ticks exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baste-sched-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await twoInstances(async () => openSqliteStore(join(dir, 'baste.sqlite')));
  });

  it('two instances on one PostgreSQL schema run each of 50 ticks exactly once', { skip: skipWithoutPostgres('PostgreSQL scheduled triggers') }, async () => {
    const schema = uniqueName('sched');
    cleanups.push(async () => void (await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)));
    await twoInstances(() => openPostgresStore(TEST_DATABASE_URL!, { schema, maxConnections: 4 }));
  });
});
