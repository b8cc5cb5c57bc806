// The loaded config is shared by every request; freezing it turns an accidental write into a
// TypeError at the write instead of a heisenbug in an unrelated request.

export { deepFreeze } from '../util/deep-freeze.js';

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
