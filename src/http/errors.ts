// The one table from error codes to HTTP statuses, and the wire shape of every error:
// {error, error_code, link} with Content-Type exactly `application/json` (the Stitch SDK parses
// nothing else, and only refreshes its token on an InvalidSession it could parse).

import type { FastifyReply } from 'fastify';
import { BasteError, type ErrorCode } from '../errors.js';
import { storeFailureOf } from '../store/failures.js';

/** Seconds a client is told to wait when the database is unavailable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

const STATUS: Record<ErrorCode, number> = {
  AppNotFound: 404,
  AuthProviderNotFound: 404,
  BadRequest: 400,
  InvalidParameter: 400,
  MissingParameter: 400,
  InvalidSession: 401,
  InvalidPassword: 401,
  AuthError: 401,
  AccountNameInUse: 409,
  UserpassTokenInvalid: 400,
  UserAlreadyConfirmed: 400,
  UserNotFound: 404,
  UserDisabled: 403,
  DomainNotAllowed: 403,
  IdentityAlreadyExists: 409,
  APIKeyNotFound: 404,
  SessionNotFound: 404,
  APIKeyAlreadyExists: 409,
  NotImplemented: 501,
  EmailNotSent: 503,
  JWKSUnavailable: 502,
  FunctionNotFound: 404,
  FunctionNotCallable: 403,
  FunctionExecutionError: 400,
  ServiceNotFound: 404,
  ServiceCommandNotFound: 400,
  NoMatchingRuleFound: 403,
  SchemaValidationFailedWrite: 400,
  MongoDBError: 400,
  IncomingWebhookAuthFailed: 401,
  IncomingWebhookNotFound: 404,
  TriggerNotFound: 404,
  OAuthProviderUnavailable: 502,
  TooManyRequests: 429,
  NotFound: 404,
  // A platform route Baste does not serve: 404 is the status every SDK gives up on at once (routes/not-served.ts).
  NotServedByBaste: 404,
  MethodNotAllowed: 405,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  URITooLong: 414,
  RequestHeaderFieldsTooLarge: 431,
  RequestTimeout: 408,
  // A store or database the request needs is unreachable (or its disk is full): try again later.
  ServiceUnavailable: 503,
  InternalServerError: 500,
};

export const statusOf = (code: ErrorCode): number => STATUS[code];

/** Turns anything thrown in a handler (ours or Fastify's) into a BasteError. */
export function toBasteError(err: unknown): BasteError {
  if (err instanceof BasteError) return err;
  const failure = storeFailureOf(err);
  if (failure?.kind === 'unavailable') {
    return new BasteError('ServiceUnavailable', 'the database is unavailable; try again later', { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
  }
  if (failure?.kind === 'unstorable-text') return new BasteError('BadRequest', 'text values must not contain NUL characters');
  const e = err as { code?: string; statusCode?: number; validation?: unknown; message?: string };
  if (e?.validation) return new BasteError('BadRequest', `invalid request: ${e.message ?? 'bad input'}`);
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BasteError('PayloadTooLarge', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new BasteError('UnsupportedMediaType', 'unsupported content type; send application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new BasteError('BadRequest', 'request body is not valid JSON');
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new BasteError('BadRequest', e.message ?? 'bad request');
  }
  return new BasteError('InternalServerError', 'internal server error');
}

export function sendError(reply: FastifyReply, err: BasteError, link: string): FastifyReply {
  if (err.details.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.details.retryAfterSeconds));
  return reply
    .code(statusOf(err.code))
    .header('content-type', 'application/json')
    // A Buffer keeps Fastify from appending `; charset=utf-8`, which the Stitch SDK does not parse.
    .send(Buffer.from(JSON.stringify({ error: err.message, error_code: err.code, link })));
}
