import { createHash } from 'node:crypto';

/**
 * A stable 24-hex id (ObjectId-shaped, which is what clients expect in `domain_id` and
 * `provider_id`) derived from `seed`, so restarts and other Baste instances agree on it.
 */
export const derivedId = (seed: string): string => createHash('sha256').update(seed).digest('hex').slice(0, 24);

export const isHexId = (s: string): boolean => /^[0-9a-fA-F]{24}$/.test(s);
