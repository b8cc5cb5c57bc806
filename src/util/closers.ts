// What a start-up has opened, released last-opened first: the same list serves a start that fails
// half-way and the server's close(), so the two cannot release different things.

export class Closers {
  private readonly stack: { readonly what: string; readonly close: () => unknown }[] = [];
  private closing: Promise<void> | null = null;

  /** Registers the release of something just opened (run after everything opened later). */
  add(what: string, close: () => unknown): void {
    if (this.closing) throw new Error(`opened ${what} after closing began`);
    this.stack.push({ what, close });
  }

  /** Registers `resource`'s release and hands it back: `const x = closers.own('x', open(), (x) => x.close())`. */
  own<T>(what: string, resource: T, close: (resource: T) => unknown): T {
    this.add(what, () => close(resource));
    return resource;
  }

  /**
   * Runs every release once, in reverse order; a release that fails does not keep the others from
   * running: each failure goes to `onError`, and the first is thrown once all have run. Calling it
   * again returns the same promise.
   */
  closeAll(onError: (what: string, err: unknown) => void = () => undefined): Promise<void> {
    this.closing ??= (async () => {
      let failed: { err: unknown } | undefined;
      for (let entry = this.stack.pop(); entry; entry = this.stack.pop()) {
        try {
          await entry.close();
        } catch (err) {
          onError(entry.what, err);
          failed ??= { err };
        }
      }
      if (failed) throw failed.err;
    })();
    return this.closing;
  }
}

/** A part bound after a part that calls it, when the two reach each other; calling it earlier is a bug, said by name. */
export class Late<T> {
  private value: T | undefined;
  constructor(private readonly what: string) {}

  set(value: T): T {
    this.value = value;
    return value;
  }

  get(): T {
    if (this.value === undefined) throw new Error(`${this.what} used before the server finished assembling`);
    return this.value;
  }
}
