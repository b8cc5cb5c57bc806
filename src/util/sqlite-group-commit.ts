// Group commit for better-sqlite3. better-sqlite3 is synchronous, so a transaction committed at
// the call commits alone. Here a write is queued and the queue is flushed on the next turn of the
// event loop (setImmediate: after the poll phase that parsed the requests), or, while the WAL's
// fsync runs, when it ends: every write queued meanwhile runs in one BEGIN IMMEDIATE … COMMIT, each
// in its own SAVEPOINT, so one commit (and one fsync) covers the batch.
//
// - A write that throws is rolled back to its savepoint and rejects alone; the others commit.
// - Every promise settles only after the shared COMMIT returned and, for a database in WAL mode
//   on a file, after an fsync of the WAL that started after that COMMIT returned (WalSync below):
//   a write resolves once its data is on disk, and rejects when the COMMIT or that fsync fails.
// - Nothing else runs while the batch transaction is open (it opens and commits within one
//   synchronous call), so a read on the same connection never sees uncommitted data, and a read
//   issued after a write resolved sees it. A read may also see a batch that committed but whose
//   fsync has not finished yet (see WalSync).
// - Writes run in the order they were queued; a caller's next write, issued after its previous one
//   resolved, lands in a later batch.

import { closeSync, fsync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';

interface Pending {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Flushes a file to disk; fs.fsync runs on libuv's thread pool, off the event loop. Tests pass a slow or failing one. */
export type Fsync = (fd: number) => Promise<void>;

const fsyncOnPool: Fsync = (fd) => new Promise((done, fail) => fsync(fd, (err) => (err ? fail(err) : done())));

interface Round {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

function round(): Round {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/**
 * The WAL's fsync, off the event loop. The connection commits with synchronous = NORMAL: COMMIT
 * writes the WAL frames (into the page cache) and returns without an fsync; SQLite still fsyncs
 * the WAL before each checkpoint copies it into the database. Here the fsync SQLite would have
 * done at COMMIT (synchronous = FULL) runs on the thread pool, and a batch is acknowledged only
 * by an fsync that STARTED after its COMMIT returned (Linux's fsync flushes the file's dirty pages
 * whichever descriptor wrote them). The WAL is written sequentially, so that fsync also covers
 * every earlier commit. At most one fsync runs at a time; what commits meanwhile (the group
 * commit holds its queue until it ends; `durable()` callers) shares the next one.
 *
 * - Visibility: a batch is visible to reads (on this connection and others) as soon as its COMMIT
 *   returns, up to one fsync before it is acknowledged, so a reader may act on a write that a power
 *   loss (not a kill -9: the page cache survives the process) would still undo. PostgreSQL with
 *   synchronous_commit = on shows a commit to other sessions only after its WAL flush; MongoDB
 *   (readConcern local, which Atlas serves) shows writes before they are journaled, as here.
 * - A failed fsync (EIO…): the batches it covered are committed in the WAL but not known to be
 *   on disk, and after a failed fsync Linux may mark the lost pages clean, so a later fsync's
 *   success proves nothing about them (and the WAL's checksum chain would drop every later frame
 *   after a lost one). So the failure is final, as PostgreSQL PANICs on one: those writes and every
 *   later one reject with SQLITE_IOERR_FSYNC (503 in src/store/failures.ts) until a restart, whose
 *   WAL recovery keeps what is on disk. Reads keep working.
 * - The WAL file: SQLite deletes it only when the last connection to the database closes, and
 *   this connection stays open until after close() here, so the descriptor opened at the first
 *   fsync names the live WAL for the connection's whole life (a checkpoint restarts or truncates
 *   the same file; nothing here changes journal_mode). Opened once, no per-fsync open or fstat.
 */
export class WalSync {
  private fd: number | null = null;
  /** The fsync in flight has no round waiting on it yet; the round every commit since joins. */
  private next: Round | null = null;
  private running: Promise<void> | null = null;
  /** Set by the first failed fsync, for good (see above). */
  failed: Error | null = null;

  constructor(
    private readonly walFile: string,
    private readonly fsyncFile: Fsync,
    /** Called after each fsync settled, before the next starts: the group commit's moment to commit what waited. */
    private readonly afterRound: () => void = () => {},
  ) {}

  /** An fsync is in flight. */
  get syncing(): boolean {
    return this.running !== null;
  }

  /** Resolves once an fsync of the WAL that started after this call finished; call it right after a COMMIT returned. */
  afterCommit(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const r = (this.next ??= round());
    this.running ??= this.pump();
    return r.promise;
  }

  private async pump(): Promise<void> {
    await null; // `running` is set before this can end
    while (this.next) {
      const r = this.next;
      this.next = null;
      if (this.failed) {
        r.reject(this.failed);
        continue;
      }
      try {
        await this.syncOnce();
        r.resolve();
      } catch (err) {
        this.failed = fsyncFailure(err);
        r.reject(this.failed);
      }
      this.afterRound();
    }
    this.running = null;
  }

  private async syncOnce(): Promise<void> {
    if (this.fd === null) {
      this.fd = openSync(this.walFile, 'r+');
      // SQLite created the WAL; with synchronous = FULL it would also have synced the directory
      // at the WAL's first fsync, so its name survives a power loss. Once per connection.
      const dir = await open(dirname(this.walFile), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
    await this.fsyncFile(this.fd);
  }

  /** Waits for every fsync asked for (a failure is the writes' to report), then lets the file go. */
  async close(): Promise<void> {
    while (this.running) await this.running;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function fsyncFailure(err: unknown): Error {
  const e = err as { code?: unknown; message?: unknown } | null;
  const why = typeof e?.code === 'string' ? e.code : typeof e?.message === 'string' ? e.message : String(err);
  return Object.assign(
    new Error(`fsync of the SQLite write-ahead log failed (${why}): recent writes are committed but not known to be on disk; writes are refused until a restart`),
    { code: 'SQLITE_IOERR_FSYNC', cause: err },
  );
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  /** The queue waits for the fsync in flight to end (scheduledFlush). */
  private waitingForSync = false;
  private readonly begin: Database.Statement;
  private readonly commitStatement: Database.Statement;
  private readonly rollback: Database.Statement;
  /** Outside a transaction: BEGIN IMMEDIATE … COMMIT; inside one: SAVEPOINT … RELEASE. */
  private readonly atomic: Database.Transaction<(run: () => unknown) => unknown>;
  /** Test hook: how many transactions were committed, and how many writes they carried. */
  readonly stats = { commits: 0, writes: 0 };
  /** Null for a database without a WAL file (in memory, or not in WAL mode): COMMIT syncs as set. */
  private readonly wal: WalSync | null = null;

  /**
   * For a file database in WAL mode, switches the connection to synchronous = NORMAL: from here on
   * WalSync makes commits durable before they are acknowledged. Construct it after what the opening
   * itself writes (migrations, the owner claim), which thus commits with the opener's own setting.
   * `fsync` is a test hook.
   */
  constructor(
    private readonly db: Database.Database,
    opts: { fsync?: Fsync } = {},
  ) {
    if (!db.memory && db.pragma('journal_mode', { simple: true }) === 'wal') {
      db.pragma('synchronous = NORMAL');
      this.wal = new WalSync(resolve(`${db.name}-wal`), opts.fsync ?? fsyncOnPool, () => {
        if (!this.waitingForSync) return;
        this.waitingForSync = false;
        this.flush();
      });
    }
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commitStatement = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.atomic = db.transaction((run: () => unknown) => run());
  }

  /** Runs `run` atomically in the next batch; resolves with its result once the batch is committed. */
  write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.scheduledFlush);
      }
    });
  }

  /**
   * For a write made outside `write` on this connection (committed when this is called): resolves
   * once it is on disk, as `write` would have.
   */
  durable(): Promise<void> {
    return this.wal ? this.wal.afterCommit() : Promise.resolve();
  }

  /**
   * While an fsync is in flight the queue is not committed: it is committed as one batch when that
   * fsync ends, and the next fsync starts right after. Committing it at once would not be
   * acknowledged sooner (its fsync could only start after the one in flight), but would make smaller
   * batches: a commit rewrites the last page of every B-tree it touches (~14 pages), so small
   * batches write more pages per write, and a batch is visible before it is durable.
   */
  private readonly scheduledFlush = (): void => {
    if (this.wal?.syncing) {
      this.waitingForSync = true;
      return;
    }
    this.flush();
  };

  /** Commits whatever is queued now (before closing the connection). */
  readonly flush = (): void => {
    this.scheduled = false;
    this.waitingForSync = false;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const failed = this.wal?.failed;
      if (failed) for (const p of batch) p.reject(failed);
      else this.commit(batch);
    }
  };

  /** Commits what is queued and waits for its fsync; then the connection may close. */
  async close(): Promise<void> {
    this.flush();
    await this.wal?.close();
  }

  private commit(batch: Pending[]): void {
    if (batch.length === 0) return;
    if (batch.length === 1) {
      // Alone: no savepoint needed, and no slower than a transaction of its own.
      const only = batch[0]!;
      let value: unknown;
      try {
        value = this.atomic.immediate(only.run);
      } catch (error) {
        only.reject(error);
        return;
      }
      this.count(1);
      this.acknowledge([only], [{ ok: true, value }]);
      return;
    }

    try {
      this.begin.run();
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    const outcomes: Outcome[] = [];
    for (let i = 0; i < batch.length; i++) {
      try {
        outcomes.push({ ok: true, value: this.atomic(batch[i]!.run) });
      } catch (error) {
        if (!this.db.inTransaction) {
          // SQLite rolled back the whole transaction (I/O error, disk full, …): what ran before in
          // this batch is gone too. Those writes fail with this error; the rest go on in a new batch.
          batch[i]!.reject(error);
          for (let j = 0; j < i; j++) {
            const o = outcomes[j]!;
            batch[j]!.reject(o.ok ? error : o.error);
          }
          this.commit(batch.slice(i + 1));
          return;
        }
        outcomes.push({ ok: false, error });
      }
    }
    try {
      this.commitStatement.run();
    } catch (error) {
      if (this.db.inTransaction) {
        try {
          this.rollback.run();
        } catch {
          // Already rolled back.
        }
      }
      batch.forEach((p, i) => {
        const o = outcomes[i]!;
        p.reject(o.ok ? error : o.error);
      });
      return;
    }
    this.count(outcomes.filter((o) => o.ok).length);
    this.acknowledge(batch, outcomes);
  }

  /** Settles a committed batch: its failed writes now, the others once the commit is on disk. */
  private acknowledge(batch: Pending[], outcomes: Outcome[]): void {
    const durable = outcomes.some((o) => o.ok) ? this.wal?.afterCommit() : undefined;
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (!o.ok) p.reject(o.error);
      else if (!durable) p.resolve(o.value);
      else durable.then(() => p.resolve(o.value), p.reject);
    });
  }

  private count(writes: number): void {
    this.stats.commits++;
    this.stats.writes += writes;
  }
}
