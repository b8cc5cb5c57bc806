// The development outbox of a `baste serve` run as a child process (<data-dir>/outbox/, one JSON
// file per email): what a user of the example app reads to confirm an account. A test confirms
// as that user would, by following the mailed link (its page posts token and tokenId to the
// confirm route; here the same POST goes over HTTP without a browser).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface OutboxMail {
  kind: string;
  to: string;
  subject: string;
  text: string;
  link?: string;
}

/** The emails in `<dataDir>/outbox/`, oldest first (file names start with the time written). */
export function readOutbox(dataDir: string): OutboxMail[] {
  const dir = join(dataDir, 'outbox');
  if (!existsSync(dir)) return [];
  const mails: OutboxMail[] = [];
  // The mailer writes each email under a hidden `.….tmp` name and renames it into place, so every
  // `*.json` here is complete, even while a concurrent request is still writing its own.
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort()) {
    mails.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as OutboxMail);
  }
  return mails;
}

/** The newest link of `kind` mailed to `email`; fails when there is none. */
export function mailedLink(dataDir: string, email: string, kind: 'confirm' | 'reset' = 'confirm'): URL {
  const mail = readOutbox(dataDir)
    .filter((m) => m.to === email && m.kind === kind && m.link)
    .at(-1);
  if (!mail) throw new Error(`no ${kind} email for ${email} in ${join(dataDir, 'outbox')}`);
  return new URL(mail.link!);
}

/**
 * Follows the confirmation link mailed to `email`: the link must open Baste's confirm page of
 * an app (`/app/{appId}/confirm`), and its token confirms the account through the server the
 * link names. Resolves once confirmed; throws with the server's answer otherwise.
 */
export async function confirmFromOutbox(dataDir: string, email: string, provider = 'local-userpass'): Promise<void> {
  const link = mailedLink(dataDir, email);
  const page = /^\/app\/([^/]+)\/confirm$/.exec(link.pathname);
  if (!page) throw new Error(`the confirmation link does not open Baste's confirm page: ${link.href}`);
  const res = await fetch(`${link.origin}/api/client/v2.0/app/${page[1]}/auth/providers/${provider}/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: link.searchParams.get('token'), tokenId: link.searchParams.get('tokenId') }),
  });
  if (res.status !== 204) throw new Error(`confirming ${email} answered ${res.status}: ${await res.text()}`);
}
