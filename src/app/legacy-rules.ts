// Stitch v1 (2017) collection rules, as the first 20180301 exports wrote
// them in services/<svc>/rules/<db>.<coll>.json:
//   { "namespace": "<db>.<coll>", "read": Expr, "write": Expr, "valid": Expr,
//     "fields": { "<name>": { "read"?, "write"?, "valid"? } }, "other_fields": { ... },
//     "filters": [ { "when": Expr, "match_expression": Query } ] }
// They are translated here, at load time, into one role, filters and a schema, so the data service
// enforces every generation the same way.
//
// v1 semantics and how they map:
// * `read` decides whether a document exists for the user at all → the role's `apply_when`, so a
//   document it refuses is neither seen, counted, updated nor deleted. Absent: `{"owner_id": "%%user.id"}`
//   (the platform's default, as is `write`'s).
// * Listed fields (`{}` = no rule of their own) are readable / writable when the document is, unless
//   their own `read` / `write` says otherwise; unlisted fields exist only with `other_fields`.
// * `write` must hold for the document after the change (`%%root`, `%%prevRoot`); field `write` rules
//   for the fields that change. Without field-level rules it is the role's document-level `write`;
//   with them it is ANDed into each field's `write` (and the role's `insert`, so an insert of an
//   empty document still meets it).
// * `valid` (document and fields) must hold for inserted and updated documents → a schema whose
//   `validate` keywords carry those expressions (`%%this` / `%%prev` are the field's values).
// * A field rule that is not an object (`"valid": "%%user.id"`) compares the field: `{"%%this": value}`.
//
// * Predicates on unreadable fields never match: the collection is marked `readableQueries`, and a
//   user's query and sort are answered from what the caller may read (services/mongodb/readable-query.ts).
//
// Where Baste does not reproduce v1 exactly:
// * A negated predicate on an unreadable field (`$ne`, `$nor`, `$exists: false`) sees the field as
//   absent, so it matches every such document alike, whatever the hidden value.
// * An insert must produce a document the `read` rule accepts (it selects the role).
// * Field `write` rules are checked for the fields that change; v1 checked the whole resulting
//   document, so an old violating field blocked every write ("stop on error"). Baste checks every
//   document of a multi-document write before writing any, where v1 wrote those before the failure.
// * `valid` rules run on fields present in the resulting document, not on removed ones, and refuse
//   with SchemaValidationFailedWrite.
// * `write` implies `read` in the roles model, so a field whose `read` refuses is not writable either
//   (v1 could make write-only fields); `_id` shows whenever anything of the document does.
// * Nested field rules (`fields` inside a field) are refused at load rather than guessed.

import { ConfigError } from '../errors.js';
import type { FieldRule, FilterConfig, RoleConfig } from './model.js';
import { Fields, isObject, typeName, type JsonObject } from './check.js';

const V1_KEYS = ['namespace', 'read', 'write', 'valid', 'fields', 'other_fields'];
const OWNER_ONLY = { owner_id: '%%user.id' };

/** A legacy rule file in the v1 form: no `roles`, and v1 keys instead. */
export function isStitchV1Rule(doc: JsonObject): boolean {
  return !('roles' in doc) && V1_KEYS.some((k) => k in doc && doc[k] !== null);
}

export interface TranslatedRule {
  readonly database?: string;
  readonly collection?: string;
  readonly roles: RoleConfig[];
  readonly filters: FilterConfig[];
  readonly schema?: JsonObject;
}

interface V1Field {
  readonly read?: unknown;
  readonly write?: unknown;
  readonly valid?: unknown;
}

/** Field rules compare the field itself when written as a plain value. */
const fieldExpr = (v: unknown): unknown => (v === undefined || typeof v === 'boolean' || isObject(v) ? v : { '%%this': v });

/** ANDs expressions, dropping those that always hold. */
function and(...exprs: unknown[]): unknown {
  const parts = exprs.filter((e) => e !== undefined && e !== true && !(isObject(e) && Object.keys(e).length === 0));
  if (parts.some((e) => e === false)) return false;
  if (parts.length === 0) return true;
  return parts.length === 1 ? parts[0] : { '%and': parts };
}

/** `%%this` / `%%prev` of field `name` as document-level expansions (`%%root.name`, `%%prevRoot.name`). */
function lift(expr: unknown, name: string): unknown {
  const swap = (s: string) =>
    s === '%%this' || s.startsWith('%%this.') ? `%%root.${name}${s.slice(6)}` : s === '%%prev' || s.startsWith('%%prev.') ? `%%prevRoot.${name}${s.slice(6)}` : s;
  if (typeof expr === 'string') return swap(expr);
  if (Array.isArray(expr)) return expr.map((e) => lift(e, name));
  if (!isObject(expr)) return expr;
  return Object.fromEntries(Object.entries(expr).map(([k, v]) => [swap(k), lift(v, name)]));
}

function readField(raw: unknown, file: string, path: string): V1Field {
  if (!isObject(raw)) throw new ConfigError(file, path, `must be an object, not ${typeName(raw)}`);
  const f = new Fields(file, raw, path);
  if (f.has('fields')) throw f.refuse('fields', 'nested field rules of Stitch v1 rules are not supported by Baste');
  return { read: fieldExpr(f.raw('read')), write: fieldExpr(f.raw('write')), valid: fieldExpr(f.raw('valid')) };
}

export function translateStitchV1Rule(doc: JsonObject, file: string): TranslatedRule {
  const f = new Fields(file, doc);
  const read = f.raw('read') ?? OWNER_ONLY;
  const write = f.raw('write') ?? OWNER_ONLY;
  const valid = f.raw('valid');
  const fields = new Map(Object.entries(f.object('fields') ?? {}).map(([name, raw]) => [name, readField(raw, file, `fields.${name}`)]));
  const others = f.has('other_fields') ? readField(f.raw('other_fields'), file, 'other_fields') : undefined;

  const entries = [...fields.values(), ...(others ? [others] : [])];
  const fieldReads = !others || entries.some((e) => e.read !== undefined);
  // Field reads need field-level writes too: a document-level `write` would imply reading it all.
  const fieldLevel = fieldReads || entries.some((e) => e.write !== undefined);

  const roleFields: Record<string, FieldRule> = {};
  for (const [name, rule] of fields) {
    if (name === '_id') continue; // never subject to field rules; its `write` goes into `insert` below
    roleFields[name] = { read: rule.read ?? true, write: and(write, rule.write, rule.read) };
  }
  const idWrite = fields.get('_id')?.write;
  const role: RoleConfig = {
    name: 'stitch-v1',
    applyWhen: read,
    read: !fieldReads,
    write: fieldLevel ? false : write,
    insert: fieldLevel ? and(write, idWrite === undefined ? undefined : lift(idWrite, '_id')) : true,
    delete: true,
    search: true,
    fields: fieldLevel ? roleFields : {},
    additionalFields: others ? { read: others.read ?? true, write: and(write, others.write, others.read) } : { read: false, write: false },
  };

  const filters = (f.array('filters') ?? []).map((raw, i): FilterConfig => {
    if (!isObject(raw)) throw new ConfigError(file, `filters[${i}]`, `must be an object, not ${typeName(raw)}`);
    const ff = new Fields(file, raw, `filters[${i}]`);
    return {
      name: `filter-${i}`,
      applyWhen: ff.raw('when') ?? {},
      query: ff.object('match_expression') ?? ff.object('matchExpression') ?? {},
      projection: {},
    };
  });

  const namespace = f.string('namespace');
  const dot = namespace?.indexOf('.') ?? -1;
  if (namespace !== undefined && dot <= 0) throw f.refuse('namespace', 'must be "<database>.<collection>"');
  return {
    database: namespace?.slice(0, dot),
    collection: namespace?.slice(dot + 1),
    roles: [role],
    filters,
    schema: validSchema(valid, fields, others),
  };
}

/** `valid` rules as a schema with `validate` keywords; none when there are no `valid` rules. */
function validSchema(valid: unknown, fields: ReadonlyMap<string, V1Field>, others: V1Field | undefined): JsonObject | undefined {
  const any = valid !== undefined || others?.valid !== undefined || [...fields.values()].some((e) => e.valid !== undefined);
  if (!any) return undefined;
  const properties = Object.fromEntries([...fields].map(([name, rule]) => [name, rule.valid === undefined ? {} : { validate: rule.valid }]));
  return {
    bsonType: 'object',
    ...(valid !== undefined ? { validate: valid } : {}),
    properties,
    ...(others?.valid !== undefined ? { additionalProperties: { validate: others.valid } } : {}),
  };
}
