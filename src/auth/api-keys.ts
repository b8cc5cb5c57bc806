// Managing API keys: user keys through the client routes (refresh token), server keys from the CLI.
// The key value is returned once, at creation; only its SHA-256 is kept.

import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../app/model.js';
import { BasteError, badRequest } from '../errors.js';
import type { ApiKeyCreateOutcome, ApiKeyRecord, Store } from '../store/store.js';
import { isAnonymousOnly, Users } from '../users/users.js';
import type { Clock } from '../util/clock.js';
import { isObjectIdHex, newObjectIdHex } from '../util/ids.js';
import { hashApiKey } from './providers/api-key.js';

export const MAX_USER_KEYS = 20;
export const MAX_SERVER_KEYS = 100;
const NAME_MAX = 64;

/** The wire shape of a key: `_id` a plain 24-hex string (the Stitch SDK parses it as an ObjectId). */
export interface ApiKeyView {
  readonly _id: string;
  readonly name: string;
  readonly disabled: boolean;
}

export interface CreatedApiKey extends ApiKeyView {
  readonly key: string;
}

const view = (k: ApiKeyRecord): ApiKeyView => ({ _id: k.id, name: k.name, disabled: k.disabled });

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new BasteError('MissingParameter', 'name is required and must be a non-empty string');
  if (name.length > NAME_MAX) throw new BasteError('InvalidParameter', `name must be at most ${NAME_MAX} characters`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new BasteError('InvalidParameter', 'name must not contain control characters');
  return name;
}

const notFound = () => new BasteError('APIKeyNotFound', 'API key not found');

export class ApiKeys {
  constructor(
    private readonly store: Store,
    private readonly app: AppConfig,
    private readonly clock: Clock,
    /** Users are read through their lifecycle; `baste api-keys` (reads only) may leave it out. */
    private readonly users: Pick<Users, 'get'> = new Users(store, app, clock),
  ) {}

  private provider() {
    const provider = [...this.app.providers.values()].find((p) => p.type === 'api-key' && !p.disabled);
    if (!provider) throw new BasteError('AuthProviderNotFound', 'the api-key provider is not enabled for this app');
    return provider;
  }

  private newKey(userId: string, kind: ApiKeyRecord['kind'], name: string): { record: ApiKeyRecord; key: string } {
    const key = randomBytes(48).toString('base64url');
    return {
      key,
      record: { id: newObjectIdHex(), userId, kind, name, keyHash: hashApiKey(key), disabled: false, createdAt: this.clock() },
    };
  }

  async createForUser(userId: string, rawName: unknown): Promise<CreatedApiKey> {
    this.provider();
    const name = checkName(rawName);
    const user = await this.users.get(userId);
    if (user.type === 'server') throw badRequest('server API key users cannot create API keys');
    if (isAnonymousOnly(user)) throw badRequest('anonymous users cannot create API keys');
    const { record, key } = this.newKey(userId, 'user', name);
    raise(await this.store.createUserApiKey(record, MAX_USER_KEYS), name, MAX_USER_KEYS);
    return { ...view(record), key };
  }

  async list(userId: string): Promise<ApiKeyView[]> {
    return (await this.store.listApiKeys(userId)).map(view);
  }

  async get(userId: string, id: string): Promise<ApiKeyView> {
    const found = isObjectIdHex(id) ? (await this.store.listApiKeys(userId)).find((k) => k.id === id) : undefined;
    if (!found) throw notFound();
    return view(found);
  }

  async setDisabled(userId: string, id: string, disabled: boolean): Promise<void> {
    if (!(await this.store.setApiKeyDisabled(userId, id, disabled))) throw notFound();
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!(await this.store.deleteApiKey(userId, id))) throw notFound();
  }

  /** A server key logs in a user of type `server` of its own, created with the key. */
  async createServerKey(rawName: unknown): Promise<CreatedApiKey> {
    const provider = this.provider();
    const name = checkName(rawName);
    const { record, key } = this.newKey(newObjectIdHex(), 'server', name);
    const identity = { externalId: record.id, providerName: provider.name, providerType: provider.type, providerId: provider.id, data: { name } };
    raise(await this.store.createServerApiKey(record, identity, MAX_SERVER_KEYS), name, MAX_SERVER_KEYS);
    return { ...view(record), key };
  }

  async listServerKeys(): Promise<(ApiKeyView & { userId: string; createdAt: number })[]> {
    return (await this.store.listServerApiKeys()).map((k) => ({ ...view(k), userId: k.userId, createdAt: k.createdAt }));
  }

  /** Server keys are managed by name from the CLI. */
  async serverKeyNamed(name: string): Promise<ApiKeyRecord> {
    const found = (await this.store.listServerApiKeys()).find((k) => k.name === name);
    if (!found) throw new BasteError('APIKeyNotFound', `no server API key named '${name}'`);
    return found;
  }
}

function raise(outcome: ApiKeyCreateOutcome, name: string, limit: number): void {
  if (outcome === 'name-taken') throw new BasteError('APIKeyAlreadyExists', `an API key named '${name}' already exists`);
  if (outcome === 'limit-reached') throw badRequest(`no more than ${limit} API keys are allowed`);
}
