// The admin API, as the console uses it: the admin token comes from sessionStorage (this tab
// only, gone when it closes) and is sent as a bearer token to the same server.

const TOKEN_KEY = 'baste.adminToken';
const APP_KEY = 'baste.app';
const ROOT = '/api/admin/v3.0';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get app() {
    const raw = sessionStorage.getItem(APP_KEY);
    return raw ? JSON.parse(raw) : null;
  },
  save(token, app) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(APP_KEY, JSON.stringify(app));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(APP_KEY);
  },
};

/** One request; resolves to `{ body, next }` (`next`: the cursor of the next page, if any). */
async function request(method, url, { token = session.token, body } = {}) {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'NetworkError', 'The server cannot be reached.');
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    throw new ApiError(res.status, json?.error_code ?? 'Error', json?.error ?? `The server answered ${res.status}.`);
  }
  return { body: json, next: res.headers.get('x-baste-next-after') };
}

/** Checks a token and finds the app it manages. */
export async function signIn(token) {
  const { body } = await request('GET', `${ROOT}/apps`, { token });
  const app = body?.[0];
  if (!app) throw new ApiError(404, 'AppNotFound', 'This server serves no app.');
  session.save(token, app);
  return app;
}

const appPath = (path) => `${ROOT}/apps/${encodeURIComponent(session.app.client_app_id)}${path}`;
const query = (params) => {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const s = q.toString();
  return s ? `?${s}` : '';
};
const seg = encodeURIComponent;

export const api = {
  users: (params) => request('GET', appPath(`/users${query(params)}`)),
  user: (id) => request('GET', appPath(`/users/${seg(id)}`)),
  setUserDisabled: (id, disabled) => request('PUT', appPath(`/users/${seg(id)}/${disabled ? 'disable' : 'enable'}`)),
  revokeSessions: (id) => request('PUT', appPath(`/users/${seg(id)}/logout`)),
  revokeSession: (id, sessionId) => request('DELETE', appPath(`/users/${seg(id)}/sessions/${seg(sessionId)}`)),
  deleteUser: (id) => request('DELETE', appPath(`/users/${seg(id)}`)),
  userApiKeys: (id) => request('GET', appPath(`/users/${seg(id)}/api_keys`)),
  createUser: (email, password) => request('POST', appPath('/users'), { body: { email, password } }),
  pending: (params) => request('GET', appPath(`/user_registrations${query(params)}`)),
  confirmPending: (email) => request('POST', appPath(`/user_registrations/by_email/${seg(email)}/confirm`)),
  sendConfirmation: (email) => request('POST', appPath(`/user_registrations/by_email/${seg(email)}/send_confirm`)),
  deletePending: (email) => request('DELETE', appPath(`/user_registrations/by_email/${seg(email)}`)),
  apiKeys: () => request('GET', appPath('/api_keys')),
  createApiKey: (name) => request('POST', appPath('/api_keys'), { body: { name } }),
  setApiKeyDisabled: (id, disabled) => request('PUT', appPath(`/api_keys/${seg(id)}/${disabled ? 'disable' : 'enable'}`)),
  deleteApiKey: (id) => request('DELETE', appPath(`/api_keys/${seg(id)}`)),
  providers: () => request('GET', appPath('/auth_providers')),
  audit: (params) => request('GET', appPath(`/audit_log${query(params)}`)),
  triggers: () => request('GET', appPath('/triggers')),
  resumeTrigger: (id, skipPending) => request('PUT', appPath(`/triggers/${seg(id)}/resume`), { body: { disable_token: skipPending } }),
};
