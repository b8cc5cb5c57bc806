// The bundled example app (examples/todo, what `npm start` serves). It confirms email/password
// users by email, as a real export would; a test about something else (crashes, full disks,
// data isolation) serves a copy that confirms them at once, so every registration can log in.

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'todo');

/** Copies the example app to `to` with local-userpass confirming at once (and app id `appId` when given); returns `to`. */
export function autoConfirmingExample(to: string, appId?: string): string {
  cpSync(EXAMPLE, to, { recursive: true, filter: (src) => !src.endsWith('/.baste') && !src.endsWith('/.baste-data') });
  const providersFile = join(to, 'auth', 'providers.json');
  const providers = JSON.parse(readFileSync(providersFile, 'utf8'));
  providers['local-userpass'].config = { autoConfirm: true };
  writeFileSync(providersFile, JSON.stringify(providers, null, 2));
  if (appId) {
    const root = join(to, 'realm_config.json');
    writeFileSync(root, JSON.stringify({ ...JSON.parse(readFileSync(root, 'utf8')), app_id: appId }, null, 2));
  }
  return to;
}
