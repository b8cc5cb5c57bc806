// What a function may ask of the host: hashing, HMAC, JWTs (utils.*) and outgoing HTTP
// (context.http), and the bridge both kinds of host call cross: a kind from the contract
// (contract.ts), its payload as canonical EJSON text, and a HostAnswer back, never a throw.

import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSign,
  createVerify,
  randomBytes,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
} from 'node:crypto';
import { Binary, EJSON } from 'bson';
import { hostEjson } from '../util/ejson-codec.js';
import { parseDocumentEjson } from '../util/ejson.js';
import { toWireError, type AsyncHandlers, type AsyncHostCalls, type AsyncKind, type HostAnswer, type SyncHandlers, type SyncHostCalls, type SyncKind, type WireError } from './contract.js';

const HTTP_TIMEOUT_MS = 30_000;
const HTTP_MAX_BODY = 16 * 1024 * 1024;

type Payload = Record<string, unknown>;

const answer = (value: unknown): string => hostEjson.stringifyCanonical({ value: value === undefined ? null : value } satisfies HostAnswer<unknown>);
const refuse = (error: WireError): string => hostEjson.stringifyCanonical({ error } satisfies HostAnswer<never>);

const bytesOf = (input: unknown): Buffer => {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (input instanceof Binary) return Buffer.from(input.buffer);
  throw new Error('expected a string or a BSON.Binary');
};

const HASHES: Record<string, string> = { sha1: 'sha1', sha256: 'sha256', md5: 'md5', sha512: 'sha512' };

const JWT_ALGS: Record<string, { kind: 'hmac' | 'rsa'; hash: string }> = {
  HS256: { kind: 'hmac', hash: 'sha256' },
  HS384: { kind: 'hmac', hash: 'sha384' },
  HS512: { kind: 'hmac', hash: 'sha512' },
  RS256: { kind: 'rsa', hash: 'RSA-SHA256' },
  RS384: { kind: 'rsa', hash: 'RSA-SHA384' },
  RS512: { kind: 'rsa', hash: 'RSA-SHA512' },
};

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function jwtEncode({ method, payload, secret, header }: Payload): string {
  const alg = JWT_ALGS[String(method)];
  if (!alg) throw new Error(`unsupported signing method '${String(method)}' (supported: ${Object.keys(JWT_ALGS).join(', ')})`);
  if (typeof secret !== 'string' || secret.length === 0) throw new Error('a secret or private key is required');
  const head = b64url(JSON.stringify({ ...(header as object | undefined), alg: method, typ: 'JWT' }));
  const body = b64url(EJSON.stringify(payload ?? {}, { relaxed: true }));
  const input = `${head}.${body}`;
  const sig = alg.kind === 'hmac' ? createHmac(alg.hash, secret).update(input).digest() : createSign(alg.hash).update(input).sign(secret);
  return `${input}.${b64url(sig)}`;
}

function jwtDecode({ jwt, key, returnHeader, methods }: Payload): unknown {
  if (typeof jwt !== 'string') throw new Error('jwt must be a string');
  const [head, body, sig] = jwt.split('.');
  if (!head || !body || sig === undefined) throw new Error('malformed JWT');
  const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: string };
  const allowed = Array.isArray(methods) && methods.length ? (methods as string[]) : Object.keys(JWT_ALGS);
  const alg = header.alg && allowed.includes(header.alg) ? JWT_ALGS[header.alg] : undefined;
  if (!alg) throw new Error(`signing method '${String(header.alg)}' is not accepted`);
  if (typeof key !== 'string' || key.length === 0) throw new Error('a key is required');
  const input = `${head}.${body}`;
  const given = Buffer.from(sig, 'base64url');
  const ok =
    alg.kind === 'hmac'
      ? (() => {
          const expected = createHmac(alg.hash, key).update(input).digest();
          return expected.length === given.length && timingSafeEqual(expected, given);
        })()
      : createVerify(alg.hash).update(input).verify(key, given);
  if (!ok) throw new Error('signature is invalid');
  const payload = EJSON.parse(Buffer.from(body, 'base64url').toString('utf8'), { relaxed: false });
  return returnHeader ? { header, payload } : payload;
}

const hashOf = (p: SyncHostCalls['crypto.hash']['args']): Binary => {
  const alg = HASHES[String(p.alg)];
  if (!alg) throw new Error(`unsupported hash '${String(p.alg)}'`);
  return new Binary(createHash(alg).update(bytesOf(p.input)).digest());
};

function hmacOf(p: SyncHostCalls['crypto.hmac']['args']): string {
  const alg = HASHES[String(p.alg)];
  if (!alg || alg === 'md5') throw new Error(`unsupported HMAC hash '${String(p.alg)}'`);
  const encoding = p.encoding === 'base64' ? 'base64' : 'hex';
  return createHmac(alg, bytesOf(p.secret)).update(bytesOf(p.input)).digest(encoding);
}

function aes(direction: 'encrypt' | 'decrypt', p: SyncHostCalls['crypto.encrypt']['args']): Binary {
  if (p.type !== 'aes') throw new Error(`unsupported encryption type '${String(p.type)}' (supported: aes)`);
  const key = bytesOf(p.key);
  if (![16, 24, 32].includes(key.length)) throw new Error('an AES key must be 16, 24 or 32 bytes');
  const alg = `aes-${key.length * 8}-gcm` as 'aes-256-gcm';
  const input = bytesOf(p.message);
  // Baste's own format (the platform's is not documented): 12-byte IV, ciphertext, 16-byte GCM tag.
  if (direction === 'encrypt') {
    const iv = randomBytes(12);
    const cipher = createCipheriv(alg, key, iv);
    return new Binary(Buffer.concat([iv, cipher.update(input), cipher.final(), cipher.getAuthTag()]));
  }
  if (input.length < 28) throw new Error('the encrypted message is too short');
  const decipher = createDecipheriv(alg, key, input.subarray(0, 12));
  decipher.setAuthTag(input.subarray(input.length - 16));
  try {
    return new Binary(Buffer.concat([decipher.update(input.subarray(12, input.length - 16)), decipher.final()]));
  } catch {
    throw new Error('decryption failed: wrong key or altered message');
  }
}

function rsaParams(p: SyncHostCalls['crypto.sign']['args']): { message: Buffer; key: { key: string; padding: number } } {
  if (p.type !== 'rsa') throw new Error(`unsupported signature type '${String(p.type)}' (supported: rsa)`);
  const padding = p.scheme === 'pkcs1v15' ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_PSS_PADDING;
  if (typeof p.key !== 'string') throw new Error('the key must be a PEM string');
  return { message: bytesOf(p.message), key: { key: p.key, padding } };
}

/** `utils.crypto.*` and `utils.jwt.*`, one handler per kind of the contract. */
export const syncHandlers: SyncHandlers = {
  'crypto.hash': hashOf,
  'crypto.hmac': hmacOf,
  'crypto.encrypt': (p) => aes('encrypt', p),
  'crypto.decrypt': (p) => aes('decrypt', p),
  'crypto.sign': (p) => {
    const { message, key } = rsaParams(p);
    return new Binary(cryptoSign('sha256', message, key));
  },
  'crypto.verify': (p) => {
    const { message, key } = rsaParams(p);
    return cryptoVerify('sha256', message, key, bytesOf(p.signature));
  },
  'jwt.encode': (p) => jwtEncode(p),
  'jwt.decode': (p) => jwtDecode(p),
};

/** `context.http.<method>(opts)`: the platform's request options and response shape over fetch. */
async function httpRequest(p: AsyncHostCalls['http']['args']): Promise<AsyncHostCalls['http']['result']> {
  const method = String(p.method);
  const opts = (p.opts ?? {}) as Record<string, unknown>;
  let url: URL;
  if (typeof opts.url === 'string') url = new URL(opts.url);
  else {
    if (typeof opts.host !== 'string') throw new Error('context.http needs url or host');
    url = new URL(`${typeof opts.scheme === 'string' ? opts.scheme : 'http'}://${opts.host}${typeof opts.path === 'string' ? opts.path : ''}`);
    for (const [k, vs] of Object.entries((opts.query ?? {}) as Record<string, unknown>)) {
      for (const v of Array.isArray(vs) ? vs : [vs]) url.searchParams.append(k, String(v));
    }
    if (typeof opts.fragment === 'string') url.hash = opts.fragment;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('context.http supports http and https only');
  const headers = new Headers();
  for (const [k, vs] of Object.entries((opts.headers ?? {}) as Record<string, unknown>)) {
    for (const v of Array.isArray(vs) ? vs : [vs]) headers.append(k, String(v));
  }
  if (typeof opts.username === 'string') {
    headers.set('authorization', `Basic ${Buffer.from(`${opts.username}:${String(opts.password ?? '')}`).toString('base64')}`);
  }
  // Options Baste cannot honour fail loudly: silently dropping them would send an unauthenticated request.
  if (opts.digestAuth) throw new Error('digestAuth is not supported by Baste (use username and password for Basic auth, or set the Authorization header)');
  if (opts.authUrl !== undefined) throw new Error('authUrl is not supported by Baste (set the Cookie or Authorization header yourself)');
  // `cookies: {name: value}` (context.http's option) join any Cookie header the function set.
  if (opts.cookies && typeof opts.cookies === 'object') {
    const pairs = Object.entries(opts.cookies as Record<string, unknown>).map(([k, v]) => `${k}=${String(v)}`);
    if (pairs.length) headers.set('cookie', [headers.get('cookie'), ...pairs].filter(Boolean).join('; '));
  }
  let body: string | FormData | undefined;
  if (opts.form !== undefined) {
    // `form: {field: value}` is a multipart/form-data body, exclusive with `body`. The docs ask for a
    // `Content-Type: multipart/form-data` header too; that header lacks the boundary, so fetch's own replaces it.
    if (opts.body !== undefined) throw new Error('give body or form, not both');
    if (!opts.form || typeof opts.form !== 'object') throw new Error('form must be an object of field names to values');
    const form = new FormData();
    for (const [k, vs] of Object.entries(opts.form as Record<string, unknown>)) {
      for (const v of Array.isArray(vs) ? vs : [vs]) form.append(k, v instanceof Binary ? new Blob([Buffer.from(v.buffer)]) : String(v));
    }
    headers.delete('content-type');
    body = form;
  } else if (opts.body !== undefined) {
    if (opts.encodeBodyAsJSON) {
      body = EJSON.stringify(opts.body, { relaxed: true });
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    } else body = typeof opts.body === 'string' ? opts.body : opts.body instanceof Binary ? Buffer.from(opts.body.buffer).toString('utf8') : JSON.stringify(opts.body);
  }
  const res = await fetch(url, {
    method,
    headers,
    body,
    redirect: opts.followRedirects ? 'follow' : 'manual',
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > HTTP_MAX_BODY) throw new Error('response body is larger than 16 MB');
  const outHeaders: Record<string, string[]> = {};
  res.headers.forEach((v, k) => {
    (outHeaders[k] ??= []).push(v);
  });
  return {
    status: `${res.status} ${res.statusText}`.trim(),
    statusCode: res.status,
    contentLength: buf.length,
    headers: outHeaders,
    cookies: {},
    body: new Binary(buf),
  };
}

/** `context.http`, as the contract's handler: a failure says it was the request's. */
export const httpCall: AsyncHandlers['http'] = (p) =>
  httpRequest(p).catch((err: unknown) => {
    throw new Error(`HTTP request failed: ${(err as Error).message}`);
  });

const has = <T extends object>(table: T, kind: string): kind is Extract<keyof T, string> => Object.prototype.hasOwnProperty.call(table, kind);

/** The payload of a host call: canonical EJSON, numbers as plain numbers, Longs beyond 2^53 kept exact. */
const payloadOf = (payloadEjson: string): Payload | null => {
  try {
    const p = parseDocumentEjson(payloadEjson);
    return p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Payload) : null;
  } catch {
    return null;
  }
};

/** The synchronous bridge: runs `kind`'s handler; never throws across the boundary. */
export function syncHostCall(kind: string, payloadEjson: string): string {
  if (!has(syncHandlers, kind)) return refuse({ message: `unknown host call '${String(kind).slice(0, 40)}'` });
  const payload = payloadOf(payloadEjson);
  if (!payload) return refuse({ message: 'malformed host call' });
  try {
    return answer((syncHandlers[kind as SyncKind] as (p: Payload) => unknown)(payload));
  } catch (err) {
    return refuse(toWireError(err));
  }
}

/** The asynchronous bridge over `handlers` (the runtime binds the ones that need its state). */
export async function asyncHostCall(handlers: AsyncHandlers, kind: string, payloadEjson: string): Promise<string> {
  if (!has(handlers, kind)) return refuse({ message: `unknown host call '${String(kind).slice(0, 40)}'` });
  const payload = payloadOf(payloadEjson);
  if (!payload) return refuse({ message: 'malformed host call' });
  try {
    return answer(await (handlers[kind as AsyncKind] as (p: Payload, text: string) => Promise<unknown>)(payload, payloadEjson));
  } catch (err) {
    return refuse(toWireError(err));
  }
}
