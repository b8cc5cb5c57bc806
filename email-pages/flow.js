// Shared by the confirm and reset pages: the one-time token from the address, the call to this
// server's email/password route, and what to tell the person for each answer.

/** The app id from `/app/{appId}/confirm` or `/app/{appId}/reset`. */
const appId = decodeURIComponent(location.pathname.split('/')[2] ?? '');

/**
 * `token` and `tokenId` from the address, which is then cleared of them: the one-time token
 * should not stay in the history or the address bar once it has been read.
 */
export function takeTokens() {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  const tokenId = params.get('tokenId');
  if (params.has('token') || params.has('tokenId')) history.replaceState(null, '', location.pathname);
  return token && tokenId ? { token, tokenId } : null;
}

/** POSTs to `…/auth/providers/local-userpass/{route}`; resolves to null on success, else a message for the person. */
export async function call(route, body) {
  const url = `/api/client/v2.0/app/${encodeURIComponent(appId)}/auth/providers/local-userpass/${route}`;
  let res;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), cache: 'no-store' });
  } catch {
    return 'The server could not be reached. Check your connection and try again.';
  }
  if (res.ok) return null;
  const error = await res.json().catch(() => ({}));
  return messageFor(res.status, error);
}

function messageFor(status, { error_code: code, error: text }) {
  if (code === 'UserpassTokenInvalid') return 'This link is not valid any more: each link works once, for 30 minutes. Ask the app to send you a new one.';
  if (status === 429 || code === 'TooManyRequests') return 'Too many attempts. Wait a few minutes, then try again.';
  if (code === 'InvalidParameter' || code === 'MissingParameter') return typeof text === 'string' && text ? `${text[0].toUpperCase()}${text.slice(1)}.` : 'The request was not valid.';
  if (status >= 500) return 'The server could not do this just now. Try again in a moment.';
  return typeof text === 'string' && text ? `This did not work: ${text}.` : 'This did not work.';
}

export const INCOMPLETE_LINK = 'This link is incomplete. Open the whole link from the email (or copy all of it into the address bar).';

/** Shows `text` in the page's status (polite) or error (alert) region; the other is emptied. */
export function say(kind, text) {
  document.getElementById(kind === 'error' ? 'status' : 'error').textContent = '';
  document.getElementById(kind === 'error' ? 'error' : 'status').textContent = text;
}
