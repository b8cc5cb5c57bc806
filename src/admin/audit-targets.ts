// What an audit entry's target is now, so the console can link to it: the user, the server API
// key, the trigger, or the registration still pending (a confirmed one leads to its user). Null
// when the target is gone (a deleted user or key, a trigger removed from the app's files) or is
// nothing the console shows (the app itself, an admin token). Baste's own field: the platform
// keeps no audit log in its admin API.

import type { AppConfig } from '../app/model.js';
import type { Store } from '../store/store.js';
import { allTriggers, triggerId } from '../triggers/describe.js';
import { isObjectIdHex } from '../util/ids.js';

export interface CurrentTarget {
  readonly type: 'user' | 'user_registration' | 'api_key' | 'trigger';
  /** A user id, a registration's email, a key id or a trigger id. */
  readonly id: string;
}

/** The current target of each entry, in order; each distinct target is looked up once. */
export async function currentTargets(
  deps: { readonly store: Store; readonly app: AppConfig },
  entries: readonly { readonly action: string; readonly target: string }[],
): Promise<(CurrentTarget | null)[]> {
  const { store, app } = deps;
  let serverKeys: Promise<Set<string>> | undefined;
  let triggers: Set<string> | undefined;

  const resolve = async (kind: string, target: string): Promise<CurrentTarget | null> => {
    switch (kind) {
      case 'user':
        // `user.send_password_resets` names the app, not a user: not an id.
        return isObjectIdHex(target) && (await store.getUser(target)) ? { type: 'user', id: target } : null;
      case 'api_key':
        serverKeys ??= store.listServerApiKeys().then((keys) => new Set(keys.map((k) => k.id)));
        return (await serverKeys).has(target) ? { type: 'api_key', id: target } : null;
      case 'trigger':
        triggers ??= new Set(allTriggers(app).map((t) => triggerId(app, t)));
        return triggers.has(target) ? { type: 'trigger', id: target } : null;
      case 'user_registration': {
        const account = await store.findUserpassAccountByEmail(target);
        if (!account) return null;
        for (const p of app.providers.values()) {
          if (p.type !== 'local-userpass') continue;
          const owner = await store.findIdentityOwner(p.name, account.id);
          if (owner) return { type: 'user', id: owner.userId };
        }
        return { type: 'user_registration', id: account.email };
      }
      default:
        return null;
    }
  };

  const seen = new Map<string, Promise<CurrentTarget | null>>();
  return Promise.all(
    entries.map((e) => {
      const kind = e.action.slice(0, e.action.indexOf('.'));
      const key = `${kind}\u0000${e.target}`;
      let found = seen.get(key);
      if (!found) {
        found = resolve(kind, e.target);
        seen.set(key, found);
      }
      return found;
    }),
  );
}
