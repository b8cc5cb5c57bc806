// What the two end-to-end SDK suites (sdk-realm-web, sdk-stitch) share: the servers both run
// against, the wire paths they assert on, raw requests next to the SDK, and a stand-in
// location server.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appConfig, autoConfirmUserpass, emailConfirmUserpass, provider, startServer, type TestServer } from './server.js';

export const API = '/api/client/v2.0';
export const loginPath = (appId: string, providerName: string) => `${API}/app/${appId}/auth/providers/${providerName}/login`;
export const userpassPath = (appId: string, route: string) => `${API}/app/${appId}/auth/providers/local-userpass/${route}`;
/** Neither SDK looks at which 2xx a server answers (each tests only for a 2xx range), so any 2xx is a success here. */
export const cls = (s?: number) => (s !== undefined && s >= 200 && s < 300 ? '2xx' : s);
/** `METHOD /path?query` of each recorded request. */
export const calls = (log: readonly { method: string; path: string; url: string }[]) =>
  log.map((r) => `${r.method} ${r.path}${new URL(r.url).search}`);

const RESET_FN = new Map([
  [
    'resetFn',
    {
      name: 'resetFn',
      private: true,
      runAsSystem: false,
      canEvaluate: undefined,
      file: 'functions/resetFn.js',
      source: 'exports = function({ username, password, currentPasswordValid }, mode) { return { status: mode === "ok" ? "success" : mode === "later" ? "pending" : "fail" }; };',
    },
  ],
]);

export interface SdkServers {
  /** anon, local-userpass (auto-confirm), my-userpass, a disabled provider */
  main: TestServer;
  /** local-userpass with email confirmation, anon */
  confirming: TestServer;
  /** local-userpass whose password reset runs a function */
  resetFn: TestServer;
  /** access tokens live 2 s */
  shortTtl: TestServer;
}

/** Starts the suite's servers. */
export async function startSdkServers(): Promise<SdkServers> {
  const [main, confirming, resetFn, shortTtl] = await Promise.all([
    startServer(
      appConfig([
        provider('anon-user'),
        autoConfirmUserpass(),
        autoConfirmUserpass({ name: 'my-userpass' }),
        autoConfirmUserpass({ name: 'off-userpass', disabled: true }),
      ]),
      // The platform's answers for taken and unknown emails (409, 404, "already confirmed"), as
      // the SDKs' own integration tests expect them; the concealing default is in test/hardening/enumeration.
      { unknownEmails: 'reveal' },
    ),
    startServer(appConfig([provider('anon-user'), emailConfirmUserpass()])),
    startServer({
      ...appConfig([provider('local-userpass', { autoConfirm: true, runResetFunction: true, resetFunctionName: 'resetFn' })]),
      functions: RESET_FN,
    }),
    startServer(appConfig([provider('anon-user'), autoConfirmUserpass()]), { sessions: { accessTokenTtlSeconds: 2 } }),
  ]);
  return { main, confirming, resetFn, shortTtl };
}

/** A raw request straight at the server (not through the SDK). */
export async function raw(server: TestServer, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), json: text ? JSON.parse(text) : undefined };
}

/** A server that only answers the location route, pointing clients at `hostname`. */
export async function fakeLocationServer(hostname: string): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const srv: Server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ deployment_model: 'GLOBAL', location: 'US-VA', hostname, ws_hostname: hostname.replace(/^http/, 'ws') }));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}
