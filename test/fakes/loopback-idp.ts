// What the fake identity providers (oidc-provider.ts for Google, apple-id.ts for Apple) share: an
// HTTP server on loopback that records the paths asked for, JSON answers and form bodies as an
// OAuth server reads them, and an RS256 key set (rotatable, with a foreign key for forgeries)
// that signs id_tokens and is served as a JWK set.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface LoopbackServer {
  readonly url: string;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Serves `handle` on a free loopback port; a handler that throws answers 500 with the error. */
export async function serveLoopback(handle: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>): Promise<LoopbackServer> {
  const requests: string[] = [];
  let base = '';
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', base);
    requests.push(u.pathname);
    handle(req, res, u).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JSON answer, never cached (as token endpoints answer). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** An `application/x-www-form-urlencoded` body. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export interface SigningKeys {
  /** The kid of the key signing now. */
  readonly currentKid: string;
  /** The published set: `{keys: [...]}`, every key added so far. */
  jwks(): { keys: JWK[] };
  /** A new key (new kid) is published and signs from now on; returns its kid. */
  rotate(): Promise<string>;
  /**
   * Claims signed RS256 with the current key. `foreignKey` signs with a key not in the set (under
   * the same kid unless `kid` names another); `typ` goes into the header when given.
   */
  sign(claims: Record<string, unknown>, opts?: { foreignKey?: boolean; kid?: string; typ?: string }): Promise<string>;
}

/** An RS256 key set whose kids `kidOf(n)` names (n counts from 1). */
export async function signingKeys(kidOf: (n: number) => string): Promise<SigningKeys> {
  const keys: { kid: string; privateKey: CryptoKey; jwk: JWK }[] = [];
  const rotate = async () => {
    const pair = await generateKeyPair('RS256');
    const kid = kidOf(keys.length + 1);
    keys.push({ kid, privateKey: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' } });
    return kid;
  };
  await rotate();
  const foreign = await generateKeyPair('RS256');
  const current = () => keys[keys.length - 1]!;
  return {
    get currentKid() {
      return current().kid;
    },
    jwks: () => ({ keys: keys.map((k) => k.jwk) }),
    rotate,
    sign: (claims, o = {}) => {
      const defined = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
      const header = { alg: 'RS256', kid: o.kid ?? current().kid, ...(o.typ ? { typ: o.typ } : {}) };
      return new SignJWT(defined).setProtectedHeader(header).sign(o.foreignKey ? foreign.privateKey : current().privateKey);
    },
  };
}

/** A kid unique to this run, so a cached set from another fake never matches by accident. */
export const randomKid = (prefix: string) => (n: number) => `${prefix}-${n}-${randomBytes(3).toString('hex')}`;
