// Objects shared between requests (loaded config, cached records) are frozen: an accidental write
// becomes a TypeError at the write instead of a heisenbug in an unrelated request.

/** Freezes a JSON-shaped value and everything reachable from it (already frozen parts are skipped). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
