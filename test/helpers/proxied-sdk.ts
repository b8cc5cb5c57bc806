// Run as a child process (`node --import tsx test/helpers/proxied-sdk.ts <base url> <app id> <data dir>`),
// with NODE_EXTRA_CA_CERTS naming the proxy's test certificate: what a realm-web app does through
// a TLS reverse proxy, confirming the account by the link in the server's outbox. Prints one JSON line.

import * as Realm from 'realm-web';
import { mailedLink } from './outbox.js';

const [baseUrl, appId, dataDir] = process.argv.slice(2) as [string, string, string];
const location = (await (await fetch(`${baseUrl}/api/client/v2.0/app/${appId}/location`)).json()) as { hostname: string };
// A client claiming another address: the proxy must replace it (the test reads the server's log).
const spoofed = await fetch(`${baseUrl}/api/client/v2.0/app/${appId}/location?probe=spoofed`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
const app = new Realm.App({ id: appId, baseUrl });
const email = `proxied-${process.pid}-${Date.now()}@example.com`;
await app.emailPasswordAuth.registerUser({ email, password: 'secret123' });
const link = mailedLink(dataDir, email);
await app.emailPasswordAuth.confirmUser({ token: link.searchParams.get('token')!, tokenId: link.searchParams.get('tokenId')! });
const user = await app.logIn(Realm.Credentials.emailPassword(email, 'secret123'));
const sum = (await user.functions.callFunction('sum', 2, 3)) as number;
process.stdout.write(`${JSON.stringify({ hostname: location.hostname, confirmPage: `${link.origin}${link.pathname}`, spoofedStatus: spoofed.status, userId: user.id, sum })}\n`);
