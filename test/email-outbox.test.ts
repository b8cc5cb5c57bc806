// The development outbox (<data-dir>/outbox/): each email appears whole, under its final name,
// or not at all, so a developer's tool (or a test) listing the folder never reads half an email.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { outboxMailer } from '../src/email/mailer.js';

describe('outbox mailer', () => {
  it('a reader listing the outbox while emails are written sees only complete ones, and no temporary file stays', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'baste-outbox-')), 'outbox');
    try {
      const mailer = outboxMailer(dir, pino({ level: 'silent' }));
      const text = 'x'.repeat(256 * 1024); // large enough to take several writes
      let writing = true;
      const reader = (async () => {
        while (writing) {
          let names: string[] = [];
          try {
            names = readdirSync(dir).filter((f) => f.endsWith('.json'));
          } catch {
            // not created yet
          }
          for (const f of names) {
            const mail = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { text: string };
            assert.equal(mail.text.length, text.length, f);
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      await Promise.all(Array.from({ length: 40 }, (_, i) => mailer.send({ kind: 'confirm', to: `u${i}@example.com`, subject: 's', text, link: `http://x/${i}` })));
      writing = false;
      await reader;
      const files = readdirSync(dir);
      assert.equal(files.length, 40, files.join(', '));
      assert.ok(files.every((f) => /^\d+-confirm-[0-9a-f]{24}\.json$/.test(f)), files.join(', '));
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});
