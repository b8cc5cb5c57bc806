// Anonymous login: every login creates a new user; reuse is the SDK's business (it keeps the
// session), so there is nothing to verify. Identity ids follow the platform's `<ObjectId>-<suffix>` shape.

import { randomBytes } from 'node:crypto';
import type { ProviderConfig } from '../../app/model.js';
import { newObjectIdHex } from '../../util/ids.js';
import type { AuthProvider, VerifiedIdentity } from '../provider.js';

export function anonymousProvider(config: ProviderConfig): AuthProvider {
  return {
    config,
    linkable: false,
    async login(): Promise<VerifiedIdentity> {
      return { externalId: `${newObjectIdHex()}-${randomBytes(10).toString('hex')}`, data: {} };
    },
  };
}
