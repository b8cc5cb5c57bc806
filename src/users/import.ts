// `baste users import` and `baste users export`: users moved between App Services (or another
// Baste) and this app's store. Each record is written whole or not at all (store.importUser);
// a refused record is reported with its line and reason and the rest go on.

import type { AppConfig } from '../app/model.js';
import { PASSWORD_RESET_REQUIRED, type Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { readUsersFile } from './transfer-file.js';
import { decide, exportedRegistration, exportedUser, type HashImporter } from './transfer.js';

export type LineStatus = 'imported' | 'skipped' | 'refused';

export interface ImportLine {
  readonly line: number;
  readonly id?: string;
  readonly status: LineStatus;
  /** Why it was skipped or refused; for an imported record, what did not come along. */
  readonly reason?: string;
}

export interface ImportReport {
  readonly lines: ImportLine[];
  readonly imported: number;
  readonly skipped: number;
  readonly refused: number;
  /** Email/password accounts (of this file) whose owners must reset their password to log in. */
  readonly awaitingReset: { id: string; email: string; confirmed: boolean }[];
}

export interface ImportDeps {
  readonly store: Store;
  readonly app: AppConfig;
  readonly clock: Clock;
  readonly importHash: HashImporter;
}

export async function importUsers(text: string, deps: ImportDeps, opts: { dryRun?: boolean } = {}): Promise<ImportReport> {
  const lines: ImportLine[] = [];
  // The accounts of this file that were written (or already there), as the file gives them.
  const accounts = new Map<string, { email: string; confirmed: boolean; passwordHash: string }>();
  for (const raw of readUsersFile(text)) {
    if (raw.error) {
      lines.push({ line: raw.line, status: 'refused', reason: raw.error });
      continue;
    }
    const decision = decide(raw.value, deps.app, deps.clock(), deps.importHash);
    if (decision.kind !== 'import') {
      lines.push({ line: raw.line, id: decision.id, status: decision.kind === 'skip' ? 'skipped' : 'refused', reason: decision.reason });
      continue;
    }
    const outcome = await deps.store.importUser(decision.record, { dryRun: opts.dryRun });
    const notes = decision.notes.join('; ');
    if (outcome.status === 'conflict') {
      lines.push({ line: raw.line, id: decision.id, status: 'refused', reason: outcome.reason });
      continue;
    }
    for (const a of decision.record.accounts) accounts.set(a.id, a);
    if (outcome.status === 'unchanged') lines.push({ line: raw.line, id: decision.id, status: 'skipped', reason: 'already imported: nothing changed' });
    else lines.push({ line: raw.line, id: decision.id, status: 'imported', ...(notes ? { reason: notes } : {}) });
  }
  const awaitingReset: ImportReport['awaitingReset'] = [];
  for (const [id, given] of accounts) {
    // What the store holds wins (an earlier import's user may have reset since); a dry run wrote nothing.
    const account = (await deps.store.findUserpassAccount(id)) ?? (opts.dryRun ? given : null);
    if (account?.passwordHash === PASSWORD_RESET_REQUIRED) awaitingReset.push({ id, email: account.email, confirmed: account.confirmed });
  }
  const count = (s: LineStatus) => lines.filter((l) => l.status === s).length;
  return { lines, imported: count('imported'), skipped: count('skipped'), refused: count('refused'), awaitingReset };
}

const PAGE = 500;

/** Every user, then every pending registration, one JSON object per line, in id order. */
export async function* exportUsers(store: Store, app: AppConfig): AsyncGenerator<string> {
  for (let after: string | undefined; ; ) {
    const users = await store.listUsers({ after, limit: PAGE });
    for (const u of users) yield `${JSON.stringify(exportedUser(u))}\n`;
    if (users.length < PAGE) break;
    after = users[users.length - 1]!.id;
  }
  for (let after: string | undefined; ; ) {
    const pending = await store.listPendingUserpassAccounts({ after, limit: PAGE });
    for (const a of pending) yield `${JSON.stringify(exportedRegistration(a, app.domainId))}\n`;
    if (pending.length < PAGE) break;
    after = pending[pending.length - 1]!.id;
  }
}
