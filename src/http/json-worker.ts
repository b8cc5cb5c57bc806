// The worker of json-offload.ts: parses a big function-call body and hands back what the route
// needs as text, so the main thread neither parses nor re-stringifies megabytes of arguments.

import { parentPort } from 'node:worker_threads';
import { BasteError } from '../errors.js';
import { parseJsonBody } from './json-body.js';
import type { OffloadReply, OffloadRequest } from './json-offload.js';
import { prefersInt64 } from '../functions/integer-width.js';

function handle({ id, bytes }: OffloadRequest): OffloadReply {
  try {
    const body = parseJsonBody(Buffer.from(bytes).toString('utf8'));
    if (body === undefined || body === null) return { id, ok: true, call: { kind: 'empty' } };
    if (typeof body !== 'object' || Array.isArray(body)) return { id, ok: true, call: { kind: 'not-object' } };
    const { name, service, arguments: args } = body as Record<string, unknown>;
    const argsJson = JSON.stringify(args ?? []);
    // Encoded here, into memory of its own that the main thread receives without a copy.
    const argsUtf8 = new TextEncoder().encode(argsJson);
    return {
      id,
      ok: true,
      call: {
        kind: 'object',
        name: typeof name === 'string' ? name : name === undefined ? undefined : null,
        service: typeof service === 'string' ? service : service === undefined ? undefined : null,
        argsIsArray: args === undefined || Array.isArray(args),
        argsUtf8,
        prefersInt64: prefersInt64(argsJson),
      },
    };
  } catch (err) {
    const message = err instanceof BasteError ? err.message : 'request body is not valid JSON';
    return { id, ok: false, message };
  }
}

parentPort!.on('message', (request: OffloadRequest) => {
  const reply = handle(request);
  parentPort!.postMessage(reply, reply.ok && reply.call.kind === 'object' ? [reply.call.argsUtf8.buffer as ArrayBuffer] : []);
});
