// Turns an app export directory of any generation into one immutable AppConfig. Reads only the
// directory and the secrets it is given; warnings collect what was skipped, ConfigError refuses.

import { ConfigError } from '../errors.js';
import type { AppConfig, ConfigWarning, DataSourceConfig, LoadedApp, ProviderConfig } from './model.js';
import { AppDir } from './dir.js';
import type { Warn } from './check.js';
import { derivedId } from './ids.js';
import { deepFreeze, FrozenMap } from './immutable.js';
import { findSkippedParts } from './features.js';
import { readRoot, ROOT_FILES } from './root.js';
import { loadProviders } from './providers.js';
import { applyLegacySecrets, LEGACY_SECRETS_FILE } from './legacy-secrets.js';
import { loadEnvironmentValues, loadValues } from './values.js';
import { loadFunctions } from './functions.js';
import { loadFunctionDependencies } from './dependencies.js';
import { loadTriggers } from './triggers.js';
import { loadEndpoints, loadWebhooks } from './endpoints.js';
import { loadDataSources } from './data-sources.js';
import { loadServices } from './services.js';
import { loadCustomUserData } from './custom-user-data.js';
import { checkRuleExpressions } from './source-check.js';
import { readSyncFolder, type SyncFolder } from './partition-sync.js';

export interface LoadOptions {
  /** Secret name → material (see readSecrets). Wins over a legacy `secrets.json`. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Client app id from the command line (`--app-id` / BASTE_APP_ID); wins over the export's. */
  readonly appId?: string;
}

/** Top-level entries the loaders below read; anything else not set aside by features.ts is unknown. */
const READ_AT_TOP = new Set([
  ...ROOT_FILES.map(([file]) => file),
  'auth',
  'auth_providers',
  'functions',
  'values',
  'environments',
  'triggers',
  'data_sources',
  'services',
  'http_endpoints',
  'https_endpoints',
  'sync',
  LEGACY_SECRETS_FILE,
]);

export async function loadAppDirectory(dir: string, options: LoadOptions = {}): Promise<LoadedApp> {
  const app = new AppDir(dir);
  if (!(await app.isDir(''))) throw new ConfigError(dir, undefined, 'not a folder');
  const warnings: ConfigWarning[] = [];
  const warn: Warn = (file, message) => void warnings.push(Object.freeze({ file, message }));

  const syncFolder = await readSyncFolder(app, warn);
  const skipped = await findSkippedParts(app, warn);
  const root = await readRoot(app, warn, { appId: options.appId });
  for (const entry of await app.list('')) {
    if (!entry.name.startsWith('.') && !READ_AT_TOP.has(entry.path) && !skipped.has(entry.path)) {
      warn(entry.path, 'unknown file or folder (ignored)');
    }
  }

  const loaded = await loadProviders(app, root.layout, root.appId, skipped, warn);
  const legacy = await applyLegacySecrets(app, loaded.providers, warn);
  const providers = legacy.providers;
  requireEnabledProvider(providers, loaded.location);
  const secrets = new Map(Object.entries({ ...legacy.material, ...options.secrets }));

  const values = await loadValues(app, warn);
  const environmentValues = await loadEnvironmentValues(app, root.environment, warn);
  const functions = await loadFunctions(app, skipped, warn);
  const functionDependencies = await loadFunctionDependencies(app, warn);
  const triggers = await loadTriggers(app, new Set(functions.keys()), warn);
  const endpoints = await loadEndpoints(app, new Set(functions.keys()), warn);
  const webhooks = await loadWebhooks(app, secrets, warn);
  const dataSources = await loadDataSources(app, warn);
  if (syncFolder) attachPartitionSync(dataSources, syncFolder, warn);
  const services = await loadServices(app, new Set(dataSources.keys()), warn);
  for (const t of triggers.database.values()) {
    if (t.serviceName && !dataSources.has(t.serviceName)) warn(`triggers/${t.name}.json`, `config.service_name: data source "${t.serviceName}" is not defined; the trigger watches the embedded store`);
  }
  const loadedUserData = await loadCustomUserData(app, root.file, await app.readJson(root.file), warn);
  const customUserData = loadedUserData?.config;
  if (loadedUserData && customUserData && !dataSources.has(customUserData.serviceName)) {
    throw loadedUserData.fields.refuse('mongo_service_name', `data source "${customUserData.serviceName}" is not defined`);
  }
  if (loadedUserData && customUserData?.onUserCreationFunctionName && !functions.has(customUserData.onUserCreationFunctionName)) {
    throw loadedUserData.fields.refuse('on_user_creation_function_name', `function '${customUserData.onUserCreationFunctionName}' is not defined in functions/`);
  }

  // A broken rule would fail every request it guards: refused now, naming its file and place.
  await checkRuleExpressions({ functions, webhooks }, dataSources);

  warnMissingSecrets(providers, secrets, warn);
  for (const value of values.values.values()) {
    if (value.fromSecret && !secrets.has(value.value as string)) {
      warn(values.files.get(value.name) ?? 'values', `secret "${String(value.value)}" is not provided; the value is undefined`);
    }
  }

  const config: AppConfig = {
    appId: root.appId,
    name: root.name,
    domainId: derivedId(`baste:domain:${root.appId}`),
    layout: root.layout,
    configVersion: root.configVersion,
    environment: root.environment,
    environmentValues: deepFreeze(environmentValues),
    allowedRequestOrigins: deepFreeze([...root.allowedRequestOrigins]),
    providers: new FrozenMap([...providers].map(([name, p]) => [name, deepFreeze(p)] as const)),
    values: new FrozenMap([...values.values].map(([name, v]) => [name, deepFreeze(v)] as const)),
    functions: new FrozenMap([...functions].map(([name, f]) => [name, deepFreeze(f)] as const)),
    triggers: new FrozenMap([...triggers.auth].map(([name, t]) => [name, deepFreeze(t)] as const)),
    scheduledTriggers: new FrozenMap([...triggers.scheduled].map(([name, t]) => [name, deepFreeze(t)] as const)),
    databaseTriggers: new FrozenMap([...triggers.database].map(([name, t]) => [name, deepFreeze(t)] as const)),
    endpoints: deepFreeze(endpoints),
    webhooks: deepFreeze(webhooks),
    dataSources: new FrozenMap(
      [...dataSources].map(([name, d]) => [name, deepFreeze({ ...d, collections: new FrozenMap([...d.collections].map(([ns, c]) => [ns, deepFreeze(c)] as const)) })] as const),
    ),
    services: new FrozenMap([...services].map(([name, svc]) => [name, deepFreeze(svc)] as const)),
    customUserData: customUserData && deepFreeze(customUserData),
    secrets: new FrozenMap(secrets),
    ...(functionDependencies ? { functionDependencies: deepFreeze(functionDependencies) } : {}),
  };
  return Object.freeze({ config: Object.freeze(config), warnings: Object.freeze(warnings) });
}

/** `sync/config.json`'s partition permissions become the rules of the data source it names (partition-sync.ts). */
function attachPartitionSync(dataSources: Map<string, DataSourceConfig>, sync: SyncFolder, warn: Warn): void {
  const only = dataSources.size === 1 ? [...dataSources.keys()][0] : undefined;
  const name = sync.serviceName ?? only;
  const source = name === undefined ? undefined : dataSources.get(name);
  if (!source) {
    warn(sync.config.file, `service_name: names no MongoDB data source${sync.serviceName ? ` ("${sync.serviceName}")` : ''}; the partition permissions apply to none (ignored)`);
    return;
  }
  dataSources.set(source.name, { ...source, partitionSync: sync.config });
}

/** With no enabled provider no client can ever log in, so such an app is a mistake. */
function requireEnabledProvider(providers: ReadonlyMap<string, ProviderConfig>, location: string): void {
  if ([...providers.values()].some((p) => !p.disabled)) return;
  const found = providers.size === 0 ? 'none of a type Baste serves is configured' : `all of ${[...providers.keys()].join(', ')} are disabled`;
  throw new ConfigError(
    location,
    undefined,
    `no authentication provider is enabled (${found}), so no client could log in; ` +
      `enable at least one in ${location}, e.g. anon-user or local-userpass with "disabled": false`,
  );
}

function warnMissingSecrets(
  providers: ReadonlyMap<string, ProviderConfig>,
  secrets: ReadonlyMap<string, string>,
  warn: Warn,
): void {
  for (const provider of providers.values()) {
    if (provider.disabled) continue;
    const origin = provider.source;
    const path = origin?.prefix ? `${origin.prefix}.secret_config` : 'secret_config';
    const named = [
      ...Object.entries(provider.secretConfig),
      ...Object.entries(provider.secretConfigLists ?? {}).flatMap(([option, list]) => list.map((s) => [option, s] as const)),
    ];
    for (const [option, secret] of named) {
      if (!secrets.has(secret)) {
        warn(origin?.file ?? provider.name, `${path}.${option}: secret "${secret}" is not provided (--secrets or BASTE_SECRET_${secret})`);
      }
    }
  }
}
