// Request headers as functions see them (`context.request.requestHeaders`, an endpoint's or
// webhook's `payload.headers`): names in canonical MIME casing with every value an array, as the
// platform's Go server handed them over (http.CanonicalHeaderKey: `content-type` → `Content-Type`,
// `x-forwarded-for` → `X-Forwarded-For`; the App Services docs' examples, `functions/context.txt`
// and `data-api/custom-endpoints.txt`, show `Content-Type`, `Cookie`, `X-CustomHeader`). Node
// lowercases names and joins repeated headers with ", ", so this reads the raw header lines: one
// value per line, as Go keeps them.

import type { CallRequest } from './types.js';

const canonicalNames = new Map<string, string>();
const CANONICAL_CACHE_MAX = 1000;

/** Go's textproto.CanonicalMIMEHeaderKey: the first letter and every letter after a hyphen upper-case, the rest lower-case. */
export function canonicalHeaderKey(name: string): string {
  const cached = canonicalNames.get(name);
  if (cached !== undefined) return cached;
  let out = '';
  let upper = true;
  for (const ch of name) {
    // Go leaves a name with a space or a non-token byte as it is; Node refuses such names anyway.
    if (ch === ' ' || ch.charCodeAt(0) > 0x7e || ch.charCodeAt(0) < 0x21) return name;
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  // Bounded: header names come from callers, and a cache must not grow with what they invent.
  if (canonicalNames.size < CANONICAL_CACHE_MAX) canonicalNames.set(name, out);
  return out;
}

/**
 * `{Name: [values]}` from Node's `rawHeaders` (name, value, name, value, …). Names in `hidden`
 * (lower-case) are left out. Built through a Map so a header called `__proto__` stays a header.
 */
export function functionHeaders(rawHeaders: readonly string[], hidden?: ReadonlySet<string>): Record<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i]!;
    if (hidden && hidden.has(raw.toLowerCase())) continue;
    const name = canonicalHeaderKey(raw);
    const values = grouped.get(name);
    if (values) values.push(rawHeaders[i + 1]!);
    else grouped.set(name, [rawHeaders[i + 1]!]);
  }
  return Object.fromEntries(grouped);
}

const expressionRequests = new WeakMap<CallRequest, CallRequest>();

/**
 * The request as rule expressions (`%%request`) see it: the canonical header names plus their
 * lower-case spellings, because the App Services docs' own `can_evaluate` example reads
 * `%%request.requestHeaders.x-secret-key` (`data-api/custom-endpoints.txt`) and apps copied it.
 * Functions get the canonical names only.
 */
export function expressionRequest(request: CallRequest | undefined): CallRequest | Record<string, never> {
  if (!request) return {};
  if (!request.requestHeaders) return request;
  let found = expressionRequests.get(request);
  if (!found) {
    const headers = new Map(Object.entries(request.requestHeaders));
    for (const [name, values] of Object.entries(request.requestHeaders)) {
      const lower = name.toLowerCase();
      if (!headers.has(lower)) headers.set(lower, values);
    }
    found = { ...request, requestHeaders: Object.fromEntries(headers) };
    expressionRequests.set(request, found);
  }
  return found;
}
