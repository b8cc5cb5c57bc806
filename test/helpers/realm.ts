// realm-web users for end-to-end tests: a fresh email/password account, registered and logged in.

import * as Realm from 'realm-web';
import { uniqueEmail } from './server.js';

/** Registers `<name>-…@…` with password `secret123` on the server's app and logs it in. */
export async function newPasswordUser(server: { url: string; appId: string }, name: string): Promise<Realm.User> {
  const app = new Realm.App({ id: server.appId, baseUrl: server.url, app: { name, version: '1' } });
  const email = uniqueEmail(name);
  await app.emailPasswordAuth.registerUser({ email, password: 'secret123' });
  return app.logIn(Realm.Credentials.emailPassword(email, 'secret123'));
}
