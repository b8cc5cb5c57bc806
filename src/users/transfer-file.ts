// Reading a users file as App Services hands it out: the Admin API's `GET …/users` (and
// `…/user_registrations/pending_users`) pages saved as they came, so one JSON array, several arrays
// one after the other, JSON lines, or the `{users, registrations}` objects `baste users list --json`
// prints. Every record keeps where it started (its line) so refusals can name it.

import sjson from 'secure-json-parse';

export interface RawRecord {
  /** 1-based line of the file where the record starts. */
  readonly line: number;
  /** The parsed record, or why it could not be read. */
  readonly value: unknown;
  readonly error?: string;
}

/** Splits `text` from `start` to `end` into top-level JSON values (separated by whitespace, or by commas inside an array). */
function spans(text: string, start: number, end: number, inArray: boolean): { from: number; to: number; unterminated?: boolean }[] {
  const out: { from: number; to: number; unterminated?: boolean }[] = [];
  let i = start;
  const skip = () => {
    while (i < end && (/\s/.test(text[i]!) || (inArray && text[i] === ','))) i++;
  };
  skip();
  while (i < end) {
    const from = i;
    let depth = 0;
    let inString = false;
    for (; i < end; i++) {
      const c = text[i]!;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (depth === 0 && (/\s/.test(c) || (inArray && c === ','))) break;
    }
    out.push({ from, to: i, ...(depth > 0 || inString ? { unterminated: true } : {}) });
    skip();
  }
  return out;
}

/** The start of the first line after `from` whose first character opens a JSON object or array (the end of the text if none). */
function nextOpening(text: string, from: number): number {
  const re = /\n[ \t]*[{[]/g;
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index + 1 : text.length;
}

const parse = (text: string): unknown => sjson.parse(text, null, { protoAction: 'remove', constructorAction: 'remove' });

/** Every record of a users file, in file order. */
export function readUsersFile(text: string): RawRecord[] {
  // Line starts, to turn offsets into line numbers.
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const records: RawRecord[] = [];
  const one = (from: number, to: number, unterminated?: boolean) => {
    const line = lineOf(from);
    if (unterminated) return records.push({ line, value: undefined, error: 'unterminated JSON value (the file may be cut short)' });
    try {
      records.push({ line, value: parse(text.slice(from, to)) });
    } catch (err) {
      records.push({ line, value: undefined, error: `not valid JSON (${(err as Error).message})` });
    }
  };
  // Top-level values one by one: after one that does not parse, go on at the next line that opens
  // a value, so that one broken record (of JSON lines) costs only itself.
  let pos = 0;
  while (pos < text.length) {
    const top = spans(text, pos, text.length, false)[0];
    if (!top) break;
    const before = records.length;
    if (text[top.from] === '[' && !top.unterminated) {
      // A page: each element is a record, at its own line.
      for (const el of spans(text, top.from + 1, top.to - 1, true)) one(el.from, el.to, el.unterminated);
    } else {
      one(top.from, top.to, top.unterminated);
      const parsed = records[before]!;
      // `baste users list --json` output: its lists, each element a record at the object's line.
      const v = parsed.value as Record<string, unknown> | undefined;
      if (v && typeof v === 'object' && !Array.isArray(v) && (Array.isArray(v.users) || Array.isArray(v.registrations)) && !('_id' in v)) {
        records.splice(before, 1, ...[...((v.users as unknown[]) ?? []), ...((v.registrations as unknown[]) ?? [])].map((value) => ({ line: parsed.line, value })));
      }
    }
    const broken = records.length === before + 1 && records[before]!.error !== undefined && text[top.from] !== '[';
    pos = broken ? nextOpening(text, top.from) : top.to;
  }
  return records;
}
