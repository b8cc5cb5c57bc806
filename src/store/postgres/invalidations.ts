// Session-cache invalidations between instances sharing one PostgreSQL database.
//
// Every write that changes what a cached record is checked or served by (a user, its identities, a
// session's existence or expiry; not a refresh's last-use times, see touchSession) calls pg_notify in its own
// transaction (`u:<user id>`, `s:<session id>`, or `all`, each signed `@<origin store>`): PostgreSQL delivers a notification only
// if that transaction commits, and delivers all of them to every listening session in commit
// order. Each instance keeps one connection that LISTENs on the channel (one per schema) and drops
// the entries each notification names (src/store/session-cache.ts).
//
// The cache may be trusted only while that connection delivers everything. It is lost when its
// connection is (a restart, pg_terminate_backend, a network failure), and a connection can also
// go silent without closing (a half-open TCP connection). So:
// - while the listener is not connected and listening, the cache is not live: every lookup reads
//   the database; it is emptied when the connection is lost and again once LISTEN is back (what
//   was committed meanwhile was never announced to us);
// - a heartbeat with a generation counter proves delivery end to end: every `heartbeatMs` the
//   listener publishes `p:<instance>:<generation>` on its own channel, from its own connection.
//   That notification is queued behind every change committed before it, so receiving generation
//   n means every change committed before n was sent has been seen. A generation that arrives
//   out of turn (one missed) or not at all within `staleAfterMs` takes the cache out of service
//   and reconnects: a change is never served stale for longer than `staleAfterMs`, even when the
//   loss goes unnoticed by the socket, or delivery is merely slow (a busy database). (Changes themselves cannot carry the counter: a sequence
//   is drawn before commit, so commit order differs from number order and rolled-back numbers
//   leave gaps.)

import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface InvalidationHandlers {
  dropUser(userId: string): void;
  dropSession(sessionId: string): void;
  /** Everything: a bulk change was announced, or announcements may have been missed. */
  clear(): void;
}

export interface ListenerOptions {
  readonly url: string;
  /** `search_path` option for the connection (the store's schema), if any. */
  readonly options?: string;
  readonly channel: string;
  /** Announcements signed `@<origin>` come from this instance's own store, which has already applied them: skipped. */
  readonly origin: string;
  /** How often the heartbeat is published (default 20 ms). */
  readonly heartbeatMs?: number;
  /**
   * The cache is out of service when the last heartbeat received was sent longer ago (default
   * 75 ms): whatever delays or loses notifications, a change is served stale for no longer than
   * this (issue 20: a revocation is refused by every instance within 100 ms).
   */
  readonly staleAfterMs?: number;
  /** Without a heartbeat for this long, the connection is replaced (default 5 s). */
  readonly reconnectAfterMs?: number;
  /** Most time between reconnection attempts (default 2 s; the first is at once). */
  readonly maxBackoffMs?: number;
}

/** The name of the application on the listener's connection (pg_stat_activity.application_name). */
export const LISTENER_APPLICATION_NAME = 'baste-session-invalidations';

export class InvalidationListener {
  private client: pg.Client | null = null;
  private listening = false;
  /** A heartbeat query is running on the current connection. */
  private beating = false;
  private closed = false;
  /** Heartbeats published on the current connection; the next one gets `sent + 1`. */
  private sent = 0;
  /** The last heartbeat received on the current connection. */
  private received = 0;
  /** When the heartbeat last received was sent (ms): the cache is up to date as of then. */
  private validAsOf = 0;
  private readonly sentAt = new Map<number, number>();
  private readonly instance = randomBytes(6).toString('hex');
  private heartbeat: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private backoffMs = 0;
  private readonly heartbeatMs: number;
  private readonly staleAfterMs: number;
  /** Test hook: notifications seen, and times the channel was (re)established. */
  readonly stats = { notifications: 0, connects: 0, losses: 0 };

  constructor(
    private readonly opts: ListenerOptions,
    private readonly on: InvalidationHandlers,
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? 20;
    this.staleAfterMs = opts.staleAfterMs ?? 75;
  }

  /** Whether the cache may be used now: listening, and a recent heartbeat came through. */
  live(): boolean {
    return this.listening && Date.now() - this.validAsOf <= this.staleAfterMs;
  }

  /** Connects; resolves once listening, or after a first failure (then it keeps trying in the background). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Test hook: the backend pid of the listening connection, or null. */
  async backendPid(): Promise<number | null> {
    const c = this.client;
    if (!c || !this.listening) return null;
    return (c as unknown as { processID: number | null }).processID ?? null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    this.listening = false;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.opts.url,
      application_name: LISTENER_APPLICATION_NAME,
      ...(this.opts.options ? { options: this.opts.options } : {}),
      connectionTimeoutMillis: 5000,
    });
    this.client = client;
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (client === this.client && msg.channel === this.opts.channel) this.notified(msg.payload ?? '');
    });
    try {
      await client.connect();
      // Heartbeats need not wait for their commit to reach the disk: only their order matters.
      await client.query('SET synchronous_commit = off');
      await client.query(`LISTEN ${pg.escapeIdentifier(this.opts.channel)}`);
    } catch {
      this.lost(client);
      return;
    }
    if (client !== this.client || this.closed) return;
    // Whatever was committed before LISTEN took effect was never announced to us.
    this.on.clear();
    this.sent = 0;
    this.received = 0;
    this.sentAt.clear();
    this.validAsOf = Date.now();
    this.listening = true;
    this.beating = false;
    this.backoffMs = 0;
    this.stats.connects++;
    this.heartbeat = setInterval(() => this.beat(client), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private beat(client: pg.Client): void {
    if (client !== this.client || !this.listening) return;
    const now = Date.now();
    if (now - this.validAsOf > (this.opts.reconnectAfterMs ?? 5000)) {
      // Heartbeats stopped coming back: the connection is silent. Start over on a new one.
      this.lost(client);
      return;
    }
    // A slow database answers late, not never: no pile of heartbeats behind it. One query at a time
    // on this connection, too (node-postgres queues a second one, a use it deprecates).
    if (this.sentAt.size >= 10 || this.beating) return;
    const generation = ++this.sent;
    this.sentAt.set(generation, now);
    this.beating = true;
    client
      .query('SELECT pg_notify($1, $2)', [this.opts.channel, `p:${this.instance}:${generation}`])
      .then(
        () => {
          if (client === this.client) this.beating = false;
        },
        () => {
          if (client === this.client) this.beating = false;
          this.lost(client);
        },
      );
  }

  private notified(payload: string): void {
    this.stats.notifications++;
    const kind = payload.slice(0, 2);
    if (kind === 'p:') return this.heartbeatArrived(payload);
    const at = payload.lastIndexOf('@');
    if (at >= 0 && payload.slice(at + 1) === this.opts.origin) return;
    const id = payload.slice(2, at >= 0 ? at : undefined);
    if (kind === 'u:') this.on.dropUser(id);
    else if (kind === 's:') this.on.dropSession(id);
    else this.on.clear(); // `all`, or anything this version does not know
  }

  private heartbeatArrived(payload: string): void {
    const [, instance, n] = payload.split(':');
    if (instance !== this.instance) return; // another instance's heartbeat
    const generation = Number(n);
    if (generation !== this.received + 1) {
      // One went missing: so may have changes committed before it.
      this.lost(this.client);
      return;
    }
    this.received = generation;
    this.validAsOf = this.sentAt.get(generation) ?? this.validAsOf;
    this.sentAt.delete(generation);
  }

  /** The channel is gone (or cannot be trusted): out of service, emptied, and connected again. */
  private lost(client: pg.Client | null): void {
    if (client === null || client !== this.client) return;
    this.client = null;
    this.listening = false;
    this.stats.losses++;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.on.clear();
    client.removeAllListeners('notification');
    client.on('error', () => {}); // late errors of the abandoned connection
    client.end().catch(() => {});
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(Math.max(50, this.backoffMs * 2), this.opts.maxBackoffMs ?? 2000);
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, delay);
    this.retry.unref();
  }
}
