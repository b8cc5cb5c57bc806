// A call's arguments as canonical EJSON: usually text. A big function-call body parsed by a worker
// (src/http/json-offload.ts) gives them as UTF-8 bytes instead, which are handed to the sandbox
// without ever being a string on the host's heap: a 10 MB argument string there cost a copy into
// the isolate on the event loop for every call, and garbage collection after. The host decodes
// the bytes only when it must read the arguments itself (can_evaluate, a run-as script).

export class EjsonBytes {
  private decoded: string | undefined;
  private taken = false;

  /** `prefersInt64`: what integer-width.ts's `prefersInt64` says of the text (the worker asked it). */
  constructor(
    private readonly bytes: Uint8Array,
    readonly prefersInt64: boolean,
  ) {}

  /** The text, decoded once. */
  text(): string {
    if (this.decoded === undefined) {
      if (this.taken) throw new Error('the arguments were handed to the sandbox before the host read them');
      this.decoded = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('utf8');
    }
    return this.decoded;
  }

  /** The bytes' memory, to transfer (once): a buffer of their own. */
  take(): ArrayBuffer {
    if (this.taken) throw new Error('the arguments were already handed to the sandbox');
    this.taken = true;
    const { buffer, byteOffset, byteLength } = this.bytes;
    return byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer ? buffer : this.bytes.slice().buffer;
  }
}

export type ArgsEjson = string | EjsonBytes;

/** The arguments' text (decoding bytes the first time). */
export const argsText = (args: ArgsEjson): string => (typeof args === 'string' ? args : args.text());
