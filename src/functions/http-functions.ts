// HTTPS endpoints and incoming webhooks: validate the request (secret or signature), decide who
// the function runs as, run it with the platform's `payload` and `response`, and turn the outcome
// into an HTTP answer. Knows nothing of Fastify: the route hands in a plain request.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { Binary, EJSON } from 'bson';
import type { AppConfig, EndpointConfig, HttpMethod, ValidationMethod, WebhookConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import { resolvedValues } from '../app/values.js';
import { ExpressionError, evaluate } from '../rules/expressions.js';
import { configuredRunAs, type Execution, type ExecutionUsers } from './execution-user.js';
import type { FunctionRuntime } from './runtime.js';
import type { CallRequest, CallUser, HttpOutcome } from './types.js';
import { webhookFunctionName, webhookScriptName } from './runtime.js';
import { expressionRequest, functionHeaders } from './request-headers.js';
import { isFormBody, parseFormBody } from './form-body.js';
import { isSignedByGitHub } from './github-signature.js';
import { isSignedByTwilio } from './twilio-signature.js';

export interface HttpCall {
  readonly method: string;
  /** The query string without the leading `?`. */
  readonly rawQuery: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The header lines as received (name, value, name, value, …): what functions see, canonically named. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly ip: string;
  /** The URL the caller used, for `context.request.webhookUrl`. */
  readonly url: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string[]>;
  readonly body?: Buffer;
}

/** How the server authenticates application users on these routes (passed in, so this module imports no auth code). */
export interface CallerAuth {
  /** A user from an access token. */
  fromAccessToken(token: string): Promise<string>;
  /**
   * A user from a provider credential (`local-userpass` `{username,password}`, `api-key` `{key}`,
   * `custom-token` `{token}`). With `createUser` (`create_user_on_auth`), a verified identity that
   * has no user yet gets one, as at a first login; without it, such a credential is refused.
   */
  fromCredential(providerType: string, payload: Record<string, unknown>, ip: string, createUser: boolean): Promise<string>;
  /** The user as functions see it. */
  callUser(userId: string): Promise<CallUser>;
}

const header = (h: HttpCall['headers'], name: string): string | undefined => {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

const safeEqual = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const authFailed = (message: string) => new BasteError('IncomingWebhookAuthFailed', message);

/** SECRET_AS_QUERY_PARAM: `?secret=`; VERIFY_PAYLOAD: `sha256=<hex HMAC-SHA256 of the raw body>` in a header. */
function validate(method: ValidationMethod, secret: string | undefined, call: HttpCall, signatureHeaders: readonly string[]): void {
  if (method === 'NO_VALIDATION') return;
  if (!secret) throw authFailed('the secret for this endpoint is not configured');
  if (method === 'SECRET_AS_QUERY_PARAM') {
    const given = new URLSearchParams(call.rawQuery).get('secret');
    if (given === null || !safeEqual(given, secret)) throw authFailed('invalid secret');
    return;
  }
  const signature = signatureHeaders.map((h) => header(call.headers, h)).find((v) => v !== undefined);
  const expected = `sha256=${createHmac('sha256', secret).update(call.body).digest('hex')}`;
  if (!signature || !safeEqual(signature.trim().replace(/^sha256:/, 'sha256='), expected)) throw authFailed('invalid payload signature');
}

function methodAllowed(allowed: HttpMethod, method: string): boolean {
  return allowed === '*' || allowed === method || (allowed === 'GET' && method === 'HEAD');
}

/**
 * `context.request` for an endpoint or webhook call; any `secret=` pair is removed. Every header
 * reaches the function, `Authorization` included: endpoint functions read it for their own schemes
 * (the docs' `can_evaluate` example checks a header, `data-api/custom-endpoints.txt`), and the
 * platform withheld none (`functions/context.txt` lists them all, `Cookie` too).
 */
function requestOf(call: HttpCall, headers: Record<string, string[]>): CallRequest {
  const query = new URLSearchParams(call.rawQuery);
  query.delete('secret');
  return {
    remoteIPAddress: call.ip,
    requestHeaders: headers,
    httpMethod: call.method,
    rawQueryString: query.toString(),
    webhookUrl: call.url.split('?')[0],
    httpReferrer: header(call.headers, 'referer'),
    httpUserAgent: header(call.headers, 'user-agent'),
  };
}

/**
 * The platform's payload: `{query, headers, body}`, the body as BSON.Binary (absent when empty).
 * `query` holds the URL's parameters and, for an `application/x-www-form-urlencoded` body (Twilio,
 * HTML forms), the form's fields beside them (form-body.ts). A key given more than once keeps its
 * first value, as `data-api/custom-endpoints.txt` documents ("only the first occurrence is
 * represented"; `rawQueryString` has them all). `secret` is never there, from the URL or the form.
 */
function payloadOf(call: HttpCall, headers: Record<string, string[]>): Record<string, unknown> {
  const query = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(call.rawQuery)) if (k !== 'secret' && !query.has(k)) query.set(k, v);
  // The URL's own parameters win over form fields of the same name: they are what the caller was
  // given to call (`?tenant=…`), the body is whatever was posted.
  if (isFormBody(header(call.headers, 'content-type'))) {
    for (const [k, v] of parseFormBody(call.body)) if (k !== 'secret' && !query.has(k)) query.set(k, v);
  }
  // fromEntries, not assignment: a key called `__proto__` stays a key.
  return { query: Object.fromEntries(query), headers, ...(call.body.length ? { body: new Binary(call.body) } : {}) };
}

function answerOf(outcome: HttpOutcome, respondResult: boolean, resultEvenWithStatus: boolean): HttpAnswer {
  const { response } = outcome;
  const resultBody = (): HttpAnswer['body'] => Buffer.from(EJSON.stringify(outcome.result, { relaxed: true }));
  if (response.touched) {
    const headers = { ...response.headers };
    let body: Buffer | undefined;
    if (typeof response.body === 'string') body = Buffer.from(response.body);
    else if (response.body instanceof Binary) body = Buffer.from(response.body.buffer);
    else if (respondResult && resultEvenWithStatus && outcome.hasResult) {
      body = resultBody();
      headers['content-type'] ??= ['application/json'];
    }
    return { status: response.statusCode ?? 200, headers, body };
  }
  if (!respondResult) return { status: 204, headers: {} };
  return { status: 200, headers: { 'content-type': ['application/json'] }, body: resultBody() };
}

export class HttpFunctions {
  private readonly endpoints: readonly EndpointConfig[];
  private readonly webhooks: ReadonlyMap<string, WebhookConfig>;
  private readonly values: Record<string, unknown>;

  constructor(
    private readonly app: AppConfig,
    private readonly runtime: FunctionRuntime,
    private readonly auth: CallerAuth,
    private readonly executionUsers: ExecutionUsers,
  ) {
    this.endpoints = app.endpoints ?? [];
    this.webhooks = new Map((app.webhooks ?? []).map((w) => [`${w.service}/${w.name}`, w]));
    this.values = resolvedValues(app);
  }

  /**
   * The application user named by the request's credentials, or null when it carries none.
   * Custom user data is loaded only when the endpoint asks for it (`fetch_custom_user_data`).
   */
  private async caller(
    call: HttpCall,
    bodyCredentials: Record<string, unknown> | null,
    options: { fetchCustomData: boolean; createUser: boolean },
  ): Promise<CallUser | null> {
    const user = await this.authenticate(call, bodyCredentials, options.createUser);
    return user && !options.fetchCustomData ? { ...user, custom_data: {} } : user;
  }

  private async authenticate(call: HttpCall, bodyCredentials: Record<string, unknown> | null, createUser: boolean): Promise<CallUser | null> {
    const h = (name: string) => header(call.headers, name);
    const bearer = /^Bearer\s+(\S+)$/i.exec(h('authorization') ?? '')?.[1];
    const sources: { type: string; payload: Record<string, unknown> }[] = [];
    const collect = (get: (k: string) => unknown) => {
      const email = get('email');
      const password = get('password');
      const apiKey = get('api-key') ?? get('apiKey');
      const jwt = get('jwtTokenString');
      if (typeof email === 'string' && typeof password === 'string') sources.push({ type: 'local-userpass', payload: { username: email, password } });
      if (typeof apiKey === 'string') sources.push({ type: 'api-key', payload: { key: apiKey } });
      if (typeof jwt === 'string') sources.push({ type: 'custom-token', payload: { token: jwt } });
    };
    collect(h);
    const fromHeaders = sources.length;
    if (bodyCredentials) collect((k) => bodyCredentials[k]);
    if (fromHeaders > 0 && sources.length > fromHeaders) throw authFailed('send credentials in the headers or in the body, not both');
    if (bearer && sources.length > 0) throw authFailed('send one set of credentials');
    if (sources.length > 1) throw authFailed('send one set of credentials');
    try {
      if (bearer) return await this.auth.callUser(await this.auth.fromAccessToken(bearer));
      const [source] = sources;
      if (!source) return null;
      return await this.auth.callUser(await this.auth.fromCredential(source.type, source.payload, call.ip, createUser));
    } catch (err) {
      // Bearer failures give no detail to the caller (the platform logs them only).
      throw authFailed(`authentication failed${err instanceof BasteError && err.code !== 'InvalidSession' ? `: ${err.message}` : ''}`);
    }
  }

  private async checkCanEvaluate(expr: unknown, user: CallUser | null, request: CallRequest, what: string): Promise<void> {
    if (expr === undefined || expr === null) return;
    let ok: boolean;
    try {
      ok = await evaluate(expr, { user: user ?? {}, request: expressionRequest(request), values: this.values, environment: { tag: this.app.environment, values: this.app.environmentValues }, args: {} });
    } catch (err) {
      if (err instanceof ExpressionError) throw new BasteError('FunctionNotCallable', `can_evaluate of ${what} is not a valid expression: ${err.message}`);
      throw err;
    }
    if (!ok) throw new BasteError('FunctionNotCallable', `rule not matched for ${what}: the caller may not run it`);
  }

  /** `/app/{appId}/endpoint{route}`. */
  async endpoint(route: string, call: HttpCall): Promise<HttpAnswer> {
    const matches = this.endpoints.filter((e) => e.route === route && !e.disabled);
    if (matches.length === 0) throw new BasteError('NotFound', `no endpoint for ${route}`);
    const endpoint = matches.find((e) => methodAllowed(e.httpMethod, call.method));
    if (!endpoint) throw new BasteError('MethodNotAllowed', `${call.method} is not allowed on ${route}`);
    validate(endpoint.validationMethod, endpoint.secretName ? this.app.secrets.get(endpoint.secretName) : undefined, call, ['endpoint-signature']);
    const fn = this.app.functions.get(endpoint.functionName)!;
    const user = await this.caller(call, null, { fetchCustomData: endpoint.fetchCustomUserData, createUser: endpoint.createUserOnAuth });
    // Application auth unless the function names its own user: the system user (then context.user
    // is the caller, if any), a user id or a script.
    if (!fn.runAsSystem && !configuredRunAs(fn) && !user) throw authFailed('this endpoint needs the caller to authenticate');
    const headers = functionHeaders(call.rawHeaders);
    const request = requestOf(call, headers);
    await this.checkCanEvaluate(fn.canEvaluate, user, request, `endpoint ${endpoint.route}`);
    // Stringified once (a 10 MB body is 14 MB of base64): the run-as script's arguments hold the same text.
    const payloadEjson = EJSON.stringify(payloadOf(call, headers), { relaxed: false });
    // A run-as script gets the payload, as a webhook's does.
    const run = await this.executionUsers.forFunction(fn, { user, system: false }, `[${payloadEjson}]`, request);
    const outcome = await this.runtime.callHttp({
      name: fn.name,
      argsEjson: payloadEjson,
      user: run.user,
      runAsSystem: run.system,
      request,
    });
    return answerOf(outcome, endpoint.respondResult, true);
  }

  /** `/api/client/v2.0/app/{app}/service/{service}/incoming_webhook/{name}`. */
  async webhook(service: string, name: string, call: HttpCall): Promise<HttpAnswer> {
    const hook = this.webhooks.get(`${service}/${name}`);
    if (!hook) throw new BasteError('IncomingWebhookNotFound', `no incoming webhook '${name}' in service '${service}'`);
    if (!methodAllowed(hook.httpMethod, call.method)) throw new BasteError('MethodNotAllowed', `${call.method} is not allowed on this webhook`);
    if (hook.githubSignature && hook.validationMethod === 'VERIFY_PAYLOAD') {
      const delivery = { body: call.body, sha256: header(call.headers, 'x-hub-signature-256'), sha1: header(call.headers, 'x-hub-signature') };
      if (!hook.secret || !isSignedByGitHub(hook.secret, delivery)) throw authFailed('invalid X-Hub-Signature-256 / X-Hub-Signature');
    } else validate(hook.validationMethod, hook.secret, call, ['x-hook-signature', 'x-stitch-signature']);
    if (hook.twilioAuthTokenSecret !== undefined) {
      const token = this.app.secrets.get(hook.twilioAuthTokenSecret);
      const signed = { url: call.url, contentType: header(call.headers, 'content-type'), body: call.body, signature: header(call.headers, 'x-twilio-signature') };
      if (!token || !isSignedByTwilio(token, signed)) throw authFailed('invalid X-Twilio-Signature');
    }
    const headers = functionHeaders(call.rawHeaders);
    const payload = payloadOf(call, headers);
    const payloadEjson = EJSON.stringify(payload, { relaxed: false });
    const request = requestOf(call, headers);
    let run: Execution;
    if (hook.runAsAuthedUser) {
      const user = await this.caller(call, this.jsonBody(call), { fetchCustomData: hook.fetchCustomUserData, createUser: hook.createUserOnAuth ?? false });
      if (!user) throw authFailed('this webhook needs the caller to authenticate');
      run = { user, system: hook.runAsSystem };
    } else if (!hook.runAsSystem && (hook.runAsUserId || hook.runAsUserIdScriptSource)) {
      const runAs = hook.runAsUserId ? { userId: hook.runAsUserId } : { scriptName: webhookScriptName(service, name) };
      run = await this.executionUsers.resolve(runAs, null, `[${payloadEjson}]`, request, `webhook ${service}/${name}`, authFailed);
    } else {
      // run_as_system, or no way to pick a user: the platform runs such webhooks as the system user.
      run = { user: null, system: true };
    }
    await this.checkCanEvaluate(hook.canEvaluate, run.user, request, `webhook ${service}/${name}`);
    const outcome = await this.runtime.callHttp({
      name: webhookFunctionName(service, name),
      argsEjson: payloadEjson,
      user: run.user,
      runAsSystem: run.system,
      request,
    });
    return answerOf(outcome, hook.respondResult, false);
  }

  private jsonBody(call: HttpCall): Record<string, unknown> | null {
    if (!call.body.length) return null;
    try {
      const v = JSON.parse(call.body.toString('utf8')) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
}
