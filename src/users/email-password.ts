// The email/password account lifecycle (`local-userpass`): registration, confirmation, password
// reset and the one-time tokens they mail. Accounts are registrations; the user and its identity
// are created at the first login (or when the account is linked into an existing user), as on the
// platform. Checking a password at login is the provider's (auth/providers/local-userpass.ts);
// everything that changes an account is here, for the client routes, the admin API and `baste users`.

import { createHash, randomBytes } from 'node:crypto';
import { EJSON } from 'bson';
import type { ProviderConfig } from '../app/model.js';
import { requireString, EMAIL_MAX, PASSWORD_MAX, type UserpassSettings } from '../auth/providers/local-userpass.js';
import type { PasswordHasher } from '../auth/passwords.js';
import { CREDENTIAL_FAILURES, type LoginThrottle } from '../auth/throttle.js';
import type { Mailer } from '../email/mailer.js';
import { BasteError, badRequest } from '../errors.js';
import type { Store, UserpassAccount as Account, UserpassTokenKind as TokenKind, UserpassToken as Token } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { newObjectIdHex } from '../util/ids.js';

/** Confirmation and reset links stay valid this long (platform: 30 minutes). */
export const USERPASS_TOKEN_TTL_MS = 30 * 60 * 1000;
const PASSWORD_MIN = 6;

/** The persistence the account lifecycle needs. */
export type UserpassAccounts = Pick<
  Store,
  | 'createUserpassAccount'
  | 'findUserpassAccountByEmail'
  | 'findUserpassAccount'
  | 'confirmUserpassAccount'
  | 'setUserpassPassword'
  | 'deleteUserpassAccount'
  | 'putUserpassToken'
  | 'takeUserpassToken'
>;

/**
 * What the email/password routes answer for an email no account has, or one that is taken.
 * `conceal` (the default) answers every email alike, so none of these routes tells who is
 * registered:
 * - `register` of a taken email: 201 as for a new one; nothing changes for the account, and when
 *   the provider confirms by email its owner is mailed a notice instead of a link;
 * - `confirm/send`: 204 for a pending account (a new link is sent), and for an unknown or an
 *   already confirmed one (nothing is sent);
 * - `confirm/call`: an unknown or confirmed email gets the 204 of a function answering pending;
 * - `reset/send`: 204 (no email is sent); `reset/call`: the 400 a refusing reset function gets.
 * `reveal` gives the platform's answers: 409 AccountNameInUse, 404 UserNotFound, 400
 * UserAlreadyConfirmed. realm-web, the Stitch SDKs and realm-core treat any 2xx as success and
 * any error body as an error, so both choices work with them; only an app that tells its users
 * "no such account" or "already registered" needs `reveal`.
 */
export type UnknownEmailAnswer = 'conceal' | 'reveal';

export interface UserpassDeps {
  readonly accounts: UserpassAccounts;
  readonly hasher: PasswordHasher;
  readonly mailer: Mailer;
  /**
   * Every client's credential check here (reset and confirmation functions, emailed tokens) is
   * throttled; an operator's command line, which makes no client checks, passes none.
   */
  readonly throttle?: LoginThrottle;
  readonly clock: Clock;
  readonly unknownEmails?: UnknownEmailAnswer;
  /** Runs an app function as the system user: the confirmation and reset functions. */
  readonly runFunction?: (name: string, args: unknown[]) => Promise<unknown>;
  /**
   * Where Baste's own confirm and reset pages are (`<public base URL>/app/<app id>`) when no
   * request says (`--base-url`); links use them when the provider names no URL of its own.
   */
  readonly pagesUrl?: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function requireEmail(body: Record<string, unknown>, key = 'email'): string {
  const email = requireString(body, key, EMAIL_MAX);
  // Loose on purpose: the platform only checks the shape; delivery proves the rest.
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new BasteError('InvalidParameter', `${key} is not a valid email address`);
  return email;
}

export function requirePassword(body: Record<string, unknown>): string {
  const v = body.password;
  if (typeof v !== 'string') throw new BasteError('MissingParameter', 'password is required and must be a string');
  if (v.length < PASSWORD_MIN || v.length > PASSWORD_MAX) {
    throw new BasteError('InvalidParameter', `password must be between ${PASSWORD_MIN} and ${PASSWORD_MAX} characters`);
  }
  return v;
}

type HookStatus = 'success' | 'pending' | 'fail';

/** The `{status}` a confirmation or reset function answers; anything else is the function's mistake. */
function statusOf(result: unknown, fn: string): HookStatus {
  const status = (result as { status?: unknown } | null)?.status;
  if (status === 'success' || status === 'pending' || status === 'fail') return status;
  throw new BasteError('FunctionExecutionError', `function '${fn}' must return {status: "success" | "pending" | "fail"}`);
}

const invalidToken = () => new BasteError('UserpassTokenInvalid', 'invalid token data');
const resetRefused = (email: string) => badRequest(`failed to reset password for user "${email}"`);

/** Refusals of a reset or confirmation function count as failed credential checks, as a throw of the function does. */
const FUNCTION_FAILURES = new Set([...CREDENTIAL_FAILURES, 'BadRequest', 'FunctionExecutionError', 'UserAlreadyConfirmed'] as const);

/** Where the request came from: the throttle counts per client address. None: an operator's call (admin API). */
export interface FlowContext {
  readonly clientAddress?: string;
  /** Baste's own pages as this request's client reaches them (`<public base URL>/app/<app id>`). */
  readonly pagesUrl?: string;
}

/** What the lifecycle asks of users/: a changed password ends the sessions of the account's user. */
export interface AccountOwners {
  passwordChanged(providerName: string, accountId: string): Promise<void>;
}

/** The lifecycle of the accounts of one email/password provider. */
export class EmailPasswordAccounts {
  constructor(
    readonly config: ProviderConfig,
    readonly settings: UserpassSettings,
    private readonly deps: UserpassDeps,
    private readonly owners: AccountOwners,
  ) {}

  /** A confirmed account made by an operator (admin API, `baste users create`): no email is sent. */
  async createConfirmed(body: Record<string, unknown>): Promise<Account> {
    const email = requireEmail(body);
    const password = requirePassword(body);
    const account: Account = {
      id: newObjectIdHex(),
      email,
      passwordHash: await this.deps.hasher.hash(password),
      confirmed: true,
      createdAt: this.deps.clock(),
    };
    if ((await this.deps.accounts.createUserpassAccount(account)) === 'exists') {
      throw new BasteError('AccountNameInUse', `an email/password account for '${email}' already exists`);
    }
    return account;
  }

  /** An operator's confirmation of a pending registration (its user is then made by users/). */
  async confirmAccount(account: Account): Promise<void> {
    await this.deps.accounts.confirmUserpassAccount(account.id);
  }

  async register(body: Record<string, unknown>, ctx: FlowContext = {}): Promise<void> {
    const email = requireEmail(body);
    const password = requirePassword(body);
    const s = this.settings;
    const account: Account = {
      id: newObjectIdHex(),
      email,
      passwordHash: await this.deps.hasher.hash(password),
      confirmed: s.autoConfirm,
      createdAt: this.deps.clock(),
    };
    if ((await this.deps.accounts.createUserpassAccount(account)) === 'exists') {
      if (!this.concealUnknown) throw new BasteError('AccountNameInUse', 'name already in use');
      // Answered as a new registration (the password was hashed either way, so the time is
      // alike); the owner hears of it where a new registrant would have been sent a link.
      if (!s.autoConfirm && !s.runConfirmationFunction) await this.sendAccountExists(email);
      return;
    }
    if (s.autoConfirm) return;
    try {
      if (s.runConfirmationFunction) await this.runConfirmation(account);
      else await this.sendLink(account, 'confirm', ctx);
    } catch (err) {
      // Without its email (or with its function failing) the registration could never be
      // confirmed: undo it so the person can retry.
      await this.deps.accounts.deleteUserpassAccount(account.id);
      throw err;
    }
  }

  /**
   * Runs the confirmation function: success confirms, pending waits for `confirm` (only then is
   * the token the function was given stored), fail discards.
   */
  private async runConfirmation(account: Account): Promise<void> {
    const fn = this.settings.confirmationFunctionName!;
    const minted = this.mintToken(account, 'confirm');
    const status = statusOf(await this.runHook(fn, [{ username: account.email, token: minted.token, tokenId: minted.tokenId }]), fn);
    if (status === 'success') await this.deps.accounts.confirmUserpassAccount(account.id);
    else if (status === 'pending') await this.deps.accounts.putUserpassToken(minted.record);
    else throw badRequest(`confirmation of ${account.email} was refused by the confirmation function`);
  }

  /** A credential check under the throttle; an operator's call (no client address) is not throttled. */
  private guarded<T>(scope: string, account: string, ctx: FlowContext, check: () => Promise<T>): Promise<T> {
    if (ctx.clientAddress === undefined || !this.deps.throttle) return check();
    return this.deps.throttle.guard(`${this.config.name}:${scope}`, account, ctx.clientAddress, check, FUNCTION_FAILURES);
  }

  private async runHook(fn: string, args: unknown[]): Promise<unknown> {
    if (!this.deps.runFunction) throw new BasteError('FunctionNotFound', `function '${fn}' cannot be run here`);
    try {
      return await this.deps.runFunction(fn, args);
    } catch (err) {
      if (err instanceof BasteError) throw err;
      throw new BasteError('FunctionExecutionError', (err as Error).message);
    }
  }

  async confirm(body: Record<string, unknown>, ctx: FlowContext = {}): Promise<void> {
    const account = await this.redeem(body, 'confirm', ctx);
    await this.deps.accounts.confirmUserpassAccount(account.id);
  }

  async resendConfirmation(body: Record<string, unknown>, ctx: FlowContext = {}): Promise<void> {
    const email = requireEmail(body);
    // Decided by the provider's settings alone, before the email is looked up.
    if (this.settings.runConfirmationFunction) throw badRequest('confirmation emails are not enabled: this provider runs a confirmation function');
    const account = await this.pendingAccountOrConcealed(email);
    if (account) await this.sendLink(account, 'confirm', ctx);
  }

  /** The admin API's resend: the operator is told what is wrong (no concealing). */
  async resendConfirmationFor(email: string, ctx: FlowContext = {}): Promise<void> {
    if (this.settings.runConfirmationFunction) throw badRequest('confirmation emails are not enabled: this provider runs a confirmation function');
    await this.sendLink(await this.pendingAccount(email), 'confirm', ctx);
  }

  async retryConfirmationFunction(body: Record<string, unknown>, ctx: FlowContext = {}): Promise<void> {
    const email = requireEmail(body);
    if (this.settings.autoConfirm) throw badRequest(`cannot run confirmation for ${email}: automatic confirmation is enabled`);
    if (!this.settings.runConfirmationFunction) throw badRequest('no confirmation function is configured for this provider');
    await this.guarded('confirm-call', email, ctx, async () => {
      // An operator's call (no client address) is told what is wrong; a client's may be concealed.
      const account = ctx.clientAddress === undefined ? await this.pendingAccount(email) : await this.pendingAccountOrConcealed(email);
      if (!account) return;
      try {
        await this.runConfirmation(account);
      } catch (err) {
        // A refused retry discards the registration, as a refused registration does (the email is free again).
        if (err instanceof BasteError && err.code === 'BadRequest') await this.deps.accounts.deleteUserpassAccount(account.id);
        throw err;
      }
    });
  }

  async sendReset(body: Record<string, unknown>, ctx: FlowContext = {}): Promise<void> {
    const email = requireEmail(body);
    if (this.settings.runResetFunction) throw badRequest('please use reset password via function');
    const account = await this.deps.accounts.findUserpassAccountByEmail(email);
    if (!account) {
      if (this.concealUnknown) return;
      throw new BasteError('UserNotFound', 'user not found');
    }
    await this.sendLink(account, 'reset', ctx);
  }

  /**
   * An operator's reset (admin API, `baste users import --send-reset`): mails the account a reset
   * link to `resetPasswordUrl` (or Baste's reset page), whatever the client flow is.
   */
  async sendResetLink(email: string, ctx: FlowContext = {}): Promise<void> {
    const account = await this.deps.accounts.findUserpassAccountByEmail(email);
    if (!account) throw new BasteError('UserNotFound', 'user not found');
    await this.sendLink(account, 'reset', ctx);
  }

  private get concealUnknown(): boolean {
    return (this.deps.unknownEmails ?? 'conceal') === 'conceal';
  }

  /** A new password ends every session opened with the old one. */
  async reset(body: Record<string, unknown>, ctx: FlowContext = {}): Promise<void> {
    const password = requirePassword(body);
    const account = await this.redeem(body, 'reset', ctx);
    await this.setPassword(account, password);
  }

  private async setPassword(account: Account, password: string): Promise<void> {
    await this.deps.accounts.setUserpassPassword(account.id, await this.deps.hasher.hash(password));
    await this.owners.passwordChanged(this.config.name, account.id);
  }

  /**
   * `reset/call`: the reset function decides. Success sets the new password at once (ending the
   * account's sessions); pending leaves a token for `reset`; fail refuses.
   */
  async callResetFunction(body: Record<string, unknown>, ctx: FlowContext = {}): Promise<void> {
    const email = requireEmail(body);
    const password = requirePassword(body);
    const fn = this.settings.resetFunctionName;
    if (!this.settings.runResetFunction || !fn) throw badRequest(`failed to reset password for user "${email}": no reset function is configured`);
    const rawArgs = body.arguments ?? [];
    if (!Array.isArray(rawArgs)) throw new BasteError('InvalidParameter', 'arguments must be an array');
    let extra: unknown[];
    try {
      extra = EJSON.deserialize(rawArgs, { relaxed: true }) as unknown[];
    } catch {
      throw badRequest('arguments are not valid extended JSON');
    }
    // Throttled per email and per address: the function's answer is a credential (a security
    // question, a code). Refused attempts write nothing: the token the function is given is stored
    // only when it answers pending (for a later `reset`).
    return this.guarded('reset-call', email, ctx, async () => {
      const account = await this.deps.accounts.findUserpassAccountByEmail(email);
      if (!account) {
        if (!this.concealUnknown) throw new BasteError('UserNotFound', 'user not found');
        await this.deps.hasher.verifyNothing(password);
        throw resetRefused(email);
      }
      const minted = this.mintToken(account, 'reset');
      const currentPasswordValid = await this.deps.hasher.verify(account.passwordHash, password);
      const args = [{ username: email, password, token: minted.token, tokenId: minted.tokenId, currentPasswordValid }, ...extra];
      const status = statusOf(await this.runHook(fn, args), fn);
      if (status === 'fail') throw resetRefused(email);
      if (status === 'pending') {
        await this.deps.accounts.putUserpassToken(minted.record);
        return;
      }
      await this.setPassword(account, password);
    });
  }

  /** The pending account, or null (concealing) for an unknown or confirmed email. */
  private async pendingAccountOrConcealed(email: string): Promise<Account | null> {
    try {
      return await this.pendingAccount(email);
    } catch (err) {
      if (this.concealUnknown && err instanceof BasteError && (err.code === 'UserNotFound' || err.code === 'UserAlreadyConfirmed')) return null;
      throw err;
    }
  }

  private async pendingAccount(email: string): Promise<Account> {
    const account = await this.deps.accounts.findUserpassAccountByEmail(email);
    if (!account) throw new BasteError('UserNotFound', 'user not found');
    if (account.confirmed) throw new BasteError('UserAlreadyConfirmed', 'already confirmed');
    return account;
  }

  /** Emailed tokens are throttled per token id and per address. */
  private async redeem(body: Record<string, unknown>, kind: TokenKind, ctx: FlowContext): Promise<Account> {
    const token = requireString(body, 'token', 256);
    const tokenId = requireString(body, 'tokenId', 256);
    return this.guarded('token', tokenId, ctx, async () => {
      const found = await this.deps.accounts.takeUserpassToken(tokenId, sha256(token));
      if (!found || found.kind !== kind || found.expiresAt <= this.deps.clock()) throw invalidToken();
      const account = await this.deps.accounts.findUserpassAccount(found.accountId);
      if (!account) throw invalidToken();
      return account;
    });
  }

  private mintToken(account: Account, kind: TokenKind) {
    return mintToken(account, kind, this.deps.clock);
  }

  /** A registration for a taken email: its owner is told, with no link and no token (nothing of the account changes). */
  private async sendAccountExists(email: string): Promise<void> {
    await this.deps.mailer.send({
      kind: 'account-exists',
      to: email,
      subject: this.settings.confirmEmailSubject,
      text:
        'Someone asked to register an account with this email address, which already has one. Nothing was changed.\n\n' +
        'If it was you, log in with your password, or ask for a password reset if you forgot it. If not, ignore this email.\n',
    });
  }

  private async sendLink(account: Account, kind: TokenKind, ctx: FlowContext): Promise<void> {
    await sendUserpassLink(this.deps, this.settings, account, kind, ctx.pagesUrl ?? this.deps.pagesUrl);
  }
}

/** Baste's own confirm and reset pages of an app, under the server's public base URL. */
export const emailPagesUrl = (baseUrl: string, appId: string): string => `${baseUrl.replace(/\/+$/, '')}/app/${encodeURIComponent(appId)}`;

/**
 * Where a link of `kind` points: the provider's own URL, else Baste's page under `pagesUrl`.
 * Without either (an operator's command with no --base-url) there is no address to mail.
 */
export function linkBase(s: UserpassSettings, kind: TokenKind, pagesUrl: string | undefined): string {
  const own = kind === 'confirm' ? s.emailConfirmationUrl : s.resetPasswordUrl;
  if (own && !(pagesUrl && namesOwnPageOnLoopback(own, `${pagesUrl}/${kind}`))) return own;
  if (pagesUrl) return `${pagesUrl}/${kind}`;
  const key = kind === 'confirm' ? 'emailConfirmationUrl' : 'resetPasswordUrl';
  throw badRequest(`no ${key} is configured and Baste's own ${kind} page needs the server's public URL: pass --base-url (or set config.${key})`);
}

/**
 * A development export names Baste's own page at a loopback address (e.g. the example app's
 * http://localhost:8080/app/todo-abcde/confirm): that page is this server's wherever it listens
 * (another --port, --base-url), so the link goes to `page`. A URL on any other host is the
 * owner's and is mailed as written.
 */
function namesOwnPageOnLoopback(own: string, page: string): boolean {
  const url = new URL(own);
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  return loopback && url.pathname.replace(/\/+$/, '') === new URL(page).pathname;
}

/** A fresh one-time token pair for the account, not stored yet (storing replaces any earlier one of the kind). */
function mintToken(account: Account, kind: TokenKind, clock: Clock): { token: string; tokenId: string; record: Token } {
  const token = randomBytes(32).toString('hex');
  const tokenId = randomBytes(12).toString('hex');
  const record = { id: tokenId, accountId: account.id, kind, tokenHash: sha256(token), expiresAt: clock() + USERPASS_TOKEN_TTL_MS };
  return { token, tokenId, record };
}

/** Mints a one-time token of `kind` for the account, stores its hash and mails the link carrying it. */
export async function sendUserpassLink(
  deps: { accounts: Pick<UserpassAccounts, 'putUserpassToken'>; mailer: Mailer; clock: Clock },
  s: UserpassSettings,
  account: Account,
  kind: TokenKind,
  pagesUrl?: string,
): Promise<void> {
  // Before any token is stored: a link that cannot be addressed leaves nothing behind.
  const base = linkBase(s, kind, pagesUrl);
  const { token, tokenId, record } = mintToken(account, kind, deps.clock);
  await deps.accounts.putUserpassToken(record);
  const link = new URL(base);
  link.searchParams.set('token', token);
  link.searchParams.set('tokenId', tokenId);
  const subject = kind === 'confirm' ? s.confirmEmailSubject : s.resetPasswordSubject;
  const action = kind === 'confirm' ? 'confirm your account' : 'choose a new password';
  await deps.mailer.send({
    kind,
    to: account.email,
    subject,
    link: link.toString(),
    text: `Follow this link within 30 minutes to ${action}:\n\n${link.toString()}\n\nIf you did not ask for this, ignore this email.\n`,
  });
}
