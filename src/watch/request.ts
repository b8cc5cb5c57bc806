// A streaming function call (the data service's `watch`): the body of a `functions/call` rides in the query
// string, base64 of its JSON — realm-web's `baas_request` (with a bearer token), the Stitch SDKs'
// `stitch_request` with the access token in `stitch_at` (and a `stitch_validate=true` request
// first). Only the data service's `watch` streams.

import { EJSON } from 'bson';
import sjson from 'secure-json-parse';
import { BasteError } from '../errors.js';
import { isPlain } from '../data/values.js';

/** The largest encoded request accepted (a filter and a few thousand ids fit easily). */
const MAX_ENCODED = 256 * 1024;
/** The most `ids` one stream may name. */
export const MAX_IDS = 10_000;

export interface StreamCall {
  /** The data service named by the body. */
  readonly service: string;
  /** The one argument object (`database`, `collection`, `ids`, `filter`, `useCompactEvents`), decoded. */
  readonly args: Record<string, unknown>;
}

/** The encoded body of a streaming request, from either SDK's parameter. */
export function encodedBody(query: Record<string, unknown>): string {
  const raw = query.baas_request ?? query.stitch_request;
  if (raw === undefined) throw new BasteError('MissingParameter', 'a streaming call needs baas_request or stitch_request');
  if (typeof raw !== 'string' || raw.length === 0) throw new BasteError('InvalidParameter', 'the streaming request must be one base64 value');
  if (raw.length > MAX_ENCODED) throw new BasteError('PayloadTooLarge', 'the streaming request is too large');
  return raw;
}

/**
 * The call a streaming request encodes. Both SDKs send standard base64 (some clients the URL-safe
 * alphabet: accepted too); realm-web's arguments are canonical EJSON, Stitch's relaxed.
 */
export function decodeStreamCall(encoded: string): StreamCall {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(encoded)) throw new BasteError('BadRequest', 'the streaming request is not base64');
  let body: unknown;
  try {
    const text = Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    body = EJSON.deserialize(sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' }) as never, { relaxed: true });
  } catch {
    throw new BasteError('BadRequest', 'the streaming request is not valid extended JSON');
  }
  if (!isPlain(body)) throw new BasteError('BadRequest', 'the streaming request must be an object');
  if (body.name !== 'watch') {
    throw new BasteError('FunctionNotFound', typeof body.name === 'string' ? `'${body.name.slice(0, 100)}' cannot be streamed: only the data service's watch can` : 'name is required');
  }
  if (typeof body.service !== 'string' || body.service.length === 0) throw new BasteError('MissingParameter', 'watch needs the service it streams from');
  const args = body.arguments;
  if (!Array.isArray(args) || args.length !== 1 || !isPlain(args[0])) throw new BasteError('InvalidParameter', 'watch takes one argument object');
  return { service: body.service, args: args[0] };
}

export interface WatchOptions {
  /** Only changes of documents with these `_id`s. */
  readonly ids?: readonly unknown[];
  /** A `$match` over the change event (as the user sees it). */
  readonly filter?: Record<string, unknown>;
  /** Stitch's compact events (`watchCompact`). */
  readonly compact: boolean;
}

export function watchOptions(args: Record<string, unknown>): WatchOptions {
  const { ids, filter, useCompactEvents } = args;
  if (ids !== undefined && ids !== null && (!Array.isArray(ids) || ids.length > MAX_IDS)) {
    throw new BasteError('InvalidParameter', `ids must be an array of at most ${MAX_IDS} values`);
  }
  if (filter !== undefined && filter !== null && !isPlain(filter)) throw new BasteError('InvalidParameter', 'filter must be an object');
  if (useCompactEvents !== undefined && typeof useCompactEvents !== 'boolean') throw new BasteError('InvalidParameter', 'useCompactEvents must be a boolean');
  return {
    ...(Array.isArray(ids) ? { ids } : {}),
    ...(isPlain(filter) && Object.keys(filter).length ? { filter } : {}),
    compact: useCompactEvents === true,
  };
}
