// Recognizes the store and database failures a request can meet that are not bugs: the database
// is unreachable (stopped, refusing connections, the network to it down) or its disk is full or
// read-only, which clients should retry later; and text PostgreSQL cannot store (a NUL
// character), which is the request's fault. Duck-typed on error codes, so it knows no driver.

export type StoreFailure =
  | { readonly kind: 'unavailable'; readonly what: string }
  | { readonly kind: 'unstorable-text' };

/** SQLSTATEs meaning "cannot reach or use the database now" (classes 08, 57P, 53, and the refusal of connections). */
const PG_UNAVAILABLE = /^(08...|57P0[1-4]|53[0-9A-Z]{3}|3D000)$/;
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ENOSPC', 'EROFS', 'EDQUOT']);
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED)/;

export function storeFailureOf(err: unknown): StoreFailure | null {
  const e = err as { code?: unknown; message?: unknown; name?: unknown; severity?: unknown } | null;
  if (!e || typeof e !== 'object') return null;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  // 22021: invalid byte sequence (a NUL in text); 22P05: a \u0000 escape in jsonb.
  if (code === '22021' || code === '22P05') return { kind: 'unstorable-text' };
  if (PG_UNAVAILABLE.test(code) || (code === '55000' && /not currently accepting connections/.test(message))) {
    return { kind: 'unavailable', what: `PostgreSQL: ${message}` };
  }
  // A FATAL (or PANIC) error ends the database session, whatever its SQLSTATE: e.g. a connection
  // made just after crash recovery on a full disk fails with XX000 "could not write init file".
  if (/^[0-9A-Z]{5}$/.test(code) && (e.severity === 'FATAL' || e.severity === 'PANIC')) {
    return { kind: 'unavailable', what: `PostgreSQL: ${message}` };
  }
  if (SQLITE_UNAVAILABLE.test(code)) return { kind: 'unavailable', what: `SQLite: ${message}` };
  if (NET_UNAVAILABLE.has(code)) return { kind: 'unavailable', what: `database connection: ${message}` };
  // node-postgres reports a dropped or timed-out connection without a code.
  if (/^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(message)) {
    return { kind: 'unavailable', what: `PostgreSQL: ${message}` };
  }
  if (e.name === 'MongoServerSelectionError' || e.name === 'MongoNetworkError' || e.name === 'MongoNetworkTimeoutError') {
    return { kind: 'unavailable', what: `MongoDB: ${message}` };
  }
  return null;
}
