// Versioned migrations for the embedded store. Each entry runs once, in order, inside a
// transaction; a migration never drops data that an earlier one created.

export const MIGRATIONS: readonly string[] = [
  /* 1: auth state */ `
  CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    type          TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_auth_at  INTEGER NOT NULL
  );
  CREATE TABLE identities (
    provider_name TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider_type TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    data          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (provider_name, external_id)
  );
  CREATE INDEX identities_user ON identities(user_id);
  CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_hash  TEXT NOT NULL UNIQUE,
    device_id     TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    provider_type TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
  );
  CREATE INDEX sessions_user ON sessions(user_id);
  CREATE INDEX sessions_expiry ON sessions(expires_at);
  CREATE TABLE devices (
    id               TEXT NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    platform         TEXT,
    platform_version TEXT,
    sdk_version      TEXT,
    app_id           TEXT,
    app_version      TEXT,
    last_seen_at     INTEGER NOT NULL,
    PRIMARY KEY (id, user_id)
  );
  CREATE TABLE userpass_accounts (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    confirmed     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
  );
  CREATE TABLE userpass_tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES userpass_accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    UNIQUE (account_id, kind)
  );
  CREATE TABLE counters (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL
  );
  CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
  );
  `,
  /* 2: API keys; sessions remember the key that opened them so revoking the key ends them */ `
  CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (user_id, name)
  );
  CREATE UNIQUE INDEX api_keys_server_name ON api_keys(name) WHERE kind = 'server';
  ALTER TABLE sessions ADD COLUMN api_key_id TEXT;
  CREATE INDEX sessions_api_key ON sessions(api_key_id);
  `,
  /* 3: OAuth redirects in flight (Google, Facebook), so any instance can finish a flow */ `
  CREATE TABLE oauth_states (
    id_hash         TEXT PRIMARY KEY,
    provider_name   TEXT NOT NULL,
    client_state    TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    callback_url    TEXT NOT NULL,
    device          TEXT NOT NULL,
    link_session_id TEXT,
    code_verifier   TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
  );
  CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);
  `,
  /* 4: administration: admin tokens (hashed) and the audit log of admin actions */ `
  CREATE TABLE admin_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    at         INTEGER NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL
  );
  CREATE INDEX identities_type ON identities(provider_type, external_id);
  `,
  /* 5: app settings an operator changes at run time (admin API), as JSON values */ `
  CREATE TABLE app_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  /* 6: scheduled trigger ticks: the instance whose insert wins runs the tick */ `
  CREATE TABLE scheduled_ticks (
    trigger_name TEXT NOT NULL,
    tick         INTEGER NOT NULL,
    claimed_at   INTEGER NOT NULL,
    ran          INTEGER NOT NULL,
    PRIMARY KEY (trigger_name, tick)
  );
  `,
  /* 7: database triggers: each one's position in its change stream and the lease of the instance delivering it */ `
  CREATE TABLE database_triggers (
    trigger_name  TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    position      TEXT NOT NULL,
    disabled      INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    last_run_at   INTEGER,
    last_error_at INTEGER,
    last_error    TEXT,
    delivered     INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0
  );
  `,
  /* 8: runs and failures of scheduled and authentication triggers, and database triggers' delivery failures */ `
  CREATE TABLE trigger_runs (
    trigger_name  TEXT PRIMARY KEY,
    runs          INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    last_run_at   INTEGER,
    last_error_at INTEGER,
    last_error    TEXT
  );
  `,
  /* 9: tokens a provider issued for an identity, kept to revoke at account deletion (Apple's refresh token) */ `
  CREATE TABLE provider_tokens (
    provider_name TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    token         TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (provider_name, external_id),
    FOREIGN KEY (provider_name, external_id) REFERENCES identities (provider_name, external_id) ON DELETE CASCADE
  );
  `,
  /* 10: session policy and per-session lists: last use (idle timeout), login address, a hard end (Custom JWT exp) */ `
  ALTER TABLE sessions ADD COLUMN last_used_at INTEGER;
  ALTER TABLE sessions ADD COLUMN address TEXT;
  ALTER TABLE sessions ADD COLUMN expiry_cap INTEGER;
  UPDATE sessions SET last_used_at = created_at;
  CREATE INDEX sessions_last_used ON sessions(last_used_at);
  `,
];
