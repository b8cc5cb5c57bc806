// Route behaviour as a table: each row is one request, what must come back, and what must (or
// must not) have changed. One `it` per row, each on fresh state from `setup`, so a row reads on
// its own and a new case is one more row. (The shape follows PocketBase's ApiScenario.)

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertError, type Answer, type RequestOptions } from './wire.js';

type OrFn<T, Ctx> = T | ((ctx: Ctx) => T);

export interface Scenario<Ctx> {
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: OrFn<string, Ctx>;
  /** The bearer token to send, if any. */
  readonly token?: (ctx: Ctx) => string | undefined;
  /** Sent as JSON. */
  readonly body?: OrFn<unknown, Ctx>;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The Stitch error the answer must be (status and shape checked by `assertError`). */
  readonly errorCode?: string;
  /** With `errorCode`: what the message must say. */
  readonly error?: RegExp;
  /** Checks of the answer's body or headers beyond the status. */
  readonly expect?: (answer: Answer, ctx: Ctx) => void | Promise<void>;
  /** Runs on the fresh state before the request (extra state, or checks the `after` compares with). */
  readonly before?: (ctx: Ctx) => void | Promise<void>;
  /** State checks once the answer is in: what changed, and for a refusal, that nothing did. */
  readonly after?: (ctx: Ctx, answer: Answer) => void | Promise<void>;
}

export interface ScenarioRunner<Ctx> {
  /** Fresh state for one row. */
  readonly setup: () => Promise<Ctx>;
  /** Sends one request; `path` is as the row gives it. */
  readonly send: (method: string, path: string, opts: RequestOptions) => Promise<Answer>;
}

const resolve = <T, Ctx>(v: OrFn<T, Ctx> | undefined, ctx: Ctx): T | undefined =>
  typeof v === 'function' ? (v as (ctx: Ctx) => T)(ctx) : v;

/** Declares one test per row (call it inside a `describe`). */
export function scenarios<Ctx>(runner: ScenarioRunner<Ctx>, rows: readonly Scenario<Ctx>[]): void {
  for (const row of rows) {
    it(`${row.method}: ${row.name}`, async () => {
      const ctx = await runner.setup();
      await row.before?.(ctx);
      const answer = await runner.send(row.method, resolve(row.path, ctx)!, {
        token: row.token?.(ctx),
        body: resolve(row.body, ctx),
        headers: row.headers,
      });
      if (row.errorCode !== undefined) assertError(answer, row.status, row.errorCode, row.error);
      else assert.equal(answer.status, row.status, answer.text);
      await row.expect?.(answer, ctx);
      await row.after?.(ctx, answer);
    });
  }
}
