// The few parts of the POSIX tar format (ustar) a backup needs: regular files, written and read
// as streams, so `tar tzf` / `tar xzf` open a backup too. Sizes past ustar's 8 GiB are written in
// the base-256 form GNU tar and bsdtar read.

import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { once } from 'node:events';

const BLOCK = 512;
const OCTAL_SIZE_MAX = 8 ** 11 - 1;

export class TarError extends Error {
  override readonly name = 'TarError';
}

function field(header: Buffer, offset: number, length: number, text: string): void {
  header.write(text, offset, length, 'utf8');
}

const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0') + '\0';

/** A ustar header for a regular file. */
export function fileHeader(name: string, size: number, mtimeMs: number, mode = 0o600): Buffer {
  if (Buffer.byteLength(name) > 100) throw new TarError(`file name too long for the archive: ${name}`);
  const h = Buffer.alloc(BLOCK);
  field(h, 0, 100, name);
  field(h, 100, 8, octal(mode, 8));
  field(h, 108, 8, octal(0, 8));
  field(h, 116, 8, octal(0, 8));
  if (size <= OCTAL_SIZE_MAX) field(h, 124, 12, octal(size, 12));
  else {
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(size), 128);
  }
  field(h, 136, 12, octal(Math.floor(mtimeMs / 1000), 12));
  h[156] = 0x30; // '0': a regular file
  field(h, 257, 6, 'ustar\0');
  field(h, 263, 2, '00');
  // The checksum is summed with its own field as eight spaces.
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

async function write(out: Writable, chunk: Buffer): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Appends one file's entry: its header, `data` (a buffer, or a file of `size` bytes), padding. */
export async function writeEntry(out: Writable, name: string, data: Buffer | { path: string; size: number }, mtimeMs: number): Promise<void> {
  const size = Buffer.isBuffer(data) ? data.length : data.size;
  await write(out, fileHeader(name, size, mtimeMs));
  if (Buffer.isBuffer(data)) await write(out, data);
  else {
    let copied = 0;
    for await (const chunk of createReadStream(data.path)) {
      copied += (chunk as Buffer).length;
      await write(out, chunk as Buffer);
    }
    if (copied !== size) throw new TarError(`${data.path} changed size while being archived`);
  }
  await write(out, padding(size));
}

/** The end of an archive: two zero blocks. */
export async function writeEnd(out: Writable): Promise<void> {
  await write(out, Buffer.alloc(BLOCK * 2));
}

function readString(h: Buffer, offset: number, length: number): string {
  const raw = h.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function readSize(h: Buffer): number {
  if (h[124]! & 0x80) {
    const n = h.readBigUInt64BE(128);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarError('an entry is too large');
    return Number(n);
  }
  const text = readString(h, 124, 12).trim();
  if (!/^[0-7]+$/.test(text)) throw new TarError('not a tar archive (bad size field)');
  return parseInt(text, 8);
}

function checksumOk(h: Buffer): boolean {
  const recorded = parseInt(readString(h, 148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === recorded;
}

export interface TarEntry {
  readonly name: string;
  readonly size: number;
  /** A regular file (type '0' or NUL); anything else (links, directories) is reported, not followed. */
  readonly regular: boolean;
  /** The entry's bytes, in order; must be consumed (or skipped with `drain`) before the next entry. */
  chunks(): AsyncIterable<Buffer>;
}

/**
 * Reads the entries of an uncompressed tar stream in order. Each entry's `chunks()` must be read
 * to the end before asking for the next entry (entries the reader does not want are skipped).
 */
export async function* readEntries(input: Readable): AsyncGenerator<TarEntry> {
  const source = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let buffered: Buffer = Buffer.alloc(0);
  let ended = false;
  // At least `n` bytes buffered, unless the stream ends first.
  const fill = async (n: number) => {
    while (buffered.length < n && !ended) {
      const next = await source.next();
      if (next.done) ended = true;
      else buffered = buffered.length === 0 ? next.value : Buffer.concat([buffered, next.value]);
    }
  };
  const take = async (n: number): Promise<Buffer> => {
    await fill(n);
    if (buffered.length < n) throw new TarError('the archive is truncated');
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    return out;
  };
  for (;;) {
    await fill(BLOCK);
    if (buffered.length === 0) return; // no end blocks: tolerated, as tar does
    const header = await take(BLOCK);
    if (header.every((b) => b === 0)) return;
    if (!checksumOk(header)) throw new TarError('not a tar archive (header checksum mismatch)');
    const prefix = readString(header, 345, 155);
    const base = readString(header, 0, 100);
    const name = prefix ? `${prefix}/${base}` : base;
    const size = readSize(header);
    const type = header[156];
    let remaining = size;
    let consumed = false;
    const chunks = async function* () {
      if (consumed) throw new TarError(`entry ${name} read twice`);
      consumed = true;
      while (remaining > 0) {
        await fill(1);
        if (buffered.length === 0) throw new TarError('the archive is truncated');
        const n = Math.min(remaining, buffered.length);
        const out = buffered.subarray(0, n);
        buffered = buffered.subarray(n);
        remaining -= n;
        yield out;
      }
    };
    yield { name, size, regular: type === 0x30 || type === 0, chunks };
    if (!consumed) for await (const _ of chunks()) void _;
    else if (remaining > 0) throw new TarError(`entry ${name} was not read to its end`);
    await take(padding(size).length);
  }
}
