// The change event one user receives: the collection's change event (triggers/change-event.ts, or
// a MongoDB change stream's) seen through that user's rules, exactly as a `find` would show the
// documents (MongoService.watchTarget). Then the stream's own `filter` and `ids`, then the compact
// form if asked.
//
// - insert, replace, update: sent when the user can read the document as it is now; `fullDocument`
//   is what they can read of it (updates carry it too: realm-web's tests expect it, and the platform
//   opened its streams with `updateLookup`), and `updateDescription` keeps only what they can read:
//   updated paths present in that view, removed paths they could read before.
// - delete: sent when the user could read the document before it went; only its key.
// - A document the user could read before the change and cannot after it (moved out of a rule
//   filter, handed to another owner) is, from where they stand, gone: they get a `delete` event with
//   only its key, so a live list drops it and nothing of its new content shows. The App Services and
//   Stitch docs say nothing of this case; this is Baste's choice (README, "Watch").
// - Anything else (a document they never could read) sends nothing.
//
// The stream's `filter` runs on the event as the user gets it, so it cannot probe hidden fields.

import { EJSON } from 'bson';
import { withJsRegExps } from '../data/regex.js';
import { Query } from 'mingo';
import type { Doc } from '../data/engine.js';
import { isPlain, normalizeNumbers } from '../data/values.js';

const MINGO = { scriptEnabled: false, idKey: '_id' } as const;

/** How a document shows to the stream's user (null: not at all). */
export type Viewer = (doc: Doc) => Promise<Doc | null>;

/** A stream's own selection: `ids` (as canonical EJSON keys) and a `$match` over the event. */
export interface Selection {
  readonly ids?: ReadonlySet<string>;
  readonly match?: Query;
  readonly compact: boolean;
}

export const idKeyOf = (id: unknown): string => EJSON.stringify({ id }, { relaxed: false });

/** Compiles the stream's options; throws (mingo's error) on a filter that is not a query. */
export function selection(opts: { ids?: readonly unknown[]; filter?: Record<string, unknown>; compact: boolean }): Selection {
  return {
    ...(opts.ids ? { ids: new Set(opts.ids.map((id) => idKeyOf(normalizeNumbers(id)))) } : {}),
    ...(opts.filter ? { match: new Query(withJsRegExps(normalizeNumbers(opts.filter)) as never, MINGO) } : {}),
    compact: opts.compact,
  };
}

function has(doc: Doc, path: string): boolean {
  let node: unknown = doc;
  for (const key of path.split('.')) {
    if (!isPlain(node) || !(key in node)) return false;
    node = node[key];
  }
  return true;
}

function at(doc: Doc, path: string): unknown {
  let node: unknown = doc;
  for (const key of path.split('.')) node = (node as Doc)[key];
  return node;
}

/**
 * The event for this user, or null. `raw` carries `fullDocument` (the document after the change,
 * when it still exists) and `fullDocumentBeforeChange` (before it, when known).
 */
export async function userEvent(raw: Doc, view: Viewer, sel: Selection): Promise<Doc | null> {
  const documentKey = raw.documentKey as Doc;
  if (sel.ids && !sel.ids.has(idKeyOf(documentKey._id))) return null;
  const op = raw.operationType as string;
  const after = isPlain(raw.fullDocument) && op !== 'delete' ? await view(raw.fullDocument) : null;
  const beforeDoc = isPlain(raw.fullDocumentBeforeChange) ? raw.fullDocumentBeforeChange : undefined;
  // Unknown (a MongoDB change stream without pre-images): a delete or departure then goes to
  // streams that named the document in `ids`, which already know its key.
  const before = beforeDoc ? await view(beforeDoc) : op === 'insert' ? null : sel.ids ? {} : null;
  const base: Doc = { _id: raw._id, operationType: op, clusterTime: raw.clusterTime, ns: raw.ns, documentKey };
  if (raw.wallTime !== undefined) base.wallTime = raw.wallTime;
  let event: Doc;
  if (after) {
    event = { ...base, fullDocument: after };
    if (op === 'update' && isPlain(raw.updateDescription)) {
      const ud = raw.updateDescription as { updatedFields?: Doc; removedFields?: string[]; truncatedArrays?: unknown[] };
      const updatedFields: Doc = {};
      for (const path of Object.keys(ud.updatedFields ?? {})) if (has(after, path)) updatedFields[path] = at(after, path);
      const removedFields = (ud.removedFields ?? []).filter((path) => before !== null && beforeDoc !== undefined && has(before, path));
      event.updateDescription = { updatedFields, removedFields, truncatedArrays: ud.truncatedArrays ?? [] };
    }
  } else if (before) {
    // Deleted, or out of the user's view now.
    event = { ...base, operationType: 'delete' };
  } else return null;
  if (sel.match && !sel.match.test(event)) return null;
  return sel.compact ? compact(event) : event;
}

/** Stitch's compact event (`watchCompact`): `ot`, `dk`, and `fd` or `ud`. */
function compact(event: Doc): Doc {
  const out: Doc = { ot: event.operationType, dk: event.documentKey };
  if (event.operationType === 'update') out.ud = event.updateDescription;
  else if (event.fullDocument !== undefined) out.fd = event.fullDocument;
  return out;
}
