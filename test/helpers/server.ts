// Starts a real Baste server on a free loopback port for a test, with an app built in memory.

import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig, DatabaseTriggerConfig, EndpointConfig, FunctionConfig, ProviderConfig, ProviderType, RoleConfig, WebhookConfig } from '../../src/app/model.js';
import { openPostgresDocuments } from '../../src/data/postgres-engine.js';
import { createBaste, type Baste, type BasteOptions } from '../../src/server.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { adminQuery, uniqueName } from './postgres.js';

const hex24 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 24);

/** A collection role with the loader's defaults (insert, delete and search allowed; nothing else). */
export const role = (name: string, extra: Partial<RoleConfig>): RoleConfig => ({
  name,
  applyWhen: {},
  read: false,
  write: false,
  insert: true,
  delete: true,
  search: true,
  fields: {},
  additionalFields: { read: false, write: false },
  ...extra,
});

/** An app function entry for `AppConfig.functions` (public, running as its caller, unless `extra` says otherwise). */
export const appFunction = (name: string, source: string, extra: Partial<FunctionConfig> = {}): [string, FunctionConfig] => [
  name,
  { name, private: false, runAsSystem: false, canEvaluate: undefined, source, file: `functions/${name}.js`, ...extra },
];

/** An HTTPS endpoint with the loader's defaults (GET, no validation, result as the body). */
export const endpointConfig = (route: string, functionName: string, extra: Partial<EndpointConfig> = {}): EndpointConfig => ({
  route,
  httpMethod: 'GET',
  functionName,
  validationMethod: 'NO_VALIDATION',
  respondResult: true,
  fetchCustomUserData: false,
  createUserOnAuth: false,
  disabled: false,
  file: 'https_endpoints/config.json',
  ...extra,
});

/** An incoming webhook of the `http` service with the loader's defaults (any method, no validation, result as the body). */
/** A database trigger on `database.collection` running `functionName` on inserts, as the loader builds it; `extra` overrides. */
export const databaseTrigger = (
  name: string,
  on: Pick<DatabaseTriggerConfig, 'functionName' | 'database' | 'collection'>,
  extra: Partial<DatabaseTriggerConfig> = {},
): [string, DatabaseTriggerConfig] => [
  name,
  {
    name,
    ...on,
    operations: ['INSERT'],
    match: {},
    project: {},
    fullDocument: false,
    fullDocumentBeforeChange: false,
    unordered: false,
    skipCatchupEvents: false,
    disabled: false,
    ...extra,
  },
];

export const webhookConfig = (name: string, source: string, extra: Partial<WebhookConfig> = {}): WebhookConfig => ({
  service: 'http',
  name,
  source,
  file: `services/http/incoming_webhooks/${name}/source.js`,
  canEvaluate: {},
  runAsSystem: false,
  runAsAuthedUser: false,
  respondResult: true,
  fetchCustomUserData: false,
  httpMethod: '*',
  validationMethod: 'NO_VALIDATION',
  ...extra,
});

export function provider(type: ProviderType, config: Record<string, unknown> = {}, extra: Partial<ProviderConfig> = {}): ProviderConfig {
  const name = extra.name ?? type;
  return {
    name,
    type,
    disabled: false,
    id: hex24(`provider:${name}`),
    config,
    secretConfig: {},
    metadataFields: [],
    redirectUris: [],
    domainRestrictions: [],
    ...extra,
  };
}

export const autoConfirmUserpass = (extra: Partial<ProviderConfig> = {}) =>
  provider('local-userpass', { autoConfirm: true, resetPasswordUrl: 'http://app.example/reset' }, extra);

export const emailConfirmUserpass = (extra: Partial<ProviderConfig> = {}) =>
  provider(
    'local-userpass',
    { autoConfirm: false, emailConfirmationUrl: 'http://app.example/confirm', resetPasswordUrl: 'http://app.example/reset' },
    extra,
  );

export function appConfig(providers: ProviderConfig[], appId = 'test-app-abcde'): AppConfig {
  return {
    appId,
    name: 'test-app',
    domainId: hex24(`domain:${appId}`),
    layout: '20210101',
    configVersion: 20210101,
    environment: '',
    environmentValues: {},
    allowedRequestOrigins: [],
    providers: new Map(providers.map((p) => [p.name, p])),
    values: new Map(),
    functions: new Map(),
    secrets: new Map(),
  };
}

export interface TestServer {
  readonly url: string;
  readonly appId: string;
  readonly baste: Baste;
  readonly dataDir: string;
  /** The emails written to the outbox so far, oldest first. */
  outbox(): { kind: string; to: string; link: string; subject: string; text: string }[];
  close(): Promise<void>;
}

/**
 * With BASTE_TEST_BACKEND=postgres (and BASTE_TEST_DATABASE_URL), every server a test starts keeps
 * its state and documents in a fresh PostgreSQL schema instead of SQLite: `npm test` runs the
 * end-to-end SDK suites that way too, so both backends face the real SDKs.
 */
async function postgresBackend(): Promise<{ options: Partial<BasteOptions>; close: () => Promise<void> } | null> {
  const url = process.env.BASTE_TEST_DATABASE_URL;
  if (process.env.BASTE_TEST_BACKEND !== 'postgres' || !url) return null;
  const schema = uniqueName('e2e');
  const store = await openPostgresStore(url, { schema, maxConnections: 4 });
  const documents = await openPostgresDocuments(url, { schema, maxConnections: 4 });
  return {
    options: { store, documents },
    close: async () => {
      await store.close();
      await documents.close();
      await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`, [], url);
    },
  };
}

export async function startServer(
  app: AppConfig = appConfig([provider('anon-user'), autoConfirmUserpass()]),
  options: Partial<Omit<BasteOptions, 'app' | 'dataDir'>> = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baste-test-'));
  // A test that brings its own store keeps it; otherwise the backend under test provides one.
  const backend = options.store ? null : await postgresBackend();
  const baste = await createBaste({ app, dataDir, anonymousSweep: { intervalSeconds: 0 }, ...backend?.options, ...options }).catch(async (err: unknown) => {
    await backend?.close();
    throw err;
  });
  const url = await baste.listen(0, '127.0.0.1');
  return {
    url,
    appId: app.appId,
    baste,
    dataDir,
    outbox() {
      const dir = join(dataDir, 'outbox');
      let files: string[] = [];
      try {
        // Complete emails only: one being written is still under its hidden `.….tmp` name.
        files = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort();
      } catch {
        return [];
      }
      return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    },
    async close() {
      await baste.close();
      await backend?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The `token` and `tokenId` of an emailed link. */
export function tokensOf(link: string): { token: string; tokenId: string } {
  const u = new URL(link);
  return { token: u.searchParams.get('token') ?? '', tokenId: u.searchParams.get('tokenId') ?? '' };
}

export function decodeJwt(token: string): Record<string, unknown> {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
}

let counter = 0;
export const uniqueEmail = (prefix = 'user') => `${prefix}-${process.pid}-${Date.now()}-${counter++}@example.com`;
