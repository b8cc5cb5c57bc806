// Tokens providers issued for identities (Apple's refresh token from a code exchange) are revoked
// when the user is deleted: Apple requires it of apps that offer account deletion. Every way of
// deleting a user (DELETE /auth/delete, the admin API and console, `baste users delete`) comes here.

import type { Store } from '../store/store.js';

/** Revokes one token at its provider; throws a BasteError saying why it could not. */
export type TokenRevoker = (token: string) => Promise<void>;

export interface RevocationLog {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Reads the user's provider tokens, runs `remove` (which deletes the user, and the tokens with
 * the identities), then revokes each token with its provider. A revocation that fails is logged
 * (provider and reason, never the token) and does not fail the deletion.
 */
export async function removeRevoking<T>(
  store: Store,
  userId: string,
  revokerOf: (providerName: string) => TokenRevoker | undefined,
  log: RevocationLog | undefined,
  remove: () => Promise<T>,
): Promise<T> {
  const tokens = await store.providerTokensOfUser(userId);
  const result = await remove();
  await Promise.all(
    tokens.map(async ({ providerName, token }) => {
      const revoke = revokerOf(providerName);
      try {
        if (!revoke) throw new Error(`provider '${providerName}' is not enabled or cannot revoke tokens`);
        await revoke(token);
      } catch (err) {
        log?.warn({ userId, provider: providerName, reason: (err as Error)?.message ?? String(err) }, 'the provider token of a deleted user could not be revoked');
      }
    }),
  );
  return result;
}
