// Versioned migrations for the PostgreSQL store: the same tables as the SQLite schema, with
// BIGINT epoch-millisecond times and real booleans. Each entry runs once, in order, recorded in
// `schema_migrations`; all pending entries run in one transaction under an advisory lock, so
// instances starting together never race. A migration never drops data an earlier one created:
// new versions only add tables, columns and indexes.

export const MIGRATIONS: readonly string[] = [
  /* 1: auth state */ `
  CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    type          TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    last_auth_at  BIGINT NOT NULL
  );
  CREATE TABLE identities (
    provider_name TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider_type TEXT NOT NULL,
    provider_id   TEXT NOT NULL,
    data          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    -- Insertion order, to list a user's identities in the order they were linked (SQLite's rowid).
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
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
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
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
    last_seen_at     BIGINT NOT NULL,
    PRIMARY KEY (id, user_id)
  );
  CREATE INDEX devices_user ON devices(user_id);
  CREATE TABLE userpass_accounts (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    confirmed     BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL
  );
  CREATE TABLE userpass_tokens (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES userpass_accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    UNIQUE (account_id, kind)
  );
  CREATE INDEX userpass_tokens_expiry ON userpass_tokens(expires_at);
  CREATE TABLE counters (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        INTEGER NOT NULL
  );
  CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
  );
  `,
  /* 2: API keys; sessions remember the key that opened them so revoking the key ends them */ `
  CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    seq        BIGINT GENERATED ALWAYS AS IDENTITY,
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
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
  );
  CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);
  `,
  /* 4: administration: admin tokens (hashed) and the audit log of admin actions */ `
  CREATE TABLE admin_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    seq        BIGINT GENERATED ALWAYS AS IDENTITY
  );
  CREATE TABLE audit_log (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    at         BIGINT NOT NULL,
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
    tick         BIGINT NOT NULL,
    claimed_at   BIGINT NOT NULL,
    ran          BOOLEAN NOT NULL,
    PRIMARY KEY (trigger_name, tick)
  );
  `,
  /* 7: database triggers: each one's position in its change stream and the lease of the instance delivering it */ `
  CREATE TABLE database_triggers (
    trigger_name  TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    position      TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    last_run_at   BIGINT,
    last_error_at BIGINT,
    last_error    TEXT,
    delivered     BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0
  );
  `,
  /* 8: runs and failures of scheduled and authentication triggers, and database triggers' delivery failures */ `
  CREATE TABLE trigger_runs (
    trigger_name  TEXT PRIMARY KEY,
    runs          BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    last_run_at   BIGINT,
    last_error_at BIGINT,
    last_error    TEXT
  );
  `,
  /* 9: tokens a provider issued for an identity, kept to revoke at account deletion (Apple's refresh token) */ `
  CREATE TABLE provider_tokens (
    provider_name TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    token         TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (provider_name, external_id),
    FOREIGN KEY (provider_name, external_id) REFERENCES identities (provider_name, external_id) ON DELETE CASCADE
  );
  `,
  /* 10: session policy and per-session lists: last use (idle timeout), login address, a hard end (Custom JWT exp) */ `
  ALTER TABLE sessions ADD COLUMN last_used_at BIGINT;
  ALTER TABLE sessions ADD COLUMN address TEXT;
  ALTER TABLE sessions ADD COLUMN expiry_cap BIGINT;
  UPDATE sessions SET last_used_at = created_at;
  CREATE INDEX sessions_last_used ON sessions(last_used_at);
  `,
];
