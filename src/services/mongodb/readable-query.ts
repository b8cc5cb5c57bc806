// Queries under Stitch v1 rules, where predicates on unreadable fields never match. A user's query, sort included, is answered from what the caller may read of each
// document, never from the stored document: a field the rules hide is absent to the query, so
// `{secret: "x"}`, `{secret: {$gt: …}}` or `{secret: {$exists: true}}` never match, and what does
// match (`{secret: {$exists: false}}`, `{secret: {$ne: "x"}}`) matches whatever the hidden value
// is. The answer then depends on nothing the caller cannot already see.
//
// The engine still narrows the read: the conjuncts that name only fields every role shows whole
// (read `true` as a literal, `_id`) give the same answer on the stored document, so they are
// pushed down; the whole query is then tested on each document's readable part. Pure.

import { ObjectId } from 'bson';
import { Query } from 'mingo';
import type { FieldRule, RoleConfig } from '../../app/model.js';
import type { Doc, Filter } from '../../data/engine.js';

const MINGO = { scriptEnabled: false, idKey: '_id' } as const;

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ObjectId) && !(v instanceof Date);

/** Operators that combine whole queries; any other top-level `$` operator is not split. */
const LOGICAL = new Set(['$and', '$or', '$nor']);

/**
 * The top-level fields every role shows whole to everyone it applies to, whatever the document:
 * `_id`, and fields whose read permission is the literal `true` (or the role's document-level read
 * or write is). Null when every field is.
 */
export function openFields(roles: readonly RoleConfig[]): ((field: string) => boolean) | null {
  const whole = (role: RoleConfig) => role.read === true || role.write === true;
  if (roles.every(whole)) return null;
  const open = (role: RoleConfig, field: string): boolean => {
    if (whole(role)) return true;
    const entry: FieldRule | undefined = Object.hasOwn(role.fields, field) ? role.fields[field] : undefined;
    const rule = entry ?? role.additionalFields;
    return rule.read === true || rule.write === true;
  };
  return (field) => field === '_id' || roles.every((role) => open(role, field));
}

/** Does the query name only open fields (through `$and` / `$or` / `$nor`)? */
function namesOnlyOpen(query: unknown, open: (field: string) => boolean): boolean {
  if (!isPlain(query)) return false;
  return Object.entries(query).every(([key, value]) => {
    if (LOGICAL.has(key)) return Array.isArray(value) && value.every((q) => namesOnlyOpen(q, open));
    if (key === '$comment') return true;
    if (key.startsWith('$')) return false; // $expr, $text, $jsonSchema…: may read any field
    return open(key.split('.')[0]!);
  });
}

export interface ReadableQuery {
  /** What the engine may run on stored documents: looser than the query, never stricter. */
  readonly pushdown: Filter;
  /** The query must still be tested on each document's readable part. */
  readonly residual: boolean;
  /** Whether the sort names only open fields (the engine may sort then). */
  readonly sortInEngine: boolean;
  /** The query on what the caller may read of a document. */
  matches(view: Doc): boolean;
}

/** Splits a user's query (and sort) under rules whose hidden fields must not take part in matching. */
export function readableQuery(query: Filter, sort: Record<string, unknown> | undefined, open: ((field: string) => boolean) | null): ReadableQuery {
  if (open === null) return { pushdown: query, residual: false, sortInEngine: true, matches: () => true };
  const pushed: Filter[] = [];
  let residual = false;
  for (const [key, value] of Object.entries(query)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const part of value) {
        if (namesOnlyOpen(part, open)) pushed.push(part as Filter);
        else residual = true;
      }
    } else if (namesOnlyOpen({ [key]: value }, open)) pushed.push({ [key]: value });
    else residual = true;
  }
  const pushdown = pushed.length === 0 ? {} : pushed.length === 1 ? pushed[0]! : { $and: pushed };
  const compiled = residual ? new Query(query as never, MINGO) : undefined;
  return {
    pushdown,
    residual,
    sortInEngine: sort === undefined || Object.keys(sort).every((path) => open(path.split('.')[0]!)),
    matches: (view) => compiled === undefined || compiled.test(view as never),
  };
}

/** Items in the order of `sort` applied to their views (for sorts the engine may not run). */
export function sortByViews<T extends { readonly view: Doc }>(items: readonly T[], sort: Record<string, unknown>): T[] {
  const byView = new Map<Doc, T>();
  // Distinct objects even when two items share a view object.
  const views = items.map((item) => {
    const view = { ...item.view };
    byView.set(view, item);
    return view;
  });
  const sorted = new Query({}, MINGO).find(views as never).sort(sort as never).all() as Doc[];
  return sorted.map((view) => byView.get(view)!);
}
