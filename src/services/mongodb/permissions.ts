// What a user may do with a collection's documents (behaviour.md §E.2): filters merged before any
// read, a role chosen per document (first `apply_when` that holds, in order), document-level
// permissions overriding field-level ones, `write` implying `read`. Pure apart from `%function`.

import { EJSON } from 'bson';
import type { CollectionRules, FilterConfig, RoleConfig } from '../../app/model.js';
import { evaluate, type EvaluateOptions } from '../../rules/expressions.js';
import { decodeDocumentEjson } from '../../util/ejson.js';
import type { Doc } from '../../data/engine.js';

/** Who asks, in expansion form: `user`, `values`, `environment`, `request`. */
export type Subject = Record<string, unknown>;

const decode = (v: unknown) => decodeDocumentEjson(v) as Record<string, unknown>;

export class CollectionAccess {
  constructor(
    private readonly rules: { readonly roles: readonly RoleConfig[]; readonly filters: readonly FilterConfig[] } | undefined,
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

  /** The applicable filters' queries (ANDed into the request's) and projection. */
  async filters(): Promise<{ queries: Record<string, unknown>[]; projection: Record<string, unknown> }> {
    const queries: Record<string, unknown>[] = [];
    let projection: Record<string, unknown> = {};
    for (const filter of this.rules?.filters ?? []) {
      if (!(await this.check(filter.applyWhen))) continue;
      if (Object.keys(filter.query).length) queries.push(decode(filter.query));
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
    const vars = { root: doc };
    if ((await this.check(role.read, vars)) || (await this.check(role.write, vars))) return doc;
    const out: Doc = {};
    let any = false;
    for (const [field, value] of Object.entries(doc)) {
      if (field === '_id') continue;
      const rule = role.fields[field] ?? role.additionalFields;
      const fieldVars = { root: doc, this: value };
      if ((await this.check(rule.read ?? false, fieldVars)) || (await this.check(rule.write ?? false, fieldVars))) {
        out[field] = value;
        any = true;
      }
    }
    return any ? { _id: doc._id, ...out } : null;
  }

  /** May the role turn `before` into `after`? Document-level write, or write on every field that changes. */
  async canWrite(role: RoleConfig, after: Doc, before?: Doc): Promise<boolean> {
    if (await this.check(role.write, { root: after, prevRoot: before })) return true;
    const fields = new Set([...Object.keys(after), ...Object.keys(before ?? {})]);
    fields.delete('_id');
    for (const field of fields) {
      const now = after[field];
      const then = before?.[field];
      if (before && EJSON.stringify({ v: now }) === EJSON.stringify({ v: then })) continue;
      const rule = role.fields[field] ?? role.additionalFields;
      if (!(await this.check(rule.write ?? false, { root: after, prevRoot: before, this: now, prev: then }))) return false;
    }
    return true;
  }

  /** `insert` is not enough: the role must also be allowed to write every field of the document. */
  async canInsert(role: RoleConfig, doc: Doc): Promise<boolean> {
    return (await this.check(role.insert, { root: doc })) && this.canWrite(role, doc);
  }

  /** Deleting needs the `delete` permission and document-level write: a read-only role deletes nothing. */
  async canDelete(role: RoleConfig, doc: Doc): Promise<boolean> {
    return (await this.check(role.delete, { root: doc, prevRoot: doc })) && (await this.check(role.write, { root: doc, prevRoot: doc }));
  }
}

export function rulesFor(
  collection: CollectionRules | undefined,
  defaults: { readonly roles: readonly RoleConfig[]; readonly filters: readonly FilterConfig[] } | undefined,
) {
  // Default rules apply only to collections that define no roles of their own (no fallback).
  if (collection && collection.roles.length > 0) return collection;
  return defaults;
}
