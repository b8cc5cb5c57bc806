// The Baste admin console: a few views over the admin API, routed by the URL fragment
// (#/users, #/users/<id>, #/pending, #/api-keys, #/providers, #/triggers, #/audit). Plain ES modules, no build.
// `?key=<id>`, `?trigger=<id>` and `?email=<address>` mark a row of their view (audit log links).

import { api, ApiError, session, signIn } from './api.js';
import { badge, code, date, facts, h, json, table } from './dom.js';

const main = document.getElementById('main');
const statusEl = document.getElementById('status');
const errorEl = document.getElementById('error');
const nav = document.getElementById('nav');
const signOutButton = document.getElementById('sign-out');
const appName = document.getElementById('app-name');
const dialog = document.getElementById('confirm');

// ---- messages, confirmation, navigation ------------------------------------------------------

function say(text) {
  errorEl.textContent = '';
  statusEl.textContent = text;
}

function fail(err) {
  statusEl.textContent = '';
  errorEl.textContent = err instanceof ApiError ? `${err.message} (${err.code})` : String(err?.message ?? err);
}

function clearMessages() {
  statusEl.textContent = '';
  errorEl.textContent = '';
}

/** Asks before a change; resolves true when confirmed. Escape and Cancel say no. */
function confirmAction(title, text, okLabel) {
  dialog.querySelector('#confirm-title').textContent = title;
  dialog.querySelector('#confirm-text').textContent = text;
  dialog.querySelector('#confirm-ok').textContent = okLabel;
  dialog.returnValue = 'cancel';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

/** A message to show once the next view is on screen. */
let flash = null;

/**
 * Counts the views asked for: a view, or an action's reload, that finishes after the operator has
 * moved on must not draw over the view they are on now.
 */
let viewSeq = 0;

/**
 * Runs an action of a view, then `next`: a function that shows the view again, the hash of
 * another view, or a function returning such a hash. Its message (or its error) ends up in the
 * live regions either way, replacing an earlier one: a success leaves no stale error behind.
 */
async function act(run, next) {
  const seq = viewSeq;
  try {
    const message = await run();
    if (seq !== viewSeq) {
      // The operator went elsewhere meanwhile: tell them how it ended, and leave their view be.
      if (message) say(message);
      return;
    }
    const target = typeof next === 'function' ? await next() : next;
    if (typeof target === 'string') {
      flash = message;
      go(target);
      return;
    }
    if (message) say(message);
    else clearMessages();
  } catch (err) {
    if (!handleAuth(err)) fail(err);
  }
}

/** A refused token ends the console session. */
function handleAuth(err) {
  if (err instanceof ApiError && err.status === 401) {
    session.clear();
    render().then(() => fail(new Error('The admin token was refused: sign in again.')));
    return true;
  }
  return false;
}

function route() {
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  return { parts: (path || '/users').split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search) };
}

/** Shows the view of the current hash, with focus on its heading. Messages of the last view go. */
async function navigate() {
  clearMessages();
  const seq = await render();
  if (seq !== viewSeq) return;
  if (flash) say(flash);
  flash = null;
  main.querySelector('h1')?.focus();
}

const go = (hash) => {
  if (location.hash === hash) navigate();
  else location.hash = hash;
};

/** Puts a view on screen, unless the operator has asked for another since it started (`seq`). */
function show(seq, title, ...content) {
  if (seq !== viewSeq) return false;
  document.title = `${title} · Baste admin`;
  main.replaceChildren(h('h1', { tabindex: '-1', id: 'view-title' }, title), ...content.filter(Boolean));
  return true;
}

/** Marks the row a link pointed at (`?key=…` and the like) and brings it into view. */
function markTarget() {
  const row = main.querySelector('tr.target');
  row?.scrollIntoView({ block: 'center' });
}

function setSection(section) {
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** A "next page" link when the list has more. */
function pager(base, params, next) {
  const links = [];
  if (params.get('after')) {
    const first = new URLSearchParams(params);
    first.delete('after');
    links.push(h('a', { href: `${base}?${first}` }, '← First page'));
  }
  if (next) {
    const more = new URLSearchParams(params);
    more.set('after', next);
    links.push(h('a', { href: `${base}?${more}`, rel: 'next' }, 'Next page →'));
  }
  return links.length ? h('nav', { class: 'pager', 'aria-label': 'Pages' }, links) : null;
}

// ---- sign in ---------------------------------------------------------------------------------

function signInView(seq) {
  nav.hidden = true;
  signOutButton.hidden = true;
  appName.textContent = '';
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'token-help' });
  const form = h(
    'form',
    { class: 'card narrow' },
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('p', { id: 'token-help', class: 'help' }, 'Create one on the server with ', code('baste admin-token create --app <dir> --name <name>'), ' (the server\'s ', code('--data-dir'), ' too, if it has one; ', code('npx baste …'), ' from a clone of Baste). It is kept in this tab only.'),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await signIn(input.value.trim());
      clearMessages();
      go('#/users');
    } catch (err) {
      fail(err.status === 401 ? new Error('That admin token was refused.') : err);
      input.focus();
    }
  });
  if (show(seq, 'Sign in', form)) input.focus();
}

// ---- users -----------------------------------------------------------------------------------

const who = (user) => user.data?.email ?? user.data?.name ?? '(no email or name)';
const providerTypes = (user) => [...new Set(user.identities.map((i) => i.provider_type))].join(', ') || '—';
const stateBadge = (disabled) => (disabled ? badge('Disabled', 'off') : badge('Enabled', 'on'));

async function usersView(seq, params) {
  setSection('users');
  const [{ body: users, next }, { body: providers }] = await Promise.all([
    api.users({ search: params.get('search'), provider_type: params.get('provider'), after: params.get('after') }),
    api.providers(),
  ]);
  const search = h('input', { id: 'search', name: 'search', type: 'search', value: params.get('search') ?? '', autocomplete: 'off' });
  const types = [...new Set(providers.map((p) => p.type))].sort();
  const provider = h(
    'select',
    { id: 'provider', name: 'provider' },
    h('option', { value: '' }, 'All providers'),
    types.map((t) => h('option', { value: t, selected: t === params.get('provider') }, t)),
  );
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Find users' },
    h('div', {}, h('label', { for: 'search' }, 'Email, name or user id'), search),
    h('div', {}, h('label', { for: 'provider' }, 'Provider'), provider),
    h('button', { type: 'submit' }, 'Search'),
  );
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (search.value.trim()) q.set('search', search.value.trim());
    if (provider.value) q.set('provider', provider.value);
    go(`#/users${q.toString() ? `?${q}` : ''}`);
  });
  const rows = users.map((u) => [
    h('a', { href: `#/users/${encodeURIComponent(u._id)}` }, who(u)),
    code(u._id),
    providerTypes(u),
    u.type,
    stateBadge(u.disabled),
    date(u.creation_date),
    date(u.last_authentication_date),
  ]);
  const filtered = params.get('search') || params.get('provider');
  show(
    seq,
    'Users',
    filters,
    table(`${users.length} user${users.length === 1 ? '' : 's'}${next ? ' on this page' : ''}`, ['User', 'ID', 'Providers', 'Type', 'State', 'Created', 'Last login'], rows, {
      empty: filtered ? 'No user matches.' : 'No users yet.',
    }),
    pager('#/users', params, next),
    createUserForm(),
  );
}

function createUserForm() {
  const email = h('input', { id: 'new-email', type: 'email', required: true, autocomplete: 'off' });
  const password = h('input', { id: 'new-password', type: 'password', required: true, minlength: 6, maxlength: 128, autocomplete: 'new-password' });
  const form = h(
    'form',
    { class: 'card' },
    h('h2', {}, 'Add an email/password user'),
    h('p', { class: 'help' }, 'The user is confirmed at once; no email is sent.'),
    h('div', { class: 'row' }, h('div', {}, h('label', { for: 'new-email' }, 'Email'), email), h('div', {}, h('label', { for: 'new-password' }, 'Password'), password)),
    h('button', { type: 'submit' }, 'Add user'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    let created;
    act(
      async () => {
        created = (await api.createUser(email.value, password.value)).body;
        return `User ${created.data.email} added.`;
      },
      () => `#/users/${encodeURIComponent(created._id)}`,
    );
  });
  return h('details', { class: 'add' }, h('summary', {}, 'Add a user'), form);
}

async function userView(seq, id) {
  setSection('users');
  let user;
  let keys;
  try {
    [user, keys] = (await Promise.all([api.user(id), api.userApiKeys(id)])).map((r) => r.body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      show(seq, 'User not found', h('p', {}, 'No user has the id ', code(id), '.'), h('p', {}, h('a', { href: '#/users' }, '← All users')));
      return;
    }
    throw err;
  }
  const reload = () => userView(seq, id).then(() => focusView(seq));
  const actions = h(
    'div',
    { class: 'actions', role: 'group', 'aria-label': 'Actions' },
    h('button', {
      type: 'button',
      class: user.disabled ? '' : 'danger',
      onclick: async () => {
        const disable = !user.disabled;
        const asked = disable
          ? confirmAction('Disable this user?', `${who(user)} is logged out everywhere and cannot log in until enabled again.`, 'Disable user')
          : confirmAction('Enable this user?', `${who(user)} can log in again.`, 'Enable user');
        if (!(await asked)) return;
        act(async () => {
          await api.setUserDisabled(user._id, disable);
          return disable ? 'User disabled: every session has ended.' : 'User enabled: they can log in again.';
        }, reload);
      },
    }, user.disabled ? 'Enable user' : 'Disable user'),
    h('button', {
      type: 'button',
      onclick: async () => {
        if (!(await confirmAction('Revoke all sessions?', `${who(user)} is logged out on every device and must log in again.`, 'Revoke sessions'))) return;
        act(async () => {
          await api.revokeSessions(user._id);
          return 'Every session of this user has ended.';
        }, reload);
      },
    }, 'Revoke sessions'),
    h('button', {
      type: 'button',
      class: 'danger',
      onclick: async () => {
        if (!(await confirmAction('Delete this user?', `${who(user)} and their identities are removed for good. This cannot be undone.`, 'Delete user'))) return;
        act(async () => {
          await api.deleteUser(user._id);
          return `User ${who(user)} deleted.`;
        }, '#/users');
      },
    }, 'Delete user'),
  );
  show(
    seq,
    who(user),
    h('p', {}, h('a', { href: '#/users' }, '← All users')),
    facts([
      ['User ID', code(user._id)],
      ['State', stateBadge(user.disabled)],
      ['Type', user.type],
      ['Created', date(user.creation_date)],
      ['Last login', date(user.last_authentication_date)],
      ['Active sessions', String(user.active_sessions)],
    ]),
    actions,
    h('h2', {}, 'Identities'),
    table(
      'How this user logs in',
      ['Provider type', 'Provider name', 'Identity ID', 'Provider data'],
      user.identities.map((i) => [i.provider_type, i.provider_name, code(i.id), json(i.provider_data)]),
      { empty: 'No identities.' },
    ),
    h('h2', {}, 'User data'),
    json(user.data),
    h('h2', {}, 'Custom data'),
    Object.keys(user.custom_data).length ? json(user.custom_data) : h('p', { class: 'empty' }, 'No custom user data.'),
    h('h2', {}, 'Sessions'),
    table(
      `${user.active_sessions} active session${user.active_sessions === 1 ? '' : 's'}`,
      ['Session', 'Provider', 'Device', 'Address', 'Started', 'Last used', 'Expires', ''],
      user.sessions.map((s) => [
        code(s._id),
        s.provider_name,
        h('span', {}, code(s.device_id), s.device ? ` ${[s.device.platform, s.device.platform_version].filter(Boolean).join(' ')}` : ''),
        s.address ?? '—',
        date(s.creation_date),
        date(s.last_used_date),
        date(s.expiration_date),
        // Ends this session only: the user stays logged in on their other devices.
        h('button', {
          type: 'button',
          class: 'danger',
          'aria-label': `Revoke session ${s._id}`,
          onclick: async () => {
            if (!(await confirmAction('Revoke this session?', `${who(user)} is logged out on this device only (${s.device?.platform ?? s.device_id}, ${s.address ?? 'unknown address'}).`, 'Revoke session'))) return;
            act(async () => {
              await api.revokeSession(user._id, s._id);
              return 'The session has ended; the user’s other sessions go on.';
            }, reload);
          },
        }, 'Revoke'),
      ]),
      { empty: 'No active sessions.' },
    ),
    h('h2', {}, 'Devices'),
    table(
      'Devices seen at login',
      ['Device', 'Platform', 'SDK', 'App version', 'Last seen'],
      user.devices.map((d) => [code(d.device_id), [d.platform, d.platform_version].filter(Boolean).join(' ') || '—', d.sdk_version ?? '—', d.app_version ?? '—', date(d.last_seen_date)]),
      { empty: 'No devices.' },
    ),
    h('h2', {}, 'API keys'),
    user.type === 'server'
      ? h('p', { class: 'help' }, 'A server API key\u2019s user: its key is managed under ', h('a', { href: '#/api-keys' }, 'API keys'), '.')
      : h('p', { class: 'help' }, 'Keys this user made through the SDK to log in with. Their secrets are never shown.'),
    table(
      `${keys.length} API key${keys.length === 1 ? '' : 's'}`,
      ['Name', 'ID', 'State', 'Created'],
      keys.map((k) => [
        user.type === 'server' ? h('a', { href: `#/api-keys?key=${encodeURIComponent(k._id)}` }, k.name) : k.name,
        code(k._id),
        stateBadge(k.disabled),
        date(k.creation_date),
      ]),
      { empty: 'No API keys.' },
    ),
  );
}

// ---- pending registrations ---------------------------------------------------------------------

async function pendingView(seq, params) {
  setSection('pending');
  const { body: pending, next } = await api.pending({ after: params.get('after') });
  const reload = () => pendingView(seq, params).then(() => focusView(seq));
  const rows = pending.map((p) => {
    const login = p.login_ids[0];
    const email = login.id;
    const buttons = [];
    if (!login.confirmed) {
      buttons.push(
        h('button', {
          type: 'button',
          'aria-label': `Confirm ${email}`,
          onclick: async () => {
            if (!(await confirmAction('Confirm this user?', `${email} becomes a confirmed user who can log in.`, 'Confirm user'))) return;
            act(async () => {
              await api.confirmPending(email);
              return `${email} confirmed.`;
            }, reload);
          },
        }, 'Confirm'),
        h('button', {
          type: 'button',
          'aria-label': `Send a confirmation email to ${email}`,
          onclick: () =>
            act(async () => {
              await api.sendConfirmation(email);
              return `Confirmation email sent to ${email}.`;
            }),
        }, 'Resend email'),
      );
    }
    buttons.push(
      h('button', {
        type: 'button',
        class: 'danger',
        'aria-label': `Delete the registration of ${email}`,
        onclick: async () => {
          if (!(await confirmAction('Delete this registration?', `The registration of ${email} is removed; they may register again.`, 'Delete registration'))) return;
          act(async () => {
            await api.deletePending(email);
            return `Registration of ${email} deleted.`;
          }, reload);
        },
      }, 'Delete'),
    );
    const cells = [email, login.confirmed ? badge('Awaiting first login', 'on') : badge('Pending confirmation', 'wait'), date(p.creation_date), h('div', { class: 'actions' }, buttons)];
    return { target: email === params.get('email'), cells };
  });
  const shown = show(
    seq,
    'Pending users',
    h('p', { class: 'help' }, 'Email/password registrations that have not become users yet: unconfirmed, or confirmed and never logged in.'),
    table('Registrations', ['Email', 'Status', 'Registered', 'Actions'], rows, { empty: 'No pending registrations.' }),
    pager('#/pending', params, next),
  );
  if (shown) markTarget();
}

// ---- server API keys ---------------------------------------------------------------------------

async function apiKeysView(seq, params, created) {
  setSection('api-keys');
  const { body: keys } = await api.apiKeys();
  const reload = (fresh) => apiKeysView(seq, params, fresh).then(() => focusView(seq));
  const name = h('input', { id: 'key-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off' });
  const form = h('form', { class: 'card' }, h('h2', {}, 'Create a server API key'), h('div', {}, h('label', { for: 'key-name' }, 'Name'), name), h('button', { type: 'submit' }, 'Create key'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    let fresh;
    act(async () => {
      fresh = (await api.createApiKey(name.value)).body;
      return `Server API key ${fresh.name} created.`;
    }, () => reload(fresh));
  });
  const rows = keys.map((k) => ({
    target: k._id === params.get('key'),
    cells: [
      h('a', { href: `#/users/${encodeURIComponent(k.user_id)}`, title: 'The user this key logs in as' }, k.name),
      code(k._id),
      stateBadge(k.disabled),
      date(k.creation_date),
      h(
        'div',
        { class: 'actions' },
        h('button', {
          type: 'button',
          'aria-label': `${k.disabled ? 'Enable' : 'Disable'} key ${k.name}`,
          onclick: async () => {
            if (!k.disabled && !(await confirmAction('Disable this key?', `Sessions opened with ${k.name} end, and it cannot log in until enabled.`, 'Disable key'))) return;
            act(async () => {
              await api.setApiKeyDisabled(k._id, !k.disabled);
              return `Key ${k.name} ${k.disabled ? 'enabled' : 'disabled'}.`;
            }, () => reload());
          },
        }, k.disabled ? 'Enable' : 'Disable'),
        h('button', {
          type: 'button',
          class: 'danger',
          'aria-label': `Delete key ${k.name}`,
          onclick: async () => {
            if (!(await confirmAction('Delete this key?', `${k.name} and its server user are removed for good.`, 'Delete key'))) return;
            act(async () => {
              await api.deleteApiKey(k._id);
              return `Key ${k.name} deleted.`;
            }, () => reload());
          },
        }, 'Delete'),
      ),
    ],
  }));
  const reveal = created ? newKeyCard(created) : null;
  if (show(seq, 'Server API keys', reveal, table('Server API keys', ['Name', 'ID', 'State', 'Created', 'Actions'], rows, { empty: 'No server API keys.' }), form)) markTarget();
}

/**
 * The one showing of a new key: held by this view only (never stored, logged or put in a message),
 * gone once the view changes. Copy puts it on the clipboard; where the page may not use the
 * clipboard (plain HTTP from another machine, or permission refused) it selects the key instead.
 */
function newKeyCard(created) {
  const input = h('input', { id: 'new-key', readonly: true, value: created.key, spellcheck: 'false', autocomplete: 'off' });
  const copy = async () => {
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(input.value);
      say('The key is on the clipboard.');
    } catch {
      input.focus();
      input.select();
      let copied = false;
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
      say(copied ? 'The key is on the clipboard.' : 'The key is selected: press Ctrl+C (\u2318C on a Mac) to copy it.');
    }
  };
  return h(
    'div',
    { class: 'card reveal' },
    h('h2', {}, `New key: ${created.name}`),
    h('p', {}, 'Copy it now: it is not shown again.'),
    h('label', { for: 'new-key' }, 'API key'),
    h('div', { class: 'copy-row' }, input, h('button', { type: 'button', onclick: copy }, 'Copy')),
  );
}

// ---- providers and audit log -------------------------------------------------------------------

async function providersView(seq) {
  setSection('providers');
  const { body: providers } = await api.providers();
  show(
    seq,
    'Authentication providers',
    h('p', { class: 'help' }, 'As configured in the app directory. Secrets are never shown; only the names of the secrets that hold them.'),
    table(
      'Providers',
      ['Name', 'Type', 'State', 'Options', 'Secret names'],
      providers.map((p) => [p.name, p.type, stateBadge(p.disabled), json(p.config), Object.keys(p.secret_config).length ? json(p.secret_config) : '—']),
    ),
  );
}

// ---- triggers ----------------------------------------------------------------------------------

const TRIGGER_KINDS = { AUTHENTICATION: 'Authentication', SCHEDULED: 'Scheduled', DATABASE: 'Database' };

/** What waits, in words: undelivered changes, missed ticks, or nothing to count. */
function backlogText(t) {
  const n = t.status.backlog;
  if (n === null) return '—';
  if (t.type === 'SCHEDULED') return n === 0 ? 'none' : `${n}${n >= 1000 ? '+' : ''} missed tick${n === 1 ? '' : 's'}`;
  return n === 0 ? 'none' : `${n} undelivered change${n === 1 ? '' : 's'}`;
}

async function triggersView(seq, params) {
  setSection('triggers');
  const { body: triggers } = await api.triggers();
  const reload = () => triggersView(seq, params).then(() => focusView(seq));
  const resume = (t, skipPending) => async () => {
    if (skipPending && !(await confirmAction('Skip pending events?', `${t.name} moves past its ${t.status.backlog ?? ''} pending changes: its function never runs for them.`, 'Skip and resume'))) return;
    act(async () => {
      await api.resumeTrigger(t._id, skipPending);
      return skipPending ? `Trigger ${t.name} resumed past its pending events.` : `Trigger ${t.name} resumed.`;
    }, reload);
  };
  const rows = triggers.map((t) => ({
    target: t._id === params.get('trigger'),
    cells: [
      t.name,
      TRIGGER_KINDS[t.type] ?? t.type,
      t.listens_to,
      code(t.function_name),
      stateBadge(t.disabled),
      date(t.status.last_run_date),
      t.status.last_error ? h('span', {}, `${t.status.last_error.message} (${date(t.status.last_error.date)})`) : '—',
      `${t.status.runs} / ${t.status.failures}`,
      backlogText(t),
      t.type === 'DATABASE' && !t.disabled
        ? h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', 'aria-label': `Resume trigger ${t.name}`, onclick: resume(t, false) }, 'Resume'),
            h('button', { type: 'button', class: 'danger', 'aria-label': `Skip pending events of trigger ${t.name}`, onclick: resume(t, true) }, 'Skip pending'),
          )
        : '—',
    ],
  }));
  const shown = show(
    seq,
    'Triggers',
    h('p', { class: 'help' }, 'As configured in the app directory, with what every instance recorded: the last run, the last failure, runs and failures, and what waits.'),
    table('Triggers', ['Name', 'Type', 'Listens to', 'Function', 'State', 'Last run', 'Last error', 'Runs / failures', 'Backlog', 'Actions'], rows, { empty: 'This app has no triggers.' }),
  );
  if (shown) markTarget();
}

/** Where an audit entry's target is now (the server says, `current_target`); null once it is gone. */
function targetHref(target) {
  if (!target) return null;
  const id = encodeURIComponent(target.id);
  switch (target.type) {
    case 'user':
      return `#/users/${id}`;
    case 'user_registration':
      return `#/pending?email=${id}`;
    case 'api_key':
      return `#/api-keys?key=${id}`;
    case 'trigger':
      return `#/triggers?trigger=${id}`;
    default:
      return null;
  }
}

async function auditView(seq, params) {
  setSection('audit');
  const { body: entries, next } = await api.audit({ after: params.get('after') });
  const target = (e) => {
    const href = targetHref(e.current_target);
    return href ? h('a', { href }, code(e.target)) : code(e.target);
  };
  show(
    seq,
    'Audit log',
    h('p', { class: 'help' }, 'Every change made through the admin API, the console and the command line, newest first. A target links to what it is now, while it exists.'),
    table(
      'Admin actions',
      ['Time', 'Who', 'Action', 'Target', 'Details'],
      entries.map((e) => [e.time.slice(0, 19).replace('T', ' ') + ' UTC', e.actor.name, code(e.action), target(e), Object.keys(e.details).length ? JSON.stringify(e.details) : '—']),
      { empty: 'No admin actions yet.' },
    ),
    pager('#/audit', params, next),
  );
}

// ---- the router ------------------------------------------------------------------------------

/** Focus on the heading of the view on screen, if it is still the one asked for. */
function focusView(seq) {
  if (seq === viewSeq) main.querySelector('h1')?.focus();
}

/** Draws the view of the current hash; resolves to its number (compare with `viewSeq`). */
async function render() {
  const seq = ++viewSeq;
  if (!session.token || !session.app) {
    signInView(seq);
    return seq;
  }
  nav.hidden = false;
  signOutButton.hidden = false;
  appName.textContent = `${session.app.name} (${session.app.client_app_id})`;
  const { parts, params } = route();
  main.setAttribute('aria-busy', 'true');
  try {
    if (parts[0] === 'users' && parts[1]) await userView(seq, parts[1]);
    else if (parts[0] === 'pending') await pendingView(seq, params);
    else if (parts[0] === 'api-keys') await apiKeysView(seq, params);
    else if (parts[0] === 'providers') await providersView(seq);
    else if (parts[0] === 'triggers') await triggersView(seq, params);
    else if (parts[0] === 'audit') await auditView(seq, params);
    else await usersView(seq, params);
  } catch (err) {
    if (seq === viewSeq && !handleAuth(err)) {
      show(seq, 'Something went wrong');
      fail(err);
    }
  } finally {
    if (seq === viewSeq) main.removeAttribute('aria-busy');
  }
  return seq;
}

signOutButton.addEventListener('click', () => {
  session.clear();
  flash = 'Signed out.';
  go('#/users');
});

// The skip link moves focus without touching the fragment, which belongs to the router.
document.querySelector('.skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', navigate);

render();
