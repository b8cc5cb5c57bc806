// What the HTTP layer is given: the server's parts each route reaches, and the options of the
// Fastify instance. The routes and buildHttp (app.ts) import it; it imports none of them.

import type { Logger } from 'pino';
import type { Admin } from '../admin/admin.js';
import type { AdminSessions } from '../admin/sessions.js';
import type { AdminTokens } from '../admin/tokens.js';
import type { TriggerAdmin } from '../admin/triggers.js';
import type { AppConfig } from '../app/model.js';
import type { ApiKeys } from '../auth/api-keys.js';
import type { OAuthRedirects } from '../auth/oauth-redirect.js';
import type { AuthService } from '../auth/service.js';
import type { Functions } from '../functions/functions.js';
import type { HttpFunctions } from '../functions/http-functions.js';
import type { MongoService } from '../services/mongodb/service.js';
import type { Sessions } from '../sessions/sessions.js';
import type { WatchHub } from '../watch/hub.js';
import type { Readiness } from './routes/health.js';

export interface HttpOptions {
  /** Public URL clients should use (`--base-url`); otherwise the location route echoes how the client came in. */
  readonly baseUrl?: string;
  /** Believe X-Forwarded-For / -Proto / -Host (`--trust-proxy`). */
  readonly trustProxy: boolean;
  /** Largest request body accepted, in bytes (platform limit: 18 MB). */
  readonly bodyLimit?: number;
}

export interface HttpDeps {
  readonly app: AppConfig;
  readonly auth: AuthService;
  readonly apiKeys: ApiKeys;
  readonly functions: Functions;
  readonly httpFunctions: HttpFunctions;
  readonly mongo: MongoService;
  readonly sessions: Sessions;
  /** The browser OAuth redirect flow (Google, Facebook). */
  readonly oauthRedirects: OAuthRedirects;
  readonly logger: Logger;
  readonly options: HttpOptions;
  /** The admin API and the web console (`/api/admin/v3.0/...`, `/admin/`). */
  readonly admin: AdminHttp;
  /** What GET /readyz asks. */
  readonly readiness: Readiness;
  /** Open watch streams (GET functions/call). */
  readonly watch: WatchHub;
  /** The email confirm and reset pages' folder (`/app/{appId}/confirm`, `/reset`); null: not served. */
  readonly emailPagesDir?: string | null;
}

/** What the HTTP layer needs for administration. */
export interface AdminHttp {
  readonly service: Admin;
  readonly tokens: AdminTokens;
  /** Logins with an admin token as realm-cli logs in (access and refresh tokens). */
  readonly sessions: AdminSessions;
  /** The console's static files; null serves no console. */
  readonly consoleDir: string | null;
  /** Triggers and their status (a running server's). */
  readonly triggers: TriggerAdmin;
}
