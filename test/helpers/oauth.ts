// Driving the browser side of the OAuth redirect flow in Node: follow the redirects a browser
// would (Baste → provider → Baste's callback) until the one that leaves for the app, and read
// the result fragment the way the SDKs do. Also: realm-web's popup, replaced by an `openWindow`
// that writes the fragment to its storage, as realm-web's redirect page does.

import * as Realm from 'realm-web';

/** Where the app receives the result: listed in the providers' redirect_uris. */
export const APP_REDIRECT = 'http://app.example/auth/done';

export interface BrowseResult {
  /** The URL the last redirect pointed at, when it left for `stopAt`. */
  readonly location?: string;
  /** Otherwise: the answer that was not a redirect. */
  readonly status: number;
  readonly body?: string;
  /** Every URL visited, in order. */
  readonly visited: string[];
}

/** Follows redirects from `start` like a browser, stopping at the first Location under `stopAt`. */
export async function browse(start: string, stopAt = APP_REDIRECT): Promise<BrowseResult> {
  const visited: string[] = [];
  let url = start;
  for (let hop = 0; hop < 10; hop++) {
    visited.push(url);
    const res = await fetch(url, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url).href;
      await res.arrayBuffer();
      if (next.startsWith(stopAt)) return { location: next, status: res.status, visited };
      url = next;
      continue;
    }
    return { status: res.status, body: await res.text(), visited };
  }
  throw new Error(`too many redirects from ${start}`);
}

/** The fragment's pairs, decoded as both SDKs do (split on & and =, decodeURIComponent). */
export function fragmentOf(location: string): Record<string, string> {
  const hash = new URL(location).hash.slice(1);
  return Object.fromEntries(
    hash
      .split('&')
      .filter(Boolean)
      .map((kv) => kv.split('='))
      .map(([k, v]) => [decodeURIComponent(k ?? ''), decodeURIComponent(v ?? '')]),
  );
}

/** realm-web's fragment keys → the result object its OAuth2Helper stores. */
const RW_KEYS: Record<string, string> = {
  _baas_client_app_id: 'appId',
  _baas_ua: 'userAuth',
  _baas_link: 'link',
  _baas_error: 'error',
  _baas_state: 'state',
};

export interface PopupRecord {
  /** The URL realm-web asked to open. */
  readonly opened: string;
  readonly result: BrowseResult;
  readonly fragment?: Record<string, string>;
}

/**
 * Replaces realm-web's popup: must run before `new Realm.App()` (the App's OAuth helper reads
 * `openWindow` when it is built). Every popup is recorded in `popups`.
 */
export function installRealmPopup(): PopupRecord[] {
  const popups: PopupRecord[] = [];
  const env = Realm.getEnvironment();
  Realm.setEnvironment({
    ...env,
    openWindow: (url: string) => {
      // realm-web polls `closed`: a popup that never reaches the app is "closed", so the login rejects instead of hanging.
      const popup = { closed: false, close() {} };
      void (async () => {
        const result = await browse(url).catch((err: unknown) => ({ status: 0, body: String(err), visited: [url] }) as BrowseResult);
        const fragment = result.location ? fragmentOf(result.location) : undefined;
        popups.push({ opened: url, result, fragment });
        // What Realm.handleAuthRedirect() does on the redirect page.
        const stored: Record<string, string> = {};
        for (const [k, v] of Object.entries(fragment ?? {})) if (RW_KEYS[k] && v) stored[RW_KEYS[k]!] = v;
        if (stored.state) env.defaultStorage.prefix('oauth2').prefix(`state(${stored.state})`).set('result', JSON.stringify(stored));
        else popup.closed = true;
      })();
      return popup as unknown as ReturnType<Parameters<typeof Realm.setEnvironment>[0]['openWindow']>;
    },
  });
  return popups;
}
