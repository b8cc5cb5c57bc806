// POST functions/call (wire-protocol §3 #23, §7): canonical EJSON in, canonical EJSON out.

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { EJSON } from 'bson';
import { BasteError } from '../../errors.js';
import { decodeDocumentEjson } from '../../util/ejson.js';
import type { CallRequest } from '../../functions/runtime.js';
import { functionHeaders } from '../../functions/request-headers.js';
import { clientResult } from '../../services/mongodb/client-result.js';
import { numberTypesOf } from '../../data/number-types.js';
import type { HttpDeps } from '../app.js';
import { bearerToken, objectBody, requireApp } from '../request.js';

/** The platform's request limit for function calls. */
const CALL_BODY_LIMIT = 18 * 1024 * 1024;
/**
 * Withheld from client calls: `Authorization` carries the caller's Baste access token and `Cookie`
 * whatever the browser holds for this origin, and neither is the function's business. (The
 * platform passed every header, `Cookie` included, per `functions/context.txt`; Baste keeps these
 * two back. Endpoints and webhooks, called by plain HTTP clients, do get them: http-functions.ts.)
 */
const HIDDEN_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie']);

/** `context.request` for a client call: canonical header names, array values, credentials withheld. */
export function callRequestOf(req: FastifyRequest): CallRequest {
  const requestHeaders = functionHeaders(req.raw.rawHeaders, HIDDEN_HEADERS);
  const query = new URLSearchParams(req.url.split('?')[1] ?? '');
  query.delete('secret');
  return {
    remoteIPAddress: req.ip,
    requestHeaders,
    rawQueryString: query.toString(),
    httpUserAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined,
    httpReferrer: typeof req.headers.referer === 'string' ? req.headers.referer : undefined,
  };
}

export const functionRoutes =
  ({ app, sessions, auth, functions, mongo }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    http.post('/api/client/v2.0/app/:appId/functions/call', { bodyLimit: CALL_BODY_LIMIT }, async (req, reply) => {
      requireApp(app, req);
      const { user } = await sessions.verifyAccessTokenWithUser(bearerToken(req));
      const body = objectBody(req);
      if (typeof body.name !== 'string' || body.name.length === 0) throw new BasteError('MissingParameter', 'name is required and must be a string');
      const args = body.arguments ?? [];
      if (!Array.isArray(args)) throw new BasteError('InvalidParameter', 'arguments must be an array');
      if (body.service !== undefined) {
        if (typeof body.service !== 'string') throw new BasteError('InvalidParameter', 'service must be a string');
        // A data service call: one argument object (database, collection, query, ...), canonical EJSON.
        const [first] = args;
        if (!first || typeof first !== 'object' || Array.isArray(first)) throw new BasteError('InvalidParameter', 'a service call takes one argument object');
        let decoded: Record<string, unknown>;
        try {
          decoded = decodeDocumentEjson(first) as Record<string, unknown>;
        } catch {
          throw new BasteError('BadRequest', 'arguments are not valid extended JSON');
        }
        // The number types the client wrote (Int64, integral Doubles) are kept in what is stored.
        const result = await mongo.execute(
          body.service,
          body.name,
          decoded,
          { user: await auth.callUserFrom(user), system: false, request: callRequestOf(req) },
          numberTypesOf(first),
        );
        return reply.code(200).header('content-type', 'application/json').send(EJSON.stringify(clientResult(body.name, result), { relaxed: false }));
      }
      const text = await functions.callFromClient({
        name: body.name,
        // The body is canonical EJSON already: hand the arguments to the sandbox as text.
        argsEjson: JSON.stringify(args),
        user: await auth.callUserFrom(user),
        request: callRequestOf(req),
      });
      return reply.code(200).header('content-type', 'application/json').send(text);
    });
  };
