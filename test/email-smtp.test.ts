// Confirmation and reset emails through a real SMTP conversation with a local SMTP server.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { appConfig, emailConfirmUserpass, provider, startServer, uniqueEmail, type TestServer } from './helpers/server.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

describe('email over SMTP', () => {
  const received: Received[] = [];
  let refuse = false;
  let smtp: SMTPServer;
  let server: TestServer;

  before(async () => {
    smtp = new SMTPServer({
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onRcptTo(_address, _session, done) {
        done(refuse ? Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }) : undefined);
      },
      onData(stream, session, done) {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString()));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
          });
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const { port } = smtp.server.address() as { port: number };
    server = await startServer(appConfig([provider('anon-user'), emailConfirmUserpass()]), {
      smtp: { url: `smtp://127.0.0.1:${port}`, from: 'noreply@baste.test' },
    });
  });
  after(async () => {
    await server.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  it('undoes a registration whose confirmation email cannot be sent, so the person can retry', async () => {
    const email = uniqueEmail();
    const register = () =>
      fetch(`${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/local-userpass/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'secret123' }),
      });
    refuse = true;
    const failed = await register();
    refuse = false;
    assert.equal(failed.status, 503);
    assert.equal((await failed.json()).error_code, 'EmailNotSent');
    assert.equal(await server.baste.store.findUserpassAccountByEmail(email), null);
    assert.equal((await register()).status, 201);
    assert.ok(received.some((m) => m.to.includes(email)));
    received.length = 0;
  });

  it('sends the confirmation link by SMTP, writes nothing to the outbox, and the link confirms', async () => {
    const email = uniqueEmail();
    const base = `${server.url}/api/client/v2.0/app/${server.appId}/auth/providers/local-userpass`;
    const post = (path: string, body: unknown) =>
      fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post('register', { email, password: 'secret123' })).status, 201);
    assert.equal(received.length, 1);
    const mail = received[0]!;
    assert.equal(mail.from, 'noreply@baste.test');
    assert.deepEqual(mail.to, [email]);
    assert.match(mail.raw, /Subject: Confirm your account/);
    // quoted-printable may fold long lines: undo soft breaks before reading the link
    const body = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const link = /http:\/\/app\.example\/confirm\?token=([0-9a-f]+)&tokenId=([0-9a-f]+)/.exec(body);
    assert.ok(link, body);
    assert.deepEqual(server.outbox(), []);
    assert.equal((await post('confirm', { token: link[1], tokenId: link[2] })).status, 204);
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: email, password: 'secret123' }),
    });
    assert.equal(login.status, 200);
  });
});
