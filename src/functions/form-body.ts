// `application/x-www-form-urlencoded` bodies of endpoint and webhook requests (Twilio's callbacks,
// HTML forms), whose fields the platform put in `payload.query` beside the URL's parameters. The
// App Services docs describe only `query`, `headers` and `body`; the platform's server was Go, whose
// `Request.ParseForm` reads exactly this content type and leaves `multipart/form-data` alone, so a
// multipart body stays in `payload.body` only, for the function to read.
//
// The body is the caller's, untrusted: it is parsed strictly (a bad percent-escape or bytes that are
// not UTF-8 are a 400, not a guess) and within limits (10 MiB, Go's own cap for form bodies, and
// 10,000 fields), so no form turns into a slow or huge payload.

import { BasteError } from '../errors.js';

const FORM_MAX_BYTES = 10 * 1024 * 1024;
const FORM_MAX_FIELDS = 10_000;

const AMP = 0x26;
const EQ = 0x3d;
const PLUS = 0x2b;
const PERCENT = 0x25;
const SPACE = 0x20;

const utf8 = new TextDecoder('utf-8', { fatal: true });

const notForm = (why: string) => new BasteError('BadRequest', `the body is not valid application/x-www-form-urlencoded: ${why}`);

/** Whether a Content-Type names a URL-encoded form (parameters such as `charset` aside). */
export function isFormBody(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

const hexValue = (b: number | undefined): number => {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
};

/** One name or value: `+` is a space, `%XX` a byte, and the bytes must be UTF-8. */
function decodeComponent(bytes: Buffer, field: number): string {
  if (bytes.indexOf(PERCENT) < 0 && bytes.indexOf(PLUS) < 0) return decodeUtf8(bytes, field);
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === PLUS) out[n++] = SPACE;
    else if (b === PERCENT) {
      const hi = hexValue(bytes[i + 1]);
      const lo = hexValue(bytes[i + 2]);
      if (hi < 0 || lo < 0) throw notForm(`field ${field} has a '%' that is not followed by two hex digits`);
      out[n++] = hi * 16 + lo;
      i += 2;
    } else out[n++] = b;
  }
  return decodeUtf8(out.subarray(0, n), field);
}

function decodeUtf8(bytes: Buffer, field: number): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw notForm(`field ${field} is not UTF-8 text`);
  }
}

/**
 * The fields of a URL-encoded body, in order, repeated names included (the caller decides which
 * one counts). Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` is a name with an empty
 * value, as browsers and Go read it.
 */
export function parseFormBody(body: Buffer): [string, string][] {
  if (body.length > FORM_MAX_BYTES) throw new BasteError('PayloadTooLarge', `a form body may be at most ${FORM_MAX_BYTES / 1024 / 1024} MiB`);
  const fields: [string, string][] = [];
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(AMP, start);
    if (end < 0) end = body.length;
    if (end > start) {
      if (fields.length >= FORM_MAX_FIELDS) throw new BasteError('BadRequest', `a form body may hold at most ${FORM_MAX_FIELDS} fields`);
      const piece = body.subarray(start, end);
      const eq = piece.indexOf(EQ);
      const field = fields.length + 1;
      const name = decodeComponent(eq < 0 ? piece : piece.subarray(0, eq), field);
      const value = eq < 0 ? '' : decodeComponent(piece.subarray(eq + 1), field);
      fields.push([name, value]);
    }
    start = end + 1;
  }
  return fields;
}
