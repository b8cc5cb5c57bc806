// The signature GitHub puts on a webhook delivery made with a secret ("Validating webhook
// deliveries", docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries):
// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`, and the
// legacy `X-Hub-Signature: sha1=<hex HMAC-SHA1>` that GitHub still sends beside it. A Stitch
// `github` service's incoming webhooks were checked this way; the generic `X-Hook-Signature` of
// other Stitch webhooks is never sent by GitHub. Pure.

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface GitHubDelivery {
  readonly body: Buffer;
  /** `X-Hub-Signature-256`. */
  readonly sha256: string | undefined;
  /** `X-Hub-Signature` (legacy). */
  readonly sha1: string | undefined;
}

const matches = (given: string, expected: string) => {
  const a = Buffer.from(given.trim(), 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * Whether a delivery is signed with `secret`. The SHA-256 header decides when present (a wrong
 * one is refused, never retried with SHA-1); without it the legacy SHA-1 header must match.
 */
export function isSignedByGitHub(secret: string, d: GitHubDelivery): boolean {
  if (d.sha256 !== undefined) return matches(d.sha256, `sha256=${createHmac('sha256', secret).update(d.body).digest('hex')}`);
  if (d.sha1 !== undefined) return matches(d.sha1, `sha1=${createHmac('sha1', secret).update(d.body).digest('hex')}`);
  return false;
}
