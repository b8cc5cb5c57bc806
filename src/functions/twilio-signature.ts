// `X-Twilio-Signature` on the incoming webhooks of a Stitch Twilio service, as Twilio defines it
// ("Webhooks security", twilio.com/docs/usage/security): the base64 HMAC-SHA1, keyed with the
// account's auth token, of the full URL Twilio requested (query string included) followed, for a
// form POST, by every POST parameter's name and value, sorted by name. A JSON body is covered
// instead by the URL's `bodySHA256` parameter (the hex SHA-256 of the body). Twilio's own
// validators accept the URL with and without the scheme's default port, since proxies add or drop
// it; so does this. Pure.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { isFormBody, parseFormBody } from './form-body.js';

export interface SignedRequest {
  /** The URL as Twilio requested it: the public base URL (`--base-url`, or the proxy's host and scheme) and the path with its query. */
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: Buffer;
  readonly signature: string | undefined;
}

/** The signature Twilio computes for `url` and the POST parameters. */
export function twilioSignature(authToken: string, url: string, params: readonly (readonly [string, string])[]): string {
  // Case-sensitive byte order of names (Unix sort), a repeated name's values in order too.
  const sorted = [...params].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const hmac = createHmac('sha1', authToken).update(url, 'utf8');
  for (const [name, value] of sorted) hmac.update(name, 'utf8').update(value, 'utf8');
  return hmac.digest('base64');
}

/** The URL with the scheme's default port written out, and without it. */
function urlForms(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url];
  }
  const port = parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : '';
  const m = /^([a-z]+:\/\/)([^/?#]+)(.*)$/is.exec(url);
  if (!m || !port) return [url];
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const bare = authority.replace(new RegExp(`:${port}$`), '');
  return [...new Set([url, `${scheme}${bare}${rest}`, `${scheme}${bare}:${port}${rest}`])];
}

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Is the request signed by Twilio with this auth token? */
export function isSignedByTwilio(authToken: string, request: SignedRequest): boolean {
  const signature = request.signature?.trim();
  if (!signature) return false;
  const bodyHash = new URL(request.url, 'http://x').searchParams.get('bodySHA256');
  let params: [string, string][] = [];
  if (bodyHash !== null) {
    if (!sameText(bodyHash.toLowerCase(), createHash('sha256').update(request.body).digest('hex'))) return false;
  } else if (isFormBody(request.contentType)) {
    params = parseFormBody(request.body);
  }
  // Every form is computed, so the time taken does not tell which one matched.
  let ok = false;
  for (const url of urlForms(request.url)) if (sameText(twilioSignature(authToken, url, params), signature)) ok = true;
  return ok;
}
