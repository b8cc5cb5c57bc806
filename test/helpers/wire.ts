// Raw HTTP against a test server over real loopback, and the one check of a Stitch error body.
// A test that needs the bytes the SDKs would see uses `request`/`clientOf`; a test of a route's
// own behaviour with no SDK involved may use `inject` (Fastify's in-process request, no socket).

import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';

/** An HTTP answer, read in full: the body as text, and as JSON when it parses. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly contentType: string | null;
  readonly text: string;
  /** `any`: tests read whichever fields of the answer they check. */
  readonly json: any;
}

export interface RequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Sent as JSON (with `Content-Type: application/json` unless `headers` names one). */
  readonly body?: unknown;
  /** Sent as it is, instead of `body`: for malformed or non-JSON bodies. */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  readonly redirect?: RequestRedirect;
}

function parsed(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

function prepare(opts: RequestOptions): { headers: Record<string, string>; body: string | undefined } {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const body = opts.raw !== undefined ? opts.raw : opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  return { headers, body };
}

/** One request over the network to an absolute `url`. */
export async function request(method: string, url: string, opts: RequestOptions = {}): Promise<Answer> {
  const { headers, body } = prepare(opts);
  const res = await fetch(url, { method, headers, body, redirect: opts.redirect });
  const text = await res.text();
  return { status: res.status, headers: res.headers, contentType: res.headers.get('content-type'), text, json: parsed(text) };
}

/** The same request through Fastify's `inject` (no socket): for route behaviour no SDK takes part in. */
export async function inject(http: FastifyInstance, method: string, path: string, opts: RequestOptions = {}): Promise<Answer> {
  const { headers, body } = prepare(opts);
  const res = await http.inject({ method: method as 'GET', url: path, headers, payload: body });
  const out = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : String(v));
  return { status: res.statusCode, headers: out, contentType: out.get('content-type'), text: res.body, json: parsed(res.body) };
}

/**
 * The client API of one app: `call` takes a path under `/api/client/v2.0`, `app` is the app's
 * prefix there, `auth(p)` a provider's route (`auth('anon-user/login')`).
 */
export function clientOf(server: { readonly url: string; readonly appId: string }) {
  const base = `${server.url}/api/client/v2.0`;
  const app = `/app/${server.appId}`;
  const call = (method: string, path: string, opts: RequestOptions = {}) => request(method, base + path, opts);
  return {
    call,
    app,
    auth: (route: string) => `${app}/auth/providers/${route}`,
    login: (providerName: string, body: unknown = {}, headers?: Record<string, string>) =>
      call('POST', `${app}/auth/providers/${providerName}/login`, { body, headers }),
    register: (email: string, password: string) => call('POST', `${app}/auth/providers/local-userpass/register`, { body: { email, password } }),
  };
}

/**
 * A Stitch error: `status`, exactly `application/json` (the Stitch SDK parses nothing else), and a
 * body of exactly {error, error_code, link} with a non-empty message; `message` matches it when given.
 */
export function assertError(res: Answer, status: number, errorCode: string, message?: RegExp): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.contentType, 'application/json', res.text);
  assert.ok(res.json !== null && typeof res.json === 'object', res.text);
  assert.deepEqual(Object.keys(res.json).sort(), ['error', 'error_code', 'link'], res.text);
  assert.equal(res.json.error_code, errorCode, res.text);
  assert.equal(typeof res.json.error, 'string');
  assert.ok(res.json.error.length > 0, 'an error says what went wrong');
  assert.equal(typeof res.json.link, 'string');
  if (message) assert.match(res.json.error, message);
}
