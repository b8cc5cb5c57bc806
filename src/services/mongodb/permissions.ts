// What a user may do with a collection's documents (App Services rules, https://www.mongodb.com/docs/atlas/app-services/rules/): filters merged before any
// read, a role chosen per document (first `apply_when` that holds, in order), document-level
// permissions overriding field-level ones, a field's permissions overriding those of its
// sub-fields, `write` implying `read`, and the collection schema checked on every permitted write.
// Pure apart from `%function`.

import { EJSON } from 'bson';
import type { CollectionRules, FieldRule, FilterConfig, PartitionSyncConfig, RoleConfig } from '../../app/model.js';
import { BasteError } from '../../errors.js';
import { evaluate, syncEvaluator, type EvaluateOptions } from '../../rules/expressions.js';
import { allOf, anyOf, NONE, toPreFilter, type PreFilter } from '../../rules/to-query.js';
import { expandQuery } from '../../rules/query-expansions.js';
import { validateDocument, type JsonSchema } from '../../rules/schema.js';
import { decodeDocumentEjson } from '../../util/ejson.js';
import type { Doc, Filter } from '../../data/engine.js';
import { openFields, readableQuery, type ReadableQuery } from './readable-query.js';

/** Who asks, in expansion form: `user`, `values`, `environment`, `request`. */
export type Subject = Record<string, unknown>;

/** What CollectionAccess enforces: a collection's rules, or the data source's default ones. */
export interface AccessRules {
  readonly roles: readonly RoleConfig[];
  readonly filters: readonly FilterConfig[];
  readonly schema?: JsonSchema;
  /** Stitch v1 rules: queries see only what the caller may read (readable-query.ts). */
  readonly readableQueries?: boolean;
}

type Permission = { readonly read?: unknown; readonly write?: unknown };
type Vars = Record<string, unknown>;

const decode = (v: unknown) => decodeDocumentEjson(v) as Record<string, unknown>;
const same = (a: unknown, b: unknown) => EJSON.stringify({ v: a }) === EJSON.stringify({ v: b });
/** Sub-field rules descend into embedded documents only; arrays and bson values are leaves. */
const isEmbedded = (v: unknown): v is Doc =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
/** `_id` is never subject to field rules: it cannot change, and a readable document always shows it. */
function withoutId(doc: Doc): Doc;
function withoutId(doc: Doc | undefined): Doc | undefined;
function withoutId(doc: Doc | undefined): Doc | undefined {
  if (!doc) return undefined;
  const { _id, ...rest } = doc;
  return rest;
}

/** A check's answer: at once when the expression compiled (no `%function`), else a promise. */
type Verdict = boolean | Promise<boolean>;

/**
 * Which of a role's permissions may be evaluated for a document, by its `document_filters`
 * (mongodb/tables/role-configuration.rst): read ones (`read`, fields' `read`) and write ones
 * (`write`, fields' `write`, which imply read).
 */
interface Gates {
  readonly read: boolean;
  readonly write: boolean;
}
const OPEN: Gates = { read: true, write: true };

export class CollectionAccess {
  /** Bare keys in collection rules refer to the document. */
  private readonly opts: EvaluateOptions;
  /**
   * The variables of each kind of check, built once per access (one request) from the subject and
   * reused for every document: only `root` / `prevRoot` / `this` / `prev` change between calls.
   * Which keys exist matters (`%%this` in an `apply_when` is an unknown expansion), so there is one
   * object per kind: the subject alone (filters), with the document (roles, document-level
   * permissions), and with the field (field-level permissions, schema `validate`).
   */
  private subjectVars?: Vars;
  private docVars?: Vars;
  private fieldVars?: Vars;
  private filtersAnswer?: Promise<{ queries: Record<string, unknown>[]; projection: Record<string, unknown> }>;

  constructor(
    private readonly rules: AccessRules | undefined,
    private readonly subject: Subject,
    private readonly options: EvaluateOptions,
  ) {
    this.opts = { ...options, bareKeysRefer: 'root' };
  }

  /*
   * The compiled path runs synchronously on the shared variables (set just before, read only
   * during the call). An expression that may call `%function` gets a fresh copy instead, since its
   * evaluation outlives the call and the shared object may change meanwhile.
   */

  private checkSubject(expr: unknown): Verdict {
    const vars = (this.subjectVars ??= { ...this.subject });
    const run = syncEvaluator(expr);
    return run ? run(vars, this.opts) : evaluate(expr, { ...vars }, this.opts);
  }

  private checkDoc(expr: unknown, root: Doc | undefined, prevRoot: Doc | undefined): Verdict {
    const run = syncEvaluator(expr);
    if (!run) return evaluate(expr, { ...this.subject, root, prevRoot }, this.opts);
    const vars = (this.docVars ??= { ...this.subject, root, prevRoot });
    vars.root = root;
    vars.prevRoot = prevRoot;
    return run(vars, this.opts);
  }

  private checkField(expr: unknown, root: Doc | undefined, prevRoot: Doc | undefined, value: unknown, prev: unknown): Verdict {
    const run = syncEvaluator(expr);
    if (!run) return evaluate(expr, { ...this.subject, root, prevRoot, this: value, prev }, this.opts);
    const vars = (this.fieldVars ??= { ...this.subject, root, prevRoot, this: value, prev });
    vars.root = root;
    vars.prevRoot = prevRoot;
    vars.this = value;
    vars.prev = prev;
    return run(vars, this.opts);
  }

  /** Stitch v1 rules: whether readableQuery may answer anything but undefined. */
  get readsQueries(): boolean {
    return this.rules?.readableQueries === true;
  }

  /**
   * How a user's query and sort run: whole in the engine, or (Stitch v1 rules) partly there and
   * then on what the caller may read of each document. Undefined: whole in the engine.
   */
  readableQuery(query: Filter, sort: Record<string, unknown> | undefined): ReadableQuery | undefined {
    if (!this.rules?.readableQueries) return undefined;
    return readableQuery(query, sort, openFields(this.rules.roles));
  }

  /** No rules at all (neither the collection's nor default ones): nobody but the system user gets in. */
  get closed(): boolean {
    return !this.rules || this.rules.roles.length === 0;
  }

  /**
   * A query every document some role applies to matches (the roles' `apply_when` translated for
   * this caller): the data service pushes it down so indexes narrow the read. Loose by design —
   * roles are still chosen per document. Null when no role can apply to any document.
   */
  async prefilter(): Promise<Record<string, unknown> | null> {
    const parts: Record<string, unknown>[] = [];
    for (const role of this.rules?.roles ?? []) {
      // A role reaches the documents it applies to that one of its document filters lets through.
      const filters = role.documentFilters;
      let reach: PreFilter = {};
      if (filters) {
        const read = await toPreFilter(filters.read ?? true, this.subject, this.opts);
        const write = await toPreFilter(filters.write ?? true, this.subject, this.opts);
        // The usual template has one owner query for both: one lookup, not an `$or` of two.
        reach = same(read, write) ? read : anyOf([read, write]);
      }
      const pre = allOf([await toPreFilter(role.applyWhen, this.subject, this.opts), reach]);
      if (pre === NONE) continue;
      if (Object.keys(pre).length === 0) return {};
      parts.push(pre);
    }
    if (parts.length === 0) return null;
    return parts.length === 1 ? parts[0]! : { $or: parts };
  }

  /**
   * The applicable filters' queries (ANDed into the request's) and projection. Worked out once per
   * access when no filter's `apply_when` calls `%function` (the answer cannot change then); the
   * data service asks twice per find (the query, then the projection).
   */
  filters(): Promise<{ queries: Record<string, unknown>[]; projection: Record<string, unknown> }> {
    if (this.filtersAnswer) return this.filtersAnswer;
    const answer = this.computeFilters();
    if ((this.rules?.filters ?? []).every((f) => syncEvaluator(f.applyWhen) !== null)) this.filtersAnswer = answer;
    return answer;
  }

  private async computeFilters(): Promise<{ queries: Record<string, unknown>[]; projection: Record<string, unknown> }> {
    const queries: Record<string, unknown>[] = [];
    let projection: Record<string, unknown> = {};
    for (const filter of this.rules?.filters ?? []) {
      if (!(await this.checkSubject(filter.applyWhen))) continue;
      // Queries may compare with expansions (`{"owner_id": "%%user.id"}`).
      if (Object.keys(filter.query).length) queries.push(expandQuery(decode(filter.query), this.subject));
      projection = { ...projection, ...filter.projection };
    }
    return { queries, projection };
  }

  /** The first role whose `apply_when` holds for the document, or null (no access to it). */
  /*
   * roleFor and readable answer at once when the checks they need compiled (no `%function`): a
   * find of 20 documents would otherwise wait on 40 promises that are already settled.
   */

  roleFor(root: Doc, prevRoot?: Doc, from = 0): RoleConfig | null | Promise<RoleConfig | null> {
    const roles = this.rules?.roles ?? [];
    for (let i = from; i < roles.length; i++) {
      const applies = this.checkDoc(roles[i]!.applyWhen, root, prevRoot);
      if (applies === true) return roles[i]!;
      if (applies !== false) return applies.then((ok) => (ok ? roles[i]! : this.roleFor(root, prevRoot, i + 1)));
    }
    return null;
  }

  /**
   * `document_filters.read` or `.write` of the role on a document; an undefined one holds
   * (role-configuration.rst). For a write, `root` is the document after it and `prevRoot` before.
   */
  private documentFilter(role: RoleConfig, kind: 'read' | 'write', root: Doc, prevRoot: Doc | undefined): Verdict {
    const expr = role.documentFilters?.[kind];
    return expr === undefined ? true : this.checkDoc(expr, root, prevRoot);
  }

  /**
   * The permissions the role's document filters let be evaluated on a stored document. The docs'
   * one twist: a false `read` filter denies reading unless a `write` filter is defined and holds.
   */
  private async gates(role: RoleConfig, doc: Doc): Promise<Gates> {
    const read = await this.documentFilter(role, 'read', doc, doc);
    const write = await this.documentFilter(role, 'write', doc, doc);
    return { read, write: write && (read || role.documentFilters?.write !== undefined) };
  }

  /**
   * Does the role give the caller anything at all on this document (its document filters let
   * some permission be evaluated)? A document it gives nothing on is out of reach, as if no role
   * applied: never read, never matched by a write.
   */
  reaches(role: RoleConfig, doc: Doc): Verdict {
    if (!role.documentFilters) return true;
    const read = this.documentFilter(role, 'read', doc, doc);
    if (read === true) return true;
    return Promise.resolve(read).then((ok) => ok || this.documentFilter(role, 'write', doc, doc));
  }

  /** The document as the role may read it: all of it, some fields, or nothing (null). */
  readable(role: RoleConfig, doc: Doc): Doc | null | Promise<Doc | null> {
    if (role.documentFilters) return this.readableGated(role, doc);
    // Reading leaves the document as it is: `%%prevRoot` / `%%prev` (of write rules) equal the current values.
    const read = this.checkDoc(role.read, doc, doc);
    return read === true ? doc : this.readableUnlessRead(role, doc, read, OPEN);
  }

  private async readableGated(role: RoleConfig, doc: Doc): Promise<Doc | null> {
    const gates = await this.gates(role, doc);
    if (!gates.read && !gates.write) return null;
    return this.readableUnlessRead(role, doc, gates.read ? this.checkDoc(role.read, doc, doc) : false, gates);
  }

  private async readableUnlessRead(role: RoleConfig, doc: Doc, read: Verdict, gates: Gates): Promise<Doc | null> {
    if (await read) return doc;
    if (gates.write) {
      const write = this.checkDoc(role.write, doc, doc);
      if (write === true || (write !== false && (await write))) return doc;
    }
    const out = await this.readableFields(role.fields, role.additionalFields, withoutId(doc), doc, doc, gates);
    return Object.keys(out).length ? { _id: doc._id, ...out } : null;
  }

  /**
   * The fields of a document (or of an embedded one) that the rules let the caller read. A field
   * whose own rule grants is shown whole; otherwise its sub-field rules, if any, pick what of it shows.
   */
  private async readableFields(
    fields: Readonly<Record<string, FieldRule>>,
    additional: Permission,
    obj: Doc,
    root: Doc,
    prevRoot: Doc,
    gates: Gates,
  ): Promise<Doc> {
    const out: Doc = {};
    for (const [key, value] of Object.entries(obj)) {
      const entry = fields[key];
      if (await this.grantsRead(entry ?? additional, root, prevRoot, value, gates)) {
        out[key] = value;
      } else if (entry?.fields && isEmbedded(value)) {
        const part = await this.readableFields(entry.fields, entry.additionalFields ?? additional, value, root, prevRoot, gates);
        if (Object.keys(part).length) out[key] = part;
      }
    }
    return out;
  }

  /**
   * `write` implies `read`; a missing expression grants nothing, and so does one the document
   * filters keep from being evaluated. `%%this` and `%%prev` are both the field's value.
   */
  private grantsRead(rule: Permission, root: Doc, prevRoot: Doc, value: unknown, gates: Gates): Verdict {
    const write = () => (gates.write ? this.checkField(rule.write ?? false, root, prevRoot, value, value) : false);
    const read = gates.read ? this.checkField(rule.read ?? false, root, prevRoot, value, value) : false;
    if (read === true) return true;
    if (read === false) return write();
    return read.then((ok) => ok || write());
  }

  /**
   * May the role (chosen for `before`) turn `before` into `after`? The role's `apply_when` must
   * still hold for the document after the change, its `document_filters.write` for the document as
   * it is and as it would be, and then document-level write, or write on every field that changes
   * (a sub-field's rules decide when its parent's do not grant). Every expression sees `%%root` as
   * the document after the change and `%%prevRoot` as before it (rules/expressions.txt: `%%root` is
   * "the full document as it exists at the end of a database operation"), so a write that takes a
   * document out of the caller's role or out of what they may write (giving it to another owner)
   * is refused; an `apply_when` can let a document leave on purpose by naming `%%prevRoot`. A
   * permitted write whose result breaks the collection schema throws SchemaValidationFailedWrite
   * instead of answering.
   */
  async canWrite(role: RoleConfig, after: Doc, before?: Doc): Promise<boolean> {
    if (before) {
      if (!(await this.documentFilter(role, 'write', before, before))) return false;
      if (!(await this.checkDoc(role.applyWhen, after, before))) return false;
    }
    if (!(await this.documentFilter(role, 'write', after, before))) return false;
    const allowed =
      (await this.checkDoc(role.write, after, before)) ||
      (await this.writableFields(role.fields, role.additionalFields, withoutId(after), withoutId(before) ?? {}, after, before));
    if (allowed) await this.validate(after, before);
    return allowed;
  }

  /** Every field that differs between `now` and `then` is writable under `fields` / `additional`. */
  private async writableFields(
    fields: Readonly<Record<string, FieldRule>>,
    additional: Permission,
    now: Doc,
    then: Doc,
    root: Doc | undefined,
    prevRoot: Doc | undefined,
  ): Promise<boolean> {
    for (const key of new Set([...Object.keys(now), ...Object.keys(then)])) {
      const a = now[key];
      const b = then[key];
      if (same(a, b)) continue;
      const entry = fields[key];
      if (await this.checkField((entry ?? additional).write ?? false, root, prevRoot, a, b)) continue;
      // Into embedded documents only, and only for a real change inside: creating or removing an
      // empty one is a change of the parent field alone.
      if (entry?.fields && (a === undefined || isEmbedded(a)) && (b === undefined || isEmbedded(b))) {
        const inner = { now: (a ?? {}) as Doc, then: (b ?? {}) as Doc };
        const changesInside = Object.keys(inner.now).length > 0 || Object.keys(inner.then).length > 0;
        if (changesInside && (await this.writableFields(entry.fields, entry.additionalFields ?? additional, inner.now, inner.then, root, prevRoot))) continue;
      }
      return false;
    }
    return true;
  }

  /** Writes by users must leave a document the collection schema accepts (system callers never get here). */
  private async validate(after: Doc, before?: Doc): Promise<void> {
    const schema = this.rules?.schema;
    if (!schema || (before && same(after, before))) return;
    const bad = await validateDocument(schema, after, {
      before,
      check: async (expr, at) => this.checkField(expr, after, before, at.this, at.prev),
    });
    if (bad) throw new BasteError('SchemaValidationFailedWrite', `the document does not match the collection schema: ${bad.path || 'document'} ${bad.reason}`);
  }

  /** `insert` is not enough: the role must also be allowed to write every field of the document. */
  async canInsert(role: RoleConfig, doc: Doc): Promise<boolean> {
    return (await this.checkDoc(role.insert, doc, undefined)) && this.canWrite(role, doc);
  }

  /**
   * Deleting needs `delete` and write permission on the whole document: document-level `write`, or
   * field-level write on every field it holds (a delete removes them all: `%%this` is absent, `%%prev`
   * the value, `%%root` the document). A read-only role deletes nothing.
   */
  async canDelete(role: RoleConfig, doc: Doc): Promise<boolean> {
    if (!(await this.documentFilter(role, 'write', doc, doc))) return false;
    if (!(await this.checkDoc(role.delete, doc, doc))) return false;
    if (await this.checkDoc(role.write, doc, doc)) return true;
    const fields = withoutId(doc);
    return Object.keys(fields).length > 0 && this.writableFields(role.fields, role.additionalFields, {}, fields, doc, doc);
  }
}

export function rulesFor(
  collection: CollectionRules | undefined,
  defaults: { readonly roles: readonly RoleConfig[]; readonly filters: readonly FilterConfig[]; readonly readableQueries?: boolean } | undefined,
  partitionSync?: PartitionSyncConfig,
): AccessRules | undefined {
  // A cluster with Partition-Based Sync: its permissions replace every collection's rules
  // ("If sync is enabled for a cluster, any non-sync rules defined for the cluster do not apply",
  // sync/data-access-patterns/permissions.txt); the collection's schema still checks writes.
  if (partitionSync) return { roles: partitionSync.roles, filters: [], ...(collection?.schema ? { schema: collection.schema } : {}) };
  // Default rules apply only to collections that define no roles of their own (no fallback); a
  // collection's schema applies whichever roles do.
  if (collection && collection.roles.length > 0) return collection;
  if (!collection?.schema) return defaults;
  return { roles: defaults?.roles ?? [], filters: defaults?.filters ?? [], schema: collection.schema, ...(defaults?.readableQueries ? { readableQueries: true } : {}) };
}
