// The top-level fields a collection's rules compare by equality, for the embedded engines to
// index: those in the filters' `query` and in the roles' `apply_when` (and `document_filters`)
// written as `{ "<field>": <value> }` or `{ "%%root.<field>": <value> }`, where the value is known
// before the document is read (a literal, or an expansion such as `%%user.id`). A simple reading:
// fields it misses are only read without an index; fields it adds only cost an index. Pure.

import type { FilterConfig, RoleConfig } from '../../app/model.js';

const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** Expansions about the document itself: not known ahead, so not an index lookup. */
const DOCUMENT_EXPANSION = /^%%(root|prevRoot|this|prev)(\.|$)/;
/** Operator objects an index can answer (EJSON literals such as `{"$oid": …}` are values). */
const EQUALITY = new Set(['$eq', '%eq', '$in', '%in']);
const EJSON_LITERAL = new Set(['$oid', '$numberInt', '$numberLong', '$numberDouble', '$numberDecimal', '$date']);

function comparedByEquality(v: unknown): boolean {
  if (typeof v === 'string') return !DOCUMENT_EXPANSION.test(v);
  if (typeof v === 'number' || typeof v === 'boolean') return true;
  if (isPlain(v)) {
    const keys = Object.keys(v);
    return keys.length > 0 && (keys.every((k) => EJSON_LITERAL.has(k)) || keys.some((k) => EQUALITY.has(k)));
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v); // ObjectId, Date…
}

const topLevel = (field: string) => field.length > 0 && field !== '_id' && !field.includes('.') && !field.startsWith('$') && !field.startsWith('%');

/** A MongoDB query: its fields, through `$and` / `$or`. */
function queryFields(query: unknown, out: Set<string>): void {
  if (!isPlain(query)) return;
  for (const [k, v] of Object.entries(query)) {
    if ((k === '$and' || k === '$or') && Array.isArray(v)) v.forEach((q) => queryFields(q, out));
    else if (topLevel(k) && comparedByEquality(v)) out.add(k);
  }
}

/** A rule expression (bare keys refer to `%%root`): its fields, through `%and` / `%or` (and `$`). */
function expressionFields(expr: unknown, out: Set<string>): void {
  if (!isPlain(expr)) return;
  for (const [k, v] of Object.entries(expr)) {
    if (['%and', '$and', '%or', '$or'].includes(k) && Array.isArray(v)) v.forEach((e) => expressionFields(e, out));
    else {
      const field = k.startsWith('%%root.') ? k.slice('%%root.'.length) : k;
      if (topLevel(field) && comparedByEquality(v)) out.add(field);
    }
  }
}

export function indexFields(rules: { readonly roles: readonly RoleConfig[]; readonly filters: readonly FilterConfig[] } | undefined): string[] {
  const out = new Set<string>();
  for (const filter of rules?.filters ?? []) queryFields(filter.query, out);
  for (const role of rules?.roles ?? []) {
    expressionFields(role.applyWhen, out);
    expressionFields(role.documentFilters?.read, out);
    expressionFields(role.documentFilters?.write, out);
  }
  return [...out];
}
