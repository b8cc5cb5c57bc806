// Starts a real Baste server on a free loopback port for a test, with an app built in memory.

import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig, ProviderConfig, ProviderType } from '../../src/app/model.js';
import { createBaste, type Baste, type BasteOptions } from '../../src/server.js';

const hex24 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 24);

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

export async function startServer(
  app: AppConfig = appConfig([provider('anon-user'), autoConfirmUserpass()]),
  options: Partial<Omit<BasteOptions, 'app' | 'dataDir'>> = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baste-test-'));
  const baste = await createBaste({ app, dataDir, anonymousSweep: { intervalSeconds: 0 }, ...options });
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
        files = readdirSync(dir).sort();
      } catch {
        return [];
      }
      return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    },
    async close() {
      await baste.close();
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
