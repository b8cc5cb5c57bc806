// Int64 values beyond 2^53 inside functions: an argument reaches the function as an exact
// BSON.Long (not a rounded number), and a Long the function returns or writes reaches the client
// and the store exactly. Through realm-web (the wire text is checked too: realm-web itself reads
// $numberLong into a JS number) and the Stitch SDK, on SQLite and PostgreSQL.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnonymousCredential, BSON as StitchBSON, type StitchAppClient } from 'mongodb-stitch-server-sdk';
import * as Realm from 'realm-web';
import type { CollectionRules, DataSourceConfig } from '../src/app/model.js';
import { appConfig, appFunction, autoConfirmUserpass, provider, role, startServer, type TestServer } from './helpers/server.js';
import { stitchClientFor } from './helpers/stitch.js';

const BIG = '9007199254740993'; // 2^53 + 1: a double cannot hold it
const MAX = '9223372036854775807';
const MIN = '-9223372036854775808';

const counters: [string, CollectionRules] = [
  'app.counters',
  { database: 'app', collection: 'counters', roles: [role('anyone', { read: true, write: true })], filters: [], file: 'data_sources/mongodb-atlas/app/counters/rules.json' },
];
const DATA_SOURCE: DataSourceConfig = { name: 'mongodb-atlas', type: 'mongodb-atlas', defaultRules: undefined, collections: new Map([counters]) };

const fn = appFunction;
const coll = 'context.services.get("mongodb-atlas").db("app").collection("counters")';

describe('functions: Int64 values beyond 2^53 stay exact', () => {
  let server: TestServer;
  let user: Realm.User;
  let stitch: StitchAppClient;
  /** The response bodies realm-web received, newest last. */
  const bodies: string[] = [];

  before(async () => {
    server = await startServer(
      {
        ...appConfig([provider('anon-user'), autoConfirmUserpass()], 'long-app-abcde'),
        dataSources: new Map([['mongodb-atlas', DATA_SOURCE]]),
        functions: new Map([
          fn('describe', `exports = function(v) {
            return { isLong: v instanceof BSON.Long, type: typeof v, text: String(v), plus1: v instanceof BSON.Long ? v.add(1).toString() : null };
          };`),
          fn('echo', 'exports = function(v) { return { v: v }; };'),
          fn('makeLongs', `exports = function() {
            return { max: BSON.Long.fromString("${MAX}"), min: BSON.Long.MIN_VALUE, small: BSON.Long.fromNumber(7), num: 42 };
          };`),
          // A real counter document: the client's id and a Long built in the function, written and read back.
          fn('store', `exports = async function(id, n) {
            const c = ${coll};
            await c.insertOne({ _id: id, n: n, made: BSON.Long.fromString("${MIN}"), arr: [n] });
            await c.updateOne({ _id: id }, { $set: { copy: n } });
            const doc = await c.findOne({ _id: id });
            const big = BSON.Long.fromString("${BIG}");
            const found = await c.findOne({ n: big });
            return { n: String(doc.n), isLong: doc.n instanceof BSON.Long, made: String(doc.made), arr: String(doc.arr[0]), copy: String(doc.copy), found: found !== null && String(found.n) === String(n) };
          };`),
          fn('read', `exports = function(id) { return ${coll}.findOne({ _id: id }); };`),
        ]),
      },
      { functions: { timeoutMs: 5000, memoryMb: 64 } },
    );
    const capture: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      bodies.push(await res.clone().text());
      return res;
    };
    const app = new Realm.App({ id: server.appId, baseUrl: server.url, fetch: capture as never });
    user = await app.logIn(Realm.Credentials.anonymous(false));
    stitch = stitchClientFor(server, `long-${Date.now()}`);
    await stitch.auth.loginWithCredential(new AnonymousCredential());
  });
  after(async () => {
    stitch.close();
    await server.close();
  });

  it('realm-web: a $numberLong argument beyond 2^53 is an exact BSON.Long in the function; within 2^53 a number', async () => {
    assert.deepEqual(await user.functions.describe(Realm.BSON.Long.fromString(BIG)), { isLong: true, type: 'object', text: BIG, plus1: '9007199254740994' });
    assert.deepEqual(await user.functions.describe(Realm.BSON.Long.fromString(MIN)), { isLong: true, type: 'object', text: MIN, plus1: '-9223372036854775807' });
    assert.deepEqual(await user.functions.describe(Realm.BSON.Long.fromString('9007199254740991')), { isLong: false, type: 'number', text: '9007199254740991', plus1: null });
  });

  it('realm-web: a Long the function returns reaches the wire exactly', async () => {
    await user.functions.echo(Realm.BSON.Long.fromString(BIG));
    assert.equal(bodies.at(-1), `{"v":{"$numberLong":"${BIG}"}}`);
    await user.functions.makeLongs();
    const made = JSON.parse(bodies.at(-1)!);
    assert.deepEqual(made.max, { $numberLong: MAX });
    assert.deepEqual(made.min, { $numberLong: MIN });
    assert.deepEqual(made.small, { $numberLong: '7' });
    // A plain number is still the narrowest type (the Int64 widening is for calls whose arguments are all Int64).
    assert.deepEqual(made.num, { $numberInt: '42' });
  });

  it('a function writes Longs to the store exactly, queries by one, and the client reads them exactly', async () => {
    const id = `c-${Date.now()}`;
    const out = await user.functions.store(id, Realm.BSON.Long.fromString(BIG));
    assert.deepEqual(out, { n: BIG, isLong: true, made: MIN, arr: BIG, copy: BIG, found: true });
    // Read back through another function and through the data service: the wire has them exactly.
    await user.functions.read(id);
    const viaFunction = JSON.parse(bodies.at(-1)!);
    assert.deepEqual([viaFunction.n, viaFunction.made, viaFunction.arr, viaFunction.copy], [{ $numberLong: BIG }, { $numberLong: MIN }, [{ $numberLong: BIG }], { $numberLong: BIG }]);
    await user.mongoClient('mongodb-atlas').db('app').collection('counters').findOne({ _id: id });
    const viaService = JSON.parse(bodies.at(-1)!);
    assert.deepEqual([viaService.n, viaService.made, viaService.copy], [{ $numberLong: BIG }, { $numberLong: MIN }, { $numberLong: BIG }]);
  });

  it('the Stitch SDK: the argument is exact in the function, and a stored Long reads back exactly', async () => {
    const seen = (await stitch.callFunction('describe', [StitchBSON.Long.fromString(MAX)])) as Record<string, unknown>;
    assert.deepEqual({ ...seen }, { isLong: true, type: 'object', text: MAX, plus1: MIN }); // Long arithmetic wraps, as on the platform's BSON.Long
    const id = `s-${Date.now()}`;
    const out = (await stitch.callFunction('store', [id, StitchBSON.Long.fromString(BIG)])) as Record<string, unknown>;
    assert.deepEqual({ ...out }, { n: BIG, isLong: true, made: MIN, arr: BIG, copy: BIG, found: true });
  });
});
