// Users in the shape the App Services Admin API lists them (`GET …/users`: `_id`, `identities`
// [{id, provider_type, provider_id, provider_data}], `type`, `creation_date` and
// `last_authentication_date` in Unix seconds, `disabled`, `data`; docs-app-services
// openapi-admin-v3.yaml, schema `User`) and pending registrations (`…/user_registrations/pending_users`:
// `_id`, `login_ids` [{id_type: "email", id}]), turned into what the store imports, and back.
// Pure: no store, no I/O.

import type { AppConfig, ProviderConfig } from '../app/model.js';
import { PASSWORD_RESET_REQUIRED, type ImportedUser, type UserpassAccount, type UserRecord } from '../store/store.js';
import { mergedUserData } from './users.js';

/** What to do with one record of a users file. */
export type Decision =
  | { readonly kind: 'import'; readonly id: string; readonly record: ImportedUser; readonly notes: readonly string[] }
  | { readonly kind: 'skip'; readonly id?: string; readonly reason: string }
  | { readonly kind: 'refuse'; readonly id?: string; readonly reason: string };

/** A user as exported: the Admin API's user object with each identity's provider data and provider name. */
export interface ExportedUser {
  readonly _id: string;
  readonly identities: { id: string; provider_type: string; provider_id: string; provider_name: string; provider_data: Record<string, unknown> }[];
  readonly type: string;
  readonly creation_date: number;
  readonly last_authentication_date: number;
  readonly disabled: boolean;
  readonly data: Record<string, unknown>;
}

export interface ExportedRegistration {
  readonly _id: string;
  readonly domain_id: string;
  readonly login_ids: { id_type: 'email'; id: string; confirmed: boolean }[];
  readonly user_id: null;
  readonly creation_date: number;
}

/** Turns a password hash from another system into the stored form, or says why it cannot be used. */
export type HashImporter = (value: unknown) => { hash: string } | { error: string };

class Refusal extends Error {}
const refuse = (reason: string): never => {
  throw new Refusal(reason);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ID = /^[0-9a-f]{24}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;
/** Past this, a "seconds" value is surely milliseconds (the year 5138). */
const MAX_SECONDS = 1e11;

/** An ObjectId as a hex string or extended JSON `{"$oid": …}`, lowercased. */
function objectId(v: unknown, field: string): string {
  const raw = isObject(v) && typeof v.$oid === 'string' ? v.$oid : v;
  if (typeof raw !== 'string' || !ID.test(raw.toLowerCase())) refuse(`${field} must be a 24-hex ObjectId string`);
  return (raw as string).toLowerCase();
}

/** Unix seconds (the Admin API's dates) → epoch ms; absent: `fallback`. */
function seconds(v: unknown, field: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  const raw = isObject(v) && v.$numberLong !== undefined ? Number(v.$numberLong) : v;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0) refuse(`${field} must be a number of seconds since 1970`);
  if ((raw as number) > MAX_SECONDS) refuse(`${field} must be in seconds since 1970 (${raw} looks like milliseconds)`);
  return Math.floor((raw as number) * 1000);
}

function text(v: unknown, field: string, max = 512): string {
  if (typeof v !== 'string' || v === '' || v.length > max || v.includes('\u0000')) refuse(`${field} must be a non-empty string of at most ${max} characters`);
  return v as string;
}

function optionalObject(v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) refuse(`${field} must be an object`);
  if (JSON.stringify(v).includes('\\u0000')) refuse(`${field} must not contain NUL characters`);
  return v as Record<string, unknown>;
}

/**
 * The app's provider for an exported identity. The export's `provider_id` is the id of the
 * provider on the platform: when the app directory kept that id (exports write it as `id` in each
 * provider's config), it decides. Otherwise the provider type does, which is what carries over
 * between apps: the one provider of that type, or, when the app has several (two Google
 * configurations, say), the one with the identity's `provider_name` (Baste's exports name it), or
 * the one named as the type (the platform's default name). Anything else is ambiguous and refused
 * rather than guessed: the identity would log in through the wrong configuration.
 */
function providerFor(app: AppConfig, type: string, providerId: string | undefined, providerName: string | undefined): ProviderConfig {
  const all = [...app.providers.values()];
  const byId = providerId ? all.find((p) => p.id === providerId) : undefined;
  if (byId) {
    if (byId.type !== type) refuse(`identity of type '${type}' names provider ${providerId}, which is the app's '${byId.name}' of type '${byId.type}'`);
    return byId;
  }
  const ofType = all.filter((p) => p.type === type);
  if (ofType.length === 0) refuse(`unknown provider: the app has no '${type}' provider (auth/providers.json) for this identity`);
  if (ofType.length === 1) return ofType[0]!;
  const chosen = ofType.find((p) => p.name === providerName) ?? ofType.find((p) => p.name === type);
  if (!chosen) refuse(`the app has ${ofType.length} '${type}' providers (${ofType.map((p) => p.name).join(', ')}) and the identity names none of them`);
  return chosen!;
}

/** Provider types whose identities cannot come: anonymous ones die with their device, API keys are shown once and never exported. */
const NOT_MOVABLE: Record<string, string> = {
  'anon-user': 'anonymous identities cannot be moved (they live on the device that created them; its next anonymous login makes a new user)',
  'api-key': 'API keys cannot be moved (the platform shows a key once and never exports it): create new keys (baste api-keys create, or the user API key routes)',
};

/** One user record of an export → what to import, or why not. */
function userDecision(v: Record<string, unknown>, app: AppConfig, now: number, importHash: HashImporter): Decision {
  const id = objectId(v._id, '_id');
  try {
    if (!Array.isArray(v.identities)) refuse('identities must be an array');
    const type = v.type ?? 'normal';
    if (type !== 'normal' && type !== 'server') return refuse("type must be 'normal' or 'server'");
    if (v.disabled !== undefined && typeof v.disabled !== 'boolean') refuse('disabled must be true or false');
    const createdAt = seconds(v.creation_date, 'creation_date', now);
    const lastAuthAt = seconds(v.last_authentication_date, 'last_authentication_date', createdAt);
    const data = optionalObject(v.data, 'data') ?? {};
    const notes: string[] = [];
    const identities: (ImportedUser['identities'][number] & { providerData: boolean })[] = [];
    const accounts: UserpassAccount[] = [];
    for (const [n, raw] of (v.identities as unknown[]).entries()) {
      const field = `identities[${n}]`;
      if (!isObject(raw)) refuse(`${field} must be an object`);
      const i = raw as Record<string, unknown>;
      const externalId = text(i.id, `${field}.id`);
      const providerType = text(i.provider_type, `${field}.provider_type`, 64);
      const providerId = i.provider_id === undefined ? undefined : text(i.provider_id, `${field}.provider_id`, 64);
      const providerName = i.provider_name === undefined ? undefined : text(i.provider_name, `${field}.provider_name`, 64);
      const providerData = optionalObject(i.provider_data, `${field}.provider_data`);
      if (NOT_MOVABLE[providerType]) {
        notes.push(`${providerType} identity left out: ${NOT_MOVABLE[providerType]}`);
        continue;
      }
      const provider = providerFor(app, providerType, providerId, providerName);
      if (identities.some((x) => x.providerName === provider.name && x.externalId === externalId)) refuse(`${field} repeats an identity`);
      let identityData = providerData ?? {};
      if (providerType === 'local-userpass') {
        // The identity id is the account id on the platform; the email is the login name.
        const email = providerData?.email ?? data.email;
        if (typeof email !== 'string' || !EMAIL.test(email) || email.length > 256) refuse(`${field}: an email/password identity needs its email (provider_data.email or data.email)`);
        const given = i.password_hash ?? v.password_hash;
        let passwordHash = PASSWORD_RESET_REQUIRED;
        if (given !== undefined) {
          const imported = importHash(given);
          if ('error' in imported) refuse(`password_hash: ${imported.error}`);
          else passwordHash = imported.hash;
        }
        if (accounts.length > 0) refuse('a user can have one email/password identity');
        accounts.push({ id: externalId, email: email as string, passwordHash, confirmed: true, createdAt });
        identityData = { ...identityData, email };
      }
      identities.push({
        externalId,
        providerName: provider.name,
        providerType,
        providerId: provider.id,
        data: identityData,
        createdAt,
        providerData: providerData !== undefined,
      });
    }
    if (identities.length === 0) {
      const why = (v.identities as unknown[]).length === 0 ? 'the user has no identities' : notes.join('; ');
      return { kind: 'skip', id, reason: `nothing to log in with: ${why}` };
    }
    // `data` is the identities' metadata merged (a profile of the user): what no identity's
    // provider_data carries (the Admin API's list leaves provider_data out) goes on the first
    // identity, so the user's data reads the same here. The next login refreshes it, as there.
    const merged = Object.assign({}, ...identities.map((i) => i.data)) as Record<string, unknown>;
    const missing = Object.fromEntries(Object.entries(data).filter(([k]) => !(k in merged)));
    if (Object.keys(missing).length > 0) identities[0] = { ...identities[0]!, data: { ...identities[0]!.data, ...missing } };
    const record: ImportedUser = {
      user: { id, type, disabled: v.disabled === true, createdAt, lastAuthAt },
      identities: identities.map(({ providerData: _, ...identity }) => identity),
      accounts,
    };
    return { kind: 'import', id, record, notes };
  } catch (err) {
    if (err instanceof Refusal) return { kind: 'refuse', id, reason: err.message };
    throw err;
  }
}

/** A pending registration (`login_ids`): its account, with no user yet. */
function registrationDecision(v: Record<string, unknown>, now: number): Decision {
  const id = objectId(v._id, '_id');
  try {
    if (!Array.isArray(v.login_ids)) refuse('login_ids must be an array');
    const login = (v.login_ids as unknown[]).find((l) => isObject(l) && l.id_type === 'email') as Record<string, unknown> | undefined;
    if (!login) refuse("login_ids has no entry with id_type 'email'");
    const email = login!.id;
    if (typeof email !== 'string' || !EMAIL.test(email) || email.length > 256) refuse('login_ids[].id must be an email address');
    if (login!.confirmed !== undefined && typeof login!.confirmed !== 'boolean') refuse('login_ids[].confirmed must be true or false');
    const account: UserpassAccount = {
      id,
      email: email as string,
      passwordHash: PASSWORD_RESET_REQUIRED,
      confirmed: login!.confirmed === true,
      createdAt: seconds(v.creation_date, 'creation_date', now),
    };
    return { kind: 'import', id, record: { user: null, identities: [], accounts: [account] }, notes: [] };
  } catch (err) {
    if (err instanceof Refusal) return { kind: 'refuse', id, reason: err.message };
    throw err;
  }
}

/** What to do with one record of a users file (a user, or a pending registration when it has `login_ids`). */
export function decide(value: unknown, app: AppConfig, now: number, importHash: HashImporter): Decision {
  if (!isObject(value)) return { kind: 'refuse', reason: 'a record must be a JSON object (a user, or a pending registration)' };
  try {
    return 'login_ids' in value ? registrationDecision(value, now) : userDecision(value, app, now, importHash);
  } catch (err) {
    // No usable _id: refused without one.
    if (err instanceof Refusal) return { kind: 'refuse', reason: err.message };
    throw err;
  }
}

const unixSeconds = (ms: number) => Math.floor(ms / 1000);

export function exportedUser(u: UserRecord): ExportedUser {
  return {
    _id: u.id,
    identities: u.identities.map((i) => ({
      id: i.externalId,
      provider_type: i.providerType,
      provider_id: i.providerId,
      provider_name: i.providerName,
      provider_data: i.data,
    })),
    type: u.type,
    creation_date: unixSeconds(u.createdAt),
    last_authentication_date: unixSeconds(u.lastAuthAt),
    disabled: u.disabled,
    data: mergedUserData(u),
  };
}

export function exportedRegistration(a: UserpassAccount, domainId: string): ExportedRegistration {
  return {
    _id: a.id,
    domain_id: domainId,
    login_ids: [{ id_type: 'email', id: a.email, confirmed: a.confirmed }],
    user_id: null,
    creation_date: unixSeconds(a.createdAt),
  };
}
