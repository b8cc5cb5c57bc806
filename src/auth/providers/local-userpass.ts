// Email/password (`local-userpass`) as a provider: its settings, and the check of an email and
// password at login. Registration, confirmation and password reset change accounts, and live with
// the users they belong to (users/email-password.ts).

import type { ProviderConfig } from '../../app/model.js';
import { providerConfigError } from '../../app/providers.js';
import { typeName } from '../../app/check.js';
import { BasteError } from '../../errors.js';
import { PASSWORD_RESET_REQUIRED, type UserpassAccount } from '../../store/store.js';
import type { PasswordHasher } from '../passwords.js';
import type { AuthProvider, LoginContext, VerifiedIdentity } from '../provider.js';

export const PASSWORD_MAX = 128;
export const EMAIL_MAX = 256;

export interface UserpassSettings {
  readonly autoConfirm: boolean;
  readonly emailConfirmationUrl?: string;
  readonly confirmEmailSubject: string;
  readonly runConfirmationFunction: boolean;
  readonly confirmationFunctionName?: string;
  readonly resetPasswordUrl?: string;
  readonly resetPasswordSubject: string;
  readonly runResetFunction: boolean;
  readonly resetFunctionName?: string;
}

/** What a login reads and writes, stated here so the provider depends on no storage module. */
export interface UserpassCredentials {
  readonly accounts: {
    findUserpassAccountByEmail(email: string): Promise<UserpassAccount | null>;
    setUserpassPassword(id: string, passwordHash: string): Promise<void>;
  };
  readonly hasher: PasswordHasher;
}

/**
 * Reads and checks the provider's options. `emailConfirmationUrl` and `resetPasswordUrl` may be
 * left out (App Services required them): links then open Baste's own pages (`pages/`).
 */
export function parseUserpassSettings(config: ProviderConfig, functionNames?: ReadonlySet<string>): UserpassSettings {
  const c = config.config;
  const field = (key: string) => `config.${key}`;
  const bool = (key: string): boolean => {
    const v = c[key];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw providerConfigError(config, field(key), `must be true or false, not ${typeName(v)}`);
    return v;
  };
  const str = (key: string, max = 2048): string | undefined => {
    const v = c[key];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw providerConfigError(config, field(key), `must be a string, not ${typeName(v)}`);
    if (v.length > max) throw providerConfigError(config, field(key), `must be a string of at most ${max} characters`);
    return v;
  };
  const url = (key: string): string | undefined => {
    const v = str(key);
    if (v !== undefined && !/^https?:\/\//i.test(v)) throw providerConfigError(config, field(key), 'must be an http(s) URL');
    return v;
  };
  const settings: UserpassSettings = {
    autoConfirm: bool('autoConfirm'),
    emailConfirmationUrl: url('emailConfirmationUrl'),
    // One Stitch revision spelled it emailConfirmationSubject: accept both.
    confirmEmailSubject: str('confirmEmailSubject', 256) ?? str('emailConfirmationSubject', 256) ?? 'Confirm your account',
    runConfirmationFunction: bool('runConfirmationFunction'),
    confirmationFunctionName: str('confirmationFunctionName'),
    resetPasswordUrl: url('resetPasswordUrl'),
    resetPasswordSubject: str('resetPasswordSubject', 256) ?? 'Reset your password',
    runResetFunction: bool('runResetFunction'),
    resetFunctionName: str('resetFunctionName'),
  };
  if (settings.runConfirmationFunction && !settings.confirmationFunctionName) {
    throw providerConfigError(config, field('confirmationFunctionName'), 'is required when runConfirmationFunction is true');
  }
  if (settings.runResetFunction && !settings.resetFunctionName) {
    throw providerConfigError(config, field('resetFunctionName'), 'is required when runResetFunction is true');
  }
  for (const [on, key] of [[settings.runConfirmationFunction, 'confirmationFunctionName'], [settings.runResetFunction, 'resetFunctionName']] as const) {
    const name = settings[key];
    if (on && functionNames && name && !functionNames.has(name)) throw providerConfigError(config, field(key), `function '${name}' is not defined in functions/`);
  }
  return settings;
}

/** A required, bounded string field of a request body. */
export function requireString(body: Record<string, unknown>, key: string, max: number): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length === 0) throw new BasteError('MissingParameter', `${key} is required and must be a string`);
  if (v.length > max) throw new BasteError('InvalidParameter', `${key} must be at most ${max} characters`);
  // No email, token or token id holds one, and PostgreSQL text cannot store it.
  if (v.includes('\u0000')) throw new BasteError('InvalidParameter', `${key} must not contain NUL characters`);
  return v;
}

/**
 * Credentials that do not verify: an unknown email, a wrong password, or the email of a deleted
 * user (whose account goes with it). The platform answered a deleted user's login `unauthorized`
 * (realm-web's and realm-dart's own suites expect it) and a wrong password `invalid
 * username/password`; Baste cannot tell a deleted account from one never registered without
 * revealing which emails were, so every plain login refusal carries both words.
 * A link (`login?link=true`) carries the caller's access token, and realm-web answers a 401 whose
 * error is exactly `unauthorized` by refreshing and retrying without end: a link's refusal never
 * says it.
 */
const invalidCredentials = (linking: boolean | undefined) =>
  new BasteError('InvalidPassword', linking ? 'invalid username/password' : 'unauthorized: invalid username/password');
/**
 * An account moved from App Services without its password (none is exportable). AuthError with
 * 401 is the platform's answer to "right account, but it cannot log in yet" (its "confirmation
 * required"): realm-web surfaces it as MongoDBRealmError (errorCode "AuthError", this message),
 * realm-core as ErrorCodes::AuthError, the Stitch SDKs as StitchServiceErrorCode.AuthError. The
 * message says what to do; it does tell whoever asks that the email is registered, which no
 * other answer can avoid while still telling the owner to reset (the login throttle counts it).
 */
export const passwordResetRequired = () =>
  new BasteError('AuthError', 'password reset required: this account was moved to a new server without its password; reset your password (use "forgot password" or the link emailed to you), then log in');

export class EmailPasswordProvider implements AuthProvider {
  readonly linkable = true;

  constructor(
    readonly config: ProviderConfig,
    private readonly deps: UserpassCredentials,
    functionNames?: ReadonlySet<string>,
  ) {
    // A login needs none of the settings; an app whose options are wrong does not start.
    parseUserpassSettings(config, functionNames);
  }

  /** Failed logins are throttled per username and per address (AuthService, around `login`). */
  accountOf(payload: Record<string, unknown>): string | null {
    return typeof payload.username === 'string' ? payload.username : null;
  }

  async login(payload: Record<string, unknown>, ctx: LoginContext): Promise<VerifiedIdentity> {
    const email = requireString(payload, 'username', EMAIL_MAX);
    const password = requireString(payload, 'password', PASSWORD_MAX);
    const { accounts, hasher } = this.deps;
    const account = await accounts.findUserpassAccountByEmail(email);
    if (account?.passwordHash === PASSWORD_RESET_REQUIRED) {
      await hasher.verifyNothing(password); // the same time as any other answer
      throw passwordResetRequired();
    }
    const ok = account ? await hasher.verify(account.passwordHash, password) : await hasher.verifyNothing(password);
    if (!account || !ok) throw invalidCredentials(ctx.linking);
    // An imported hash (bcrypt, scrypt, …) or older parameters: keep the password, in today's form.
    if (hasher.needsRehash(account.passwordHash)) await accounts.setUserpassPassword(account.id, await hasher.hash(password));
    // Only someone holding the password learns that confirmation is pending.
    if (!account.confirmed) throw new BasteError('AuthError', 'confirmation required');
    return { externalId: account.id, data: { email: account.email } };
  }
}
