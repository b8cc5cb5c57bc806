// API keys (`api-key`): one provider for user keys and server keys. A key names its user
// directly; the SDKs cannot tell the two kinds apart, so the lookup does.

import { createHash } from 'node:crypto';
import type { ProviderConfig } from '../../app/model.js';
import { BasteError } from '../../errors.js';
import type { AuthProvider, VerifiedUser } from '../provider.js';

/** Keys are 64 characters on the platform; allow some slack, refuse anything larger unread. */
const MAX_KEY_LENGTH = 256;

export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

export interface ApiKeyDirectory {
  findApiKeyByHash(hash: string): Promise<{ key: { id: string; userId: string; disabled: boolean }; userDisabled: boolean } | null>;
}

export function apiKeyProvider(config: ProviderConfig, keys: ApiKeyDirectory): AuthProvider {
  return {
    config,
    linkable: false,
    async login(payload): Promise<VerifiedUser> {
      const key = payload.key;
      if (typeof key !== 'string' || key.length === 0) throw new BasteError('MissingParameter', 'key is required and must be a string');
      if (key.length > MAX_KEY_LENGTH) throw new BasteError('InvalidParameter', `key must be at most ${MAX_KEY_LENGTH} characters`);
      // The key has 384 bits of entropy, so looking up its SHA-256 leaks nothing through timing.
      const found = await keys.findApiKeyByHash(hashApiKey(key));
      // A deleted user's keys go with it: its login is refused `unauthorized`, as the platform's
      // (see local-userpass). API keys cannot be linked, so no access token rides along.
      if (!found || found.key.disabled) throw new BasteError('AuthError', 'unauthorized: invalid API key');
      if (found.userDisabled) throw new BasteError('UserDisabled', 'user is disabled');
      return { userId: found.key.userId, apiKeyId: found.key.id };
    },
  };
}
