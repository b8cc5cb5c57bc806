// A user as functions see it (`context.user`, a trigger's `event.user`): built from the stored
// record, in one place for the functions, the auth triggers and the execution users.

import type { CallUser } from '../functions/types.js';
import type { UserRecord } from '../store/store.js';
import { mergedUserData } from './users.js';

export function callUserOf(user: UserRecord, customData: Record<string, unknown> = {}): CallUser {
  return {
    id: user.id,
    type: user.type,
    data: mergedUserData(user),
    custom_data: customData,
    identities: user.identities.map((i) => ({ id: i.externalId, provider_type: i.providerType, provider_id: i.providerId })),
  };
}
