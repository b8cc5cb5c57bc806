// Outgoing email. With SMTP configured, nodemailer sends it; otherwise each message is written
// to <data-dir>/outbox/ as one JSON file (link included) so a developer can follow it. The log
// line names the recipient and the kind of email, never the link or its token.

import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import { BasteError } from '../errors.js';
import { newObjectIdHex } from '../util/ids.js';

export interface Email {
  /** `account-exists`: a registration for a taken email, told to its owner (no link). */
  readonly kind: 'confirm' | 'reset' | 'account-exists';
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The action link (carries the one-time token); none in a notice. */
  readonly link?: string;
}

export interface Mailer {
  send(email: Email): Promise<void>;
}

export function outboxMailer(dir: string, log: Logger): Mailer {
  return {
    async send(email) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const name = `${Date.now()}-${email.kind}-${newObjectIdHex()}.json`;
      const file = join(dir, name);
      // Written under a hidden temporary name in the same directory, then renamed (atomic on one
      // file system): a reader listing `*.json` never sees a half-written email.
      const temp = join(dir, `.${name}.tmp`);
      try {
        await writeFile(temp, JSON.stringify({ ...email, createdAt: new Date().toISOString() }, null, 2), { mode: 0o600 });
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true }).catch(() => {});
        throw err;
      }
      log.info({ kind: email.kind, to: email.to, file }, 'email written to outbox');
    },
  };
}

export function smtpMailer(url: string, from: string, log: Logger): Mailer {
  const transport = nodemailer.createTransport(url);
  return {
    async send(email) {
      try {
        await transport.sendMail({ from, to: email.to, subject: email.subject, text: email.text });
      } catch (err) {
        const { code, responseCode } = err as { code?: string; responseCode?: number };
        log.error({ kind: email.kind, to: email.to, code, responseCode }, 'email could not be sent');
        throw new BasteError('EmailNotSent', 'the email could not be sent; try again later');
      }
      log.info({ kind: email.kind, to: email.to }, 'email sent');
    },
  };
}
