// Big function-call bodies are parsed off the event loop. Checking, parsing and re-stringifying
// a 10 MB `arguments` array took the main thread ~100 ms per call, so two clients posting such
// calls pushed every other request's p99 (/location) to hundreds of ms. Bodies from
// OFFLOAD_BYTES up go to a worker thread (the bytes are transferred, not copied) which answers
// with the call's name and service and its arguments as JSON in UTF-8 bytes, transferred back:
// what the sandbox takes (src/functions/args-ejson.ts).

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BasteError } from '../errors.js';

/** Smaller bodies are parsed on the main thread: a worker round trip costs more than they do. */
export const OFFLOAD_BYTES = 256 * 1024;
/** Workers at most (started when first needed): parsing is CPU work, one per core is plenty. */
const MAX_WORKERS = 2;

export type ParsedCall =
  | { readonly kind: 'empty' }
  | { readonly kind: 'not-object' }
  | {
      readonly kind: 'object';
      /** A string, undefined when absent, null when of another type. */
      readonly name: string | null | undefined;
      readonly service: string | null | undefined;
      readonly argsIsArray: boolean;
      /** `arguments` (or `[]`) as JSON text in UTF-8, in memory of its own. */
      readonly argsUtf8: Uint8Array;
      /** integer-width.ts's `prefersInt64` of that text. */
      readonly prefersInt64: boolean;
    };

export interface OffloadRequest {
  readonly id: number;
  readonly bytes: Uint8Array;
}
export type OffloadReply = { readonly id: number } & ({ readonly ok: true; readonly call: ParsedCall } | { readonly ok: false; readonly message: string });

/** The body of a function call parsed by a worker (the route tells it from a parsed object). */
export class OffloadedCall {
  constructor(readonly call: ParsedCall) {}
}

interface Pending {
  resolve(call: ParsedCall): void;
  reject(err: Error): void;
}

// Beside this module: .js once compiled; .ts when run from source under tsx (the tests), whose
// loader a worker does not inherit on Node 20, so the worker registers it first.
const WORKER_URL = new URL(`./json-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const newWorker = (): Worker =>
  WORKER_URL.pathname.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`, { eval: true })
    : new Worker(WORKER_URL);

class WorkerPool {
  private readonly workers: { worker: Worker; pending: Map<number, Pending> }[] = [];
  private nextId = 0;

  parse(body: Buffer): Promise<ParsedCall> {
    const slot = this.pick();
    const id = this.nextId++;
    // Transfer the body's memory when it is the body's alone (Buffer.concat gives big bodies their own); else copy.
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const bytes = own ? new Uint8Array(body.buffer, 0, body.byteLength) : new Uint8Array(body);
    return new Promise<ParsedCall>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, bytes } satisfies OffloadRequest, [bytes.buffer as ArrayBuffer]);
    });
  }

  private pick() {
    const idle = this.workers.find((w) => w.pending.size === 0);
    if (idle) return idle;
    if (this.workers.length < MAX_WORKERS) return this.start();
    return this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private start() {
    const worker = newWorker();
    const slot = { worker, pending: new Map<number, Pending>() };
    worker.on('message', (reply: OffloadReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.call);
      else p.reject(new BasteError('BadRequest', reply.message));
    });
    const fail = (err: Error) => {
      const at = this.workers.indexOf(slot);
      if (at >= 0) this.workers.splice(at, 1);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(new Error('the JSON worker stopped')));
    // Never what keeps the process alive. After the listeners: adding a message listener refs the port again.
    worker.unref();
    this.workers.push(slot);
    return slot;
  }
}

let pool: WorkerPool | undefined;

/** Parses a big function-call body in a worker. */
export function parseCallOffThread(body: Buffer): Promise<ParsedCall> {
  pool ??= new WorkerPool();
  return pool.parse(body);
}
