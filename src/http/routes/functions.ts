// POST functions/call (both SDKs' callFunction): canonical EJSON in, canonical EJSON out.

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { EJSON } from 'bson';
import { BasteError, badRequest } from '../../errors.js';
import { decodeDocumentEjson } from '../../util/ejson.js';
import type { CallRequest } from '../../functions/types.js';
import { functionHeaders } from '../../functions/request-headers.js';
import { clientResult } from '../../services/mongodb/client-result.js';
import { numberTypesOf } from '../../data/number-types.js';
import type { HttpDeps } from '../deps.js';
import { parseJsonBody } from '../json-body.js';
import { OFFLOAD_BYTES, OffloadedCall, parseCallOffThread } from '../json-offload.js';
import { bearerToken, objectBody, requireApp } from '../request.js';
import { EjsonBytes, type ArgsEjson } from '../../functions/args-ejson.js';

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
  // What follows the first `?`, up to a second one; most calls have none (no URLSearchParams then).
  const at = req.url.indexOf('?');
  let rawQueryString = '';
  if (at >= 0) {
    const end = req.url.indexOf('?', at + 1);
    const query = new URLSearchParams(req.url.slice(at + 1, end < 0 ? undefined : end));
    query.delete('secret');
    rawQueryString = query.toString();
  }
  return {
    remoteIPAddress: req.ip,
    requestHeaders,
    rawQueryString,
    httpUserAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined,
    httpReferrer: typeof req.headers.referer === 'string' ? req.headers.referer : undefined,
  };
}

/** What the route reads of a call's body, parsed here or by a worker (json-offload.ts). */
interface CallBody {
  readonly name: unknown;
  readonly service: unknown;
  readonly argsIsArray: boolean;
  args(): unknown[];
  /** The arguments as JSON (canonical EJSON as the SDKs send it): text, or a worker's bytes. */
  argsJson(): ArgsEjson;
}

function callBodyOf(req: FastifyRequest): CallBody {
  if (req.body instanceof OffloadedCall) {
    const call = req.body.call;
    if (call.kind === 'not-object') throw badRequest('request body must be a JSON object');
    if (call.kind === 'empty') return { name: undefined, service: undefined, argsIsArray: true, args: () => [], argsJson: () => '[]' };
    // null: present but not a string, which the checks below refuse as they refuse any non-string.
    const bytes = new EjsonBytes(call.argsUtf8, call.prefersInt64);
    return { name: call.name, service: call.service, argsIsArray: call.argsIsArray, args: () => JSON.parse(bytes.text()) as unknown[], argsJson: () => bytes };
  }
  const body = objectBody(req);
  const args = body.arguments ?? [];
  return { name: body.name, service: body.service, argsIsArray: Array.isArray(args), args: () => args as unknown[], argsJson: () => JSON.stringify(args) };
}

export const functionRoutes =
  ({ app, sessions, auth, functions, mongo }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    // This route's own JSON parser: big bodies are parsed by a worker, off the event loop.
    http.removeContentTypeParser('application/json');
    http.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: CALL_BODY_LIMIT }, (_req, body: Buffer, done) => {
      if (body.length >= OFFLOAD_BYTES) {
        parseCallOffThread(body).then((call) => done(null, new OffloadedCall(call)), (err: Error) => done(err, undefined));
        return;
      }
      try {
        done(null, parseJsonBody(body.toString('utf8')));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    http.post('/api/client/v2.0/app/:appId/functions/call', { bodyLimit: CALL_BODY_LIMIT }, async (req, reply) => {
      requireApp(app, req);
      const { user } = await sessions.verifyAccessTokenWithUser(bearerToken(req));
      const body = callBodyOf(req);
      if (typeof body.name !== 'string' || body.name.length === 0) throw new BasteError('MissingParameter', 'name is required and must be a string');
      if (!body.argsIsArray) throw new BasteError('InvalidParameter', 'arguments must be an array');
      if (body.service !== undefined) {
        if (typeof body.service !== 'string') throw new BasteError('InvalidParameter', 'service must be a string');
        // A data service call: one argument object (database, collection, query, ...), canonical EJSON.
        const [first] = body.args();
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
          { user: await auth.users.callUserFrom(user), system: false, request: callRequestOf(req) },
          numberTypesOf(first),
        );
        return reply.code(200).header('content-type', 'application/json').send(EJSON.stringify(clientResult(body.name, result), { relaxed: false }));
      }
      const text = await functions.callFromClient({
        name: body.name,
        // The body is canonical EJSON already: hand the arguments to the sandbox as they are.
        argsEjson: body.argsJson(),
        user: await auth.users.callUserFrom(user),
        request: callRequestOf(req),
      });
      return reply.code(200).header('content-type', 'application/json').send(text);
    });
  };
