// Says in the log when the database becomes unavailable and when it is back, once per outage
// rather than once per refused request (every request answers 503 meanwhile).

import type { Logger } from 'pino';

export class OutageLog {
  private since: number | null = null;
  private refused = 0;

  constructor(private readonly logger: Logger) {}

  get down(): boolean {
    return this.since !== null;
  }

  /** A request was refused because `what` is unavailable. */
  refusedBecause(what: string): void {
    this.refused++;
    if (this.since !== null) return;
    this.since = Date.now();
    this.logger.error({ unavailable: what }, `database unavailable, answering 503 until it is back: ${what}`);
  }

  /** A request that needed the database succeeded: the outage, if any, is over. */
  recovered(): void {
    if (this.since === null) return;
    this.logger.warn({ downMs: Date.now() - this.since, refused: this.refused }, 'database available again');
    this.since = null;
    this.refused = 0;
  }
}
