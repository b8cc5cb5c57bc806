// The change event a database trigger's function receives, in the shape of a MongoDB change stream
// event (App Services triggers/database-triggers.txt, "Change Event Types"): `_id` (the resume
// token, `{_data}`), `operationType`, `ns`, `documentKey`, `fullDocument` (inserts and replaces
// always, updates only with `full_document`), `fullDocumentBeforeChange` (with
// `full_document_before_change`, never for inserts), `updateDescription` for updates, and
// `clusterTime` (a BSON Timestamp). Then the trigger's `match` filters and its `project` shapes it.

import { EJSON, Timestamp } from 'bson';
import { Aggregator, Query } from 'mingo';
import type { DatabaseTriggerConfig } from '../app/model.js';
import type { Doc, StoredChange } from '../data/engine.js';
import { decodeDoc } from '../data/embedded.js';
import { isPlain, normalizeNumbers } from '../data/values.js';
import { parseDocumentEjson } from '../util/ejson.js';

const MINGO = { scriptEnabled: false, idKey: '_id' } as const;

/** The resume token of a recorded change: its seq as 16 hex digits, so tokens sort as seqs do. */
export const resumeToken = (seq: number): { _data: string } => ({ _data: seq.toString(16).padStart(16, '0') });

const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || EJSON.stringify({ v: a }, { relaxed: false }) === EJSON.stringify({ v: b }, { relaxed: false });

/**
 * What an update changed, as MongoDB reports it: `updatedFields` by dotted path (embedded
 * documents are walked into; arrays and other values are reported whole) and `removedFields`.
 */
export function updateDescription(before: Doc, after: Doc): { updatedFields: Doc; removedFields: string[]; truncatedArrays: unknown[] } {
  const updatedFields: Doc = {};
  const removedFields: string[] = [];
  const walk = (b: Doc, a: Doc, prefix: string) => {
    for (const [k, v] of Object.entries(a)) {
      const path = prefix + k;
      if (!(k in b)) updatedFields[path] = v;
      else if (isPlain(v) && isPlain(b[k])) walk(b[k] as Doc, v, `${path}.`);
      else if (!sameValue(b[k], v)) updatedFields[path] = v;
    }
    for (const k of Object.keys(b)) if (!(k in a)) removedFields.push(prefix + k);
  };
  walk(before, after, '');
  return { updatedFields, removedFields, truncatedArrays: [] };
}

const OP_NAMES = { insert: 'INSERT', update: 'UPDATE', replace: 'REPLACE', delete: 'DELETE' } as const;

/** Whether the trigger listens to this kind of change at all (before building anything). */
export const listensTo = (trigger: DatabaseTriggerConfig, change: StoredChange): boolean => trigger.operations.includes(OP_NAMES[change.op]);

/** The change event of a recorded change, with the documents the trigger's options ask for. */
export function changeEvent(change: StoredChange, options: { fullDocument: boolean; fullDocumentBeforeChange: boolean }): Doc {
  const dot = change.ns.indexOf('.');
  const after = change.after === null ? undefined : decodeDoc(change.after);
  const before = change.before === null ? undefined : decodeDoc(change.before);
  const event: Doc = {
    _id: resumeToken(change.seq),
    operationType: change.op,
    // Seconds of the write, and the seq as the ordinal: unique and increasing within a namespace.
    clusterTime: new Timestamp({ t: Math.floor(change.at / 1000), i: change.seq % 0x1_0000_0000 }),
    ns: { db: change.ns.slice(0, dot), coll: change.ns.slice(dot + 1) },
    documentKey: { _id: (parseDocumentEjson(`{"_id":${change.id}}`) as Doc)._id },
  };
  if (after && (change.op !== 'update' || options.fullDocument)) event.fullDocument = after;
  if (before && options.fullDocumentBeforeChange && change.op !== 'insert') event.fullDocumentBeforeChange = before;
  if (change.op === 'update' && before && after) event.updateDescription = updateDescription(before, after);
  return event;
}

/** A trigger's filter and shape: the event, or null when its `match` rejects it. */
export function compileEventFilter(trigger: Pick<DatabaseTriggerConfig, 'match' | 'project'>): (event: Doc) => Doc | null {
  // The export's EJSON numbers (`{"$numberInt": "0"}`) compared as the stored documents' are: plain numbers.
  const match = Object.keys(trigger.match).length ? new Query(normalizeNumbers(trigger.match) as never, MINGO) : undefined;
  const project = Object.keys(trigger.project).length ? new Aggregator([{ $project: trigger.project }] as never, MINGO) : undefined;
  return (event) => {
    if (match && !match.test(event)) return null;
    return project ? ((project.run([event]) as Doc[])[0] ?? null) : event;
  };
}
