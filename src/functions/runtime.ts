// Runs app functions in isolated-vm: a V8 isolate per sandbox with a memory cap, one frozen
// realm running every call (or, for an app whose code extends built-ins, a fresh realm per call:
// realms.ts), and a hard wall-clock limit per call. A call
// that runs away (loop, allocation) fails alone with FunctionExecutionError; the isolate it broke
// is thrown away and rebuilt on the next call. The isolate sees only what crosses the bridges
// below: EJSON text, the app's values, and host calls for logging, crypto, HTTP, data and run-as
// users. Who a call runs for (user, request) stays on the host as an "execution" while the call is
// in flight: data-service and run-as host calls name it by id rather than carry the user and
// request, which cost a stringify and a parse per data-service call. The isolate gets their EJSON
// text once per call, parsed only if the function reads context.user or context.request.

import { createRequire } from 'node:module';
import { getHashes, pbkdf2, randomBytes, createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ivm from 'isolated-vm';
import { EJSON } from 'bson';
import type { Logger } from 'pino';
import type { AppConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import { resolvedValues } from '../app/values.js';
import { numberTypesOf, type NumberTypes } from '../data/number-types.js';
import { hostEjson, makeEjsonCodec } from '../util/ejson-codec.js';
import { configuredRunAs, runAsScriptName, type Execution } from './execution-user.js';
import type { CallRequest, CallUser, FunctionInvocation, HttpOutcome } from './types.js';
import { asyncHostCall, httpCall, syncHostCall } from './host-calls.js';
import { fromWireError, LOG_LEVELS, MODULE_OPS, type AsyncHandlers, type AsyncHostCalls, type DoneMessage, type LogMessage, type ModuleHandlers, type WireError } from './contract.js';
import { BSON_SETUP, ISOLATE_LOCKDOWN, ISOLATE_PRELUDE, ISOLATE_SETUP, factorySource, moduleFactorySource, perCallRealmSource } from './isolate-source.js';
import { CallBatches } from './call-batches.js';
import { ModuleResolver, type ModuleRoots } from './modules.js';
import { intrinsicWrites, planRealms } from './realms.js';
import { isStrict, namesAny, rootWrites, undeclaredAssignments } from './sloppy-globals.js';
import { DEFAULTS } from '../defaults.js';

export interface RuntimeOptions {
  /** Wall-clock limit of one client-level call, nested calls included (platform: 120 s). */
  readonly timeoutMs: number;
  /** Heap cap of each isolate, in MiB (platform: 256–350 MB). */
  readonly memoryMb: number;
  /** Isolates kept ready (default 2). */
  readonly isolates?: number;
  /**
   * The most isolates at once (default 8). When every isolate is held by a call that stopped
   * answering (a loop, a runaway allocation), one more is started for the calls that follow; past
   * this many, calls are refused with 503 ServiceUnavailable instead of waiting.
   */
  readonly maxIsolates?: number;
  /** The data service, for `context.services.get(...)`: runs one operation for the function's user. */
  readonly dataService?: (
    service: string,
    op: string,
    args: Record<string, unknown>,
    caller: { user: CallUser | null; system: boolean; request?: CallRequest },
    argTypes?: NumberTypes,
  ) => Promise<unknown>;
  /**
   * Who a function with its own configured user (run_as_user_id, a run-as script) runs as when
   * another function calls it: the sandbox cannot read users, so it asks by function name.
   */
  readonly executionUser?: (name: string, argsEjson: string, current: Execution, request?: CallRequest) => Promise<Execution>;
  /** The app's dependency folders, for `require()` (none: built-in modules only). */
  readonly modules?: ModuleRoots;
  /**
   * Where calls run (realms.ts): `auto` (default) picks per-call realms only for an app whose code
   * writes to built-ins; `per-call` always does (tests, measurements).
   */
  readonly realms?: 'auto' | 'per-call';
  readonly logger: Logger;
}

const require = createRequire(import.meta.url);
let bsonBundle: string | undefined;
/** The BSON library's browser bundle, evaluated inside each isolate for `BSON` and `EJSON`. */
const bsonSource = () => (bsonBundle ??= readFileSync(join(dirname(require.resolve('bson')), 'bson.bundle.js'), 'utf8'));
/**
 * The EJSON codec's source as an expression, made with the realm's \`BSON\`; \`__name\` is what
 * tsx's transform (tests) wraps named functions in, absent from the compiled build.
 */
const codecSource = () => `(function () { const __name = (f) => f; return ${makeEjsonCodec.toString()}; })()(BSON)`;
let realmSource: string | undefined;
const perCallRealm = () => (realmSource ??= perCallRealmSource(codecSource()));
/**
 * The arguments of a call's entry: name, argsEjson (text, or bytes moved into the isolate),
 * execution, system, userEjson, requestEjson.
 */
type EntryArgs = readonly [string, string | ivm.Copy<ArrayBuffer>, number, boolean, string | null, string | null];
/** A call of a batch: its entry, then its arguments, the text form only (bytes go on their own). */
type BatchedCall = readonly ['run' | 'runHttp', string, string, number, boolean, string | null, string | null];

const executionError = (message: string) => new BasteError('FunctionExecutionError', message);

const newSlot = (extra: boolean): Slot => ({ sandbox: null, built: null, inFlight: 0, pingSentAt: null, progressAt: 0, held: false, extra });

/** Users as EJSON text, by object: a caller's CallUser is made once per user record (Users.callUserFrom). */
const userTexts = new WeakMap<CallUser, string>();
function userText(user: CallUser): string {
  let text = userTexts.get(user);
  if (text === undefined) userTexts.set(user, (text = hostEjson.stringifyCanonical(user)));
  return text;
}

/**
 * `(name, argsEjson, execution, system, userEjson, requestEjson)`: null texts for no user, no
 * request. It answers through the `done` host call (isolate-source.ts says why), not its promise.
 */
type Entry = ivm.Reference<
  (name: string, args: string | ArrayBuffer, execution: number, system: boolean, userEjson: string | null, requestEjson: string | null) => Promise<void>
>;

/** Where a client-level call's answer goes when the isolate reports it. */
interface PendingAnswer {
  readonly resolve: (text: string) => void;
  readonly reject: (err: Error) => void;
}

/** What a function threw (or returned that could not be sent), as its call's answer. */
class FunctionThrew extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
}

const HASHES = new Set(getHashes());
const MAX_PBKDF2_ITERATIONS = 10_000_000;

/** The module bridge's handlers: resolution, JSON sources, and the digests crypto needs. */
export function moduleHandlers(modules: ModuleResolver): ModuleHandlers {
  return {
    resolve: (spec, parentId) => modules.resolve(String(spec), typeof parentId === 'string' ? parentId : null),
    source: (id) => modules.source(String(id)),
    hashes: () => [...HASHES],
    digest: (alg, key, data) => {
      if (!HASHES.has(alg)) throw new Error(`Digest method not supported: '${String(alg).slice(0, 40)}'`);
      const h = key === null ? createHash(alg) : createHmac(alg, key);
      return new Uint8Array(h.update(data).digest());
    },
    // Asynchronous on the host (libuv's pool): the isolate waits, the server does not.
    pbkdf2: (password, salt, iterations, keylen, digest) => {
      if (!HASHES.has(digest)) throw new Error(`Invalid digest: ${String(digest).slice(0, 40)}`);
      if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) throw new RangeError(`pbkdf2: iterations must be an integer from 1 to ${MAX_PBKDF2_ITERATIONS}`);
      if (!Number.isInteger(keylen) || keylen < 0 || keylen > 4096) throw new RangeError('pbkdf2: keylen must be an integer from 0 to 4096');
      return new Promise((resolve, reject) =>
        pbkdf2(password, salt, iterations, keylen, digest, (err, key) => (err ? reject(err) : resolve(new ivm.ExternalCopy(new Uint8Array(key)).copyInto() as unknown as Uint8Array))),
        // (isolated-vm copies the bytes into the isolate: a Uint8Array there)
      );
    },
  };
}

/** One request of the module bridge: `op` is a MODULE_OPS name, its arguments positional. */
function moduleHostCall(handlers: ModuleHandlers, op: string, args: unknown[]): unknown {
  if (!Object.prototype.hasOwnProperty.call(MODULE_OPS, op)) throw new Error(`unknown module host call '${String(op).slice(0, 40)}'`);
  return (handlers[op as keyof ModuleHandlers] as (...a: unknown[]) => unknown)(...args);
}

/** What isolated-vm says when the isolate itself failed the call (limits, disposal), not the function. */
const ISOLATE_FAILURE = /disposed|memory limit|timed out/i;

/** A call in flight, as the host keeps it for the isolate's host calls to name by id. */
interface ExecutionRecord {
  readonly user: CallUser | null;
  readonly system: boolean;
  readonly request: CallRequest | undefined;
  /** The client-level execution this one belongs to (its own id for a client-level one). */
  readonly root: number;
  /** Executions nested run-as calls registered under this client-level one: freed with it. */
  readonly children: number[];
}

interface Sandbox {
  readonly isolate: ivm.Isolate;
  /** A no-op the monitor calls to learn whether the isolate still takes work. */
  readonly ping: ivm.Reference<() => number>;
  /** The shared realm's `run`: a plain call. */
  readonly run: Entry;
  /** The shared realm's `runHttp`: an endpoint or webhook call, `(payload, response)`. */
  readonly runHttp: Entry;
  /** The shared realm's `runBatch`: several calls, each `[entry, ...EntryArgs]` (call-batches.ts). */
  readonly runBatch: ivm.Reference<(calls: BatchedCall[]) => Promise<void>>;
  /** What a per-call realm is bootstrapped from (realms.ts). */
  readonly realm: RealmKit;
}

/** The isolate's pieces a per-call realm is made of: its base context's BSON, the bridges, the compiled functions. */
interface RealmKit {
  readonly bson: ivm.Reference<unknown>;
  readonly random: ivm.Reference<unknown>;
  /** log, sync, async, done, module: the same for every realm of the isolate. */
  readonly bridges: readonly ivm.Reference<unknown>[];
  readonly appFacts: ivm.ExternalCopy<unknown>;
  /** The bridges that make functions' and modules' factories in one given context. */
  readonly makers: (context: ivm.Context) => { compile: ivm.Reference<unknown>; factory: ivm.Reference<unknown> };
  /** perCallRealmSource, compiled for this isolate. */
  readonly boot: ivm.Script;
}

/** Reserved names under which webhook sources and run-as scripts live in the sandbox. */
export const webhookFunctionName = (service: string, name: string) => `__webhook/${service}/${name}`;
export const webhookScriptName = (service: string, name: string) => `__webhook-user/${service}/${name}`;

/** One isolate of the pool and the calls it is running. */
interface Slot {
  sandbox: Promise<Sandbox> | null;
  /** The built sandbox, once `sandbox` has settled (what the monitor pings). */
  built: Sandbox | null;
  inFlight: number;
  /** When the unanswered ping was sent; null when none is out. */
  pingSentAt: number | null;
  /**
   * When the host last heard the isolate finish a piece of work (a call's answer, an async host
   * call, a ping's answer). A busy isolate answers a ping only after the calls queued before it,
   * which can take longer than STUCK_AFTER_MS; finishing those calls shows it is not held.
   */
  progressAt: number;
  /** The monitor found it held by a runaway call (see FunctionRuntime.watch); cleared by any progress. */
  held: boolean;
  /** Beyond the isolates kept ready: closed once idle. */
  readonly extra: boolean;
}

/**
 * A function the isolates compile, and how a nested call picks its user: `system`, the `caller`'s,
 * or its `own` (asked of the host). Webhook sources and run-as scripts are `internal`: runnable by
 * the host, never by a function.
 */
interface FunctionSource {
  readonly name: string;
  readonly source: string;
  readonly file: string;
  readonly runAs: 'system' | 'caller' | 'own';
  readonly internal: boolean;
}

function functionSources(app: AppConfig): FunctionSource[] {
  // run_as_user_id_script_source is a stringified function, run as the system user.
  const script = (name: string, source: string, file: string): FunctionSource =>
    ({ name, source: `exports = ${source};`, file: `${file} (run_as_user_id_script_source)`, runAs: 'system', internal: true });
  return [
    ...[...app.functions.values()].flatMap((fn) => {
      const runAs = configuredRunAs(fn);
      return [
        { name: fn.name, source: fn.source, file: fn.file, runAs: fn.runAsSystem ? 'system' : runAs ? 'own' : 'caller', internal: false } as const,
        ...(runAs && 'scriptName' in runAs ? [script(runAsScriptName(fn.name), fn.runAsUserIdScriptSource!, fn.file)] : []),
      ];
    }),
    ...(app.webhooks ?? []).flatMap((w) => [
      { name: webhookFunctionName(w.service, w.name), source: w.source, file: w.file, runAs: 'system', internal: true } as const,
      ...(w.runAsUserIdScriptSource ? [script(webhookScriptName(w.service, w.name), w.runAsUserIdScriptSource, w.file)] : []),
    ]),
  ];
}

/** An isolate that has not answered a ping for this long is held by a runaway call. */
const STUCK_AFTER_MS = 50;
const PING_EVERY_MS = 20;
/** At most this many calls of one turn join one isolate's batch; the next is placed by load. */
const JOIN_BATCH = 16;
/** How long an extra isolate stays idle before it is closed. */
const EXTRA_IDLE_MS = 5_000;

export class FunctionRuntime {
  private readonly slots: Slot[];
  private readonly executions = new Map<number, ExecutionRecord>();
  private readonly answers = new Map<number, PendingAnswer>();
  private nextExecution = 1;
  /** Resolves and reads modules for every isolate (resolutions are cached here and in each isolate). */
  private readonly modules: ModuleResolver;

  /** Every function, webhook source and run-as script the isolates compile. */
  private readonly sources: readonly FunctionSource[];
  /** Whether each call runs in a realm of its own (realms.ts): the app's code writes to built-ins. */
  private perCall: boolean;
  /** Undeclared names the app's code assigns (realms.ts): a module naming one runs in the call's scope. */
  private readonly sloppyGlobals: Set<string>;

  constructor(
    private readonly app: AppConfig,
    private readonly options: RuntimeOptions,
  ) {
    this.slots = Array.from({ length: Math.max(1, options.isolates ?? DEFAULTS.functions.isolates) }, () => newSlot(false));
    this.modules = new ModuleResolver(options.modules);
    this.sources = functionSources(app);
    const plan = options.realms === 'per-call'
      ? { perCall: true, reasons: [], sloppyGlobals: new Set<string>() }
      : planRealms(this.sources.map((s) => ({ where: s.internal ? s.file : `function '${s.name}'`, source: s.source })), this.modules);
    this.perCall = plan.perCall;
    this.sloppyGlobals = new Set(plan.sloppyGlobals);
    for (const r of plan.reasons) {
      options.logger.info({ where: r.where, writes: r.writes.slice(0, 10) }, `${r.where} extends built-ins: each call of this app runs in a realm of its own`);
    }
  }

  /** Whether calls run in a realm of their own rather than the shared frozen one. */
  get perCallRealms(): boolean {
    return this.perCall;
  }

  private monitor: NodeJS.Timeout | null = null;

  /** Isolates that stopped answering while running calls (a loop, a runaway allocation). */
  get stuckIsolates(): number {
    return this.slots.filter((s) => this.stuck(s)).length;
  }

  /** Isolates in the pool now, extra ones included. */
  get isolateCount(): number {
    return this.slots.length;
  }

  /** When the monitor last ran. */
  private tickAt = 0;

  private stuck(slot: Slot): boolean {
    return slot.inFlight > 0 && slot.held;
  }

  /**
   * The isolate for a new call: the least busy of those still answering, an extra one only when
   * every isolate kept ready is held (so extras fall idle and close once the loops end). When every
   * one is held by a runaway call, one more is started, up to maxIsolates; past that the call is refused.
   */
  private pick(): Slot {
    // A call joins the batch forming for an isolate in this turn: one wake of its thread for the
    // batch (`mixed`: +7 to 10 % req/s over spreading each turn's calls by load; joining at most 4
    // gained nothing). The cost: up to JOIN_BATCH CPU-heavy calls arriving in one turn run one
    // after another in one isolate; the next turn's calls go to the least busy isolate, and a held
    // isolate gets none.
    for (const slot of this.slots) {
      const forming = slot.built && !this.stuck(slot) ? this.batches.forming(slot.built) : 0;
      if (forming > 0 && forming < JOIN_BATCH) return slot;
    }
    let best: Slot | null = null;
    for (const slot of this.slots) {
      if (this.stuck(slot)) continue;
      if (!best || (best.extra && !slot.extra) || (best.extra === slot.extra && slot.inFlight < best.inFlight)) best = slot;
    }
    if (best) return best;
    if (this.slots.length >= (this.options.maxIsolates ?? DEFAULTS.functions.maxIsolates)) {
      throw new BasteError('ServiceUnavailable', 'every function worker is held by a long-running call; try again shortly', { retryAfterSeconds: 1 });
    }
    const extra = newSlot(true);
    this.slots.push(extra);
    this.options.logger.warn({ isolates: this.slots.length }, 'every function isolate is held by a runaway call: started one more');
    return extra;
  }

  /**
   * While calls are in flight, pings each busy isolate so a runaway one is noticed and avoided. An
   * isolate is held when its ping has gone unanswered for STUCK_AFTER_MS and it has finished no work
   * since (a busy one answers a ping only after the calls queued before it, but finishes those),
   * judged only on a tick that came on time: after a pause of this thread (a long GC, a big parse)
   * the isolates' answers are still waiting in its queue.
   */
  private watch(): void {
    if (this.monitor) return;
    this.tickAt = Date.now();
    this.monitor = setInterval(() => {
      const now = Date.now();
      const onTime = now - this.tickAt <= STUCK_AFTER_MS;
      this.tickAt = now;
      let busy = false;
      for (const slot of this.slots) {
        if (slot.inFlight === 0) continue;
        busy = true;
        const sent = slot.pingSentAt;
        if (onTime && sent !== null && now - sent > STUCK_AFTER_MS && slot.progressAt < sent) slot.held = true;
        const sandbox = slot.built;
        if (slot.pingSentAt !== null || !sandbox || sandbox.isolate.isDisposed) continue;
        slot.pingSentAt = Date.now();
        const answered = () => {
          if (slot.built !== sandbox) return;
          slot.pingSentAt = null;
          slot.progressAt = Date.now();
          slot.held = false;
        };
        sandbox.ping.apply(undefined, [], { result: { promise: true } }).then(answered, answered);
      }
      if (!busy && this.monitor) {
        clearInterval(this.monitor);
        this.monitor = null;
      }
    }, PING_EVERY_MS);
    this.monitor.unref();
  }

  /** Closes an extra isolate that has stayed idle. */
  private retireLater(slot: Slot): void {
    setTimeout(() => {
      if (slot.inFlight > 0 || !this.slots.includes(slot)) return;
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (slot.built && !slot.built.isolate.isDisposed) slot.built.isolate.dispose();
      slot.sandbox = null;
      slot.built = null;
    }, EXTRA_IDLE_MS).unref();
  }

  /** Executions registered for calls in flight (client-level and nested run-as): 0 when idle. */
  get inFlightExecutions(): number {
    return this.executions.size;
  }

  /** Builds every isolate now, so the first calls are not slowed and compile errors are logged at start. */
  async warm(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.ready(slot)));
  }

  /** Runs one client-level call; resolves to the canonical EJSON text of the result. */
  call(invocation: FunctionInvocation): Promise<string> {
    return this.dispatch(invocation, 'run');
  }

  /** Runs an endpoint or webhook function with `(payload, response)`; `argsEjson` holds the payload. */
  async callHttp(invocation: FunctionInvocation): Promise<HttpOutcome> {
    return EJSON.parse(await this.dispatch(invocation, 'runHttp'), { relaxed: false }) as HttpOutcome;
  }

  private async dispatch(invocation: FunctionInvocation, entry: 'run' | 'runHttp'): Promise<string> {
    const slot = this.pick();
    slot.inFlight++;
    this.watch();
    try {
      return await this.callIn(slot, invocation, entry);
    } finally {
      slot.inFlight--;
      if (slot.extra && slot.inFlight === 0) this.retireLater(slot);
    }
  }

  private async callIn(slot: Slot, invocation: FunctionInvocation, entry: 'run' | 'runHttp'): Promise<string> {
    const sandbox = await this.ready(slot);
    const { user, runAsSystem: system, request } = invocation;
    // Text the isolate parses only when the function reads context.user / context.request.
    const userEjson = user ? userText(user) : null;
    const requestEjson = request ? hostEjson.stringifyCanonical(request) : null;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(executionError(`execution time limit exceeded (${this.options.timeoutMs} ms)`)), this.options.timeoutMs);
    });
    const id = this.register(user, system, request);
    const answered = new Promise<string>((resolve, reject) => this.answers.set(id, { resolve, reject }));
    try {
      // Bytes are moved, not copied: out of the host's buffer and into the isolate's.
      const argsEjson = typeof invocation.argsEjson === 'string'
        ? invocation.argsEjson
        : new ivm.ExternalCopy(invocation.argsEjson.take(), { transferOut: true }).copyInto({ release: true, transferIn: true });
      const args: EntryArgs = [invocation.name, argsEjson, id, system, userEjson, requestEjson];
      // No isolated-vm `timeout` (here or in enterRealm): `deadline` bounds the call and discards a
      // stuck isolate, and each such timeout stays queued in isolated-vm's timer thread until it
      // would have fired (timeoutMs, 120 s), ~200 bytes of native memory per call (issue 20).
      const entered = this.perCall
        ? this.enterRealm(sandbox, entry, args)
        : typeof argsEjson === 'string'
          ? this.batches.enter(sandbox, [entry, invocation.name, argsEjson, id, system, userEjson, requestEjson])
          : sandbox[entry].apply(undefined, [...args], { arguments: { copy: true }, result: { promise: true, copy: true } });
      // The entry's own promise fails the call only when the isolate did (a limit, disposal). Any
      // other rejection is some function's promise rejection that nobody handled, which
      // isolated-vm hands to whichever task ends next: not this call's answer.
      entered.catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        if (ISOLATE_FAILURE.test(message) || sandbox.isolate.isDisposed) this.answers.get(id)?.reject(err instanceof Error ? err : new Error(message));
        else this.options.logger.warn({ function: invocation.name, error: message.slice(0, 500) }, 'a function left a promise rejection that nobody handled');
      });
      return await Promise.race([answered, deadline]);
    } catch (err) {
      throw this.failure(err, slot, sandbox);
    } finally {
      clearTimeout(timer);
      this.answers.delete(id);
      // Whatever the outcome, the call's executions go: host calls still pending from it then fail.
      this.release(id);
    }
  }

  /**
   * Starts a call in a realm of its own: a fresh context of the isolate, bootstrapped and entered
   * in one step, released once the call has ended. Settles as the shared realm's entry does.
   */
  private async enterRealm(sandbox: Sandbox, entry: 'run' | 'runHttp', args: EntryArgs): Promise<unknown> {
    const kit = sandbox.realm;
    const context = await sandbox.isolate.createContext();
    const makers = kit.makers(context);
    let boot: ivm.Reference<(...args: unknown[]) => Promise<void>> | undefined;
    try {
      boot = (await kit.boot.run(context, { reference: true })) as ivm.Reference<(...args: unknown[]) => Promise<void>>;
      const bridges = kit.bridges;
      return await boot.apply(
        undefined,
        [kit.random, kit.bson.derefInto(), bridges[0], bridges[1], bridges[2], bridges[3], kit.appFacts.copyInto(), bridges[4], makers.compile, makers.factory, entry, ...args],
        { result: { promise: true } },
      );
    } finally {
      // Every handle on the realm goes, so the isolate can collect it.
      boot?.release();
      makers.compile.release();
      makers.factory.release();
      context.release();
    }
  }

  /**
   * Calls of the shared realm, handed to their isolate in one message per turn of the event loop.
   * A batch's promise fails the calls in it only when the isolate did; any other rejection is a
   * function's unhandled promise rejection (see callIn), logged here once for the batch.
   */
  private readonly batches = new CallBatches<Sandbox, BatchedCall>((sandbox, calls) =>
    sandbox.runBatch.apply(undefined, [calls], { arguments: { copy: true }, result: { promise: true } }).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (ISOLATE_FAILURE.test(message) || sandbox.isolate.isDisposed) throw err;
      this.options.logger.warn({ functions: [...new Set(calls.map((c) => c[1]))].slice(0, 10), error: message.slice(0, 500) }, 'a function left a promise rejection that nobody handled');
    }),
  );

  /** The isolate's answer to the client-level call `execution`: its result text, or the error it threw. */
  private readonly answer: DoneMessage = (execution, error, text) => {
    const pending = this.answers.get(execution);
    if (!pending) return; // timed out meanwhile: the call has already failed
    if (error !== null) pending.reject(new FunctionThrew(error));
    else pending.resolve(text ?? 'null');
  };

  /** Registers an execution: a client-level one, or one nested under the client-level `root`. */
  private register(user: CallUser | null, system: boolean, request: CallRequest | undefined, root?: number): number {
    const id = this.nextExecution++;
    this.executions.set(id, { user, system, request, root: root ?? id, children: [] });
    if (root !== undefined) this.executions.get(root)!.children.push(id);
    return id;
  }

  /** Frees a client-level execution and every execution nested under it. */
  private release(id: number): void {
    for (const child of this.executions.get(id)?.children ?? []) this.executions.delete(child);
    this.executions.delete(id);
  }

  /** The execution a host call names; an unknown one fails the call rather than run as anybody. */
  private execution(id: unknown): ExecutionRecord {
    const found = typeof id === 'number' ? this.executions.get(id) : undefined;
    if (!found) throw new Error(`no execution ${String(id).slice(0, 40)} in flight: the calling function has already ended`);
    return found;
  }

  /** Turns what the isolate threw into a FunctionExecutionError, replacing a broken isolate. */
  private failure(err: unknown, slot: Slot, sandbox: Sandbox): BasteError {
    // A typed error from a host call (a rule refusal of the data service) keeps its code.
    if (err instanceof FunctionThrew) return fromWireError(err.wire);
    if (err instanceof BasteError) {
      // Our own wall-clock limit: whatever still runs in the isolate goes with it.
      this.discard(slot, sandbox);
      return err;
    }
    const message = err instanceof Error ? err.message : String(err);
    if (sandbox.isolate.isDisposed || /disposed/i.test(message)) {
      this.discard(slot, sandbox);
      return executionError(/memory limit/i.test(message) ? 'memory limit exceeded' : 'execution was interrupted');
    }
    if (/timed out/i.test(message)) return executionError(`execution time limit exceeded (${this.options.timeoutMs} ms)`);
    return executionError(message);
  }

  private discard(slot: Slot, sandbox: Sandbox): void {
    if (!sandbox.isolate.isDisposed) sandbox.isolate.dispose();
    if (slot.built === sandbox) {
      slot.built = null;
      slot.pingSentAt = null;
      slot.held = false;
    }
    const current = slot.sandbox;
    void current?.then((s) => {
      if (s === sandbox && slot.sandbox === current) slot.sandbox = null;
    });
  }

  private ready(slot: Slot): Promise<Sandbox> {
    const pending = (slot.sandbox ??= this.build(() => {
      slot.progressAt = Date.now();
      slot.held = false;
    }).then(
      (built) => {
        slot.built = built;
        slot.pingSentAt = null;
        slot.held = false;
        return built;
      },
      (err: unknown) => {
        slot.sandbox = null;
        throw err;
      },
    ));
    return pending.then((s) => {
      if (!s.isolate.isDisposed) return s;
      if (slot.sandbox === pending) slot.sandbox = null;
      return this.ready(slot);
    });
  }

  /** `progress`: the isolate has finished some work (see Slot.progressAt). */
  private async build(progress: () => void): Promise<Sandbox> {
    const isolate = new ivm.Isolate({ memoryLimit: this.options.memoryMb });

    const context = await isolate.createContext();
    const jail = context.global;
    const random = new ivm.Reference((n: number) => [...randomBytes(Math.min(Math.max(0, n | 0), 65536))]);
    await jail.set('globalThis', jail.derefInto());
    await jail.set('__hostRandom', random);
    await context.eval(ISOLATE_PRELUDE);
    await context.eval(`${bsonSource()}\n;globalThis.BSON = BSON; globalThis.EJSON = BSON.EJSON;`);
    await context.eval(BSON_SETUP);
    await context.eval(`globalThis.__ejsonCodec = ${codecSource()};`);
    const log = this.options.logger;
    const logMessage: LogMessage = (level, fn, text) => {
      const l = (LOG_LEVELS as readonly string[]).includes(level) ? (level as 'info') : 'info';
      log[l]({ function: fn }, text);
    };
    const host = {
      log: new ivm.Reference(logMessage),
      sync: new ivm.Reference(syncHostCall),
      async: new ivm.Reference((kind: string, payload: string) => {
        progress();
        return asyncHostCall(this.asyncHandlers, kind, payload);
      }),
      done: new ivm.Reference((...answer: Parameters<DoneMessage>) => {
        progress();
        this.answer(...answer);
      }),
    };
    // Each function is compiled once per isolate; its factory is made in a realm when a call there
    // first needs it. One that does not compile is logged now and fails its calls with the reason.
    const scripts = new Map<string, ivm.Script>();
    const functions: { name: string; runAs: FunctionSource['runAs']; internal: boolean; error: string | null }[] = [];
    for (const fn of this.sources) {
      let error: string | null = null;
      try {
        scripts.set(fn.name, await isolate.compileScript(factorySource(fn.source), { filename: fn.file }));
      } catch (err) {
        error = `function '${fn.name}' (${fn.file}) could not be compiled: ${(err as Error).message}`;
        log.error(error);
      }
      functions.push({ name: fn.name, runAs: fn.runAs, internal: fn.internal, error });
    }
    const appFacts = new ivm.ExternalCopy({
      values: resolvedValues(this.app),
      environment: this.app.environment,
      environmentValues: this.app.environmentValues,
      dataSources: [...(this.app.dataSources?.keys() ?? [])],
      // Third-party services by name → type, for context.services.get (isolate-source.ts).
      services: Object.fromEntries([...(this.app.services?.values() ?? [])].map((s) => [s.name, s.type])),
      functions,
    });
    // require(): resolution and files on the host; a module is compiled into this isolate the first
    // time a call requires it, while the isolate waits in this synchronous host call.
    const modules = this.modules;
    const handlers = moduleHandlers(modules);
    const hostModule = new ivm.Reference((op: string, ...args: unknown[]) => moduleHostCall(handlers, op, args));
    const moduleScripts = new Map<string, ivm.Script>();
    const moduleScript = (id: string): ivm.Script => {
      let script = moduleScripts.get(id);
      if (!script) {
        const source = modules.source(id);
        const builtin = id.startsWith('node:');
        if (!this.perCall && !builtin) this.checkModule(modules.filenameOf(id), source);
        script = isolate.compileScriptSync(moduleFactorySource(source, builtin, !builtin && this.scopedModule(source)), { filename: modules.filenameOf(id) });
        moduleScripts.set(id, script);
      }
      return script;
    };
    const makers = (ctx: ivm.Context) => ({
      compile: new ivm.Reference((id: string) => moduleScript(id).runSync(ctx, { reference: true }).derefInto({ release: true })),
      factory: new ivm.Reference((name: string) => {
        const script = scripts.get(name);
        if (!script) throw new Error(`function not found: '${name}'`);
        return script.runSync(ctx, { reference: true }).derefInto({ release: true });
      }),
    });
    const shared = makers(context);
    const setup = await context.eval(ISOLATE_SETUP, { reference: true });
    const entries = (await setup.apply(
      undefined,
      [host.log, host.sync, host.async, host.done, appFacts.copyInto(), hostModule, shared.compile, shared.factory, false],
      { result: { reference: true } },
    )) as ivm.Reference<Record<'run' | 'runHttp' | 'runBatch', unknown>>;
    setup.release();
    const run = (await entries.get('run', { reference: true })) as Entry;
    const runHttp = (await entries.get('runHttp', { reference: true })) as Entry;
    const runBatch = (await entries.get('runBatch', { reference: true })) as Sandbox['runBatch'];
    entries.release();
    const ping = await context.eval('(() => 0)', { reference: true });
    const bson = await jail.get('BSON', { reference: true });
    await context.eval(ISOLATE_LOCKDOWN);
    const boot = await isolate.compileScript(perCallRealm(), { filename: '(per-call realm)' });
    const realm: RealmKit = { bson, random, bridges: [host.log, host.sync, host.async, host.done, hostModule], appFacts, makers, boot };
    return { isolate, run, runHttp, runBatch, ping, realm };
  }

  /**
   * A module first compiled for the shared frozen realm that writes to built-ins (required by a
   * name the load-time scan could not follow): its writes are refused there, so the app's later
   * calls run in realms of their own, and the log says why.
   */
  private checkModule(filename: string, source: string): void {
    const writes = intrinsicWrites(source, true);
    if (!writes.length) return;
    this.perCall = true;
    this.options.logger.error(
      { module: filename, writes: writes.slice(0, 10) },
      `module ${filename} extends built-ins, which the shared frozen realm refuses: this call may fail; the app's next calls each run in a realm of their own`,
    );
  }

  /**
   * Whether a module runs inside the call's `with` scope: it assigns undeclared names (sloppy
   * code), or names one that the app's code assigns. Names found here first join the app's set
   * for the modules compiled after it (one compiled earlier keeps its wrapper: the load-time scan
   * finds the names of every module required by a literal name).
   */
  private scopedModule(source: string): boolean {
    const strict = isStrict(source);
    const own = strict ? [] : undeclaredAssignments(source);
    for (const name of [...own, ...(strict ? [] : rootWrites(source))]) this.sloppyGlobals.add(name);
    return own.length > 0 || namesAny(source, this.sloppyGlobals);
  }

  /** The asynchronous host calls, by kind (contract.ts): `context.http`, the data service, run-as users, timers. */
  private readonly asyncHandlers: AsyncHandlers = {
    http: httpCall,
    mongo: (p, text) => this.mongoCall(p, text),
    runAs: (p) => this.runAsCall(p),
    sleep: (p) => this.sleep(p),
  };

  /** One tick of a function's timer: waits `ms`, at most the call time limit (no timer outlives its call's limit). */
  private sleep(p: AsyncHostCalls['sleep']['args']): Promise<null> {
    const wait = Math.min(Math.max(0, Number(p.ms) || 0), this.options.timeoutMs);
    return new Promise((resolve) => setTimeout(() => resolve(null), wait).unref());
  }

  /** `context.services.get(...).db(...).collection(...).<op>()` from inside a function. */
  private async mongoCall(p: AsyncHostCalls['mongo']['args'], payloadEjson: string): Promise<unknown> {
    // Who is asking is the host's record; `system` is the isolate's to say: it knows when a nested callee runs as system.
    const caller = this.execution(p.execution);
    if (!this.options.dataService) throw new Error('the data service is not available');
    // BSON.Long / BSON.Double values a function wrote keep their type in what is stored.
    const argTypes = /"\$number(Long|Double)"/.test(payloadEjson) ? numberTypesOf((JSON.parse(payloadEjson) as { args?: unknown }).args) : undefined;
    const value = await this.options.dataService(p.service, p.op, p.args, { user: caller.user, system: p.system === true, request: caller.request }, argTypes);
    return value === undefined ? null : value;
  }

  /**
   * `context.functions.execute` of a function with its own user: the host resolves that user and
   * registers it as an execution nested under the caller's client-level one.
   */
  private async runAsCall(p: AsyncHostCalls['runAs']['args']): Promise<AsyncHostCalls['runAs']['result']> {
    const caller = this.execution(p.execution);
    if (!this.options.executionUser) throw new Error('configured execution users are not available');
    const chosen = await this.options.executionUser(String(p.name), String(p.argsEjson), { user: caller.user, system: p.system === true }, caller.request);
    // The client-level call may have ended meanwhile (timed out, returned without awaiting):
    // registering under it now would leak.
    if (!this.executions.has(caller.root)) throw new Error('the calling function has already ended');
    const id = this.register(chosen.user, chosen.system, caller.request, caller.root);
    return { execution: id, system: chosen.system, userEjson: chosen.user ? hostEjson.stringifyCanonical(chosen.user) : null };
  }

  async close(): Promise<void> {
    if (this.monitor) clearInterval(this.monitor);
    this.monitor = null;
    for (const slot of this.slots) {
      const current = slot.sandbox;
      slot.sandbox = null;
      const s = current ? await current.catch(() => null) : null;
      if (s && !s.isolate.isDisposed) s.isolate.dispose();
    }
  }
}
