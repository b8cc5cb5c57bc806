// What importing one user (store.importUser) writes, decided from what the store holds: the same
// rules for SQLite and PostgreSQL, which read the facts inside their transaction and write the plan.

import type { ImportedUser, UserpassAccount } from './store.js';

/** What the store holds that an import depends on, in the order of the record's identities and accounts. */
export interface ImportFacts {
  readonly userExists: boolean;
  /** The user owning each identity (by provider name and external id), or null. */
  readonly identityOwners: readonly (string | null)[];
  readonly accountsById: readonly (Pick<UserpassAccount, 'id' | 'email'> | null)[];
  readonly accountsByEmail: readonly (Pick<UserpassAccount, 'id' | 'email'> | null)[];
}

export type ImportPlan =
  | { readonly conflict: string }
  | {
      readonly conflict: null;
      readonly insertUser: boolean;
      readonly identities: ImportedUser['identities'];
      readonly accounts: ImportedUser['accounts'];
    };

export function planImport(record: ImportedUser, facts: ImportFacts): ImportPlan {
  const userId = record.user?.id ?? null;
  for (const [i, identity] of record.identities.entries()) {
    const owner = facts.identityOwners[i] ?? null;
    if (owner !== null && owner !== userId) {
      return { conflict: `identity ${identity.providerType} '${identity.externalId}' belongs to another user (${owner})` };
    }
  }
  for (const [i, account] of record.accounts.entries()) {
    const byId = facts.accountsById[i] ?? null;
    const byEmail = facts.accountsByEmail[i] ?? null;
    if (byId && byId.email !== account.email) {
      return { conflict: `email/password account ${account.id} already exists with another email` };
    }
    if (byEmail && byEmail.id !== account.id) {
      return { conflict: `email '${account.email}' is already registered to another email/password account (${byEmail.id})` };
    }
  }
  return {
    conflict: null,
    insertUser: record.user !== null && !facts.userExists,
    identities: record.identities.filter((_, i) => (facts.identityOwners[i] ?? null) === null),
    accounts: record.accounts.filter((_, i) => (facts.accountsById[i] ?? null) === null),
  };
}

/** Whether a plan writes anything. */
export const writesSomething = (plan: Exclude<ImportPlan, { conflict: string }>): boolean =>
  plan.insertUser || plan.identities.length > 0 || plan.accounts.length > 0;
