// What a slow or idle client may hold: Node's and Fastify's defaults let a connection that sends
// half its headers, trickles its body or idles between requests live for a minute or more, and
// enough of them exhaust the process's file descriptors so that nobody can log in. These limits
// close such connections within seconds, and past `maxConnections` a new one is answered with a
// Stitch-shaped 503 and closed, rather than dropped silently.

import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { DEFAULTS } from '../defaults.js';

export interface ConnectionLimits {
  /** Time to receive a request's headers (default 10 s). */
  readonly headersTimeoutMs?: number;
  /** Time to receive a whole request, body included (default 60 s: 18 MB at 300 kB/s). Answering may take longer. */
  readonly requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open (default 65 s: longer than the 60 s idle
   * timeout of common load balancers and proxies, which otherwise reuse a connection the server is
   * closing and answer their client 502). A connection that never sends a request is closed by
   * the headers timeout instead.
   */
  readonly keepAliveTimeoutMs?: number;
  /** Open connections at most (default: what the descriptor limit leaves room for, at most 10,000). */
  readonly maxConnections?: number;
}

/** The soft limit on open files, when /proc says it (Linux). */
export function openFilesLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** Room for the store, the data files, outgoing requests and logs beside client connections. */
export const RESERVED_DESCRIPTORS = 256;

export function defaultMaxConnections(): number {
  const limit = openFilesLimit();
  return limit === undefined ? 1000 : Math.max(64, Math.min(10_000, limit - RESERVED_DESCRIPTORS));
}

const REFUSAL_BODY = JSON.stringify({ error: 'the server has too many open connections; try again shortly', error_code: 'ServiceUnavailable', link: '' });
const REFUSAL =
  'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n' +
  `Content-Length: ${Buffer.byteLength(REFUSAL_BODY)}\r\n\r\n${REFUSAL_BODY}`;

/** Applies the limits to a listening (or about to listen) server; returns the effective ones. */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits = {}): Required<ConnectionLimits> {
  const effective = {
    headersTimeoutMs: limits.headersTimeoutMs ?? DEFAULTS.connections.headersTimeoutMs,
    requestTimeoutMs: limits.requestTimeoutMs ?? DEFAULTS.connections.requestTimeoutMs,
    keepAliveTimeoutMs: limits.keepAliveTimeoutMs ?? DEFAULTS.connections.keepAliveTimeoutMs,
    maxConnections: limits.maxConnections ?? defaultMaxConnections(),
  };
  server.headersTimeout = effective.headersTimeoutMs;
  server.requestTimeout = effective.requestTimeoutMs;
  server.keepAliveTimeout = effective.keepAliveTimeoutMs;
  // Node checks the two request timeouts on this interval (default 30 s): check often enough that they hold.
  const checking = Math.max(250, Math.min(1000, Math.floor(effective.headersTimeoutMs / 2)));
  (server as Server & { connectionsCheckingInterval?: number }).connectionsCheckingInterval = checking;
  // The HTTP server's own connection handling runs only for connections within the limit; one
  // past it is answered here, before any parser sees it, and its descriptor freed at once.
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  let open = 0;
  server.on('connection', (socket: Socket) => {
    if (open >= effective.maxConnections) {
      socket.on('error', () => socket.destroy());
      socket.end(REFUSAL);
      return;
    }
    open++;
    socket.once('close', () => open--);
    for (const handler of handlers) handler.call(server, socket);
  });
  return effective;
}
