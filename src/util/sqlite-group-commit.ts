// Group commit for better-sqlite3. better-sqlite3 is synchronous, so a transaction committed at
// the call commits (and, with synchronous = FULL, fsyncs the WAL) alone. Here a write is queued
// and the queue is flushed on the next turn of the event loop (setImmediate: after the poll phase
// that parsed the requests): every write queued meanwhile runs in one BEGIN IMMEDIATE … COMMIT,
// each in its own SAVEPOINT, so one fsync covers the batch.
//
// - A write that throws is rolled back to its savepoint and rejects alone; the others commit.
// - Every promise settles only after the shared COMMIT returned: a write resolves once its data is
//   on disk, as before, and rejects when the COMMIT fails.
// - Nothing else runs while the batch transaction is open (it opens and commits within one
//   synchronous call), so a read on the same connection never sees uncommitted data, and a read
//   issued after a write resolved sees it.
// - Writes run in the order they were queued; a caller's next write, issued after its previous one
//   resolved, lands in a later batch.

import type Database from 'better-sqlite3';

interface Pending {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly begin: Database.Statement;
  private readonly commitStatement: Database.Statement;
  private readonly rollback: Database.Statement;
  /** Outside a transaction: BEGIN IMMEDIATE … COMMIT; inside one: SAVEPOINT … RELEASE. */
  private readonly atomic: Database.Transaction<(run: () => unknown) => unknown>;
  /** Test hook: how many transactions were committed, and how many writes they carried. */
  readonly stats = { commits: 0, writes: 0 };

  constructor(private readonly db: Database.Database) {
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
        setImmediate(this.flush);
      }
    });
  }

  /** Commits whatever is queued now (before closing the connection). */
  readonly flush = (): void => {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.commit(batch);
    }
  };

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
      only.resolve(value);
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
    batch.forEach((p, i) => {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }

  private count(writes: number): void {
    this.stats.commits++;
    this.stats.writes += writes;
  }
}
