// What realm-core (the C++ library under every Realm device SDK: Swift, Kotlin, Dart, React
// Native, .NET) sends and how it reads the answers, written from realm-core v14.14.0's source
// (src/realm/object-store/sync/app.cpp). The checks here are the ones whose failure aborts an app or fails a
// login on a device, so a test that passes them speaks realm-core's dialect, not just JSON.

import assert from 'node:assert/strict';

/** `get_request_headers` (app.cpp): every request but location carries exactly these. */
export const CORE_HEADERS = { 'Content-Type': 'application/json;charset=utf-8', Accept: 'application/json' } as const;

/** `App::attach_auth_options` (app.cpp): the device fields of a login, in core's order; no `deviceId`. */
export const CORE_DEVICE_OPTIONS =
  '{"device":{"appId":"core-app-abcde","platform":"iOS","platformVersion":"17.4","sdk":"Swift","sdkVersion":"10.54.2",' +
  '"cpuArch":"arm64","deviceName":"iPhone","deviceVersion":"iPhone15,2","frameworkName":"","frameworkVersion":"",' +
  '"coreVersion":"14.14.0","bundleId":"com.example.notes"}}';

export interface CoreResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/**
 * One request as `App::make_request` builds it: core's headers, the bearer token when a user is
 * attached, and the body as a string (empty for GET/PUT/DELETE and `POST /auth/session`).
 */
export async function coreRequest(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, opts: { token?: string; body?: string } = {}): Promise<CoreResponse> {
  const headers: Record<string, string> = { ...CORE_HEADERS };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  // fetch refuses a body on GET; core's empty body is no body there.
  const body = method === 'GET' ? undefined : (opts.body ?? '');
  const res = await fetch(url, { method, headers, body });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

export interface CoreError {
  readonly code: string;
  readonly message: string;
  readonly status: number;
}

/**
 * `AppUtils::check_for_errors` (app_utils.cpp): any 2xx is success; an error body is read only
 * when the Content-Type is exactly `application/json` and `error_code`, `error`, `link` are
 * strings. Returns null on success. A non-2xx answer core cannot read fails the test: the app
 * would show "http error code considered fatal" instead of the server's error.
 */
export function checkForErrors(res: CoreResponse): CoreError | null {
  const ok = res.status >= 200 && res.status < 300;
  if (res.headers.get('content-type') === 'application/json' && res.body !== '') {
    const body = JSON.parse(res.body) as Record<string, unknown>;
    if (typeof body.error_code === 'string' && body.error_code !== '') {
      assert.equal(typeof body.error, 'string', 'error must be a string');
      if ('link' in body) assert.equal(typeof body.link, 'string', 'link must be a string');
      return { code: body.error_code, message: body.error as string, status: res.status };
    }
  }
  assert.ok(ok, `status ${res.status} without an error body core can read: ${res.body.slice(0, 200)}`);
  return null;
}

/** As checkForErrors, when the request must succeed. */
export function expectSuccess(res: CoreResponse): CoreResponse {
  const error = checkForErrors(res);
  assert.equal(error, null, `expected success, got ${JSON.stringify(error)}`);
  return res;
}

/** `RealmJWT::RealmJWT` (jwt.cpp): what core keeps of a token, or it throws BadToken. */
export function realmJwt(token: unknown): { expiresAt: bigint; issuedAt: bigint; userData?: CoreDoc } {
  assert.equal(typeof token, 'string', 'a token must be a string');
  const parts = (token as string).split('.');
  assert.equal(parts.length, 3, 'malformed JWT: three dot-separated parts');
  assert.ok(parts[0]!.length > 0 && parts[2]!.length > 0, 'malformed JWT: empty header or signature');
  // realm's base64 decoder takes either alphabet, padded or not.
  const json = Buffer.from(parts[1]!.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  const payload = coreParse(json);
  assert.equal(payload.t, 'doc', 'JWT payload must be a JSON object');
  const doc = payload as CoreDoc;
  // `static_cast<int64_t>(json["exp"])`: Bson's cast asserts the type (a double aborts the app).
  const exp = doc.v.get('exp');
  const iat = doc.v.get('iat');
  assert.ok(exp?.t === 'int64', `exp must be an integer, got ${exp?.t}`);
  assert.ok(iat?.t === 'int64', `iat must be an integer, got ${iat?.t}`);
  const userData = doc.v.get('user_data');
  if (userData !== undefined) assert.equal(userData.t, 'doc', 'user_data must be a document');
  return { expiresAt: exp.v, issuedAt: iat.v, userData: userData as CoreDoc | undefined };
}

// realm-core's BSON values, as `bson::parse` (util/bson/bson.cpp) types them: bare JSON integers
// are Int64, fractions Double; the canonical wrappers give their own types.
export type CoreValue =
  | { t: 'null' }
  | { t: 'bool'; v: boolean }
  | { t: 'int32'; v: number }
  | { t: 'int64'; v: bigint }
  | { t: 'double'; v: number }
  | { t: 'string'; v: string }
  | { t: 'oid'; v: string }
  | { t: 'date'; v: bigint }
  | { t: 'decimal'; v: string }
  | { t: 'binary'; v: string }
  | { t: 'other'; v: unknown }
  | CoreDoc
  | { t: 'array'; v: CoreValue[] };
export type CoreDoc = { t: 'doc'; v: Map<string, CoreValue> };

/** `bson::parse`: JSON text to core's typed values; throws where core throws or asserts. */
export function coreParse(text: string): CoreValue {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`bson::parse: ${what} at ${i}`);
  };
  const str = (): string => {
    const start = i;
    if (text[i] !== '"') fail('expected a string');
    i++;
    while (text[i] !== '"') {
      if (i >= text.length) fail('unterminated string');
      i += text[i] === '\\' ? 2 : 1;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): CoreValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const map = new Map<string, CoreValue>();
      ws();
      if (text[i] === '}') {
        i++;
      } else {
        for (;;) {
          ws();
          const key = str();
          ws();
          if (text[i++] !== ':') fail('expected :');
          map.set(key, value());
          ws();
          if (text[i] === ',') {
            i++;
            continue;
          }
          if (text[i++] !== '}') fail('expected }');
          break;
        }
      }
      return wrapper(map) ?? { t: 'doc', v: map };
    }
    if (c === '[') {
      i++;
      const items: CoreValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { t: 'array', v: items };
      }
      for (;;) {
        items.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i++] !== ']') fail('expected ]');
        return { t: 'array', v: items };
      }
    }
    if (c === '"') return { t: 'string', v: str() };
    const literal = /^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!literal) return fail('unexpected character');
    i += literal[0].length;
    if (literal[0] === 'true' || literal[0] === 'false') return { t: 'bool', v: literal[0] === 'true' };
    if (literal[0] === 'null') return { t: 'null' };
    // nlohmann's number_integer / number_float
    return literal[2] || literal[3] ? { t: 'double', v: Number(literal[0]) } : { t: 'int64', v: BigInt(literal[0]) };
  };
  const result = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return result;
}

/** The one-key wrappers of `bson_fancy_parsers`; null when the document is an ordinary one. */
function wrapper(map: Map<string, CoreValue>): CoreValue | null {
  if (map.size !== 1) return null;
  const [[key, inner]] = [...map];
  const text = (): string => {
    if (inner.t !== 'string') throw new Error(`bson::parse: ${key} must hold a string`);
    return inner.v;
  };
  switch (key) {
    case '$numberInt':
      return { t: 'int32', v: Number.parseInt(text(), 10) };
    case '$numberLong':
      return { t: 'int64', v: BigInt(text()) };
    case '$numberDouble':
      return { t: 'double', v: Number(text()) };
    case '$numberDecimal':
      return { t: 'decimal', v: text() };
    case '$oid': {
      const hex = text();
      if (!/^[0-9a-fA-F]{24}$/.test(hex)) throw new Error('bson::parse: $oid must be 24 hex digits');
      return { t: 'oid', v: hex };
    }
    case '$date':
      // `dom_elem_to_bson(json).operator int64_t()`: anything but an Int64 (an ISO string, a
      // $numberInt) asserts.
      if (inner.t !== 'int64') throw new Error(`bson::parse: $date must hold an Int64, got ${inner.t}`);
      return { t: 'date', v: inner.v };
    case '$binary':
      if (inner.t !== 'doc' || !inner.v.has('base64') || !inner.v.has('subType')) throw new Error('invalid extended json $binary');
      return { t: 'binary', v: (inner.v.get('base64') as { v: string }).v };
    case '$timestamp':
    case '$regularExpression':
    case '$maxKey':
    case '$minKey':
    case '$uuid':
      return { t: 'other', v: inner };
    default:
      return null;
  }
}

/** A document's field, asserting core's cast (`static_cast<T>(Bson)` asserts the exact type). */
export function field<T extends CoreValue['t']>(doc: CoreValue, key: string, type: T): Extract<CoreValue, { t: T }> {
  assert.equal(doc.t, 'doc', `expected a document holding ${key}`);
  const value = (doc as CoreDoc).v.get(key);
  assert.ok(value, `missing ${key}`);
  assert.equal(value.t, type, `${key} must be ${type}, got ${value.t}`);
  return value as Extract<CoreValue, { t: T }>;
}
