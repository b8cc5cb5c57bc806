// Small helpers the routes share: which app a path names, the bearer token, the JSON body.

import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../app/model.js';
import { BasteError, badRequest, invalidSession } from '../errors.js';

/** App-scoped routes name the client app id; this server serves one app. */
export function requireApp(config: AppConfig, req: FastifyRequest): void {
  const { appId } = req.params as { appId?: string };
  if (appId !== config.appId) {
    throw new BasteError('AppNotFound', `cannot find app using Client App ID '${String(appId).slice(0, 100)}'`);
  }
}

/** The token of `Authorization: Bearer <token>`; anything else (including RW's `Bearer null`) is an invalid session. */
export function bearerToken(req: FastifyRequest): string {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  const token = match?.[1];
  if (!token || token === 'null' || token === 'undefined') {
    throw invalidSession('invalid session: missing or malformed Authorization header');
  }
  return token;
}

/** The request body as a JSON object (`{}` when there is none). */
export function objectBody(req: FastifyRequest): Record<string, unknown> {
  const body = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  return body as Record<string, unknown>;
}
