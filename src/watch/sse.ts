// The server-sent-event framing both SDKs read on a streaming call: one `data:` line per event,
// with exactly `%`, LF and CR percent-encoded (the SDKs reverse those three and nothing else), and
// `event: error` before an error's data. Comments (`:`) keep idle streams open through proxies.

import { EJSON } from 'bson';
import type { BasteError } from '../errors.js';

/** Percent-encodes `%`, LF and CR, and nothing else. */
export const encodeData = (text: string): string => text.replace(/[%\n\r]/g, (c) => (c === '%' ? '%25' : c === '\n' ? '%0A' : '%0D'));

/** One change event: canonical EJSON, so Int64 and Decimal128 keep their types. */
export const dataFrame = (event: unknown): string => `data: ${encodeData(EJSON.stringify(event, { relaxed: false }))}\n\n`;

/** An error in the Stitch shape: realm-web raises a WatchError with `code = error_code`. */
export const errorFrame = (err: Pick<BasteError, 'code' | 'message'>): string =>
  `event: error\ndata: ${encodeData(JSON.stringify({ error: err.message, error_code: err.code }))}\n\n`;

/** A comment line: ignored by both SDKs' parsers, it keeps proxies from closing an idle stream. */
export const HEARTBEAT = ':\n\n';
