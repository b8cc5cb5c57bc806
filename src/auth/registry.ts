// The providers Baste serves, as data: one PROVIDERS entry per type says how its settings are
// checked and how the provider is made. `baste validate`, startup and the server's logins read
// this table and nothing else; a new provider type is one new entry (and its module).

import type { AppConfig, ProviderConfig, ProviderType } from '../app/model.js';
import { providerFile } from '../app/providers.js';
import type { Clock } from '../util/clock.js';
import type { AuthProvider } from './provider.js';
import type { TokenRevoker } from './provider-tokens.js';
import { anonymousProvider } from './providers/anon-user.js';
import { apiKeyProvider, type ApiKeyDirectory } from './providers/api-key.js';
import { customFunctionProvider, type RunFunction } from './providers/custom-function.js';
import { customTokenProvider } from './providers/custom-token.js';
import { EmailPasswordProvider, parseUserpassSettings, type UserpassCredentials } from './providers/local-userpass.js';
import { missingClientSecret } from './providers/oauth-shared.js';
import { facebookProvider, parseFacebookSettings } from './providers/oauth2-facebook.js';
import { googleProvider, parseGoogleSettings } from './providers/oauth2-google.js';
import { appleProvider, appleSecretWarnings, parseAppleSettings, type AppleEndpoints } from './providers/oauth2-apple.js';

/** What the providers need from the rest of the server, passed in rather than imported. */
export interface ProviderDeps {
  readonly userpass: UserpassCredentials;
  readonly apiKeys: ApiKeyDirectory;
  /** JWK set fetch budget for custom-token providers. */
  readonly jwksTimeoutMs?: number;
  readonly jwksCooldownMs?: number;
  /** Budget for each call to Google, Facebook or Apple (default 10 s). */
  readonly oauthTimeoutMs?: number;
  /** Tests only: Apple's endpoints on a local server. */
  readonly appleEndpoints?: Partial<AppleEndpoints>;
  readonly clock?: Clock;
  /** Runs an app function as the system user (custom-function logins). */
  readonly runFunction?: RunFunction;
}

/** One provider type: its settings check and its factory. */
interface ProviderKind {
  /**
   * Reads and checks the settings (and keys) without starting anything, throwing a ConfigError
   * that names the provider's file; returns what will not be served as configured.
   */
  check(config: ProviderConfig, app: AppConfig): Promise<readonly string[]> | readonly string[];
  /** Makes the provider; null when this process cannot serve it (custom-function without a function runtime). */
  create(config: ProviderConfig, app: AppConfig, deps: ProviderDeps): Promise<AuthProvider | null> | AuthProvider | null;
}

const functionNames = (app: AppConfig): ReadonlySet<string> => new Set(app.functions.keys());
const none: readonly string[] = [];
const oauthDeps = (app: AppConfig, deps: ProviderDeps) => ({
  secrets: app.secrets,
  timeoutMs: deps.oauthTimeoutMs,
  jwksTimeoutMs: deps.jwksTimeoutMs,
  jwksCooldownMs: deps.jwksCooldownMs,
  clock: deps.clock,
});

/** Every type the app loader accepts (app/model.ts PROVIDER_TYPES) has its entry: the compiler checks it. */
export const PROVIDERS: Readonly<Record<ProviderType, ProviderKind>> = {
  'anon-user': {
    check: () => none,
    create: (config) => anonymousProvider(config),
  },
  'local-userpass': {
    check: (config, app) => (parseUserpassSettings(config, functionNames(app)), none),
    create: (config, app, deps) => new EmailPasswordProvider(config, deps.userpass, functionNames(app)),
  },
  'api-key': {
    check: () => none,
    create: (config, _app, deps) => apiKeyProvider(config, deps.apiKeys),
  },
  'custom-function': {
    check: (config, app) => (customFunctionProvider(config, functionNames(app), async () => undefined), none),
    create: (config, app, deps) => (deps.runFunction ? customFunctionProvider(config, functionNames(app), deps.runFunction) : null),
  },
  'custom-token': {
    check: async (config, app) => (await customTokenProvider(config, { appId: app.appId, secrets: app.secrets }), none),
    create: (config, app, deps) =>
      customTokenProvider(config, { appId: app.appId, secrets: app.secrets, jwksTimeoutMs: deps.jwksTimeoutMs, jwksCooldownMs: deps.jwksCooldownMs, clock: deps.clock }),
  },
  'oauth2-google': {
    // Without a client secret only id_token logins work: served, with a note.
    check: (config, app) => (parseGoogleSettings(config, app.secrets).clientSecret ? none : [`provider '${config.name}' (${providerFile(config)}) ${missingClientSecret(config)}`]),
    create: (config, app, deps) => googleProvider(config, oauthDeps(app, deps)),
  },
  'oauth2-facebook': {
    check: (config, app) => (parseFacebookSettings(config, app.secrets), none),
    create: (config, app, deps) => facebookProvider(config, oauthDeps(app, deps)),
  },
  'oauth2-apple': {
    check: (config, app) => appleSecretWarnings(config, parseAppleSettings(config, app.secrets), Date.now()),
    create: (config, app, deps) => appleProvider(config, { ...oauthDeps(app, deps), endpoints: deps.appleEndpoints }),
  },
};

/** The entry of the provider's type; none for a type the loader would not accept (a config built by hand). */
const kindOf = (config: ProviderConfig): ProviderKind | undefined => (Object.hasOwn(PROVIDERS, config.type) ? PROVIDERS[config.type] : undefined);

/** Builds the provider objects for every enabled provider of the app that Baste serves. */
export async function buildProviders(app: AppConfig, deps: ProviderDeps): Promise<Map<string, AuthProvider>> {
  const providers = new Map<string, AuthProvider>();
  for (const config of app.providers.values()) {
    // A disabled provider answers AuthProviderNotFound, so its options need not be usable; a type
    // not in the table is not served (its logins answer AuthProviderNotFound too).
    const kind = config.disabled ? undefined : kindOf(config);
    const provider = kind && (await kind.create(config, app, deps));
    if (provider) providers.set(config.name, provider);
  }
  return providers;
}

/** Checks every enabled provider's options and keys without starting anything (`baste validate`); returns what will not be served. */
export async function checkProviders(app: AppConfig): Promise<string[]> {
  const notServed: string[] = [];
  for (const config of app.providers.values()) {
    if (config.disabled) continue;
    const kind = kindOf(config);
    if (kind) notServed.push(...(await kind.check(config, app)));
    else notServed.push(`provider '${config.name}' (${config.type}, ${providerFile(config)}) is not served yet by this version of Baste`);
  }
  return notServed;
}

/**
 * Token revocation for commands that delete users without a running server (`baste users delete`):
 * the revoker of each enabled provider that keeps tokens (Apple).
 */
export async function tokenRevokers(
  app: AppConfig,
  deps: { appleEndpoints?: Partial<AppleEndpoints>; timeoutMs?: number } = {},
): Promise<(providerName: string) => TokenRevoker | undefined> {
  const revokers = new Map<string, TokenRevoker>();
  for (const config of app.providers.values()) {
    if (config.type !== 'oauth2-apple' || config.disabled) continue;
    try {
      const provider = await appleProvider(config, { secrets: app.secrets, endpoints: deps.appleEndpoints, timeoutMs: deps.timeoutMs });
      if (provider.revokeToken) revokers.set(config.name, provider.revokeToken);
    } catch {
      // A provider whose settings do not load revokes nothing; the deletion says so for each token.
    }
  }
  return (name) => revokers.get(name);
}
