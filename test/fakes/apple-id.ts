// A local server speaking Sign in with Apple's REST API, on loopback: /auth/keys (RS256 JWK set,
// keys can be rotated), /auth/authorize (the user "signs in" at once and the page posts the
// result back with response_mode=form_post: code, state, id_token, and the `user` JSON with the
// name on the first authorization only), /auth/token (authorization_code; the client secret must
// be an ES256 JWT signed with the team's key: kid, iss = team id, sub = client id,
// aud = https://appleid.apple.com, at most six months long) and /auth/revoke. Real protocol, no internet.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportPKCS8, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { randomKid, readForm, sendJson as json, serveLoopback, signingKeys } from './loopback-idp.js';

export const APPLE_ISSUER = 'https://appleid.apple.com';

export interface AppleUser {
  sub: string;
  email?: string;
  email_verified?: boolean | string;
  is_private_email?: boolean | string;
  firstName?: string;
  lastName?: string;
}

interface IssuedCode {
  user: AppleUser;
  clientId: string;
  redirectUri: string;
  nonce?: string;
}

export interface FakeAppleId {
  readonly url: string;
  readonly teamId: string;
  readonly keyId: string;
  /** The team's Sign in with Apple key, as the .p8 file Apple lets you download. */
  readonly p8: string;
  /** Baste's `appleEndpoints` pointing here. */
  endpoints(): { authorizationEndpoint: string; tokenEndpoint: string; revocationEndpoint: string; jwksUri: string };
  /** Who "signs in" at the authorization endpoint next. */
  user: AppleUser;
  /** The next authorization answers `error=<error>` (e.g. user_cancelled_authorize). */
  failNextAuthorization(error: string): void;
  /** The next token answer carries an id_token with this nonce instead of the one asked for. */
  wrongNonceNext: boolean;
  /** Revocations answer 503 while set. */
  failRevocations: boolean;
  /** An id_token as Apple signs it; `foreignKey` signs with a key not in the set (same kid), `kid` names another. */
  idToken(user: AppleUser, overrides?: Record<string, unknown>, opts?: { foreignKey?: boolean; kid?: string }): Promise<string>;
  /** A new signing key (new kid) is published and used from now on. */
  rotateKey(): Promise<string>;
  /** A client secret as App Services' Ruby script made it (pasted by the app). */
  pastedClientSecret(clientId: string, opts?: { expiresIn?: number; iat?: number }): Promise<string>;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  /** Client secrets the token and revocation endpoints accepted. */
  readonly acceptedSecrets: string[];
  /** The last authorization request's query. */
  lastAuthorization?: URLSearchParams;
  /** Tokens revoked, in order. */
  readonly revoked: string[];
  /** Refresh tokens issued, by sub. */
  readonly refreshTokens: Map<string, string>;
  close(): Promise<void>;
}

export async function startAppleId(opts: { clientIds: readonly string[]; teamId?: string; keyId?: string }): Promise<FakeAppleId> {
  const teamId = opts.teamId ?? 'TEAM123456';
  const keyId = opts.keyId ?? 'KEY1234567';
  const teamKey = await generateKeyPair('ES256', { extractable: true });
  const p8 = await exportPKCS8(teamKey.privateKey);
  const keys = await signingKeys(randomKid('apple'));
  const codes = new Map<string, IssuedCode>();
  const authorizedBefore = new Set<string>();
  const refreshTokens = new Map<string, string>();
  let nextAuthorizationError: string | null = null;
  const server = await serveLoopback(handle);
  const url = server.url;

  async function idTokenFor(user: AppleUser, aud: string, overrides: Record<string, unknown> = {}, o: { foreignKey?: boolean; kid?: string; nonce?: string } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: APPLE_ISSUER,
      aud,
      exp: now + 600,
      iat: now,
      sub: user.sub,
      ...(o.nonce ? { nonce: o.nonce } : {}),
      c_hash: randomBytes(8).toString('base64url'),
      email: user.email,
      email_verified: user.email_verified,
      is_private_email: user.is_private_email,
      auth_time: now,
      nonce_supported: true,
      ...overrides,
    };
    return keys.sign(claims, o);
  }

  /** The client secret of a token or revocation request: Apple's rules for it. */
  async function clientSecretOk(clientId: string | null, secret: string | null): Promise<boolean> {
    if (!clientId || !secret || !opts.clientIds.includes(clientId)) return false;
    try {
      const { payload, protectedHeader } = await jwtVerify(secret, teamKey.publicKey, { algorithms: ['ES256'], issuer: teamId, audience: APPLE_ISSUER, subject: clientId });
      if (protectedHeader.kid !== keyId) return false;
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 15_777_000) return false;
      fake.acceptedSecrets.push(secret);
      return true;
    } catch {
      return false;
    }
  }

  const fake: FakeAppleId = {
    url,
    teamId,
    keyId,
    p8,
    endpoints: () => ({
      authorizationEndpoint: `${url}/auth/authorize`,
      tokenEndpoint: `${url}/auth/token`,
      revocationEndpoint: `${url}/auth/revoke`,
      jwksUri: `${url}/auth/keys`,
    }),
    user: { sub: '000111.apple-user-1.0001', email: 'ann@privaterelay.appleid.com', email_verified: 'true', is_private_email: 'true', firstName: 'Ann', lastName: 'Example' },
    failNextAuthorization(error) {
      nextAuthorizationError = error;
    },
    wrongNonceNext: false,
    failRevocations: false,
    idToken: (user, overrides = {}, o = {}) => idTokenFor(user, opts.clientIds[0]!, overrides, o),
    rotateKey: keys.rotate,
    pastedClientSecret: (clientId, o = {}) => {
      const iat = o.iat ?? Math.floor(Date.now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: keyId })
        .setIssuer(teamId)
        .setSubject(clientId)
        .setAudience(APPLE_ISSUER)
        .setIssuedAt(iat)
        .setExpirationTime(iat + (o.expiresIn ?? 86_400 * 180))
        .sign(teamKey.privateKey);
    },
    requests: server.requests,
    acceptedSecrets: [],
    revoked: [],
    refreshTokens,
    close: server.close,
  };

  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  /** Apple's form_post answer: a page whose form posts itself to the redirect URI. */
  function formPost(res: ServerResponse, action: string, fields: Record<string, string>) {
    const inputs = Object.entries(fields)
      .map(([k, v]) => `<input type="hidden" name="${escape(k)}" value="${escape(v)}">`)
      .join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html><body onload="document.forms[0].submit()"><form method="POST" action="${escape(action)}">${inputs}</form></body></html>`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    if (req.method === 'GET' && u.pathname === '/auth/keys') return json(res, 200, keys.jwks());
    if (req.method === 'GET' && u.pathname === '/auth/authorize') {
      const q = u.searchParams;
      fake.lastAuthorization = q;
      const redirectUri = q.get('redirect_uri');
      const clientId = q.get('client_id') ?? '';
      if (!opts.clientIds.includes(clientId) || !redirectUri) return json(res, 400, { error: 'invalid_client' });
      const scopes = (q.get('scope') ?? '').split(' ').filter(Boolean);
      if (scopes.some((s) => s !== 'name' && s !== 'email')) return json(res, 400, { error: 'invalid_scope' });
      // Apple: "response_mode must be form_post when name or email scope is requested".
      if (scopes.length > 0 && q.get('response_mode') !== 'form_post') return json(res, 400, { error: 'invalid_request', error_description: 'response_mode must be form_post' });
      if (q.get('response_type') !== 'code') return json(res, 400, { error: 'unsupported_response_type' });
      const state = q.get('state') ?? '';
      if (nextAuthorizationError) {
        const error = nextAuthorizationError;
        nextAuthorizationError = null;
        return formPost(res, redirectUri, { error, state });
      }
      const user = fake.user;
      const code = `c${randomBytes(16).toString('hex')}.0.nrxq.${randomBytes(8).toString('hex')}`;
      codes.set(code, { user, clientId, redirectUri, nonce: q.get('nonce') ?? undefined });
      const fields: Record<string, string> = { state, code, id_token: await idTokenFor(user, clientId, {}, { nonce: q.get('nonce') ?? undefined }) };
      // The name (and email) come only with the first authorization of this app by this user.
      const firstTime = !authorizedBefore.has(`${clientId}:${user.sub}`);
      authorizedBefore.add(`${clientId}:${user.sub}`);
      if (firstTime && scopes.includes('name')) fields.user = JSON.stringify({ name: { firstName: user.firstName, lastName: user.lastName }, email: user.email });
      return formPost(res, redirectUri, fields);
    }
    if (req.method === 'POST' && u.pathname === '/auth/token') {
      const form = await readForm(req);
      if (!(await clientSecretOk(form.get('client_id'), form.get('client_secret')))) return json(res, 400, { error: 'invalid_client' });
      if (form.get('grant_type') !== 'authorization_code') return json(res, 400, { error: 'unsupported_grant_type' });
      const code = form.get('code') ?? '';
      const issued = codes.get(code);
      codes.delete(code);
      if (!issued || issued.clientId !== form.get('client_id')) return json(res, 400, { error: 'invalid_grant', error_description: 'The code has expired or has been revoked.' });
      if (form.get('redirect_uri') !== issued.redirectUri) return json(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri mismatch' });
      const nonce = fake.wrongNonceNext ? 'not-the-nonce' : issued.nonce;
      fake.wrongNonceNext = false;
      const refreshToken = `r${randomBytes(16).toString('hex')}.0.nrxq.${randomBytes(8).toString('hex')}`;
      refreshTokens.set(issued.user.sub, refreshToken);
      return json(res, 200, {
        access_token: `a${randomBytes(16).toString('hex')}`,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: refreshToken,
        id_token: await idTokenFor(issued.user, issued.clientId, {}, { nonce }),
      });
    }
    if (req.method === 'POST' && u.pathname === '/auth/revoke') {
      if (fake.failRevocations) return json(res, 503, { error: 'temporarily_unavailable' });
      const form = await readForm(req);
      if (!(await clientSecretOk(form.get('client_id'), form.get('client_secret')))) return json(res, 400, { error: 'invalid_client' });
      const token = form.get('token');
      if (!token) return json(res, 400, { error: 'invalid_request' });
      fake.revoked.push(token);
      res.writeHead(200);
      return void res.end();
    }
    json(res, 404, { error: 'not_found' });
  }

  return fake;
}
