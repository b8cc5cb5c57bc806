// Matching, sorting and projecting the common shapes without mingo: a filter of top-level
// equalities to strings, booleans and ObjectIds (what rules push down: `{owner_id: "%%user.id"}`),
// a sort on top-level fields holding scalars, and an inclusion or exclusion projection of
// top-level fields. mingo stays the authority
// for everything else (these return undefined and the caller falls back to it); for the shapes
// they accept, they must give mingo's answer (test/data/fast-paths.test.ts checks them against it).
// Measured on 20 documents: mingo spends ~30 µs sorting by ObjectId and ~75 µs projecting; these
// take a few.

import type { Doc } from './engine.js';

type Spec = Readonly<Record<string, unknown>>;

const bsonTag = (v: unknown): string | undefined =>
  typeof v === 'object' && v !== null ? ((v as { _bsontype?: unknown })._bsontype as string | undefined) : undefined;

/** BSON comparison order of the types handled here; undefined for any other value. */
function rank(v: unknown): number | undefined {
  if (v === undefined || v === null) return 1;
  switch (typeof v) {
    case 'number':
      return Number.isNaN(v) ? undefined : 2;
    case 'string':
      // JS compares UTF-16 units, MongoDB UTF-8 bytes: they agree below the surrogate range.
      return /[\ud800-\uffff]/.test(v) ? undefined : 3;
    case 'boolean':
      return 8;
  }
  if (v instanceof Date) return 9;
  if (bsonTag(v) === 'ObjectId') return 7;
  return undefined;
}

function key(v: unknown): number | string | boolean | null {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return v.getTime();
  if (bsonTag(v) === 'ObjectId') return (v as { toHexString(): string }).toHexString();
  return v as number | string | boolean;
}

/** A value the fast matcher compares by equality, as its comparison key; undefined for others. */
function equalityKey(v: unknown): string | undefined {
  if (typeof v === 'string') return `s${v}`;
  if (typeof v === 'boolean') return v ? 'b1' : 'b0';
  if (bsonTag(v) === 'ObjectId') return `o${(v as { toHexString(): string }).toHexString()}`;
  return undefined;
}

/**
 * A predicate for a filter of top-level equalities (`{a: "x", b: true}`, possibly under `$and`)
 * to strings, booleans or ObjectIds, or undefined to leave it to mingo. As in MongoDB, a field
 * matches when it equals the value or is an array holding it; no other type equals these
 * (numbers, dates, null, documents never do).
 */
export function fastMatcher(filter: Spec): ((doc: Doc) => boolean) | undefined {
  const conditions: [string, string][] = [];
  const collect = (f: Spec): boolean => {
    for (const [field, value] of Object.entries(f)) {
      if (field === '$and' && Array.isArray(value) && value.length > 0) {
        for (const sub of value) {
          if (sub === null || typeof sub !== 'object' || Array.isArray(sub) || Object.getPrototypeOf(sub) !== Object.prototype) return false;
          if (!collect(sub as Spec)) return false;
        }
        continue;
      }
      if (field.length === 0 || field.startsWith('$') || field.includes('.')) return false;
      const k = equalityKey(value);
      if (k === undefined) return false;
      conditions.push([field, k]);
    }
    return true;
  };
  if (!collect(filter)) return undefined;
  const holds = (v: unknown, k: string) => equalityKey(v) === k || (Array.isArray(v) && v.some((x) => equalityKey(x) === k));
  return (doc) => conditions.every(([field, k]) => holds(doc[field], k));
}

/** `docs` sorted by a sort spec of top-level fields holding scalars, or undefined to leave it to mingo. */
export function fastSort(docs: readonly Doc[], spec: Spec): Doc[] | undefined {
  const fields = Object.entries(spec);
  if (fields.length === 0) return [...docs];
  const dirs: number[] = [];
  for (const [field, dir] of fields) {
    if (field.includes('.') || field.startsWith('$') || (dir !== 1 && dir !== -1)) return undefined;
    dirs.push(dir);
  }
  const rows: { doc: Doc; ranks: number[]; keys: ReturnType<typeof key>[] }[] = [];
  for (const doc of docs) {
    const ranks: number[] = [];
    const keys: ReturnType<typeof key>[] = [];
    for (const [field] of fields) {
      const value = doc[field];
      const r = rank(value);
      if (r === undefined) return undefined;
      ranks.push(r);
      keys.push(key(value));
    }
    rows.push({ doc, ranks, keys });
  }
  rows.sort((a, b) => {
    for (let i = 0; i < dirs.length; i++) {
      const byRank = a.ranks[i]! - b.ranks[i]!;
      if (byRank !== 0) return byRank * dirs[i]!;
      const x = a.keys[i]!;
      const y = b.keys[i]!;
      if (x !== y) return (x! < y! ? -1 : 1) * dirs[i]!;
    }
    return 0;
  });
  return rows.map((r) => r.doc);
}

/** A projection of top-level fields (inclusion or exclusion, `_id` either way), or undefined to leave it to mingo. */
export function fastProject(docs: readonly Doc[], spec: Spec): Doc[] | undefined {
  const entries = Object.entries(spec);
  if (entries.length === 0) return [...docs];
  let include: boolean | undefined;
  let withId = true;
  const fields = new Set<string>();
  for (const [field, value] of entries) {
    if (field.includes('.') || field.startsWith('$')) return undefined;
    if (typeof value !== 'number' && typeof value !== 'boolean') return undefined;
    const on = Boolean(value);
    if (field === '_id') {
      withId = on;
      continue;
    }
    if (include !== undefined && include !== on) return undefined; // mixed: mingo says why it is refused
    include = on;
    fields.add(field);
  }
  // `{_id: 1}` alone includes only `_id`; `{_id: 0}` alone excludes only it.
  include ??= withId;
  return docs.map((doc) => {
    const out: Doc = {};
    for (const [field, value] of Object.entries(doc)) {
      if (field === '_id' ? withId : fields.has(field) === include) out[field] = value;
    }
    return out;
  });
}
