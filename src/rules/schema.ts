// Document schemas (https://www.mongodb.com/docs/atlas/app-services/schemas/): the JSON Schema dialect of App Services, with
// `bsonType`, checked against documents as the data service holds them. Pure: the Stitch-era
// `validate` keyword (a rule expression on the field) runs through a callback the caller gives.
//
// Numbers arrive decoded (src/util/ejson.ts): Int32 and Double become plain JS numbers and Longs
// within 2^53 do too, so the wire type is lost. An integral JS number therefore satisfies "int"
// (within 32 bits), "long" and "double"; a fractional one satisfies "double". Only a Decimal128 is a
// "decimal", only a Long beyond 2^53 is a Long object. Lenient on the int/long/double split, strict
// on everything else.

import { EJSON } from 'bson';
import { bsonTag, bsonTypesOf } from './bson-types.js';

export type JsonSchema = Readonly<Record<string, unknown>>;

/** A schema that cannot be used: `path` is the keyword's place in the schema, e.g. `properties.age.minimum`. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path || '(root)'}: ${reason}`);
  }
}

export interface SchemaViolation {
  /** Where in the document, e.g. `profile.age` or `tags.2` (empty for the document itself). */
  readonly path: string;
  readonly reason: string;
}

export interface ValidateOptions {
  /** The document before the write (absent on insert): `%%prev` of `validate` expressions. */
  readonly before?: Readonly<Record<string, unknown>>;
  /** Evaluates a `validate` expression with `%%this` / `%%prev` at the field; without it `validate` fails closed. */
  readonly check?: (expr: unknown, at: { readonly this: unknown; readonly prev: unknown }) => Promise<boolean>;
}

const BSON_TYPES = new Set([
  'double', 'string', 'object', 'array', 'binData', 'undefined', 'objectId', 'bool', 'date', 'null', 'regex',
  'javascript', 'symbol', 'int', 'timestamp', 'long', 'decimal', 'minKey', 'maxKey', 'number', 'uuid',
]);
const JSON_TYPES = new Set(['object', 'array', 'number', 'integer', 'boolean', 'string', 'null']);
/** Annotations: accepted and not enforced by design. */
const ANNOTATIONS = new Set(['title', 'description', '$schema', '$comment', 'default', 'examples']);

interface Node {
  readonly path: string;
  bsonTypes?: readonly string[];
  jsonTypes?: readonly string[];
  properties?: Map<string, Node>;
  patternProperties?: [RegExp, Node][];
  additionalProperties?: boolean | Node;
  required?: readonly string[];
  minProperties?: number;
  maxProperties?: number;
  items?: Node | Node[];
  additionalItems?: boolean | Node;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  allOf?: Node[];
  anyOf?: Node[];
  oneOf?: Node[];
  not?: Node;
  validate?: unknown;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

const join = (base: string, key: string) => (base ? `${base}.${key}` : key);

/** JSON Schema `type`, over the same values. */
function jsonTypesOf(v: unknown): string[] {
  const bson = bsonTypesOf(v);
  const out: string[] = [];
  if (bson.includes('object')) out.push('object');
  if (bson.includes('array')) out.push('array');
  if (bson.includes('number')) out.push('number');
  if (bson.includes('int') || bson.includes('long')) out.push('integer');
  if (bson.includes('bool')) out.push('boolean');
  if (bson.includes('string')) out.push('string');
  if (bson.includes('null')) out.push('null');
  return out;
}

/** A numeric value as a JS number (Long and Decimal128 approximated), or null when not numeric. */
function numeric(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  switch (bsonTag(v)) {
    case 'Int32':
    case 'Double':
      return (v as { value: number }).value;
    case 'Long':
      return (v as { toNumber(): number }).toNumber();
    case 'Decimal128':
      return Number.parseFloat(String(v));
  }
  return null;
}

/** Compares a numeric value with a bound: exactly for Longs beyond 2^53, by float for the rest. */
function compareTo(v: unknown, n: number, bound: number): number {
  if (bsonTag(v) === 'Long' && Number.isInteger(bound)) {
    const big = BigInt(String(v));
    const b = BigInt(bound);
    return big < b ? -1 : big > b ? 1 : 0;
  }
  return n < bound ? -1 : n > bound ? 1 : 0;
}

/** Equality key for `enum` and `uniqueItems`: numbers by value whatever their wrapper, bson values by content. */
function equalityKey(v: unknown): string {
  const n = numeric(v);
  if (n !== null && bsonTag(v) !== 'Decimal128') return `n:${bsonTag(v) === 'Long' ? String(v) : String(n)}`;
  return JSON.stringify(canonical(v));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, canonical(x)]));
  const n = numeric(v);
  if (n !== null && bsonTag(v) !== 'Decimal128') return { n: bsonTag(v) === 'Long' ? String(v) : n };
  if (v === undefined) return { undefined: true };
  return EJSON.serialize({ v }, { relaxed: false }).v;
}

// ---- compiling --------------------------------------------------------------------------------

function nonNegativeInt(raw: Record<string, unknown>, key: string, path: string): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SchemaError(join(path, key), 'must be a non-negative integer');
  return v;
}

function finiteNumber(raw: Record<string, unknown>, key: string, path: string): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  const n = numeric(v) ?? (isPlainObject(v) ? numeric(EJSON.deserialize(v as Record<string, unknown>, { relaxed: false })) : null);
  if (n === null || !Number.isFinite(n)) throw new SchemaError(join(path, key), 'must be a number');
  return n;
}

function flag(raw: Record<string, unknown>, key: string, path: string): boolean | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new SchemaError(join(path, key), 'must be true or false');
  return v;
}

function typeList(raw: Record<string, unknown>, key: string, path: string, known: Set<string>): string[] | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw new SchemaError(join(path, key), 'must name at least one type');
  for (const t of list) {
    if (typeof t !== 'string' || !known.has(t)) throw new SchemaError(join(path, key), `unknown type ${JSON.stringify(t)}`);
  }
  return list as string[];
}

function regex(source: unknown, path: string): RegExp {
  if (typeof source !== 'string') throw new SchemaError(path, 'must be a regular expression string');
  try {
    return new RegExp(source, 'u');
  } catch {
    throw new SchemaError(path, 'is not a valid regular expression');
  }
}

function schemaList(v: unknown, path: string, ignored: string[]): Node[] {
  if (!Array.isArray(v) || v.length === 0) throw new SchemaError(path, 'must be a non-empty array of schemas');
  return v.map((s, i) => compileNode(s, `${path}.${i}`, ignored));
}

function compileNode(raw: unknown, path: string, ignored: string[]): Node {
  if (!isPlainObject(raw)) throw new SchemaError(path, 'must be a schema object');
  const node: Node = { path };
  for (const key of Object.keys(raw)) {
    const at = join(path, key);
    const v = raw[key];
    switch (key) {
      case 'bsonType':
        node.bsonTypes = typeList(raw, key, path, BSON_TYPES);
        break;
      case 'type':
        node.jsonTypes = typeList(raw, key, path, JSON_TYPES);
        break;
      case 'properties':
        if (!isPlainObject(v)) throw new SchemaError(at, 'must be an object of schemas');
        node.properties = new Map(Object.entries(v).map(([name, s]) => [name, compileNode(s, join(at, name), ignored)]));
        break;
      case 'patternProperties':
        if (!isPlainObject(v)) throw new SchemaError(at, 'must be an object of schemas');
        node.patternProperties = Object.entries(v).map(([p, s]) => [regex(p, join(at, p)), compileNode(s, join(at, p), ignored)]);
        break;
      case 'additionalProperties':
      case 'additionalItems':
        node[key] = typeof v === 'boolean' ? v : compileNode(v, at, ignored);
        break;
      case 'required':
        if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new SchemaError(at, 'must be an array of field names');
        node.required = v as string[];
        break;
      case 'items':
        node.items = Array.isArray(v) ? v.map((s, i) => compileNode(s, `${at}.${i}`, ignored)) : compileNode(v, at, ignored);
        break;
      case 'enum':
        if (!Array.isArray(v) || v.length === 0) throw new SchemaError(at, 'must be a non-empty array');
        // Schema files are EJSON: {"$oid": ...} in an enum means an ObjectId.
        node.enum = v.map((x) => equalityKey(EJSON.deserialize({ x }, { relaxed: false }).x));
        break;
      case 'minimum':
      case 'maximum':
      case 'multipleOf':
        node[key] = finiteNumber(raw, key, path);
        if (key === 'multipleOf' && !(node.multipleOf! > 0)) throw new SchemaError(at, 'must be greater than 0');
        break;
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
      case 'uniqueItems':
        node[key] = flag(raw, key, path);
        break;
      case 'minLength':
      case 'maxLength':
      case 'minItems':
      case 'maxItems':
      case 'minProperties':
      case 'maxProperties':
        node[key] = nonNegativeInt(raw, key, path);
        break;
      case 'pattern':
        node.pattern = regex(v, at);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        node[key] = schemaList(v, at, ignored);
        break;
      case 'not':
        node.not = compileNode(v, at, ignored);
        break;
      case 'validate':
        node.validate = v;
        break;
      default:
        if (!ANNOTATIONS.has(key)) ignored.push(at);
    }
  }
  return node;
}

/**
 * Checks a collection schema and prepares it for validation. Throws SchemaError for a schema that
 * cannot be enforced as written; `ignored` lists the paths of keywords Baste does not enforce.
 */
export function compileSchema(raw: unknown): { readonly ignored: readonly string[] } {
  const ignored: string[] = [];
  const node = compileNode(raw, '', ignored);
  if (node.bsonTypes && !(node.bsonTypes.length === 1 && node.bsonTypes[0] === 'object')) throw new SchemaError('bsonType', 'the root of a collection schema must be "object"');
  if (node.jsonTypes && !(node.jsonTypes.length === 1 && node.jsonTypes[0] === 'object')) throw new SchemaError('type', 'the root of a collection schema must be "object"');
  if (isPlainObject(raw)) cache.set(raw, node);
  return { ignored };
}

/** Schemas are frozen config objects: compile each once. */
const cache = new WeakMap<object, Node>();

function compiled(schema: JsonSchema): Node {
  let node = cache.get(schema);
  if (!node) {
    node = compileNode(schema, '', []);
    cache.set(schema, node);
  }
  return node;
}

/** True when a schema constrains anything (an empty `{}` or a title alone does not). */
export function isEmptySchema(raw: unknown): boolean {
  return isPlainObject(raw) && Object.keys(raw).every((k) => ANNOTATIONS.has(k));
}

// ---- validating -------------------------------------------------------------------------------

type Fail = (reason: string) => SchemaViolation;

async function check(node: Node, value: unknown, prev: unknown, path: string, opts: ValidateOptions): Promise<SchemaViolation | null> {
  const fail: Fail = (reason) => ({ path, reason });
  if (node.bsonTypes) {
    const has = bsonTypesOf(value);
    if (!node.bsonTypes.some((t) => has.includes(t))) return fail(`must be of bsonType ${node.bsonTypes.join(' or ')}`);
  }
  if (node.jsonTypes) {
    const has = jsonTypesOf(value);
    if (!node.jsonTypes.some((t) => has.includes(t))) return fail(`must be of type ${node.jsonTypes.join(' or ')}`);
  }
  if (node.enum && !node.enum.includes(equalityKey(value))) return fail('must be one of the allowed values');

  const n = numeric(value);
  if (n !== null) {
    if (node.minimum !== undefined && (node.exclusiveMinimum ? compareTo(value, n, node.minimum) <= 0 : compareTo(value, n, node.minimum) < 0)) {
      return fail(`must be ${node.exclusiveMinimum ? 'greater than' : 'at least'} ${node.minimum}`);
    }
    if (node.maximum !== undefined && (node.exclusiveMaximum ? compareTo(value, n, node.maximum) >= 0 : compareTo(value, n, node.maximum) > 0)) {
      return fail(`must be ${node.exclusiveMaximum ? 'less than' : 'at most'} ${node.maximum}`);
    }
    if (node.multipleOf !== undefined && !Number.isInteger(Number((n / node.multipleOf).toPrecision(15)))) return fail(`must be a multiple of ${node.multipleOf}`);
  }

  if (typeof value === 'string') {
    const length = [...value].length;
    if (node.minLength !== undefined && length < node.minLength) return fail(`must be at least ${node.minLength} characters long`);
    if (node.maxLength !== undefined && length > node.maxLength) return fail(`must be at most ${node.maxLength} characters long`);
    if (node.pattern && !node.pattern.test(value)) return fail(`must match the pattern ${node.pattern.source}`);
  }

  if (Array.isArray(value)) {
    if (node.minItems !== undefined && value.length < node.minItems) return fail(`must have at least ${node.minItems} items`);
    if (node.maxItems !== undefined && value.length > node.maxItems) return fail(`must have at most ${node.maxItems} items`);
    if (node.uniqueItems && new Set(value.map(equalityKey)).size !== value.length) return fail('must not contain duplicate items');
    const prevItems = Array.isArray(prev) ? prev : [];
    for (let i = 0; i < value.length; i++) {
      const itemNode: Node | boolean | undefined = Array.isArray(node.items) ? (i < node.items.length ? node.items[i] : node.additionalItems) : node.items;
      if (itemNode === false) return fail(`must have at most ${(node.items as Node[]).length} items`);
      if (itemNode === undefined || itemNode === true) continue;
      const bad = await check(itemNode, value[i], prevItems[i], join(path, String(i)), opts);
      if (bad) return bad;
    }
  }

  if (isPlainObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    for (const name of node.required ?? []) {
      if (value[name] === undefined) return { path: join(path, name), reason: 'is required' };
    }
    if (node.minProperties !== undefined && keys.length < node.minProperties) return fail(`must have at least ${node.minProperties} fields`);
    if (node.maxProperties !== undefined && keys.length > node.maxProperties) return fail(`must have at most ${node.maxProperties} fields`);
    const prevObject = isPlainObject(prev) ? prev : {};
    for (const key of keys) {
      const at = join(path, key);
      const explicit = node.properties?.get(key);
      const patterned = (node.patternProperties ?? []).filter(([re]) => re.test(key)).map(([, s]) => s);
      const sub = [...(explicit ? [explicit] : []), ...patterned];
      if (sub.length === 0 && node.additionalProperties !== undefined) {
        if (node.additionalProperties === false) return { path: at, reason: 'is not allowed by the schema' };
        if (node.additionalProperties !== true) sub.push(node.additionalProperties);
      }
      for (const s of sub) {
        const bad = await check(s, value[key], prevObject[key], at, opts);
        if (bad) return bad;
      }
    }
  }

  for (const s of node.allOf ?? []) {
    const bad = await check(s, value, prev, path, opts);
    if (bad) return bad;
  }
  if (node.anyOf) {
    let ok = false;
    for (const s of node.anyOf) if (!(await check(s, value, prev, path, opts))) ok = true;
    if (!ok) return fail('must match at least one of the allowed schemas (anyOf)');
  }
  if (node.oneOf) {
    let matched = 0;
    for (const s of node.oneOf) if (!(await check(s, value, prev, path, opts))) matched++;
    if (matched !== 1) return fail('must match exactly one of the allowed schemas (oneOf)');
  }
  if (node.not && !(await check(node.not, value, prev, path, opts))) return fail('must not match the excluded schema (not)');

  if (node.validate !== undefined) {
    // Fails closed without an evaluator: an expression that cannot run must not let a write through.
    const ok = opts.check ? await opts.check(node.validate, { this: value, prev }) : false;
    if (!ok) return fail('failed its validate expression');
  }
  return null;
}

/**
 * Validates a whole document against a collection schema: the first violation found, or null.
 * Keywords for objects, arrays, strings and numbers apply only to values of that kind (JSON Schema).
 */
export async function validateDocument(schema: JsonSchema, doc: Readonly<Record<string, unknown>>, opts: ValidateOptions = {}): Promise<SchemaViolation | null> {
  return check(compiled(schema), doc, opts.before, '', opts);
}
