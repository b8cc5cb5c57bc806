// Expansions inside MongoDB queries: a filter's `query` (and a Stitch v1 filter's
// `match_expression`) may compare fields with `%%user.id`, `%%values.x`, ... Those values are
// substituted before the query reaches the engine; keys and operators are left as they are.

import { ObjectId } from 'bson';
import { ExpressionError, expand as expansion, type ExpressionVars } from './expressions.js';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

function expand(value: unknown, vars: ExpressionVars): unknown {
  if (typeof value === 'string') return value.startsWith('%%') ? expansion(value, vars) : value;
  if (Array.isArray(value)) return value.map((v) => expand(v, vars)).filter((v) => v !== undefined);
  if (!isPlainObject(value)) return value; // ObjectId, Date, Long, ... as they are
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === '%stringToOid') {
    const s = expand(value['%stringToOid'], vars);
    if (s instanceof ObjectId) return s;
    if (typeof s !== 'string' || !ObjectId.isValid(s)) throw new ExpressionError('%stringToOid needs a 24-hex string');
    return new ObjectId(s);
  }
  if (keys.length === 1 && keys[0] === '%oidToString') {
    const o = expand(value['%oidToString'], vars);
    return o instanceof ObjectId ? o.toHexString() : o;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const x = expand(v, vars);
    // A path that expands to nothing must not turn into "field is missing": compared directly it
    // matches no document; inside an operator it becomes null.
    out[k] = x !== undefined ? x : k.startsWith('$') || k.startsWith('%') ? null : { $in: [] };
  }
  return out;
}

/** The query with every `%%…` value replaced by what it expands to. */
export function expandQuery(query: Readonly<Record<string, unknown>>, vars: ExpressionVars): Record<string, unknown> {
  return expand(query, vars) as Record<string, unknown>;
}
