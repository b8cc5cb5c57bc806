// What a user may do with a collection's documents (behaviour.md §E.2): filters merged before any
// read, a role chosen per document (first `apply_when` that holds, in order), document-level
// permissions overriding field-level ones, a field's permissions overriding those of its
// sub-fields, `write` implying `read`, and the collection schema checked on every permitted write.
// Pure apart from `%function`.

import { EJSON } from 'bson';
import type { CollectionRules, FieldRule, FilterConfig, RoleConfig } from '../../app/model.js';
import { BasteError } from '../../errors.js';
import { evaluate, type EvaluateOptions } from '../../rules/expressions.js';
import { NONE, toPreFilter } from '../../rules/to-query.js';
import { expandQuery } from '../../rules/query-expansions.js';
import { validateDocument, type JsonSchema } from '../../rules/schema.js';
import { decodeDocumentEjson } from '../../util/ejson.js';
import type { Doc } from '../../data/engine.js';

/** Who asks, in expansion form: `user`, `values`, `environment`, `request`. */
export type Subject = Record<string, unknown>;

/** What CollectionAccess enforces: a collection's rules, or the data source's default ones. */
export interface AccessRules {
  readonly roles: readonly RoleConfig[];
  readonly filters: readonly FilterConfig[];
  readonly schema?: JsonSchema;
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

export class CollectionAccess {
  constructor(
    private readonly rules: AccessRules | undefined,
    private readonly subject: Subject,
    private readonly options: EvaluateOptions,
  ) {}

  private check(expr: unknown, vars: Record<string, unknown> = {}): Promise<boolean> {
    return evaluate(expr, { ...this.subject, ...vars }, { ...this.options, bareKeysRefer: 'root' });
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
    const opts = { ...this.options, bareKeysRefer: 'root' };
    const parts: Record<string, unknown>[] = [];
    for (const role of this.rules?.roles ?? []) {
      const pre = await toPreFilter(role.applyWhen, this.subject, opts);
      if (pre === NONE) continue;
      if (Object.keys(pre).length === 0) return {};
      parts.push(pre);
    }
    if (parts.length === 0) return null;
    return parts.length === 1 ? parts[0]! : { $or: parts };
  }

  /** The applicable filters' queries (ANDed into the request's) and projection. */
  async filters(): Promise<{ queries: Record<string, unknown>[]; projection: Record<string, unknown> }> {
    const queries: Record<string, unknown>[] = [];
    let projection: Record<string, unknown> = {};
    for (const filter of this.rules?.filters ?? []) {
      if (!(await this.check(filter.applyWhen))) continue;
      // Queries may compare with expansions (`{"owner_id": "%%user.id"}`).
      if (Object.keys(filter.query).length) queries.push(expandQuery(decode(filter.query), this.subject));
      projection = { ...projection, ...filter.projection };
    }
    return { queries, projection };
  }

  /** The first role whose `apply_when` holds for the document, or null (no access to it). */
  async roleFor(root: Doc, prevRoot?: Doc): Promise<RoleConfig | null> {
    for (const role of this.rules?.roles ?? []) {
      if (await this.check(role.applyWhen, { root, prevRoot })) return role;
    }
    return null;
  }

  /** The document as the role may read it: all of it, some fields, or nothing (null). */
  async readable(role: RoleConfig, doc: Doc): Promise<Doc | null> {
    // Reading leaves the document as it is: `%%prevRoot` / `%%prev` (of write rules) equal the current values.
    const vars = { root: doc, prevRoot: doc };
    if ((await this.check(role.read, vars)) || (await this.check(role.write, vars))) return doc;
    const out = await this.readableFields(role.fields, role.additionalFields, withoutId(doc), vars);
    return Object.keys(out).length ? { _id: doc._id, ...out } : null;
  }

  /**
   * The fields of a document (or of an embedded one) that the rules let the caller read. A field
   * whose own rule grants is shown whole; otherwise its sub-field rules, if any, pick what of it shows.
   */
  private async readableFields(fields: Readonly<Record<string, FieldRule>>, additional: Permission, obj: Doc, docs: Vars): Promise<Doc> {
    const out: Doc = {};
    for (const [key, value] of Object.entries(obj)) {
      const entry = fields[key];
      if (await this.grantsRead(entry ?? additional, { ...docs, this: value, prev: value })) {
        out[key] = value;
      } else if (entry?.fields && isEmbedded(value)) {
        const part = await this.readableFields(entry.fields, entry.additionalFields ?? additional, value, docs);
        if (Object.keys(part).length) out[key] = part;
      }
    }
    return out;
  }

  /** `write` implies `read`; a missing expression grants nothing. */
  private async grantsRead(rule: Permission, vars: Vars): Promise<boolean> {
    return (await this.check(rule.read ?? false, vars)) || this.check(rule.write ?? false, vars);
  }

  /**
   * May the role turn `before` into `after`? Document-level write, or write on every field that
   * changes (a sub-field's rules decide when its parent's do not grant). A permitted write whose
   * result breaks the collection schema throws SchemaValidationFailedWrite instead of answering.
   */
  async canWrite(role: RoleConfig, after: Doc, before?: Doc): Promise<boolean> {
    const docs = { root: after, prevRoot: before };
    const allowed =
      (await this.check(role.write, docs)) ||
      (await this.writableFields(role.fields, role.additionalFields, withoutId(after), withoutId(before) ?? {}, docs));
    if (allowed) await this.validate(after, before);
    return allowed;
  }

  /** Every field that differs between `now` and `then` is writable under `fields` / `additional`. */
  private async writableFields(fields: Readonly<Record<string, FieldRule>>, additional: Permission, now: Doc, then: Doc, docs: Vars): Promise<boolean> {
    for (const key of new Set([...Object.keys(now), ...Object.keys(then)])) {
      const a = now[key];
      const b = then[key];
      if (same(a, b)) continue;
      const entry = fields[key];
      if (await this.check((entry ?? additional).write ?? false, { ...docs, this: a, prev: b })) continue;
      // Into embedded documents only, and only for a real change inside: creating or removing an
      // empty one is a change of the parent field alone.
      if (entry?.fields && (a === undefined || isEmbedded(a)) && (b === undefined || isEmbedded(b))) {
        const inner = { now: (a ?? {}) as Doc, then: (b ?? {}) as Doc };
        const changesInside = Object.keys(inner.now).length > 0 || Object.keys(inner.then).length > 0;
        if (changesInside && (await this.writableFields(entry.fields, entry.additionalFields ?? additional, inner.now, inner.then, docs))) continue;
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
      check: (expr, at) => this.check(expr, { root: after, prevRoot: before, this: at.this, prev: at.prev }),
    });
    if (bad) throw new BasteError('SchemaValidationFailedWrite', `the document does not match the collection schema: ${bad.path || 'document'} ${bad.reason}`);
  }

  /** `insert` is not enough: the role must also be allowed to write every field of the document. */
  async canInsert(role: RoleConfig, doc: Doc): Promise<boolean> {
    return (await this.check(role.insert, { root: doc, prevRoot: undefined })) && this.canWrite(role, doc);
  }

  /**
   * Deleting needs `delete` and write permission on the whole document: document-level `write`, or
   * field-level write on every field it holds (a delete removes them all: `%%this` is absent, `%%prev`
   * the value, `%%root` the document). A read-only role deletes nothing.
   */
  async canDelete(role: RoleConfig, doc: Doc): Promise<boolean> {
    const docs = { root: doc, prevRoot: doc };
    if (!(await this.check(role.delete, docs))) return false;
    if (await this.check(role.write, docs)) return true;
    const fields = withoutId(doc);
    return Object.keys(fields).length > 0 && this.writableFields(role.fields, role.additionalFields, {}, fields, docs);
  }
}

export function rulesFor(
  collection: CollectionRules | undefined,
  defaults: { readonly roles: readonly RoleConfig[]; readonly filters: readonly FilterConfig[] } | undefined,
): AccessRules | undefined {
  // Default rules apply only to collections that define no roles of their own (no fallback); a
  // collection's schema applies whichever roles do.
  if (collection && collection.roles.length > 0) return collection;
  if (!collection?.schema) return defaults;
  return { roles: defaults?.roles ?? [], filters: defaults?.filters ?? [], schema: collection.schema };
}
