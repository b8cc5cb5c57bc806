// A local OpenID Connect provider standing in for Google, on loopback: an authorization endpoint
// that logs the configured test user in at once and redirects back with a code, a token endpoint
// (client_secret_post or basic, PKCE S256, single-use codes bound to their redirect_uri) that
// issues RS256 id_tokens, a JWK set, userinfo and a discovery document. Real protocol, no internet.

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import { readForm, sendJson as json, serveLoopback, signingKeys } from './loopback-idp.js';

export interface OidcUser {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  picture?: string;
}

interface IssuedCode {
  user: OidcUser;
  clientId: string;
  redirectUri: string;
  nonce?: string;
  codeChallenge?: string;
  scope: string;
}

export interface FakeOidcProvider {
  readonly url: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Baste provider `config` pointing every endpoint here. */
  endpoints(): Record<string, string>;
  /** Who "signs in" at the authorization endpoint next. */
  user: OidcUser;
  /** The next authorization request answers `error=<error>` instead of a code. */
  failNextAuthorization(error: string): void;
  /** Claims to put in id_tokens: false drops the profile claims (then only userinfo has them). */
  profileInIdToken: boolean;
  /** A code as a mobile app's Google Sign-In would obtain it (for the `{authCode}` credential). */
  issueAuthCode(user: OidcUser, redirectUri: string, opts?: { scope?: string }): string;
  /** An id_token as Google would sign it; overrides change claims, `foreignKey` signs with a key not in the JWK set. */
  idToken(user: OidcUser, overrides?: Record<string, unknown>, opts?: { foreignKey?: boolean; alg?: 'RS256' | 'HS256' }): Promise<string>;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startOidcProvider(opts: { clientId?: string; clientSecret?: string } = {}): Promise<FakeOidcProvider> {
  const clientId = opts.clientId ?? 'google-client-id.apps.example';
  const clientSecret = opts.clientSecret ?? 'google-client-secret';
  const keys = await signingKeys(() => 'test-key-1');
  const codes = new Map<string, IssuedCode>();
  const accessTokens = new Map<string, OidcUser>();
  let nextAuthorizationError: string | null = null;
  const server = await serveLoopback(handle);
  const url = server.url;
  const issuer = url;

  const fake: FakeOidcProvider = {
    url,
    issuer,
    clientId,
    clientSecret,
    endpoints: () => ({
      issuer,
      authorizationEndpoint: `${url}/authorize`,
      tokenEndpoint: `${url}/token`,
      userinfoEndpoint: `${url}/userinfo`,
      jwksUri: `${url}/jwks`,
    }),
    user: { sub: 'google-user-1', email: 'ann@example.com', email_verified: true, name: 'Ann Example', given_name: 'Ann', family_name: 'Example', picture: 'https://pics.example/ann.png' },
    profileInIdToken: true,
    failNextAuthorization(error) {
      nextAuthorizationError = error;
    },
    issueAuthCode(user, redirectUri, o = {}) {
      const code = randomBytes(16).toString('hex');
      codes.set(code, { user, clientId, redirectUri, scope: o.scope ?? 'openid email profile' });
      return code;
    },
    idToken: (user, overrides = {}, o = {}) => signIdToken(user, overrides, o.foreignKey ?? false, o.alg ?? 'RS256'),
    requests: server.requests,
    close: server.close,
  };

  async function signIdToken(user: OidcUser, overrides: Record<string, unknown>, foreignKey: boolean, alg: string, nonce?: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const { sub, ...profile } = user;
    const claims: Record<string, unknown> = {
      iss: issuer,
      aud: clientId,
      sub,
      iat: now,
      exp: now + 3600,
      ...(fake.profileInIdToken ? profile : {}),
      ...(nonce ? { nonce } : {}),
      ...overrides,
    };
    if (alg === 'HS256') {
      // A token signed with the client secret (an algorithm confusion attempt): never accepted.
      for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
      return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: keys.currentKid }).sign(new TextEncoder().encode(clientSecret));
    }
    return keys.sign(claims, { foreignKey, typ: 'JWT' });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, u: URL): Promise<void> {
    if (req.method === 'GET' && u.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${url}/authorize`,
        token_endpoint: `${url}/token`,
        userinfo_endpoint: `${url}/userinfo`,
        jwks_uri: `${url}/jwks`,
        response_types_supported: ['code'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      });
    }
    if (req.method === 'GET' && u.pathname === '/jwks') return json(res, 200, keys.jwks());
    if (req.method === 'GET' && u.pathname === '/authorize') {
      const q = u.searchParams;
      const redirectUri = q.get('redirect_uri');
      if (q.get('client_id') !== clientId || !redirectUri) return json(res, 400, { error: 'invalid_request', error_description: 'unknown client or no redirect_uri' });
      const back = new URL(redirectUri);
      const state = q.get('state');
      if (state) back.searchParams.set('state', state);
      if (nextAuthorizationError) {
        back.searchParams.set('error', nextAuthorizationError);
        back.searchParams.set('error_description', 'the user said no');
        nextAuthorizationError = null;
      } else {
        if (q.get('response_type') !== 'code') return json(res, 400, { error: 'unsupported_response_type' });
        if (q.get('code_challenge_method') && q.get('code_challenge_method') !== 'S256') return json(res, 400, { error: 'invalid_request' });
        const code = randomBytes(16).toString('hex');
        codes.set(code, {
          user: fake.user,
          clientId,
          redirectUri,
          nonce: q.get('nonce') ?? undefined,
          codeChallenge: q.get('code_challenge') ?? undefined,
          scope: q.get('scope') ?? '',
        });
        back.searchParams.set('code', code);
        back.searchParams.set('scope', q.get('scope') ?? '');
        back.searchParams.set('iss', issuer);
      }
      res.writeHead(302, { location: back.href });
      return void res.end();
    }
    if (req.method === 'POST' && u.pathname === '/token') {
      const form = await readForm(req);
      let id = form.get('client_id');
      let secret = form.get('client_secret');
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
      if (basic) [id, secret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent) as [string, string];
      if (id !== clientId || secret !== clientSecret) return json(res, 401, { error: 'invalid_client' });
      if (form.get('grant_type') !== 'authorization_code') return json(res, 400, { error: 'unsupported_grant_type' });
      const code = form.get('code') ?? '';
      const issued = codes.get(code);
      codes.delete(code);
      if (!issued) return json(res, 400, { error: 'invalid_grant', error_description: 'Bad Request' });
      if (form.get('redirect_uri') !== issued.redirectUri) return json(res, 400, { error: 'redirect_uri_mismatch' });
      if (issued.codeChallenge) {
        const verifier = form.get('code_verifier') ?? '';
        if (createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge) return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE' });
      }
      const accessToken = randomBytes(16).toString('hex');
      accessTokens.set(accessToken, issued.user);
      const withIdToken = issued.scope.split(' ').includes('openid');
      return json(res, 200, {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: 3599,
        scope: issued.scope,
        ...(withIdToken ? { id_token: await signIdToken(issued.user, {}, false, 'RS256', issued.nonce) } : {}),
      });
    }
    if (req.method === 'GET' && u.pathname === '/userinfo') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const user = token ? accessTokens.get(token) : undefined;
      if (!user) return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return json(res, 200, user);
    }
    json(res, 404, { error: 'not_found' });
  }

  return fake;
}
