// Typed errors shared by every part. Each carries the wire `error_code`; the HTTP status for
// each code lives in one table in src/http/errors.ts, so nothing below http/ knows about statuses.

export type ErrorCode =
  | 'AppNotFound'
  | 'AuthProviderNotFound'
  | 'BadRequest'
  | 'InvalidParameter'
  | 'MissingParameter'
  | 'InvalidSession'
  | 'InvalidPassword'
  | 'AuthError'
  | 'AccountNameInUse'
  | 'UserpassTokenInvalid'
  | 'UserAlreadyConfirmed'
  | 'UserNotFound'
  | 'UserDisabled'
  | 'DomainNotAllowed'
  | 'IdentityAlreadyExists'
  | 'APIKeyNotFound'
  | 'APIKeyAlreadyExists'
  | 'SessionNotFound'
  | 'NotImplemented'
  | 'EmailNotSent'
  | 'JWKSUnavailable'
  | 'FunctionNotFound'
  | 'FunctionNotCallable'
  | 'FunctionExecutionError'
  | 'ServiceNotFound'
  | 'ServiceCommandNotFound'
  | 'NoMatchingRuleFound'
  | 'SchemaValidationFailedWrite'
  | 'MongoDBError'
  | 'IncomingWebhookAuthFailed'
  | 'IncomingWebhookNotFound'
  | 'TriggerNotFound'
  | 'OAuthProviderUnavailable'
  | 'TooManyRequests'
  | 'NotFound'
  | 'NotServedByBaste'
  | 'MethodNotAllowed'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'URITooLong'
  | 'RequestHeaderFieldsTooLarge'
  | 'RequestTimeout'
  | 'ServiceUnavailable'
  | 'InternalServerError';

export class BasteError extends Error {
  override readonly name = 'BasteError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra facts for the HTTP layer (e.g. `retryAfterSeconds` for TooManyRequests and ServiceUnavailable). */
    readonly details: { readonly retryAfterSeconds?: number } = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new BasteError('BadRequest', message);
export const invalidSession = (message = 'invalid session') => new BasteError('InvalidSession', message);

/** Configuration problems, raised while loading an app directory: they name the file and field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    readonly reason: string,
  ) {
    super(`${file}${field ? ` (${field})` : ''}: ${reason}`);
  }
}
