// A data-service answer as a client reads it. Functions get plain JS numbers from the service;
// clients get the BSON types MongoDB's own answers have, because realm-core casts them exactly
// (mongo_collection.cpp): `count` is read as Int64 (realm-swift reports 0 for anything else), and
// matchedCount / modifiedCount / deletedCount as Int32, which small JS numbers already encode as.

import { Long } from 'bson';

export function clientResult(op: string, result: unknown): unknown {
  if (op === 'count' && typeof result === 'number') return Long.fromNumber(result);
  return result ?? null;
}
