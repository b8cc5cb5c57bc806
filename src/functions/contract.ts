// The function runtime's contract: every message that crosses between the host and a sandbox
// isolate, in one place. The host's handler tables are typed by these maps, so a kind without a
// handler does not compile, and the sandbox source (isolate-source.ts) names kinds only through
// the constants below, injected into its text, so the two sides cannot drift
// (test/functions-contract.test.ts checks both directions and the error round trip).
//
// A host call's payload crosses as canonical EJSON text and its answer comes back as the EJSON
// text of a HostAnswer. An error crosses as a WireError: its message and, when it was one of
// Baste's typed errors (src/errors.ts), its wire code, so a refusal of the data service inside a
// function reaches the client with the code the data service gives, not as FunctionExecutionError.

import type { Binary } from 'bson';
import { BasteError, type ErrorCode } from '../errors.js';
import type { Resolution } from './modules.js';

/** `utils.*`: the isolate waits for the answer (a synchronous host call). */
export interface SyncHostCalls {
  'crypto.hash': { args: { alg: unknown; input: unknown }; result: Binary };
  'crypto.hmac': { args: { input: unknown; secret: unknown; alg: unknown; encoding?: unknown }; result: string };
  'crypto.encrypt': { args: { type: unknown; message: unknown; key: unknown }; result: Binary };
  'crypto.decrypt': { args: { type: unknown; message: unknown; key: unknown }; result: Binary };
  'crypto.sign': { args: { type: unknown; message: unknown; key: unknown; scheme?: unknown }; result: Binary };
  'crypto.verify': { args: { type: unknown; message: unknown; key: unknown; signature: unknown; scheme?: unknown }; result: boolean };
  'jwt.encode': { args: { method: unknown; payload: unknown; secret: unknown; header?: unknown }; result: string };
  'jwt.decode': { args: { jwt: unknown; key: unknown; returnHeader?: unknown; methods?: unknown }; result: unknown };
}

/** The platform's `context.http` answer (status, statusCode, contentLength, headers, cookies, body). */
export interface HttpResponse {
  readonly status: string;
  readonly statusCode: number;
  readonly contentLength: number;
  readonly headers: Record<string, string[]>;
  readonly cookies: Record<string, unknown>;
  readonly body: Binary;
}

/** What the isolate learns of a nested call's own user (runAs). */
export interface ChosenExecution {
  readonly execution: number;
  readonly system: boolean;
  /** Canonical EJSON of the user; null for the system user. */
  readonly userEjson: string | null;
}

/** The isolate goes on while the host works (an asynchronous host call). */
export interface AsyncHostCalls {
  /** `context.http.<method>(opts)` and the `http` service. */
  http: { args: { method: string; opts: Record<string, unknown> }; result: HttpResponse };
  /** One data-service operation for the execution `execution` (`system`: the callee runs as system). */
  mongo: { args: { service: string; op: string; args: Record<string, unknown>; execution: number; system: boolean }; result: unknown };
  /** Who a callee with its own configured user runs as, registered as a new execution. */
  runAs: { args: { name: string; argsEjson: string; execution: number; system: boolean }; result: ChosenExecution };
  /** One tick of a timer. */
  sleep: { args: { ms: number }; result: null };
}

export type SyncKind = keyof SyncHostCalls;
export type AsyncKind = keyof AsyncHostCalls;

/** `require()`: the module bridge's requests, positional (Uint8Arrays cross as copies, not EJSON). */
export interface ModuleCalls {
  resolve: { args: [spec: string, parentId: string | null]; result: Resolution };
  source: { args: [id: string]; result: string };
  hashes: { args: []; result: string[] };
  digest: { args: [alg: string, key: Uint8Array | null, data: Uint8Array]; result: Uint8Array };
  /** Asynchronous on the host (libuv's pool); the isolate waits with applySyncPromise. */
  pbkdf2: { args: [password: Uint8Array, salt: Uint8Array, iterations: number, keylen: number, digest: string]; result: Promise<Uint8Array> };
}
export type ModuleOp = keyof ModuleCalls;

/** The kinds by the names the sandbox source uses for them (`SYNC_KIND.cryptoHash`). */
export const SYNC_KINDS = {
  cryptoHash: 'crypto.hash',
  cryptoHmac: 'crypto.hmac',
  cryptoEncrypt: 'crypto.encrypt',
  cryptoDecrypt: 'crypto.decrypt',
  cryptoSign: 'crypto.sign',
  cryptoVerify: 'crypto.verify',
  jwtEncode: 'jwt.encode',
  jwtDecode: 'jwt.decode',
} as const satisfies Record<string, SyncKind>;

export const ASYNC_KINDS = { http: 'http', mongo: 'mongo', runAs: 'runAs', sleep: 'sleep' } as const satisfies Record<string, AsyncKind>;

export const MODULE_OPS = { resolve: 'resolve', source: 'source', hashes: 'hashes', digest: 'digest', pbkdf2: 'pbkdf2' } as const satisfies Record<string, ModuleOp>;

// Every kind of the maps above has a name: a kind added to a map and not here does not compile.
type Named<T extends Record<string, string>> = T[keyof T];
const complete = <Missing extends never>(): void => undefined;
complete<Exclude<SyncKind, Named<typeof SYNC_KINDS>>>();
complete<Exclude<AsyncKind, Named<typeof ASYNC_KINDS>>>();
complete<Exclude<ModuleOp, Named<typeof MODULE_OPS>>>();

/** Host handler tables, one handler per kind, typed by the contract. */
export type SyncHandlers = { readonly [K in SyncKind]: (args: SyncHostCalls[K]['args']) => SyncHostCalls[K]['result'] };
/** `payloadEjson`: the payload's text, for a handler that reads more than the values (the data service: number types). */
export type AsyncHandlers = {
  readonly [K in AsyncKind]: (args: AsyncHostCalls[K]['args'], payloadEjson: string) => Promise<AsyncHostCalls[K]['result']>;
};
export type ModuleHandlers = { readonly [K in ModuleOp]: (...args: ModuleCalls[K]['args']) => ModuleCalls[K]['result'] };

/** An error as it crosses the boundary: the message, and the wire code of Baste's typed errors. */
export interface WireError {
  readonly message: string;
  readonly code?: ErrorCode;
}

/** A host call's answer, as EJSON text: its value, or the error it failed with. */
export type HostAnswer<T> = { readonly value: T } | { readonly error: WireError };

export const toWireError = (err: unknown): WireError =>
  err instanceof BasteError ? { message: err.message, code: err.code } : { message: err instanceof Error ? err.message : String(err) };

/** What a call that failed with `wire` answers the client: its own code, else FunctionExecutionError. */
export const fromWireError = (wire: WireError): BasteError =>
  new BasteError(typeof wire.code === 'string' ? wire.code : 'FunctionExecutionError', String(wire.message));

/** `host.log(level, functionName, text)`. */
export type LogLevel = 'info' | 'warn' | 'error' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['info', 'warn', 'error', 'debug'];
export type LogMessage = (level: string, functionName: string, text: string) => void;

/**
 * `host.done(execution, error, resultEjson)`: how a client-level call answers (never through the
 * entry's promise: isolate-source.ts says why). `error` null: `resultEjson` is the result.
 */
export type DoneMessage = (execution: number, error: WireError | null, resultEjson: string | null) => void;

/** The constants the sandbox source is given, as the text that declares them there. */
export const sandboxConstants = (): string =>
  [`const SYNC_KIND = Object.freeze(${JSON.stringify(SYNC_KINDS)});`, `const ASYNC_KIND = Object.freeze(${JSON.stringify(ASYNC_KINDS)});`, `const MODULE_OP = Object.freeze(${JSON.stringify(MODULE_OPS)});`].join('\n  ');
