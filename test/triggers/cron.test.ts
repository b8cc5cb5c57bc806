// The CRON syntax of scheduled triggers: parsing (fields, ranges, steps, lists, names, refusals)
// and the next / previous tick in UTC.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CronError, nextTick, parseCron, previousTick } from '../../src/triggers/cron.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(':00.000Z', 'Z'));
const sorted = (s: ReadonlySet<number>) => [...s].sort((a, b) => a - b);

describe('cron: parsing', () => {
  const cases: [string, keyof ReturnType<typeof parseCron>, number[]][] = [
    ['*/25 * * * *', 'minutes', [0, 25, 50]],
    ['0 */5 * * *', 'hours', [0, 5, 10, 15, 20]],
    ['0 11 * 1,3,7 *', 'months', [1, 3, 7]],
    ['0 11 * 1-4 *', 'months', [1, 2, 3, 4]],
    ['0 11 * jan,Mar,JUL *', 'months', [1, 3, 7]],
    ['0 11 * APR-JUN *', 'months', [4, 5, 6]],
    ['0 0 * * MON-FRI', 'weekdays', [1, 2, 3, 4, 5]],
    ['0 0 * * SUN,7', 'weekdays', [0]],
    ['0 0 * * *', 'weekdays', [0, 1, 2, 3, 4, 5, 6]],
    ['10-40/15 * * * *', 'minutes', [10, 25, 40]],
    ['5/20 * * * *', 'minutes', [5, 25, 45]],
    ['1,2,10-12 * * * *', 'minutes', [1, 2, 10, 11, 12]],
    ['0 0 */10 * *', 'daysOfMonth', [1, 11, 21, 31]],
    ['  0   7 * *   * ', 'hours', [7]],
  ];
  for (const [expr, key, want] of cases) {
    it(`${expr.trim()} → ${key} ${want.join(',')}`, () => {
      assert.deepEqual(sorted(parseCron(expr)[key] as ReadonlySet<number>), want);
    });
  }

  const refused: [string, RegExp][] = [
    ['* * * *', /five fields.*found 4/],
    ['* * * * * *', /five fields.*found 6/],
    ['', /five fields.*found 0/],
    ['60 * * * *', /minute: 60 is outside 0–59/],
    ['* 24 * * *', /hour: 24 is outside 0–23/],
    ['* * 0 * *', /day of month: 0 is outside 1–31/],
    ['* * * 13 *', /month: 13 is outside 1–12/],
    ['* * * * 8', /weekday: 8 is outside 0–7/],
    ['* * * FOO *', /month: "FOO" is not a number or a three-letter name/],
    ['MON * * * *', /minute: "MON" is not a number$/],
    ['*/0 * * * *', /step "0" must be a positive number/],
    ['1/2/3 * * * *', /more than one step/],
    ['30-10 * * * *', /ends before it starts/],
    ['1,,2 * * * *', /empty list item/],
    ['-5 * * * *', /not a number/],
    ['0 0 30 2 *', /never fires/],
    ['0 0 31 4,6,9,11 *', /never fires/],
    ['@daily', /five fields/],
  ];
  for (const [expr, message] of refused) {
    it(`refuses "${expr}"`, () => {
      assert.throws(() => parseCron(expr), (err: unknown) => err instanceof CronError && message.test(err.message));
    });
  }
});

describe('cron: ticks (UTC)', () => {
  const cases: [string, string, string | null, string | null][] = [
    // expression, from, next tick strictly after, previous tick at or before
    ['* * * * *', '2024-03-10T10:00:30Z', '2024-03-10T10:01Z', '2024-03-10T10:00Z'],
    ['* * * * *', '2024-03-10T10:00:00Z', '2024-03-10T10:01Z', '2024-03-10T10:00Z'],
    ['*/25 * * * *', '2024-03-10T10:51:00Z', '2024-03-10T11:00Z', '2024-03-10T10:50Z'],
    ['0 7 * * *', '2024-03-10T07:00:00Z', '2024-03-11T07:00Z', '2024-03-10T07:00Z'],
    ['0 7 * * *', '2024-03-10T06:59:59Z', '2024-03-10T07:00Z', '2024-03-09T07:00Z'],
    ['0 0 1 1 *', '2024-06-01T00:00:00Z', '2025-01-01T00:00Z', '2024-01-01T00:00Z'],
    ['59 23 31 12 *', '2024-12-31T23:58:00Z', '2024-12-31T23:59Z', '2023-12-31T23:59Z'],
    // 2024-03-10 is a Sunday; AND of day and weekday: the 13th only when it is a Friday.
    ['0 9 * * MON-FRI', '2024-03-09T12:00:00Z', '2024-03-11T09:00Z', '2024-03-08T09:00Z'],
    ['0 0 13 * FRI', '2024-03-10T00:00:00Z', '2024-09-13T00:00Z', '2023-10-13T00:00Z'],
    ['0 0 29 2 *', '2024-03-01T00:00:00Z', '2028-02-29T00:00Z', '2024-02-29T00:00Z'],
    ['0 0 29 2 MON', '2024-03-01T00:00:00Z', '2044-02-29T00:00Z', '2016-02-29T00:00Z'],
    ['30 */6 * * *', '2024-03-10T18:30:00Z', '2024-03-11T00:30Z', '2024-03-10T18:30Z'],
  ];
  for (const [expr, from, next, previous] of cases) {
    it(`${expr} from ${from}: next ${next}, previous ${previous}`, () => {
      const s = parseCron(expr);
      assert.equal(iso(nextTick(s, at(from))), next);
      assert.equal(iso(previousTick(s, at(from))), previous);
    });
  }

  it('walks every minute tick of a day once, in order', () => {
    const s = parseCron('*/7 9-10 * * *');
    const ticks: number[] = [];
    for (let t = nextTick(s, at('2024-03-10T00:00:00Z')); t !== null && t < at('2024-03-11T00:00:00Z'); t = nextTick(s, t)) ticks.push(t);
    assert.equal(ticks.length, 18);
    assert.equal(iso(ticks[0]!), '2024-03-10T09:00Z');
    assert.equal(iso(ticks.at(-1)!), '2024-03-10T10:56Z');
  });
});
