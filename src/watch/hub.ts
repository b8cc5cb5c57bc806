// Open watch streams, and the change feeds that fill them: one feed per watched collection and
// engine, shared by every stream on it.
//
// Embedded engines (SQLite, PostgreSQL): a feed holds its namespace in the change outbox (so every
// instance sharing the store records its writes, see ChangeLog.hold) and reads what was recorded
// past its position — at once when a write of this process commits, and every `pollMs` for writes
// other instances made. A real MongoDB: a feed is a change stream (`updateLookup`, pre-images when
// the collection keeps them).
//
// Each change becomes one event per stream, seen through that stream's user's rules (event.ts),
// in commit order. Streams whose client does not read (more than `maxBufferedBytes` waiting) are
// cut off rather than buffered without bound; idle streams get a heartbeat comment; a stream whose
// session ended (logout, a disabled or deleted user) is closed with an InvalidSession error within
// `sessionCheckMs` plus one lookup.

import type { Logger } from 'pino';
import type { ChangeLog, Doc, DocumentEngine } from '../data/engine.js';
import type { ChangeFeed, MongoDocumentEngine } from '../data/mongodb-engine.js';
import { BasteError } from '../errors.js';
import { changeEvent } from '../triggers/change-event.js';
import { userEvent, type Selection, type Viewer } from './event.js';
import { dataFrame, errorFrame, HEARTBEAT } from './sse.js';

export interface WatchLimits {
  /** Open streams in all (default 5,000). */
  readonly maxStreams: number;
  /** Open streams of one user (default 25: a few tabs, each watching a few collections). */
  readonly maxStreamsPerUser: number;
  /** A comment on every stream this often (default 20 s: under the 60 s idle timeout of common proxies). */
  readonly heartbeatMs: number;
  /** How often to look for changes other instances recorded (default 50 ms; 0: only this process's writes). */
  readonly pollMs: number;
  /** A stream with more than this waiting to be sent is closed (default 1 MiB). */
  readonly maxBufferedBytes: number;
  /** How often streams' sessions are checked (default 500 ms). */
  readonly sessionCheckMs: number;
}

/** Where a stream's frames go: the HTTP response. */
export interface StreamSink {
  write(frame: string): void;
  /** Bytes written but not yet sent. */
  buffered(): number;
  /** Ends the response, after `frame` when given. */
  end(frame?: string): void;
  /** Drops the connection at once (a client that does not read). */
  destroy(): void;
}

export interface StreamRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly ns: string;
  readonly engine: DocumentEngine;
  readonly view: Viewer;
  readonly selection: Selection;
  readonly sink: StreamSink;
}

interface Stream extends StreamRequest {
  /** Changes up to this seq committed before the stream opened (embedded feeds). */
  from: number;
  closed: boolean;
  feed?: Feed;
}

interface Feed {
  readonly key: string;
  readonly ns: string;
  readonly streams: Set<Stream>;
  readonly kind: 'embedded' | 'mongodb';
  log?: ChangeLog;
  release?: () => Promise<void>;
  position: number;
  running?: Promise<void>;
  again?: boolean;
  changeFeed?: ChangeFeed;
  ready: Promise<void>;
}

export class WatchHub {
  private readonly streams = new Set<Stream>();
  private readonly perUser = new Map<string, number>();
  private readonly feeds = new Map<string, Feed>();
  private readonly engineIds = new WeakMap<object, number>();
  private engineCount = 0;
  private readonly subscribed = new Map<ChangeLog, () => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private checking = false;
  private stopped = false;

  constructor(
    private readonly limits: WatchLimits,
    /** Whether a session is still live for its user (not logged out, user enabled and not deleted). */
    private readonly sessionLive: (sessionId: string, userId: string) => Promise<boolean>,
    private readonly logger: Logger,
  ) {
    const every = (ms: number, fn: () => void) => {
      if (ms <= 0) return;
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(limits.heartbeatMs, () => {
      for (const s of this.streams) this.send(s, HEARTBEAT);
    });
    every(limits.pollMs, () => {
      for (const feed of this.feeds.values()) if (feed.kind === 'embedded') this.kick(feed);
    });
    every(limits.sessionCheckMs, () => void this.checkSessions());
  }

  /** How many streams are open (tests, admin). */
  get size(): number {
    return this.streams.size;
  }

  /** Refuses a stream over the limits, before anything is sent (429 TooManyRequests). */
  admit(userId: string): void {
    if (this.stopped) throw new BasteError('ServiceUnavailable', 'the server is shutting down');
    if (this.streams.size >= this.limits.maxStreams) throw new BasteError('TooManyRequests', `too many open watch streams (at most ${this.limits.maxStreams})`);
    if ((this.perUser.get(userId) ?? 0) >= this.limits.maxStreamsPerUser) {
      throw new BasteError('TooManyRequests', `too many open watch streams for this user (at most ${this.limits.maxStreamsPerUser})`);
    }
  }

  /** Opens a stream (after admit() and the response's headers); returns what closes it. */
  async open(req: StreamRequest): Promise<() => void> {
    this.admit(req.userId);
    const stream: Stream = { ...req, from: 0, closed: false };
    this.streams.add(stream);
    this.perUser.set(req.userId, (this.perUser.get(req.userId) ?? 0) + 1);
    try {
      for (;;) {
        const feed = this.feedFor(req.engine, req.ns);
        await feed.ready;
        // Its last stream closed meanwhile: a new feed.
        if (this.feeds.get(feed.key) !== feed) continue;
        // From where the feed is: what it delivers next goes to this stream too.
        stream.from = feed.position;
        stream.feed = feed;
        feed.streams.add(stream);
        break;
      }
    } catch (err) {
      this.close(stream);
      throw err;
    }
    return () => this.close(stream);
  }

  /** Closes every stream (the server is stopping). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of [...this.streams]) this.close(s, errorFrame(new BasteError('ServiceUnavailable', 'the server is shutting down')));
    for (const unsubscribe of this.subscribed.values()) unsubscribe();
    this.subscribed.clear();
  }

  private engineId(engine: DocumentEngine): number {
    let id = this.engineIds.get(engine);
    if (id === undefined) this.engineIds.set(engine, (id = ++this.engineCount));
    return id;
  }

  private feedFor(engine: DocumentEngine, ns: string): Feed {
    const key = `${this.engineId(engine)}\u0000${ns}`;
    const existing = this.feeds.get(key);
    if (existing) return existing;
    const log = engine.changes;
    let feed: Feed;
    if (log) {
      feed = { key, ns, kind: 'embedded', log, streams: new Set(), position: 0, ready: Promise.resolve() };
      feed.ready = (async () => {
        const release = await log.hold(ns);
        // Closed while the hold was being taken.
        if (this.feeds.get(key) !== feed) return void release();
        feed.release = release;
        feed.position = await log.latest(ns);
        if (!this.subscribed.has(log)) {
          this.subscribed.set(
            log,
            log.subscribe((changed) => {
              for (const f of this.feeds.values()) if (f.log === log && f.ns === changed) this.kick(f);
            }),
          );
        }
      })();
    } else if ('watch' in engine) {
      feed = { key, ns, kind: 'mongodb', streams: new Set(), position: 0, ready: Promise.resolve() };
      feed.ready = (async () => {
        const changeFeed = await (engine as MongoDocumentEngine).watch(ns, { pipeline: [], fullDocument: true, fullDocumentBeforeChange: true });
        if (this.feeds.get(key) !== feed) return void changeFeed.close().catch(() => undefined);
        feed.changeFeed = changeFeed;
        feed.running = this.follow(feed, changeFeed);
      })();
    } else {
      throw new BasteError('NotImplemented', 'this data source cannot report changes');
    }
    this.feeds.set(key, feed);
    feed.ready.catch(() => this.dropFeed(feed));
    return feed;
  }

  private dropFeed(feed: Feed): void {
    if (this.feeds.get(feed.key) === feed) this.feeds.delete(feed.key);
    void feed.release?.();
    feed.release = undefined;
    void feed.changeFeed?.close().catch(() => undefined);
  }

  private close(stream: Stream, frame?: string): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream);
    const n = (this.perUser.get(stream.userId) ?? 1) - 1;
    if (n > 0) this.perUser.set(stream.userId, n);
    else this.perUser.delete(stream.userId);
    const feed = stream.feed;
    if (feed) {
      feed.streams.delete(stream);
      if (feed.streams.size === 0) this.dropFeed(feed);
    }
    try {
      stream.sink.end(frame);
    } catch {
      // the connection is already gone
    }
  }

  private send(stream: Stream, frame: string): void {
    if (stream.closed) return;
    stream.sink.write(frame);
    if (stream.sink.buffered() > this.limits.maxBufferedBytes) {
      this.logger.warn({ ns: stream.ns, user: stream.userId }, 'watch stream cut off: its client does not keep up');
      stream.sink.destroy();
      this.close(stream);
    }
  }

  /** Reads what the feed's namespace recorded past its position, unless already reading; then once more if asked meanwhile. */
  private kick(feed: Feed): void {
    if (this.stopped || !feed.release) return;
    if (feed.running) {
      feed.again = true;
      return;
    }
    feed.again = false;
    feed.running = this.drain(feed)
      .catch((err: unknown) => this.logger.error({ ns: feed.ns, error: (err as Error).message }, 'watch: reading changes failed'))
      .finally(() => {
        feed.running = undefined;
        if (feed.again && this.feeds.get(feed.key) === feed) this.kick(feed);
      });
  }

  private async drain(feed: Feed): Promise<void> {
    const log = feed.log!;
    while (this.feeds.get(feed.key) === feed) {
      const batch = await log.read(feed.ns, feed.position, 100);
      if (batch.length === 0) return;
      for (const change of batch) {
        const raw = changeEvent(change, { fullDocument: true, fullDocumentBeforeChange: true });
        const targets = [...feed.streams].filter((s) => change.seq > s.from);
        if (targets.length) await this.deliver(targets, raw);
        feed.position = change.seq;
      }
    }
  }

  private async follow(feed: Feed, changes: ChangeFeed): Promise<void> {
    try {
      for await (const raw of changes) {
        if (this.feeds.get(feed.key) !== feed) break;
        await this.deliver([...feed.streams], raw);
      }
    } catch (err) {
      if (this.feeds.get(feed.key) !== feed) return;
      this.logger.error({ ns: feed.ns, error: (err as Error).message }, 'watch: the change stream failed');
      for (const s of [...feed.streams]) this.close(s, errorFrame(new BasteError('MongoDBError', 'the change stream failed')));
    }
  }

  /** One change to each stream, as its user sees it; a stream whose rules fail is closed with the error. */
  private async deliver(streams: Stream[], raw: Doc): Promise<void> {
    await Promise.all(
      streams.map(async (s) => {
        try {
          const event = await userEvent(raw, s.view, s.selection);
          if (event) this.send(s, dataFrame(event));
        } catch (err) {
          const error = err instanceof BasteError ? err : new BasteError('InternalServerError', 'the change could not be checked against the rules');
          if (!(err instanceof BasteError)) this.logger.error({ ns: s.ns, error: (err as Error).message }, 'watch: a change could not be shown');
          this.close(s, errorFrame(error));
        }
      }),
    );
  }

  private async checkSessions(): Promise<void> {
    if (this.checking || this.streams.size === 0) return;
    this.checking = true;
    try {
      const bySession = new Map<string, Stream[]>();
      for (const s of this.streams) bySession.set(s.sessionId, [...(bySession.get(s.sessionId) ?? []), s]);
      await Promise.all(
        [...bySession].map(async ([sessionId, streams]) => {
          const live = await this.sessionLive(sessionId, streams[0]!.userId).catch(() => true); // a store hiccup closes nothing
          if (live) return;
          for (const s of streams) this.close(s, errorFrame(new BasteError('InvalidSession', 'invalid session: session has ended')));
        }),
      );
    } finally {
      this.checking = false;
    }
  }
}
