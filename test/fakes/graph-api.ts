// A local double of Facebook's Graph API and login dialog, on loopback: `/debug_token` (needs the
// app token `appId|appSecret`), `/me` (needs a valid user token and the right `appsecret_proof`),
// the OAuth dialog (logs the configured user in at once) and `/oauth/access_token`.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FacebookUser {
  id: string;
  name?: string;
  email?: string;
  first_name?: string;
  last_name?: string;
  picture?: string;
}

interface UserToken {
  user: FacebookUser;
  appId: string;
  expiresAt: number;
}

export interface FakeGraphApi {
  readonly url: string;
  readonly appId: string;
  readonly appSecret: string;
  /** Baste provider `config` pointing every endpoint here. */
  endpoints(): Record<string, string>;
  /** Who "logs in" at the dialog next. */
  user: FacebookUser;
  failNextDialog(error: string): void;
  /** A user access token as the Facebook SDK would hand the app. */
  userToken(user: FacebookUser, opts?: { appId?: string; expiresInSeconds?: number }): string;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startGraphApi(opts: { appId?: string; appSecret?: string } = {}): Promise<FakeGraphApi> {
  const appId = opts.appId ?? '1234567890';
  const appSecret = opts.appSecret ?? 'facebook-app-secret';
  const tokens = new Map<string, UserToken>();
  const codes = new Map<string, { user: FacebookUser; redirectUri: string; codeChallenge?: string }>();
  const requests: string[] = [];
  let nextDialogError: string | null = null;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const mint = (user: FacebookUser, forApp: string, expiresInSeconds: number) => {
    const token = `EAA${randomBytes(24).toString('hex')}`;
    tokens.set(token, { user, appId: forApp, expiresAt: Math.floor(Date.now() / 1000) + expiresInSeconds });
    return token;
  };

  const fake: FakeGraphApi = {
    url,
    appId,
    appSecret,
    endpoints: () => ({ graphApiUrl: `${url}/v21.0`, dialogUrl: `${url}/dialog/oauth` }),
    user: { id: '10001', name: 'Fay Book', email: 'fay@example.com', first_name: 'Fay', last_name: 'Book', picture: 'https://pics.example/fay.jpg' },
    failNextDialog(error) {
      nextDialogError = error;
    },
    userToken: (user, o = {}) => mint(user, o.appId ?? appId, o.expiresInSeconds ?? 3600),
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  function json(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  }
  const oauthError = (res: ServerResponse, message: string, code = 190) =>
    json(res, 400, { error: { message, type: 'OAuthException', code, fbtrace_id: 'test' } });

  async function params(req: IncomingMessage, u: URL): Promise<URLSearchParams> {
    if (req.method !== 'POST') return u.searchParams;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    for (const [k, v] of u.searchParams) if (!form.has(k)) form.set(k, v);
    return form;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', url);
    const path = u.pathname.replace(/^\/v\d+\.\d+/, '');
    requests.push(path);
    const p = await params(req, u);
    const bearer = /^(?:Bearer|OAuth) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const accessToken = p.get('access_token') ?? bearer;

    if (req.method === 'GET' && path === '/debug_token') {
      if (accessToken !== `${appId}|${appSecret}`) return oauthError(res, 'Invalid OAuth access token signature.');
      const input = p.get('input_token') ?? '';
      const t = tokens.get(input);
      if (!t) return json(res, 200, { data: { is_valid: false, error: { code: 190, message: 'Invalid OAuth access token.' }, scopes: [] } });
      const expired = t.expiresAt <= Math.floor(Date.now() / 1000);
      return json(res, 200, {
        data: {
          app_id: t.appId,
          type: 'USER',
          application: 'Test app',
          data_access_expires_at: t.expiresAt + 86400,
          expires_at: t.expiresAt,
          is_valid: !expired,
          ...(expired ? { error: { code: 190, message: 'Error validating access token: Session has expired.', subcode: 463 } } : {}),
          scopes: ['email', 'public_profile'],
          user_id: t.user.id,
        },
      });
    }
    if (req.method === 'GET' && path === '/me') {
      const t = accessToken ? tokens.get(accessToken) : undefined;
      if (!t || t.expiresAt <= Math.floor(Date.now() / 1000)) return oauthError(res, 'Invalid OAuth access token.');
      const proof = createHmac('sha256', appSecret).update(accessToken!).digest('hex');
      if (t.appId === appId && p.get('appsecret_proof') !== proof) return oauthError(res, 'Invalid appsecret_proof provided in the API argument', 100);
      const fields = (p.get('fields') ?? 'id,name').split(',');
      const out: Record<string, unknown> = {};
      for (const f of fields) {
        const v = (t.user as unknown as Record<string, unknown>)[f];
        if (v === undefined) continue;
        out[f] = f === 'picture' ? { data: { height: 50, width: 50, is_silhouette: false, url: v } } : v;
      }
      return json(res, 200, out);
    }
    if (req.method === 'GET' && path === '/dialog/oauth') {
      const redirectUri = p.get('redirect_uri');
      if (p.get('client_id') !== appId || !redirectUri) return json(res, 400, { error: { message: 'Invalid app ID or redirect_uri' } });
      const back = new URL(redirectUri);
      const state = p.get('state');
      if (nextDialogError) {
        back.searchParams.set('error', nextDialogError);
        back.searchParams.set('error_reason', 'user_denied');
        back.searchParams.set('error_description', 'Permissions error');
        nextDialogError = null;
      } else {
        const code = randomBytes(16).toString('hex');
        codes.set(code, { user: fake.user, redirectUri, codeChallenge: p.get('code_challenge') ?? undefined });
        back.searchParams.set('code', code);
      }
      if (state) back.searchParams.set('state', state);
      back.hash = '_=_';
      res.writeHead(302, { location: back.href });
      return void res.end();
    }
    if (path === '/oauth/access_token') {
      if (p.get('client_id') !== appId || p.get('client_secret') !== appSecret) return oauthError(res, 'Error validating client secret.', 1);
      const code = p.get('code') ?? '';
      const issued = codes.get(code);
      codes.delete(code);
      if (!issued) return oauthError(res, 'This authorization code has been used.', 100);
      if (p.get('redirect_uri') !== issued.redirectUri) return oauthError(res, 'Error validating verification code. Please make sure your redirect_uri is identical', 100);
      if (issued.codeChallenge) {
        const verifier = p.get('code_verifier') ?? '';
        if (createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge) return oauthError(res, 'Invalid code verifier', 100);
      }
      return json(res, 200, { access_token: mint(issued.user, appId, 5_183_944), token_type: 'bearer', expires_in: 5_183_944 });
    }
    json(res, 404, { error: { message: `Unknown path components: ${path}`, type: 'OAuthException', code: 2500 } });
  }

  return fake;
}
