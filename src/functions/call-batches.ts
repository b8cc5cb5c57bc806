// Calls for one isolate that arrive in the same turn of the event loop are handed over in one
// message. Each `apply` into an isolate wakes its thread (and each answer wakes the host's):
// on a busy 2-core machine that hand-over, not the call, was most of a small function's cost
// (issue 20: `callIn` 26 % of the main thread in `function_call`; one message for 8 calls took
// the main thread ~5 µs per call instead of ~12 in a script). The batch is sent when the turn's
// I/O callbacks have run (setImmediate), so a call waits for no other request, only for the
// requests already read in the same turn to reach this point.

/** Sends one batch: settles when every call in it has ended, or rejects when the isolate failed them all. */
export type SendBatch<K, C> = (key: K, calls: C[]) => Promise<unknown>;

interface Pending<C> {
  readonly calls: C[];
  readonly settled: Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

export class CallBatches<K, C> {
  private readonly pending = new Map<K, Pending<C>>();

  constructor(private readonly send: SendBatch<K, C>) {}

  /** How many calls wait in `key`'s batch of this turn. */
  forming(key: K): number {
    return this.pending.get(key)?.calls.length ?? 0;
  }

  /** Queues `call` for `key`'s next batch; settles as that batch does. */
  enter(key: K, call: C): Promise<unknown> {
    let batch = this.pending.get(key);
    if (!batch) {
      let resolve!: (value: unknown) => void;
      let reject!: (err: unknown) => void;
      const settled = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      batch = { calls: [], settled, resolve, reject };
      this.pending.set(key, batch);
      setImmediate(() => this.flush(key));
    }
    batch.calls.push(call);
    return batch.settled;
  }

  private flush(key: K): void {
    const batch = this.pending.get(key);
    if (!batch) return;
    this.pending.delete(key);
    let sent: Promise<unknown>;
    try {
      sent = this.send(key, batch.calls);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(batch.resolve, batch.reject);
  }
}
