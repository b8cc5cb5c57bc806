// A user's update on a real MongoDB is computed by Baste (the rules check the document after it)
// and written back. Written as a whole-document replace, a change stream would report `replace`
// for every update, and rewrite fields the update never touched. This turns the document as read
// and the document as computed into a `$set` / `$unset` update of just what differs, so the
// cluster's change events say `update` with an `updateDescription` of the changed fields, as on
// the platform, where the user's update itself reached the cluster.
//
// Values are compared as canonical Extended JSON: a number whose BSON type the update sets (an
// Int64 or Double operand) differs from the plain number read back and is set; fields the update
// left alone are not written, so their stored types stay. Plain sub-documents are compared field
// by field (`$set: {"address.city": …}`); arrays and other values are set whole.

import { EJSON } from 'bson';
import type { Doc } from './engine.js';
import { isPlain } from './values.js';

export interface UpdateDiff {
  readonly $set?: Doc;
  readonly $unset?: Record<string, ''>;
}

/** A name usable in a dotted update path: not empty, no dot, not an operator. */
const pathSafe = (key: string) => key !== '' && !key.includes('.') && !key.startsWith('$');

const same = (a: unknown, b: unknown) => EJSON.stringify({ v: a }, { relaxed: false }) === EJSON.stringify({ v: b }, { relaxed: false });

/**
 * The update that turns `before` into `after` (same `_id`), or null when none can say it (a
 * changed field whose name a path cannot name, or nothing changed): the caller then replaces.
 */
export function updateDiff(before: Doc, after: Doc): UpdateDiff | null {
  const set: Doc = {};
  const unset: Record<string, ''> = {};
  if (!diffInto(before, after, '', set, unset, true)) return null;
  const hasSet = Object.keys(set).length > 0;
  const hasUnset = Object.keys(unset).length > 0;
  if (!hasSet && !hasUnset) return null;
  return { ...(hasSet ? { $set: set } : {}), ...(hasUnset ? { $unset: unset } : {}) };
}

/** Adds what differs under `prefix`; false when a changed field cannot be named by a path. */
function diffInto(before: Doc, after: Doc, prefix: string, set: Doc, unset: Record<string, ''>, top: boolean): boolean {
  for (const [key, value] of Object.entries(after)) {
    if (top && key === '_id') continue;
    const had = Object.prototype.hasOwnProperty.call(before, key);
    if (had && same(before[key], value)) continue;
    if (!pathSafe(key)) return false;
    const path = prefix + key;
    const was = had ? before[key] : undefined;
    // Only a non-empty sub-document both before and after is worth descending into: `{}` is set as is.
    if (isPlain(was) && isPlain(value) && Object.keys(value).length > 0) {
      if (!diffInto(was, value, `${path}.`, set, unset, false)) return false;
    } else {
      set[path] = value;
    }
  }
  for (const key of Object.keys(before)) {
    if (Object.prototype.hasOwnProperty.call(after, key)) continue;
    if (!pathSafe(key)) return false;
    unset[prefix + key] = '';
  }
  return true;
}
