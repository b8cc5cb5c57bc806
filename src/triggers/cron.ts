// The CRON expressions of scheduled triggers, as App Services documents them: five fields
// (minute, hour, day of month, month, weekday) of `*`, values, `a-b` ranges, `x/n` steps and
// comma lists, months and weekdays also by three-letter name, evaluated in UTC. A tick fires when
// every field matches: day of month and weekday are combined with AND, as the docs say ("whenever
// all of the fields match"), not with the OR of Unix cron. Pure: no clock, no I/O.

export class CronError extends Error {}

export interface CronSchedule {
  readonly expression: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly daysOfMonth: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekdays: ReadonlySet<number>;
}

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const FIELDS: readonly FieldSpec[] = [
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day of month', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: MONTHS },
  // 7 is accepted as Sunday too, as most cron dialects do; it is folded into 0 below.
  { label: 'weekday', min: 0, max: 7, names: WEEKDAYS },
];
/** Longest month of each month number (February may have 29 days). */
const MONTH_LENGTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const MINUTE = 60_000;
const DAY = 86_400_000;
/** How far next/previous look: Feb 29 on a given weekday can be 40 years apart (2100 is no leap year). */
const HORIZON_DAYS = 60 * 366;

function value(text: string, spec: FieldSpec): number {
  const byName = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (byName >= 0) return spec.names === MONTHS ? byName + 1 : byName;
  if (!/^\d{1,2}$/.test(text)) throw new CronError(`${spec.label}: "${text}" is not a number${spec.names ? ' or a three-letter name' : ''}`);
  const n = Number(text);
  if (n < spec.min || n > spec.max) throw new CronError(`${spec.label}: ${n} is outside ${spec.min}–${spec.max}`);
  return n;
}

function field(text: string, spec: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    if (part === '') throw new CronError(`${spec.label}: empty list item in "${text}"`);
    const [range = '', stepText, extra] = part.split('/');
    if (extra !== undefined) throw new CronError(`${spec.label}: "${part}" has more than one step`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d{1,2}$/.test(stepText) || Number(stepText) === 0) throw new CronError(`${spec.label}: step "${stepText}" must be a positive number`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*' || range === '?') {
      from = spec.min;
      to = spec.label === 'weekday' ? 6 : spec.max;
    } else {
      const dash = range.indexOf('-');
      if (dash >= 0) {
        from = value(range.slice(0, dash), spec);
        to = value(range.slice(dash + 1), spec);
        if (to < from) throw new CronError(`${spec.label}: range "${range}" ends before it starts`);
      } else {
        from = value(range, spec);
        // `5/15` means from 5 to the end of the field in steps of 15.
        to = stepText !== undefined ? spec.max : from;
      }
    }
    for (let n = from; n <= to; n += step) out.add(spec.label === 'weekday' && n === 7 ? 0 : n);
  }
  return out;
}

/** Parses a five-field expression; throws CronError saying which field is wrong and why. */
export function parseCron(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 || parts[0] === '') {
    throw new CronError(`"${expression}" must have five fields (minute hour day-of-month month weekday), found ${parts[0] === '' ? 0 : parts.length}`);
  }
  const [minutes, hours, daysOfMonth, months, weekdays] = parts.map((p, i) => field(p, FIELDS[i]!)) as [
    Set<number>, Set<number>, Set<number>, Set<number>, Set<number>,
  ];
  if (![...months].some((m) => [...daysOfMonth].some((d) => d <= MONTH_LENGTH[m]!))) {
    throw new CronError(`"${expression}" never fires: no chosen month has the chosen day of month`);
  }
  return { expression, minutes, hours, daysOfMonth, months, weekdays };
}

function dayMatches(s: CronSchedule, dayStart: number): boolean {
  const d = new Date(dayStart);
  return s.months.has(d.getUTCMonth() + 1) && s.daysOfMonth.has(d.getUTCDate()) && s.weekdays.has(d.getUTCDay());
}

/** Minutes of the day (0–1439) the schedule fires at, ascending. */
function minutesOfDay(s: CronSchedule): number[] {
  const out: number[] = [];
  for (const h of [...s.hours].sort((a, b) => a - b)) for (const m of [...s.minutes].sort((a, b) => a - b)) out.push(h * 60 + m);
  return out;
}

/** The first tick strictly after `after` (ms since the epoch), or null if none within 60 years. */
export function nextTick(s: CronSchedule, after: number): number | null {
  const times = minutesOfDay(s);
  const from = Math.floor(after / MINUTE) * MINUTE + MINUTE;
  let day = Math.floor(from / DAY) * DAY;
  let firstMinute = (from - day) / MINUTE;
  for (let i = 0; i < HORIZON_DAYS; i++, day += DAY, firstMinute = 0) {
    if (!dayMatches(s, day)) continue;
    const m = times.find((t) => t >= firstMinute);
    if (m !== undefined) return day + m * MINUTE;
  }
  return null;
}

/** The last tick at or before `atOrBefore`, or null if none within 60 years. */
export function previousTick(s: CronSchedule, atOrBefore: number): number | null {
  const times = minutesOfDay(s);
  const from = Math.floor(atOrBefore / MINUTE) * MINUTE;
  let day = Math.floor(from / DAY) * DAY;
  let lastMinute = (from - day) / MINUTE;
  for (let i = 0; i < HORIZON_DAYS; i++, day -= DAY, lastMinute = 1439) {
    if (!dayMatches(s, day)) continue;
    for (let k = times.length - 1; k >= 0; k--) if (times[k]! <= lastMinute) return day + times[k]! * MINUTE;
  }
  return null;
}
