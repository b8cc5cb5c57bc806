// The HTTP face of one app: Fastify, the JSON/EJSON body parser, CORS, one log line per
// request, the error mapping and the routes. The only part that knows Fastify.

import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AppConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import { clientErrorHandler } from './client-errors.js';
import { parseJsonBody } from './json-body.js';
import { sendError, toBasteError } from './errors.js';
import { OutageLog } from './outage.js';
import { requestLogger } from './request-logger.js';
import { storeFailureOf } from '../store/failures.js';
import { adminConsoleRoutes } from './routes/admin-console.js';
import { adminRoutes, isAdminPath } from './routes/admin.js';
import { OAUTH_CALLBACK_PATH } from '../auth/oauth-redirect.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { authRoutes } from './routes/auth.js';
import { endpointRoutes } from './routes/endpoints.js';
import { functionRoutes } from './routes/functions.js';
import { HEALTH_PATHS, healthRoutes } from './routes/health.js';
import { locationRoutes } from './routes/location.js';
import { unroutedError } from './routes/not-served.js';
import { oauthRoutes } from './routes/oauth.js';
import { userpassRoutes } from './routes/userpass.js';
import { watchRoutes } from './routes/watch.js';
import { emailPageRoutes } from './routes/email-pages.js';
import { DEFAULTS } from '../defaults.js';
import type { HttpDeps } from './deps.js';

/** The platform's `link` points at the app's logs page; Baste has none, and both SDKs accept an empty string. */
export const ERROR_LINK = '';


/** Query parameters that carry credentials and must never reach a log line. */
const SECRET_QUERY_KEYS = new Set(['stitch_at', 'secret', 'token', 'tokenId', 'stitch_request', 'baas_request', 'code', 'state']);

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const { app: config, logger, options } = deps;
  const http = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own two lines per request are replaced by the one line of the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: requestLogger,
    trustProxy: options.trustProxy,
    bodyLimit: options.bodyLimit ?? DEFAULTS.bodyLimitBytes,
    forceCloseConnections: true,
    // Requests Node refuses before routing (bad request line or headers, over the size limit) and
    // Fastify's router refusals (a URL that does not decode, an overlong path parameter) answer
    // in the Stitch shape too.
    clientErrorHandler: clientErrorHandler(ERROR_LINK),
    frameworkErrors: (err, _req, reply) => {
      const error = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new BasteError('URITooLong', 'a path segment of the URL is too long') : new BasteError('BadRequest', 'the request URL is not valid');
      void sendError(reply, error, ERROR_LINK);
    },
    // Node's own answer to a request without Host is an empty 400; the hook below answers instead.
    http: { requireHostHeader: false },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  // SDKs send POST /auth/session with no body, sometimes still labelled JSON: an empty body is no body.
  http.removeContentTypeParser('application/json');
  http.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8')));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  void http.register(cors, {
    origin: (origin, cb) => cb(null, !origin || isAllowedOrigin(config, origin) ? (origin ?? false) : false),
    credentials: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    // X-Baste-Next-After: the admin API's next page, for consoles served from another origin.
    exposedHeaders: ['X-BaaS-Location', 'X-Stitch-Location', 'X-Baste-Next-After'],
    maxAge: 600,
  });

  // allowed_request_origins: a browser request from any other origin is refused outright.
  // (This hook and onResponse are callback-style: an async hook costs every request a promise chain.)
  http.addHook('onRequest', (req, _reply, done) => {
    done(refusedRequest(req));
  });
  function refusedRequest(req: FastifyRequest): BasteError | undefined {
    if (req.headers.host === undefined && req.raw.httpVersionMinor >= 1) return new BasteError('BadRequest', 'the Host header is required');
    const origin = req.headers.origin;
    // The OAuth callback is the provider's page posting back (Apple's form_post comes with
    // Origin: https://appleid.apple.com); its single-use state is what protects it. A request
    // from the server's own origin (its confirm and reset pages) is not a cross-origin one: a
    // browser names another page's origin, never this one, for a page served elsewhere.
    if (origin && !isAllowedOrigin(config, origin) && !isAdminPath(req.url) && req.url.split('?')[0] !== OAUTH_CALLBACK_PATH && origin !== `${req.protocol}://${req.host}`) {
      // The operator sees which origin to add to allowed_request_origins (the path without its query).
      req.log.warn({ origin: origin.slice(0, 200), path: req.url.split('?')[0]!.slice(0, 200) }, 'request refused: origin not in allowed_request_origins');
      return new BasteError('DomainNotAllowed', `origin '${origin.slice(0, 200)}' is not allowed for this app`);
    }
    return undefined;
  }

  const outage = new OutageLog(logger);
  http.addHook('onResponse', (req, reply, done) => {
    logResponse(req, reply);
    done();
  });
  function logResponse(req: FastifyRequest, reply: FastifyReply): void {
    // A success on a route that reads the store ends an outage (location and the console's files need none).
    if (outage.down && reply.statusCode < 400 && !/\/location$|^\/admin(\/|$)|^\/healthz$/.test(req.url.split('?')[0]!)) outage.recovered();
    // Building the line costs more than skipping it when info logging is off (--log-level warn).
    if (!(req.log as unknown as Logger).isLevelEnabled('info')) return;
    if (reply.statusCode < 400 && HEALTH_PATHS.has(req.url.split('?')[0]!)) return;
    req.log.info(
      {
        method: req.method,
        path: req.url.split('?')[0],
        query: redactedQuery(req),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ip: req.ip,
      },
      'request',
    );
  }

  http.setErrorHandler((err, req, reply) => {
    const error = toBasteError(err);
    if (error.code === 'InternalServerError') req.log.error({ err }, 'unhandled error');
    // Only the database's unavailability is an outage (functions busy with runaway calls answer 503 too).
    const failure = error.code === 'ServiceUnavailable' ? storeFailureOf(err) : null;
    if (failure?.kind === 'unavailable') outage.refusedBecause(failure.what);
    return sendError(reply, error, ERROR_LINK);
  });
  http.setNotFoundHandler((req, reply) => sendError(reply, unroutedError(req), ERROR_LINK));

  void http.register(healthRoutes(deps.readiness));
  void http.register(locationRoutes(deps));
  void http.register(authRoutes(deps));
  void http.register(oauthRoutes(deps));
  void http.register(userpassRoutes(deps));
  void http.register(apiKeyRoutes(deps));
  void http.register(functionRoutes(deps));
  void http.register(watchRoutes(deps));
  void http.register(endpointRoutes(deps));
  void http.register(adminRoutes(deps));
  if (deps.admin.consoleDir) void http.register(adminConsoleRoutes(deps.admin.consoleDir));
  if (deps.emailPagesDir) void http.register(emailPageRoutes(deps, deps.emailPagesDir));
  return http;
}

function isAllowedOrigin(config: AppConfig, origin: string): boolean {
  return config.allowedRequestOrigins.length === 0 || config.allowedRequestOrigins.includes(origin);
}

function redactedQuery(req: FastifyRequest): Record<string, string> | undefined {
  const q = req.query as Record<string, unknown> | undefined;
  if (!q || Object.keys(q).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(q).map(([k, v]) => [k, SECRET_QUERY_KEYS.has(k) ? '[redacted]' : String(v).slice(0, 200)]),
  );
}
