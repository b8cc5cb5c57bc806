// GET /api/client/v2.0/app/{app}/location: the SDKs send every later request to `hostname`.

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { HttpDeps } from '../deps.js';
import { requireApp } from '../request.js';

const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** scheme://host[:port] of this server as the client reached it, without a trailing slash. */
export function publicBaseUrl(req: FastifyRequest, configured?: string): string {
  if (configured) return configured.replace(/\/+$/, '');
  const host = req.host;
  // A forged Host header must not send clients elsewhere in a way that breaks the URL itself.
  const safeHost = SAFE_HOST.test(host) ? host : `${req.socket.localAddress}:${req.socket.localPort}`;
  return `${req.protocol}://${safeHost}`;
}

/**
 * scheme://host:port for links Baste mails (confirmation, password reset): `--base-url`, else the
 * server's own socket address. Never the Host or X-Forwarded-Host header: the client picks those,
 * and a reset link pointing at a host of the requester's choosing would hand it the token.
 */
export function mailedLinkBaseUrl(req: FastifyRequest, configured?: string): string {
  if (configured) return configured.replace(/\/+$/, '');
  const address = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:(?=\d+\.)/, '');
  return `http://${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort}`;
}

export const locationRoutes =
  ({ app, options }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    http.get('/api/client/v2.0/app/:appId/location', async (req) => {
      requireApp(app, req);
      const hostname = publicBaseUrl(req, options.baseUrl);
      return {
        deployment_model: 'GLOBAL',
        location: 'US-VA',
        hostname,
        ws_hostname: hostname.replace(/^http/, 'ws'),
      };
    });
  };
