// The loaded config is shared by every request; freezing it turns an accidental write into a
// TypeError at the write instead of a heisenbug in an unrelated request.

/** Freezes a JSON-shaped value and everything reachable from it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A Map whose mutators throw: Object.freeze alone leaves set/delete/clear working. */
export class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]> = []) {
    super(); // an argument here would go through the throwing set() below
    for (const [k, v] of entries) super.set(k, v);
    Object.freeze(this);
  }

  override set(): this {
    throw new TypeError('the loaded app config is read-only');
  }

  override delete(): boolean {
    throw new TypeError('the loaded app config is read-only');
  }

  override clear(): void {
    throw new TypeError('the loaded app config is read-only');
  }
}
