// Custom Function (`custom-function`): the app's auth function gets the login payload and
// answers with the user's external id. The same id is always the same user; nothing it returns
// besides the id (and an optional name) is trusted, and users are never looked up by email.

import type { ProviderConfig } from '../../app/model.js';
import { providerConfigError } from '../../app/providers.js';
import { BasteError } from '../../errors.js';
import type { AuthProvider, VerifiedIdentity } from '../provider.js';

/** Runs an app function as the system user and returns its decoded result. */
export type RunFunction = (name: string, args: unknown[]) => Promise<unknown>;

const MAX_ID_LENGTH = 256;

/**
 * Payload fields that name the account a custom-function login is for, first found wins: failed
 * logins are throttled per such account (a PIN check would otherwise fall to 10,000 tries) and
 * always per client address.
 */
export const CUSTOM_FUNCTION_ACCOUNT_FIELDS = ['username', 'email', 'userId', 'user', 'id', 'phone'] as const;

export function authFunctionName(config: ProviderConfig, functionNames: ReadonlySet<string>): string {
  const name = config.config.authFunctionName;
  const field = `config.authFunctionName`;
  if (typeof name !== 'string' || name.length === 0) throw providerConfigError(config, field, 'must name the authentication function');
  if (!functionNames.has(name)) throw providerConfigError(config, field, `function '${name}' is not defined in functions/`);
  return name;
}

export function customFunctionProvider(config: ProviderConfig, functionNames: ReadonlySet<string>, run: RunFunction): AuthProvider {
  const fn = authFunctionName(config, functionNames);
  return {
    config,
    linkable: true,
    accountOf(payload) {
      for (const field of CUSTOM_FUNCTION_ACCOUNT_FIELDS) {
        const value = payload[field];
        if (typeof value === 'string' || typeof value === 'number') return `${field}:${value}`;
      }
      return null;
    },
    async login(payload): Promise<VerifiedIdentity> {
      let result: unknown;
      try {
        result = await run(fn, [payload]);
      } catch (err) {
        // The function's own message is what the app wants its users to see.
        throw new BasteError('AuthError', `authentication function refused the login: ${(err as Error).message}`);
      }
      const id = typeof result === 'string' ? result : (result as { id?: unknown } | null)?.id;
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
        throw new BasteError('AuthError', 'authentication function must return a non-empty id string, {id} or {id, name}');
      }
      const name = (result as { name?: unknown } | null)?.name;
      return { externalId: id, data: typeof name === 'string' ? { name } : {} };
    },
  };
}
