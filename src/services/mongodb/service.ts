// The `mongodb-atlas` data service: the operations the SDKs send through `functions/call` and that
// functions reach through `context.services`, with rules applied here, once, for every engine.
// MongoDB query, update and aggregation semantics come from mingo; nothing here evaluates
// JavaScript (mingo's script operators are off, and refused by name before they reach it).

import { EJSON, ObjectId } from 'bson';
import { Aggregator, Query } from 'mingo';
import { update as applyModifier } from 'mingo/updater';
import type { AppConfig, DataSourceConfig } from '../../app/model.js';
import { BasteError } from '../../errors.js';
import { DuplicateKeyError, type Doc, type DocumentEngine } from '../../data/engine.js';
import { resolvedValues } from '../../app/values.js';
import { parseDocumentEjson } from '../../util/ejson.js';
import type { CallRequest, CallUser } from '../../functions/runtime.js';
import { CollectionAccess, rulesFor } from './permissions.js';

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
const USER_FORBIDDEN_STAGES = new Set(['$lookup', '$graphLookup', '$unionWith', '$out', '$merge', '$currentOp', '$indexStats', '$collStats', '$planCacheStats', '$search', '$searchMeta']);
const UNSUPPORTED_STAGES = new Set(['$out', '$merge', '$currentOp', '$indexStats', '$collStats', '$planCacheStats']);
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

/** An update as MongoDB applies it: operators, or (with none) `$set` of the given fields (wire-protocol §7.3). */
function updated(doc: Doc, update: Args, arrayFilters?: Args[]): Doc {
  const next = clone(doc);
  applyModifier(next, hasOperators(update) ? update : { $set: update }, arrayFilters as never, undefined, { queryOptions: MINGO });
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
  readonly role: import('../../app/model.js').RoleConfig | null;
}

export class MongoService {
  /** Resolved once: values and secrets are fixed for the life of the server. */
  private readonly values: Record<string, unknown>;

  constructor(
    private readonly app: AppConfig,
    private readonly engine: DocumentEngine,
    /** `%function` in rules: runs an app function as the system user. */
    private readonly runFunction: (name: string, args: unknown[]) => Promise<unknown>,
  ) {
    this.values = resolvedValues(app);
  }

  private source(service: string): DataSourceConfig {
    const source = this.app.dataSources?.get(service);
    if (!source) throw new BasteError('ServiceNotFound', `service not found: '${service.slice(0, 100)}'`);
    return source;
  }

  private access(source: DataSourceConfig, db: string, coll: string, caller: DataCaller): CollectionAccess {
    return new CollectionAccess(
      rulesFor(source.collections.get(`${db}.${coll}`), source.defaultRules),
      {
        user: caller.user ?? {},
        values: this.values,
        environment: { tag: this.app.environment, values: this.app.environmentValues },
        request: caller.request ?? {},
      },
      { callFunction: (fn, args) => this.runFunction(fn, args) },
    );
  }

  /** Runs one operation; `args` is the decoded argument object of the wire protocol. */
  async execute(service: string, op: string, args: Args, caller: DataCaller): Promise<unknown> {
    const source = this.source(service);
    if (source.uri) throw new BasteError('ServiceNotFound', `service '${service}' points at a MongoDB cluster, which this version of Baste does not serve yet`);
    const db = name(args, 'database');
    const coll = name(args, 'collection');
    const ns = `${db}.${coll}`;
    const access = this.access(source, db, coll, caller);
    if (!caller.system && access.closed) throw new BasteError('NoMatchingRuleFound', `no rule exists for namespace '${ns}'`);
    const ctx = { ns, access, caller };
    switch (op) {
      case 'find':
        return this.find(ctx, args, args.project ?? args.projection);
      case 'findOne':
        return (await this.find(ctx, { ...args, limit: 1 }, args.project ?? args.projection))[0] ?? null;
      case 'count': {
        const all = await this.visible(ctx, objectArg(args, 'query', {}), undefined);
        const limit = limitOf(args);
        return limit === undefined ? all.length : Math.min(all.length, limit);
      }
      case 'aggregate':
        return this.aggregate(ctx, args);
      case 'insertOne': {
        const [id] = await this.insert(ctx, [objectArg(args, 'document')]);
        return { insertedId: id };
      }
      case 'insertMany': {
        const docs = args.documents;
        if (!Array.isArray(docs) || docs.length === 0) throw new BasteError('InvalidParameter', 'documents must be a non-empty array');
        return { insertedIds: await this.insert(ctx, docs as Args[]) };
      }
      case 'updateOne':
      case 'updateMany':
        return this.update(ctx, args, op === 'updateMany');
      case 'deleteOne':
      case 'deleteMany':
        return { deletedCount: await this.delete(ctx, objectArg(args, 'query', {}), op === 'deleteMany') };
      case 'findOneAndUpdate':
        return this.findOneAnd(ctx, args, 'update');
      case 'findOneAndReplace':
        // realm-web 2.0.1 sends findOneAndDelete as findOneAndReplace without `update`.
        return this.findOneAnd(ctx, args, args.update === undefined ? 'delete' : 'replace');
      case 'findOneAndDelete':
        return this.findOneAnd(ctx, args, 'delete');
      default:
        throw new BasteError('ServiceCommandNotFound', `unsupported operation '${op.slice(0, 60)}'`);
    }
  }

  /** Documents matching the query that the caller may see, sorted; system callers see everything. */
  private async visible(ctx: Ctx, query: Args, sort: unknown): Promise<Visible[]> {
    refuseScripts(query);
    const { queries } = ctx.caller.system ? { queries: [] } : await ctx.access.filters();
    const criteria = queries.length ? { $and: [query, ...queries] } : query;
    let cursor = new Query(criteria as never, MINGO).find(await this.engine.all(ctx.ns));
    if (sort && typeof sort === 'object' && Object.keys(sort).length) cursor = cursor.sort(sort as never);
    const docs = cursor.all() as Doc[];
    if (ctx.caller.system) return docs.map((doc) => ({ doc, view: doc, role: null }));
    const out: Visible[] = [];
    for (const doc of docs) {
      const role = await ctx.access.roleFor(doc);
      if (!role) continue;
      const view = await ctx.access.readable(role, doc);
      out.push({ doc, view: view ?? {}, role });
    }
    return out;
  }

  private async project(ctx: Ctx, views: Doc[], projection: unknown): Promise<Doc[]> {
    const filterProjection = ctx.caller.system ? {} : (await ctx.access.filters()).projection;
    const merged = { ...(projection as Args | undefined), ...filterProjection };
    if (Object.keys(merged).length === 0) return views;
    return new Query({}, MINGO).find(views, merged as never).all() as Doc[];
  }

  private async find(ctx: Ctx, args: Args, projection: unknown): Promise<Doc[]> {
    const visible = await this.visible(ctx, objectArg(args, 'query', {}), args.sort);
    const readable = visible.filter((v) => Object.keys(v.view).length > 0).map((v) => v.view);
    const limit = Math.min(limitOf(args) ?? MAX_RESULTS, MAX_RESULTS);
    return this.project(ctx, readable.slice(0, limit), projection);
  }

  private async aggregate(ctx: Ctx, args: Args): Promise<Doc[]> {
    const pipeline = args.pipeline;
    if (!Array.isArray(pipeline)) throw new BasteError('InvalidParameter', 'pipeline must be an array');
    refuseScripts(pipeline);
    const lookups = new Map<string, Doc[]>();
    for (const stage of pipeline as Args[]) {
      const [stageName] = Object.keys(stage ?? {});
      if (!stageName) throw new BasteError('InvalidParameter', 'every pipeline stage must name an operator');
      if (!ctx.caller.system && USER_FORBIDDEN_STAGES.has(stageName)) {
        throw new BasteError('NoMatchingRuleFound', `aggregation stage ${stageName} is only available to system functions`);
      }
      if (UNSUPPORTED_STAGES.has(stageName)) throw new BasteError('InvalidParameter', `aggregation stage ${stageName} is not supported`);
      const from = (stage[stageName] as Args | undefined)?.from ?? (stageName === '$unionWith' ? stage[stageName] : undefined);
      const fromName = typeof from === 'string' ? from : (from as Args | undefined)?.coll;
      if (typeof fromName === 'string') lookups.set(fromName, await this.engine.all(`${ctx.ns.split('.')[0]}.${fromName}`));
    }
    const input = (await this.visible(ctx, {}, undefined)).filter((v) => Object.keys(v.view).length > 0).map((v) => v.view);
    const result = new Aggregator(pipeline as never, { ...MINGO, collectionResolver: (n: string) => lookups.get(n) ?? [] }).run(input) as Doc[];
    return result.slice(0, MAX_RESULTS);
  }

  private async insert(ctx: Ctx, raw: Args[]): Promise<unknown[]> {
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
    await this.write(ctx.ns, { inserts: docs });
    return docs.map((d) => d._id);
  }

  private async update(ctx: Ctx, args: Args, many: boolean) {
    const query = objectArg(args, 'query', {});
    const update = objectArg(args, 'update');
    refuseScripts(update);
    const arrayFilters = Array.isArray(args.arrayFilters) ? (args.arrayFilters as Args[]) : undefined;
    const visible = await this.visible(ctx, query, undefined);
    const targets = many ? visible : visible.slice(0, 1);
    const changes: Doc[] = [];
    for (const { doc, role } of targets) {
      const next = updated(doc, update, arrayFilters);
      if (role && !(await ctx.access.canWrite(role, next, doc))) throw denied('update');
      if (!same(next, doc)) changes.push(next);
    }
    if (targets.length === 0 && args.upsert === true) {
      const doc = updated({ _id: new ObjectId(), ...seedOf(query) }, update, arrayFilters);
      if (!ctx.caller.system) {
        const role = await ctx.access.roleFor(doc);
        if (!role || !(await ctx.access.canInsert(role, doc))) throw denied('upsert');
      }
      await this.write(ctx.ns, { inserts: [doc] });
      return { matchedCount: 0, modifiedCount: 0, upsertedId: doc._id };
    }
    await this.write(ctx.ns, { replaces: changes });
    // upsertedId is left out when nothing was upserted (realm-web's tests expect it undefined).
    return { matchedCount: targets.length, modifiedCount: changes.length };
  }

  private async delete(ctx: Ctx, query: Args, many: boolean): Promise<number> {
    const visible = await this.visible(ctx, query, undefined);
    const targets = many ? visible : visible.slice(0, 1);
    for (const { doc, role } of targets) {
      if (role && !(await ctx.access.canDelete(role, doc))) throw denied('delete');
    }
    await this.write(ctx.ns, { removes: targets.map((t) => t.doc._id) });
    return targets.length;
  }

  private async findOneAnd(ctx: Ctx, args: Args, kind: 'update' | 'replace' | 'delete'): Promise<Doc | null> {
    const filter = objectArg(args, 'filter', {});
    const [target] = await this.visible(ctx, filter, args.sort);
    const projection = args.projection ?? args.project;
    const shown = async (doc: Doc, role: Visible['role']) => {
      const view = role ? await ctx.access.readable(role, doc) : doc;
      return view ? ((await this.project(ctx, [view], projection))[0] ?? null) : null;
    };
    if (kind === 'delete') {
      if (!target) return null;
      if (target.role && !(await ctx.access.canDelete(target.role, target.doc))) throw denied('delete');
      await this.write(ctx.ns, { removes: [target.doc._id] });
      return shown(target.doc, target.role);
    }
    const change = objectArg(args, 'update');
    refuseScripts(change);
    if (!target) {
      if (args.upsert !== true) return null;
      const base = { _id: new ObjectId(), ...seedOf(filter) };
      const doc = kind === 'update' ? updated(base, change) : replaced(base, change);
      const role = ctx.caller.system ? null : await ctx.access.roleFor(doc);
      if (!ctx.caller.system && (!role || !(await ctx.access.canInsert(role, doc)))) throw denied('upsert');
      await this.write(ctx.ns, { inserts: [doc] });
      return args.returnNewDocument === true ? shown(doc, role) : null;
    }
    const next = kind === 'update' ? updated(target.doc, change) : replaced(target.doc, change);
    if (target.role && !(await ctx.access.canWrite(target.role, next, target.doc))) throw denied(kind);
    await this.write(ctx.ns, { replaces: [next] });
    return args.returnNewDocument === true ? shown(next, target.role) : shown(target.doc, target.role);
  }

  private async write(ns: string, batch: Parameters<DocumentEngine['write']>[1]): Promise<void> {
    try {
      await this.engine.write(ns, batch);
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw new BasteError('MongoDBError', err.message);
      throw err;
    }
  }
}

interface Ctx {
  readonly ns: string;
  readonly access: CollectionAccess;
  readonly caller: DataCaller;
}
