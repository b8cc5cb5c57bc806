// A real `baste serve` killed with SIGKILL between a committed write and the delivery of its change
// event: after a restart on the same state the trigger runs exactly once (its function writes a
// marker document; the count is checked after the restart has had time to repeat it). On SQLite,
// and on PostgreSQL when BASTE_TEST_DATABASE_URL is set.

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as Realm from 'realm-web';
import { serve, stop } from '../helpers/cli.js';
import { freshDatabase, TEST_DATABASE_URL } from '../helpers/postgres.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'todo');

/** The example app with a database trigger whose function is slow (the window for the kill) and then writes a marker. */
function appWithTrigger(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baste-crash-app-'));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes('.baste') });
  const fnConfig = JSON.parse(readFileSync(join(dir, 'functions', 'config.json'), 'utf8')) as unknown[];
  fnConfig.push({ name: 'markItem', private: true }, { name: 'countMarks', private: false, run_as_system: true });
  writeFileSync(join(dir, 'functions', 'config.json'), JSON.stringify(fnConfig));
  writeFileSync(
    join(dir, 'functions', 'markItem.js'),
    `exports = async function(event) {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await context.services.get("mongodb-atlas").db("todo").collection("marks").insertOne({ item: event.documentKey._id });
};\n`,
  );
  mkdirSync(join(dir, 'triggers'));
  writeFileSync(join(dir, 'functions', 'countMarks.js'), 'exports = function() { return context.services.get("mongodb-atlas").db("todo").collection("marks").count({}); };\n');
  writeFileSync(
    join(dir, 'triggers', 'markItem.json'),
    JSON.stringify({
      name: 'markItem',
      type: 'DATABASE',
      config: { service_name: 'mongodb-atlas', database: 'todo', collection: 'items', operation_types: ['INSERT'], full_document: false, unordered: false, match: {} },
      disabled: false,
      event_processors: { FUNCTION: { config: { function_name: 'markItem' } } },
    }),
  );
  return dir;
}

for (const backend of ['sqlite', 'postgresql'] as const) {
  const skip = backend === 'postgresql' && !TEST_DATABASE_URL ? 'BASTE_TEST_DATABASE_URL not set: the PostgreSQL crash test skipped' : false;
  describe(`a database trigger across kill -9 (${backend})`, { skip }, () => {
    const cleanups: (() => unknown)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    it('delivers a change committed before the kill exactly once after the restart', async () => {
      const app = appWithTrigger();
      const dataDir = mkdtempSync(join(tmpdir(), 'baste-crash-data-'));
      cleanups.push(() => rmSync(app, { recursive: true, force: true }), () => rmSync(dataDir, { recursive: true, force: true }));
      // An app id per backend: realm-web keeps one logged-in user per app id in this process.
      const appId = `todo-crash-${backend}`;
      const args = ['--app', app, '--app-id', appId, '--data-dir', dataDir, '--log-level', 'warn'];
      if (backend === 'postgresql') {
        const db = await freshDatabase();
        cleanups.push(() => db.drop());
        args.push('--database', db.url);
      }
      const first = await serve(args);
      cleanups.push(() => stop(first, 'SIGKILL'));
      const client = new Realm.App({ id: appId, baseUrl: first.url });
      const user = await client.logIn(Realm.Credentials.anonymous());
      await user.mongoClient('mongodb-atlas').db('todo').collection('items').insertOne({ owner_id: user.id, text: 'buy milk' });
      // The insert committed; its trigger is sleeping before it writes the marker.
      await stop(first, 'SIGKILL');

      const second = await serve(args);
      cleanups.push(() => stop(second));
      const again = new Realm.App({ id: appId, baseUrl: second.url });
      const caller = await again.logIn(Realm.Credentials.anonymous());
      let marks = 0;
      for (let i = 0; i < 100 && marks === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        marks = (await caller.functions.countMarks()) as number;
      }
      assert.equal(marks, 1, 'delivered after the restart');
      // Time for a repeat to show, were there one (the function takes 1.5 s).
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(await caller.functions.countMarks(), 1, 'exactly once');
      assert.equal(await stop(second), 0);
    });
  });
}
