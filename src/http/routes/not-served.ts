// What a request Baste has no route for is told. Under the client API (/api/client/v2.0/) and the
// admin API (/api/admin/v3.0/) the answer names the platform feature the path belongs to when
// Baste does not serve it (Device Sync, GraphQL, push notifications, …) and what to do instead,
// as a Stitch-shaped error with error_code `NotServedByBaste`; anything else stays `NotFound`.
//
// The status is 404 for all of them, on purpose:
// - realm-core's sync client treats a WebSocket handshake answered 404 as a fatal error and stops;
//   401 would make it refresh the access token and retry, and 5xx would make it retry with
//   backoff forever (both in a loop no user can end).
// - realm-web refreshes and retries on any 401 carrying InvalidSession or "unauthorized", without
//   limit; the Stitch SDK and realm-core's HTTP client treat any other non-2xx JSON error alike,
//   so a 404 reaches the app's code once, with the message below.
// - 501 (or 503) invites proxies and monitoring to count an outage; nothing here is broken.

import type { FastifyRequest } from 'fastify';
import { BasteError } from '../../errors.js';

const CLIENT_API = '/api/client/v2.0/';
const ADMIN_API = '/api/admin/v3.0/';

/** Platform features Baste does not serve: the path's pattern and what to tell the caller. */
const NOT_SERVED: readonly { readonly path: RegExp; readonly what: string }[] = [
  {
    // realm-core's sync client opens a WebSocket here (ws_hostname + this path).
    path: /^\/api\/client\/v2\.0\/app\/[^/]+\/realm-sync(\/|$)/,
    what: 'Device Sync (realm-sync) is not served by Baste: open the realm locally (without a sync configuration) and read and write through the remote MongoDB client (functions/call) or functions',
  },
  {
    path: /^\/api\/client\/v2\.0\/app\/[^/]+\/graphql(\/|$)/,
    what: 'the GraphQL API is not served by Baste: query through the remote MongoDB client (functions/call) or call a function',
  },
  {
    // The Stitch SDKs' and realm-core's push client (GCM / FCM registration).
    path: /^\/api\/client\/v2\.0\/app\/[^/]+\/push(\/|$)/,
    what: 'push notifications (push/providers/…/registration) are not served by Baste: send notifications from a function through your push provider',
  },
];

/** The error for a request no route answered: a clear "not served" under the client and admin APIs. */
export function unroutedError(req: FastifyRequest): BasteError {
  const path = req.url.split('?')[0]!;
  // The path as sent, bounded: it goes back to the caller, not into anything else.
  const shown = `${req.method} ${path.slice(0, 200)}`;
  const known = NOT_SERVED.find((n) => n.path.test(path));
  if (known) return new BasteError('NotServedByBaste', `${shown}: ${known.what} (see "What it serves today" in Baste's README)`);
  if (path.startsWith(CLIENT_API)) {
    return new BasteError('NotServedByBaste', `${shown} is not served by Baste: it serves the client routes of realm-web, the Stitch SDKs and realm-core v14 listed under "What it serves today" in its README`);
  }
  if (path.startsWith(ADMIN_API)) {
    return new BasteError('NotServedByBaste', `${shown} is not served by Baste: its admin API serves the user, API key, trigger and security routes listed under "Managing users" in its README; change anything else in the app directory and restart`);
  }
  return new BasteError('NotFound', `no route for ${shown}`);
}
