// GET /healthz and GET /readyz for load balancers and orchestrators: no token, no app id, and an
// answer that names nothing of the installation (no version, path, driver or error text).
// healthz: the process answers HTTP. readyz: it can serve logins too — the store answers, the
// token signing keys are loaded, the app is loaded (it always is once the server listens: a
// broken app stops the start) — else 503 with Retry-After, in the Stitch error shape as every error.

import type { FastifyPluginAsync } from 'fastify';
import { BasteError } from '../../errors.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../errors.js';
import { DEFAULTS } from '../../defaults.js';

/** What is not ready, in words safe to show anyone; null when ready. */
export type NotReady = 'database' | 'signing keys' | null;

export interface Readiness {
  check(): Promise<NotReady>;
}

/** The paths, for the request log (successful probes are not logged: a balancer asks every few seconds). */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

export const healthRoutes =
  (readiness: Readiness): FastifyPluginAsync =>
  async (http) => {
    http.get('/healthz', async (_req, reply) => {
      void reply.header('cache-control', 'no-store');
      return { status: 'ok' };
    });
    http.get('/readyz', async (_req, reply) => {
      void reply.header('cache-control', 'no-store');
      const missing = await readiness.check();
      if (missing) {
        throw new BasteError('ServiceUnavailable', `not ready: ${missing} unavailable`, { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
      }
      return { status: 'ready' };
    });
  };

/**
 * Readiness from its parts: `probeStore` must answer (a cheap read) within `timeoutMs`,
 * without throwing, and `keysLoaded` must hold.
 */
export function readinessOf(probeStore: () => Promise<unknown>, keysLoaded: () => boolean, timeoutMs = DEFAULTS.readinessTimeoutMs): Readiness {
  return {
    async check() {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        const answered = await Promise.race([probeStore().then(() => true), timedOut]);
        if (!answered) return 'database';
      } catch {
        return 'database';
      } finally {
        clearTimeout(timer);
      }
      return keysLoaded() ? null : 'signing keys';
    },
  };
}
