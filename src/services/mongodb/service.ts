// The `mongodb-atlas` data service: the operations the SDKs send through `functions/call` and that
// functions reach through `context.services`, with rules applied here, once, for every engine.
// Each data source has its engine (the embedded store, or a MongoDB cluster). What can run where
// the data is, does: a user's query ANDed with the rule filters (and the roles' prefilter) goes to
// the engine, whose indexes or server narrow it; roles are then chosen per returned document, so a
// user's limit applies after them. The system user has no roles, so its limit, sort and projection
// — and on a real MongoDB its whole counts, aggregations, updates and deletes — run in the engine.
// Otherwise MongoDB update and aggregation semantics come from mingo; nothing here evaluates
// JavaScript (mingo's script operators are off, and refused by name before they reach it).

import { EJSON, ObjectId } from 'bson';
import { Aggregator, Query } from 'mingo';
import { update as applyModifier } from 'mingo/updater';
import { withJsRegExps } from '../../data/regex.js';
import { MingoError } from 'mingo/util';
import type { AppConfig, DataSourceConfig, RoleConfig } from '../../app/model.js';
import { BasteError } from '../../errors.js';
import { fastProject } from '../../data/fast-paths.js';
import { collect, DuplicateKeyError, findAll, WriteConflictError, QueryError, type Doc, type DocumentEngine, type Filter, type WriteBatch } from '../../data/engine.js';
import { resolvedValues } from '../../app/values.js';
import { parseDocumentEjson } from '../../util/ejson.js';
import type { CallRequest, CallUser } from '../../functions/types.js';
import { indexFields } from './index-fields.js';
import { CollectionAccess, rulesFor } from './permissions.js';
import { checkPipeline } from './pipeline.js';
import { sortByViews, type ReadableQuery } from './readable-query.js';
import { documentNumberTypes, typesAfterUpdate, typesUnder, withNumberTypes, type NumberType, type NumberTypes } from '../../data/number-types.js';
import { expressionRequest } from '../../functions/request-headers.js';

export interface DataCaller {
  /** The active user, or null for the system user. */
  readonly user: CallUser | null;
  /** Bypasses rules (system functions, triggers). */
  readonly system: boolean;
  readonly request?: CallRequest;
}

type Args = Record<string, unknown>;

const MINGO = { scriptEnabled: false, idKey: '_id' } as const;
/** Operators that run code or reach other collections: refused for users, and code ones for everyone. */
const SCRIPT_OPERATORS = new Set(['$where', '$function', '$accumulator']);
const MAX_RESULTS = 50_000;

const clone = (doc: Doc): Doc => parseDocumentEjson(EJSON.stringify(doc, { relaxed: false })) as Doc;
const same = (a: unknown, b: unknown) => EJSON.stringify({ v: a }, { relaxed: false }) === EJSON.stringify({ v: b }, { relaxed: false });
const hasOperators = (u: Args) => Object.keys(u).some((k) => k.startsWith('$'));
const denied = (what: string) => new BasteError('NoMatchingRuleFound', `no rule allows this ${what}`);

function scan(value: unknown, visit: (key: string) => void): void {
  if (Array.isArray(value)) value.forEach((v) => scan(v, visit));
  else if (value && typeof value === 'object' && !(value instanceof ObjectId) && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      visit(k);
      scan(v, visit);
    }
  }
}

function refuseScripts(value: unknown): void {
  scan(value, (k) => {
    if (SCRIPT_OPERATORS.has(k)) throw new BasteError('InvalidParameter', `${k} is not supported: Baste never evaluates JavaScript in queries`);
  });
}

function name(args: Args, key: 'database' | 'collection'): string {
  const v = args[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 120 || /[$\0]/.test(v) || (key === 'database' && /[/\\. "]/.test(v))) {
    throw new BasteError('InvalidParameter', `${key} must be a valid ${key} name`);
  }
  return v;
}

const objectArg = (args: Args, key: string, fallback?: Args): Args => {
  const v = args[key] ?? fallback;
  if (v === undefined || v === null || typeof v !== 'object' || Array.isArray(v)) throw new BasteError('InvalidParameter', `${key} must be an object`);
  return v as Args;
};

const limitOf = (args: Args): number | undefined => {
  const v = args.limit;
  if (v === undefined || v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new BasteError('InvalidParameter', 'limit must be a non-negative integer');
  return n === 0 ? undefined : n;
};

/** The document an upsert starts from: the query's equality fields. */
function seedOf(query: Args): Doc {
  const seed: Doc = {};
  for (const [k, v] of Object.entries(query)) {
    if (k.startsWith('$') || k.includes('.')) continue;
    if (v && typeof v === 'object' && !(v instanceof ObjectId) && !(v instanceof Date) && Object.keys(v).some((x) => x.startsWith('$'))) continue;
    seed[k] = v;
  }
  return seed;
}

/**
 * The typed numbers of an update, keyed `$op.path` as typesAfterUpdate takes them: an update
 * without operators sets its fields (`$set`), as asModifier treats it.
 */
const operatorTypes = (update: Args, types: NumberTypes): NumberTypes => {
  if (hasOperators(update)) return types;
  const out = new Map<string, NumberType>();
  for (const [path, type] of types) out.set(path.startsWith('$set.') ? path : `$set.${path}`, type);
  return out;
};

/** Update operators as given, or (with none) `$set` of the given fields, as the SDKs' updateOne(filter, doc) expects. */
const asModifier = (update: Args): Args => (hasOperators(update) ? update : { $set: update });

/**
 * An update without `$` operators meets two pieces of evidence (realm-web's
 * own integration suite against the platform). On matched documents it is `$set`:
 * `updateMany({runId}, {hiddenField: "x"})` matched and modified 3 documents, which a MongoDB
 * replacement cannot do (a multi-document replacement is refused). On an upsert that matches
 * nothing it is a replacement, as MongoDB's replacement upsert: `findOneAndUpdate({runId, name:
 * "Nobody"}, {name: "Dennis", hiddenField: …}, {upsert: true})` returned a document with exactly
 * `_id`, `name` and `hiddenField` — the query's `runId` was not merged in. So the document
 * inserted is the update's fields (dotted names set as `$set` sets them) plus an `_id`: the
 * update's own, else the query's `_id` equality (as MongoDB takes it), else a new ObjectId.
 */
function upsertedDocument(query: Args, update: Args, arrayFilters?: Args[]): Doc {
  if (hasOperators(update)) return updated({ _id: new ObjectId(), ...seedOf(query) }, update, arrayFilters, true);
  const fields = { ...update };
  delete fields._id;
  return replacementUpsert(query, update, (base) => updated(base, fields));
}

/** The `_id` a replacement upsert inserts under (see upsertedDocument), and the document built on it. */
function replacementUpsert(query: Args, replacement: Args, build: (base: Doc) => Doc): Doc {
  const fromQuery = seedOf(query)._id;
  if (replacement._id !== undefined && fromQuery !== undefined && !same(replacement._id, fromQuery)) {
    throw new BasteError('InvalidParameter', "the upserted document's _id differs from the query's _id");
  }
  return build({ _id: replacement._id ?? fromQuery ?? new ObjectId() });
}

/** The operation's queries (filter, query, pipeline) with regular expressions mingo can match (data/regex.ts). */
function queriesWithJsRegExps(args: Args): Args {
  let out = args;
  for (const key of ['filter', 'query', 'pipeline'] as const) {
    if (args[key] === undefined) continue;
    const converted = withJsRegExps(args[key]);
    if (converted !== args[key]) out = { ...out, [key]: converted };
  }
  return out;
}

/** A sort or projection worth passing on: a non-empty object. */
const specOf = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length ? (v as Record<string, unknown>) : undefined;

/** The conjunction of queries, leaving out empty ones (`$and` must not be empty). */
function and(queries: Filter[]): Filter {
  const parts = queries.filter((q) => Object.keys(q).length > 0);
  return parts.length === 0 ? {} : parts.length === 1 ? parts[0]! : { $and: parts };
}

async function first<T>(items: AsyncIterable<T>): Promise<T | undefined> {
  for await (const item of items) return item;
  return undefined;
}

/**
 * An update as MongoDB applies it: operators, or (with none) `$set` of the given fields
 * (what the SDKs' callers expect). `$setOnInsert` (which mingo's updater lacks, and real login code uses to
 * stamp a first-seen date) sets its fields only when the update inserts (an upsert that matched
 * nothing) and is a no-op on a matched document, as in MongoDB.
 */
function updated(doc: Doc, update: Args, arrayFilters?: Args[], inserting = false): Doc {
  const next = clone(doc);
  const { $setOnInsert: onInsert, ...modifier } = asModifier(update);
  if (onInsert !== undefined) {
    if (!onInsert || typeof onInsert !== 'object' || Array.isArray(onInsert)) throw new BasteError('InvalidParameter', "'$setOnInsert' takes a document of fields");
    if (inserting) {
      const set = (modifier.$set ?? {}) as Args;
      const both = Object.keys(onInsert).find((path) => Object.keys(set).some((p) => p === path || p.startsWith(`${path}.`) || path.startsWith(`${p}.`)));
      if (both !== undefined) throw new BasteError('InvalidParameter', `updating the path '${both}' would create a conflict at '${both}'`);
      modifier.$set = { ...set, ...(onInsert as Args) };
    }
  }
  if (Object.keys(modifier).length > 0) applyModifier(next, modifier, arrayFilters as never, undefined, { queryOptions: MINGO });
  if (!same(next._id, doc._id)) throw new BasteError('InvalidParameter', "the update would change the immutable field '_id'");
  return next;
}

function replaced(doc: Doc, replacement: Args): Doc {
  if (hasOperators(replacement)) throw new BasteError('InvalidParameter', 'a replacement document must not contain update operators');
  if (replacement._id !== undefined && !same(replacement._id, doc._id)) throw new BasteError('InvalidParameter', "the replacement would change the immutable field '_id'");
  return { ...clone(replacement as Doc), _id: doc._id };
}

interface Visible {
  readonly doc: Doc;
  readonly view: Doc;
  readonly role: RoleConfig | null;
}

/** A collection's effective rules (its own, or the data source's defaults). */
type Rules = NonNullable<ReturnType<typeof rulesFor>>;

/** Attempts of one read-check-write operation before a write conflict is reported. */
const CONFLICT_ATTEMPTS = 50;

/**
 * Runs a read-check-write operation again (reading afresh) while its write finds a document it
 * read changed meanwhile: concurrent updates of one document all land, none is lost.
 */
async function retryingConflicts<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (!(err instanceof WriteConflictError)) throw err;
      if (attempt >= CONFLICT_ATTEMPTS) throw new BasteError('MongoDBError', 'write conflict: the documents kept changing during the operation; try again');
      // A little jitter, so writers that collided do not collide again in lockstep.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 10)));
    }
  }
}

interface Ctx {
  readonly ns: string;
  readonly rules: Rules | undefined;
  readonly access: CollectionAccess;
  readonly caller: DataCaller;
  readonly engine: DocumentEngine;
  /** The BSON number types of the request's arguments, by dotted path (data/number-types.ts). */
  readonly argTypes: NumberTypes | undefined;
}

/** A stored document's number types, when its text recorded any. */
const storedTypesOf = (doc: Doc): NumberTypes | undefined => documentNumberTypes.get(doc);

/** Results with the number types of the stored documents they show, matched by `_id`. */
function retyped(results: Doc[], typesById: Map<string, NumberTypes>): Doc[] {
  if (typesById.size === 0) return results;
  return results.map((r) => {
    const types = r && r._id !== undefined ? typesById.get(idText(r._id)) : undefined;
    return types ? withNumberTypes(r, types) : r;
  });
}
const idText = (id: unknown): string => EJSON.stringify({ id }, { relaxed: false });

const mentionsRequest = new WeakMap<object, boolean>();
/** Whether a part of the rules (roles, filters, schema: config objects, kept for the server's life) names `%%request`. */
function mentions(part: object | undefined): boolean {
  if (!part) return false;
  let found = mentionsRequest.get(part);
  if (found === undefined) {
    try {
      found = JSON.stringify(part).includes('%%request');
    } catch {
      found = true;
    }
    mentionsRequest.set(part, found);
  }
  return found;
}
const namesRequest = (rules: Rules | undefined): boolean => !!rules && (mentions(rules.roles) || mentions(rules.filters) || mentions(rules.schema));

/**
 * A document as the caller sees it (its role and view), or null when no role shows it: at once
 * when the checks compiled (no `%function`), else a promise.
 */
function judge(ctx: Ctx, doc: Doc, readable: ReadableQuery | undefined): Visible | null | Promise<Visible | null> {
  const chosen = ctx.access.roleFor(doc);
  if (chosen instanceof Promise) return chosen.then((role) => (role ? judgeRole(ctx, doc, role, readable) : null));
  return chosen ? judgeRole(ctx, doc, chosen, readable) : null;
}

function judgeRole(ctx: Ctx, doc: Doc, role: RoleConfig, readable: ReadableQuery | undefined): Visible | null | Promise<Visible | null> {
  // A role whose document filters let nothing be evaluated gives no access, like no role.
  const reaches = ctx.access.reaches(role, doc);
  if (reaches !== true) return Promise.resolve(reaches).then((ok) => (ok ? judgeView(ctx, doc, role, readable) : null));
  return judgeView(ctx, doc, role, readable);
}

function judgeView(ctx: Ctx, doc: Doc, role: RoleConfig, readable: ReadableQuery | undefined): Visible | null | Promise<Visible | null> {
  const shown = ctx.access.readable(role, doc);
  const seen = (view: Doc): Visible | null => (readable?.residual && !readable.matches(view) ? null : { doc, view, role });
  return shown instanceof Promise ? shown.then((v) => seen(v ?? {})) : seen(shown ?? {});
}

/** Whether a view shows nothing (no own enumerable key), without listing its keys. */
function isEmpty(view: Doc): boolean {
  for (const _ in view) return false;
  return true;
}

export class MongoService {
  /** Resolved once: values and secrets are fixed for the life of the server. */
  private readonly values: Record<string, unknown>;
  /** Namespaces whose indexes were asked for, per data source. */
  private readonly indexing = new Map<string, Promise<void>>();

  constructor(
    private readonly app: AppConfig,
    /** The engine holding a data source's documents. */
    private readonly engineFor: (source: DataSourceConfig) => DocumentEngine,
    /** `%function` in rules: runs an app function for `caller`, the user the rules judge (its execution user: Functions.callFromSystem). */
    private readonly runFunction: (name: string, args: unknown[], caller: DataCaller) => Promise<unknown>,
  ) {
    this.values = resolvedValues(app);
  }

  /**
   * At start: opens every data source's engine (a bad connection string fails here) and indexes
   * the fields the configured collections' rules compare by equality. Collections under default
   * rules get theirs on first use.
   */
  async prepare(): Promise<void> {
    for (const source of this.app.dataSources?.values() ?? []) {
      const engine = this.engineFor(source);
      for (const [ns, rules] of source.collections) await this.indexed(source, engine, ns, rulesFor(rules, source.defaultRules, source.partitionSync));
    }
  }

  private indexed(source: DataSourceConfig, engine: DocumentEngine, ns: string, rules: Rules | undefined): Promise<void> {
    const key = `${source.name}\u0000${ns}`;
    let done = this.indexing.get(key);
    if (!done) {
      const fields = indexFields(rules);
      done = (fields.length ? engine.ensureIndexes(ns, fields) : Promise.resolve()).catch((err: unknown) => {
        this.indexing.delete(key);
        throw err;
      });
      this.indexing.set(key, done);
    }
    return done;
  }

  private source(service: string): DataSourceConfig {
    const source = this.app.dataSources?.get(service);
    if (!source) throw new BasteError('ServiceNotFound', `service not found: '${service.slice(0, 100)}'`);
    return source;
  }

  private access(rules: Rules | undefined, caller: DataCaller): CollectionAccess {
    return new CollectionAccess(
      rules,
      {
        user: caller.user ?? {},
        values: this.values,
        environment: { tag: this.app.environment, values: this.app.environmentValues },
        // Built only for rules that read it: most never do, and it copies every header.
        request: namesRequest(rules) ? expressionRequest(caller.request) : {},
      },
      { callFunction: (fn, args) => this.runFunction(fn, args, caller) },
    );
  }

  /**
   * Runs one operation; `args` is the decoded argument object of the wire protocol, `argTypes`
   * the BSON number types its canonical EJSON spelled (numberTypesOf), kept in what is written.
   */
  async execute(service: string, op: string, args: Args, caller: DataCaller, argTypes?: NumberTypes): Promise<unknown> {
    const source = this.source(service);
    const db = name(args, 'database');
    const coll = name(args, 'collection');
    const ns = `${db}.${coll}`;
    const rules = rulesFor(source.collections.get(ns), source.defaultRules, source.partitionSync);
    const access = this.access(rules, caller);
    if (!caller.system && access.closed) throw new BasteError('NoMatchingRuleFound', `no rule exists for namespace '${ns}'`);
    const engine = this.engineFor(source);
    const ctx: Ctx = { ns, rules, access, caller, engine, argTypes };
    try {
      await this.indexed(source, engine, ns, rules);
      return await this.run(ctx, op, queriesWithJsRegExps(args));
    } catch (err) {
      // What the engine or mingo refused is the request's fault, as MongoDB would say.
      if (err instanceof DuplicateKeyError || err instanceof QueryError || err instanceof MingoError) throw new BasteError('MongoDBError', err.message);
      throw err;
    }
  }

  /**
   * What a watch stream of `caller` on a collection needs: its namespace and engine, and how a
   * document shows to the caller — exactly as a `find` would return it (filters' queries and
   * projections, the document's role, its `document_filters`, its readable fields), or null when
   * the caller would not see it at all. The access is evaluated for the caller as they are now
   * (the stream keeps it while open).
   */
  watchTarget(service: string, args: Args, caller: DataCaller): { ns: string; engine: DocumentEngine; view: (doc: Doc) => Promise<Doc | null> } {
    const source = this.source(service);
    const ns = `${name(args, 'database')}.${name(args, 'collection')}`;
    const rules = rulesFor(source.collections.get(ns), source.defaultRules, source.partitionSync);
    const access = this.access(rules, caller);
    if (!caller.system && access.closed) throw new BasteError('NoMatchingRuleFound', `no rule exists for namespace '${ns}'`);
    const engine = this.engineFor(source);
    const ctx: Ctx = { ns, rules, access, caller, engine, argTypes: undefined };
    let filters: Promise<Query | undefined> | undefined;
    const view = async (doc: Doc): Promise<Doc | null> => {
      if (caller.system) {
        const types = storedTypesOf(doc);
        return types ? withNumberTypes(doc, types) : doc;
      }
      filters ??= access.filters().then(({ queries }) => (queries.length ? new Query(and(queries) as never, MINGO) : undefined));
      const query = await filters;
      if (query && !query.test(doc)) return null;
      const role = await access.roleFor(doc);
      if (!role || !(await access.reaches(role, doc))) return null;
      const readable = await access.readable(role, doc);
      if (!readable || Object.keys(readable).length === 0) return null;
      const [shown] = await this.project(ctx, [readable], undefined);
      if (!shown) return null;
      const types = storedTypesOf(doc);
      return types ? withNumberTypes(shown, types) : shown;
    };
    return { ns, engine, view };
  }

  private async run(ctx: Ctx, op: string, args: Args): Promise<unknown> {
    switch (op) {
      case 'find':
        return this.find(ctx, args, args.project ?? args.projection);
      case 'findOne':
        return (await this.find(ctx, { ...args, limit: 1 }, args.project ?? args.projection))[0] ?? null;
      case 'count':
        return this.count(ctx, objectArg(args, 'query', {}), limitOf(args));
      case 'aggregate':
        return this.aggregate(ctx, args);
      case 'insertOne': {
        const [id] = await this.insert(ctx, [objectArg(args, 'document')], ['document']);
        return { insertedId: id };
      }
      case 'insertMany': {
        const docs = args.documents;
        if (!Array.isArray(docs) || docs.length === 0) throw new BasteError('InvalidParameter', 'documents must be a non-empty array');
        return { insertedIds: await this.insert(ctx, docs as Args[], docs.map((_, i) => `documents.${i}`)) };
      }
      case 'updateOne':
      case 'updateMany':
        return retryingConflicts(() => this.update(ctx, args, op === 'updateMany'));
      case 'deleteOne':
      case 'deleteMany':
        return { deletedCount: await retryingConflicts(() => this.delete(ctx, objectArg(args, 'query', {}), op === 'deleteMany')) };
      case 'findOneAndUpdate':
        return retryingConflicts(() => this.findOneAnd(ctx, args, 'update'));
      case 'findOneAndReplace':
        // realm-web 2.0.1 sends findOneAndDelete as findOneAndReplace without `update`.
        return retryingConflicts(() => this.findOneAnd(ctx, args, args.update === undefined ? 'delete' : 'replace'));
      case 'findOneAndDelete':
        return retryingConflicts(() => this.findOneAnd(ctx, args, 'delete'));
      default:
        throw new BasteError('ServiceCommandNotFound', `unsupported operation '${op.slice(0, 60)}'`);
    }
  }

  /**
   * The roles' `apply_when` as a query for this caller (rules/to-query.ts): it may match too much,
   * never too little; `{ _id: { $in: [] } }` says no role can apply (the embedded engines then
   * read nothing).
   */
  private async prefilter(ctx: Ctx): Promise<Filter> {
    return (await ctx.access.prefilter()) ?? { _id: { $in: [] } };
  }

  /** The filter the engine runs: the request's query and, for users, the applicable filters' queries and the prefilter. */
  private async pushdown(ctx: Ctx, query: Args): Promise<Filter> {
    refuseScripts(query);
    if (ctx.caller.system) return query;
    const { queries } = await ctx.access.filters();
    return and([query, ...queries, await this.prefilter(ctx)]);
  }

  /**
   * Documents matching the query that the caller may see, in order, each with its role and the
   * part of it the role lets them read; the system user sees everything. `limit` reaches the
   * engine only for the system user: for others it counts documents after roles, so callers stop
   * iterating instead.
   */
  private async *visible(ctx: Ctx, query: Args, opts: { sort?: unknown; limit?: number; forWrite?: boolean } = {}): AsyncGenerator<Visible> {
    const sort = specOf(opts.sort);
    const forWrite = opts.forWrite === true;
    if (ctx.caller.system) {
      const filter = await this.pushdown(ctx, query);
      for await (const doc of ctx.engine.find(ctx.ns, filter, { sort, limit: opts.limit, forWrite })) yield { doc, view: doc, role: null };
      return;
    }
    // Stitch v1 rules: the query and sort are answered from what the caller may read.
    refuseScripts(query);
    const readable = ctx.access.readableQuery(query, sort);
    if (readable && !readable.sortInEngine && sort) {
      const all: Visible[] = [];
      for await (const item of this.matches(ctx, query, readable, undefined, forWrite)) all.push(item);
      yield* sortByViews(all, sort);
      return;
    }
    yield* this.matches(ctx, query, readable, sort, forWrite);
  }

  /** The documents a user's query matches, in the engine's order, with their roles and views. */
  private async *matches(
    ctx: Ctx,
    query: Args,
    readable: ReadableQuery | undefined,
    sort: Record<string, unknown> | undefined,
    forWrite: boolean,
  ): AsyncGenerator<Visible> {
    const filter = await this.pushdown(ctx, readable ? readable.pushdown : query);
    for await (const doc of ctx.engine.find(ctx.ns, filter, { sort, forWrite })) {
      const judged = judge(ctx, doc, readable);
      const item = judged instanceof Promise ? await judged : judged;
      if (item) yield item;
    }
  }

  private async project(ctx: Ctx, views: Doc[], projection: unknown): Promise<Doc[]> {
    const filterProjection = ctx.caller.system ? {} : (await ctx.access.filters()).projection;
    const merged = { ...(projection as Args | undefined), ...filterProjection };
    if (Object.keys(merged).length === 0) return views;
    return fastProject(views, merged) ?? (new Query({}, MINGO).find(views, merged as never).all() as Doc[]);
  }

  private async find(ctx: Ctx, args: Args, projection: unknown): Promise<Doc[]> {
    const query = objectArg(args, 'query', {});
    const limit = Math.min(limitOf(args) ?? MAX_RESULTS, MAX_RESULTS);
    if (ctx.caller.system) {
      // No roles to apply: sort, limit and projection all run in the engine.
      return findAll(ctx.engine, ctx.ns, await this.pushdown(ctx, query), { sort: specOf(args.sort), limit, projection: specOf(projection) });
    }
    const views: Doc[] = [];
    const typesById = new Map<string, NumberTypes>();
    const take = (doc: Doc, view: Doc): boolean => {
      if (isEmpty(view)) return false;
      views.push(view);
      const types = storedTypesOf(doc);
      if (types) typesById.set(idText(doc._id), types);
      return views.length >= limit;
    };
    const sort = specOf(args.sort);
    if (ctx.engine.findAll && !ctx.access.readsQueries) {
      // What visible() yields, judged over one array: no promise per document when the rules compiled.
      refuseScripts(query);
      for (const doc of await ctx.engine.findAll(ctx.ns, await this.pushdown(ctx, query), { sort })) {
        const judged = judge(ctx, doc, undefined);
        const item = judged instanceof Promise ? await judged : judged;
        if (item && take(doc, item.view)) break;
      }
    } else {
      for await (const { doc, view } of this.visible(ctx, query, { sort: args.sort })) if (take(doc, view)) break;
    }
    return retyped(await this.project(ctx, views, projection), typesById);
  }

  private async count(ctx: Ctx, query: Args, limit: number | undefined): Promise<number> {
    const server = ctx.caller.system ? ctx.engine.server : undefined;
    if (server) return server.count(ctx.ns, await this.pushdown(ctx, query), limit);
    // What a find would return: a document the caller can read nothing of is not counted either.
    let n = 0;
    for await (const { view } of this.visible(ctx, query, { limit })) if (Object.keys(view).length > 0 && ++n === limit) break;
    return n;
  }

  private async aggregate(ctx: Ctx, args: Args): Promise<Doc[]> {
    const pipeline = args.pipeline;
    if (!Array.isArray(pipeline)) throw new BasteError('InvalidParameter', 'pipeline must be an array');
    refuseScripts(pipeline);
    const server = ctx.caller.system ? ctx.engine.server : undefined;
    // Every stage at every depth: a user's pipeline holds only stages that reshape its input.
    const lookups = checkPipeline(pipeline, { system: ctx.caller.system, server: server !== undefined });
    // The system user's pipeline runs whole on a real MongoDB (lookups included).
    if (server) return server.aggregate(ctx.ns, pipeline as Doc[], MAX_RESULTS);
    const db = ctx.ns.slice(0, ctx.ns.indexOf('.'));
    const resolved = new Map<string, Doc[]>();
    for (const from of lookups) resolved.set(from, await collect(ctx.engine.find(`${db}.${from}`, {})));
    let stages = pipeline as Args[];
    let input: Doc[];
    if (ctx.caller.system) {
      // A leading $match runs in the engine, where indexes can serve it.
      const lead = stages[0] && Object.keys(stages[0]).length === 1 ? specOf(stages[0].$match) : undefined;
      input = await collect(ctx.engine.find(ctx.ns, lead ?? {}));
      if (lead) stages = stages.slice(1);
    } else {
      // A user's stages see only what their roles let them read, with the filters' projections
      // applied as a find applies them: fields hidden either way are gone before the first stage,
      // so no expression (`$$ROOT` included) can reach them.
      const views: Doc[] = [];
      for await (const { view } of this.visible(ctx, {})) if (Object.keys(view).length > 0) views.push(view);
      input = await this.project(ctx, views, undefined);
    }
    // Only the system user's pipelines name other collections (checkPipeline); a user's never reads one.
    const collectionResolver = ctx.caller.system
      ? (n: string) => resolved.get(n) ?? []
      : () => {
          throw new BasteError('NoMatchingRuleFound', 'a user pipeline may not read other collections');
        };
    const result = new Aggregator(stages as never, { ...MINGO, collectionResolver }).run(input) as Doc[];
    return result.slice(0, MAX_RESULTS);
  }

  private async insert(ctx: Ctx, raw: Args[], typePaths: string[]): Promise<unknown[]> {
    const docs = raw.map((d) => {
      if (!d || typeof d !== 'object' || Array.isArray(d)) throw new BasteError('InvalidParameter', 'documents must be objects');
      if (hasOperators(d)) throw new BasteError('InvalidParameter', 'a document must not contain fields starting with $');
      return { _id: new ObjectId(), ...clone(d as Doc) };
    });
    if (!ctx.caller.system) {
      // Every document must pass before any is written.
      for (const doc of docs) {
        const role = await ctx.access.roleFor(doc);
        if (!role || !(await ctx.access.canInsert(role, doc))) throw denied('insert');
      }
    }
    await this.write(ctx, { inserts: docs.map((d, i) => withNumberTypes(d, typesUnder(ctx.argTypes, typePaths[i]!))) });
    return docs.map((d) => d._id);
  }

  private async update(ctx: Ctx, args: Args, many: boolean) {
    const query = objectArg(args, 'query', {});
    const update = objectArg(args, 'update');
    refuseScripts(update);
    const arrayFilters = Array.isArray(args.arrayFilters) ? (args.arrayFilters as Args[]) : undefined;
    refuseScripts(arrayFilters);
    const server = ctx.caller.system ? ctx.engine.server : undefined;
    if (server) {
      const filter = await this.pushdown(ctx, query);
      if (args.upsert !== true || hasOperators(update)) return server.update(ctx.ns, filter, asModifier(update), { many, upsert: args.upsert === true, arrayFilters });
      // An operator-less upsert is `$set` on a match and a replacement when nothing matches
      // (upsertedDocument), which no single MongoDB update does: update first, then insert by a
      // replacing upsert. A document matching the query that appears between the two is replaced.
      const outcome = await server.update(ctx.ns, filter, asModifier(update), { many, upsert: false, arrayFilters });
      if (outcome.matchedCount > 0) return outcome;
      const doc = upsertedDocument(query, update);
      const prior = await server.findOneAnd(ctx.ns, 'replace', filter, doc, { upsert: true, returnNewDocument: false });
      return prior ? { matchedCount: 1, modifiedCount: 1 } : { matchedCount: 0, modifiedCount: 0, upsertedId: doc._id };
    }
    const matches = this.visible(ctx, query, { limit: many ? undefined : 1, forWrite: true });
    const targets = many ? await collect(matches) : [await first(matches)].filter((t): t is Visible => t !== undefined);
    const changes: Doc[] = [];
    const before: Doc[] = [];
    // The update's typed operands, once; each document's own stored types are merged under them below.
    const updateTypes = operatorTypes(update, typesUnder(ctx.argTypes, 'update'));
    // Every document is checked (its role's write permissions on the document after the change)
    // before any is written, and one refusal refuses the whole operation: App Services "prevents or
    // rolls back the entire request" when a document fails its checks (schemas.txt, Data Access
    // Rules), and Stitch's rules stopped a multi-document write at the first violation.
    for (const { doc, role } of targets) {
      const next = updated(doc, update, arrayFilters);
      if (role && !(await ctx.access.canWrite(role, next, doc))) throw denied('update');
      if (!same(next, doc)) {
        changes.push(withNumberTypes(next, typesAfterUpdate(storedTypesOf(doc), updateTypes)));
        before.push(doc);
      }
    }
    if (targets.length === 0 && args.upsert === true) {
      const doc = upsertedDocument(query, update, arrayFilters);
      if (!ctx.caller.system) {
        const role = await ctx.access.roleFor(doc);
        if (!role || !(await ctx.access.canInsert(role, doc))) throw denied('upsert');
      }
      await this.write(ctx, { inserts: [withNumberTypes(doc, typesAfterUpdate(undefined, updateTypes))] });
      return { matchedCount: 0, modifiedCount: 0, upsertedId: doc._id };
    }
    await this.write(ctx, { replaces: changes, expected: before });
    // upsertedId is left out when nothing was upserted (realm-web's tests expect it undefined).
    return { matchedCount: targets.length, modifiedCount: changes.length };
  }

  private async delete(ctx: Ctx, query: Args, many: boolean): Promise<number> {
    const server = ctx.caller.system ? ctx.engine.server : undefined;
    if (server) return server.delete(ctx.ns, await this.pushdown(ctx, query), many);
    const matches = this.visible(ctx, query, { limit: many ? undefined : 1, forWrite: true });
    const targets = many ? await collect(matches) : [await first(matches)].filter((t): t is Visible => t !== undefined);
    for (const { doc, role } of targets) {
      if (role && !(await ctx.access.canDelete(role, doc))) throw denied('delete');
    }
    await this.write(ctx, { removes: targets.map((t) => t.doc._id), expected: targets.map((t) => t.doc) });
    return targets.length;
  }

  private async findOneAnd(ctx: Ctx, args: Args, kind: 'update' | 'replace' | 'delete'): Promise<Doc | null> {
    const filter = objectArg(args, 'filter', {});
    const projection = args.projection ?? args.project;
    const change = kind === 'delete' ? undefined : objectArg(args, 'update');
    refuseScripts(change);
    if (kind === 'replace' && change && hasOperators(change)) throw new BasteError('InvalidParameter', 'a replacement document must not contain update operators');
    const server = ctx.caller.system ? ctx.engine.server : undefined;
    if (server) {
      const pushed = await this.pushdown(ctx, filter);
      const opts = { sort: specOf(args.sort), projection: specOf(projection), upsert: args.upsert === true, returnNewDocument: args.returnNewDocument === true };
      if (kind !== 'update' || !opts.upsert || hasOperators(change!)) return server.findOneAnd(ctx.ns, kind, pushed, kind === 'update' ? asModifier(change!) : change, opts);
      // As in update: `$set` on a match, else a replacing upsert of upsertedDocument.
      const matched = await server.findOneAnd(ctx.ns, 'update', pushed, asModifier(change!), { ...opts, upsert: false });
      if (matched) return matched;
      return server.findOneAnd(ctx.ns, 'replace', pushed, upsertedDocument(filter, change!), opts);
    }
    const target = await first(this.visible(ctx, filter, { sort: args.sort, limit: 1, forWrite: true }));
    // The number types of what is written: the replacement's own, or the stored ones under the update's.
    const changeTypes = typesUnder(ctx.argTypes, 'update');
    const typesAfter = (doc: Doc | undefined): NumberTypes =>
      kind === 'replace' ? changeTypes : typesAfterUpdate(doc ? storedTypesOf(doc) : undefined, operatorTypes(change ?? {}, changeTypes));
    const shown = async (doc: Doc, role: Visible['role'], types: NumberTypes | undefined) => {
      const view = role ? await ctx.access.readable(role, doc) : doc;
      const out = view ? ((await this.project(ctx, [view], projection))[0] ?? null) : null;
      return out && types ? withNumberTypes(out, types) : out;
    };
    if (!change) {
      if (!target) return null;
      if (target.role && !(await ctx.access.canDelete(target.role, target.doc))) throw denied('delete');
      await this.write(ctx, { removes: [target.doc._id], expected: [target.doc] });
      return shown(target.doc, target.role, storedTypesOf(target.doc));
    }
    if (!target) {
      if (args.upsert !== true) return null;
      const doc = kind === 'update' ? upsertedDocument(filter, change) : replacementUpsert(filter, change, (base) => replaced(base, change));
      const role = ctx.caller.system ? null : await ctx.access.roleFor(doc);
      if (!ctx.caller.system && (!role || !(await ctx.access.canInsert(role, doc)))) throw denied('upsert');
      const types = typesAfter(undefined);
      await this.write(ctx, { inserts: [withNumberTypes(doc, types)] });
      return args.returnNewDocument === true ? shown(doc, role, types) : null;
    }
    const next = kind === 'update' ? updated(target.doc, change) : replaced(target.doc, change);
    if (target.role && !(await ctx.access.canWrite(target.role, next, target.doc))) throw denied(kind);
    const types = typesAfter(target.doc);
    await this.write(ctx, { replaces: [withNumberTypes(next, types)], expected: [target.doc], replaceKind: kind === 'replace' ? 'replace' : 'update' });
    return args.returnNewDocument === true ? shown(next, target.role, types) : shown(target.doc, target.role, storedTypesOf(target.doc));
  }

  private write(ctx: Ctx, batch: WriteBatch): Promise<void> {
    return ctx.engine.write(ctx.ns, batch);
  }
}
