// The admin API (App Services Admin API resource names, under /api/admin/v3.0): users, pending
// email/password registrations, server API keys, auth providers and the audit log of one app.
// Every route needs an admin token; the check runs before anything else, so a refused request
// changes nothing. Lists come 50 at a time; the `X-Baste-Next-After` header carries the `after`
// cursor of the next page when there is one.

import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Admin, Page } from '../../admin/admin.js';
import type { TriggerAdmin } from '../../admin/triggers.js';
import { looksLikeAdminToken, type Actor } from '../../admin/tokens.js';
import type { AppConfig } from '../../app/model.js';
import { BasteError } from '../../errors.js';
import type { HttpDeps } from '../deps.js';
import { bearerToken, objectBody } from '../request.js';
import { emailPagesUrl } from '../../users/email-password.js';
import { mailedLinkBaseUrl } from './location.js';

const ADMIN_API = '/api/admin/v3.0';
const NEXT_PAGE_HEADER = 'x-baste-next-after';
const ADMIN_BODY_LIMIT = 16 * 1024;
const ADMIN_LOGIN = `${ADMIN_API}/auth/providers/mongodb-cloud/login`;
const ADMIN_SESSION = `${ADMIN_API}/auth/session`;
/** Routes whose credential is in the body (login) or is a refresh token (session): checked by their handlers. */
const OWN_CREDENTIAL = new Set([ADMIN_LOGIN, ADMIN_SESSION]);

/** Admin paths answer to admin tokens, not to the app's `allowed_request_origins` (a client setting). */
export const isAdminPath = (url: string): boolean => url.startsWith(`${ADMIN_API}/`) || url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?');

export const adminRoutes =
  ({ app, admin, options }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    const { service, tokens, sessions, triggers } = admin;
    const actors = new WeakMap<FastifyRequest, Actor>();
    const actorOf = (req: FastifyRequest): Actor => {
      const actor = actors.get(req);
      if (!actor) throw new BasteError('InvalidSession', 'invalid session: no admin token');
      return actor;
    };

    // Runs before the body is read and before any handler: no token, no work.
    http.addHook('onRequest', async (req, reply) => {
      reply.header('cache-control', 'no-store');
      if (OWN_CREDENTIAL.has(req.routeOptions.url ?? '')) return;
      // An admin token itself, or the access token of a session it opened (mongodb-cloud login).
      const bearer = bearerToken(req);
      // A wrong admin token counts as a failed login from this address (admin access tokens are
      // signed: guessing one is not a credential check worth counting).
      actors.set(req, looksLikeAdminToken(bearer) ? await tokens.verify(bearer, { clientAddress: req.ip }) : await sessions.verifyAccess(bearer));
      const { appId } = req.params as { appId?: string };
      if (appId !== undefined) requireAdminApp(app, appId);
    });

    http.post(ADMIN_LOGIN, { bodyLimit: ADMIN_BODY_LIMIT }, async (req) => sessions.login(objectBody(req), req.ip));
    http.post(ADMIN_SESSION, async (req, reply) => reply.code(201).send(await sessions.refresh(bearerToken(req))));
    http.get(`${ADMIN_API}/auth/profile`, async (req) => sessions.profile(actorOf(req)));
    http.get(`${ADMIN_API}/apps`, async () => [service.app()]);
    for (const prefix of [`${ADMIN_API}/apps/:appId`, `${ADMIN_API}/groups/:groupId/apps/:appId`]) {
      // Links mailed on an operator's request open Baste's pages where that operator reached the server.
      const pagesUrl = (req: FastifyRequest) => emailPagesUrl(mailedLinkBaseUrl(req, options.baseUrl), app.appId);
      await http.register(appRoutes(service, triggers, actorOf, pagesUrl), { prefix });
    }
  };

/** `{appId}` is the client app id (`todo-abcde`) or the app's 24-hex id (its `domain_id`). */
function requireAdminApp(config: AppConfig, appId: string): void {
  if (appId !== config.appId && appId !== config.domainId) {
    throw new BasteError('AppNotFound', `cannot find app '${appId.slice(0, 100)}'`);
  }
}

const sendPage = <T>(reply: FastifyReply, page: Page<T>): T[] => {
  if (page.nextAfter) reply.header(NEXT_PAGE_HEADER, page.nextAfter);
  return page.items;
};

const noContent = (reply: FastifyReply) => reply.code(204).send();

const appRoutes =
  (service: Admin, triggers: TriggerAdmin, actorOf: (req: FastifyRequest) => Actor, pagesUrl: (req: FastifyRequest) => string) =>
  async (http: FastifyInstance): Promise<void> => {
    type P = { userId: string; email: string; keyId: string; triggerId: string; sessionId: string };
    const params = (req: FastifyRequest) => req.params as P;
    const query = (req: FastifyRequest) => req.query as Record<string, unknown>;
    const body = { bodyLimit: ADMIN_BODY_LIMIT };

    http.get('', async () => service.app());

    // Users
    http.get('/users', async (req, reply) => {
      const q = query(req);
      return sendPage(
        reply,
        await service.listUsers({
          after: q.after,
          sort: q.sort,
          desc: q.desc,
          status: q.status,
          providerTypes: q.provider_types,
          providerType: q.provider_type,
          search: q.search,
        }),
      );
    });
    http.post('/users', body, async (req, reply) => reply.code(201).send(await service.createUser(actorOf(req), objectBody(req))));
    http.post('/users/verify_token', body, async (req, reply) => {
      const verified = await service.verifyToken(objectBody(req));
      // The platform answers an expired token with 200 and the JSON string "token expired".
      return reply.type('application/json').send(JSON.stringify(verified));
    });
    http.get('/users/:userId', async (req) => service.getUser(params(req).userId));
    http.get('/users/:userId/devices', async (req) => service.devices(params(req).userId));
    http.get('/users/:userId/api_keys', async (req) => service.userApiKeys(params(req).userId));
    // One user's sessions, and ending one of them (Baste's: the platform could only log a user out everywhere)
    http.get('/users/:userId/sessions', async (req) => service.sessions(params(req).userId));
    http.delete('/users/:userId/sessions/:sessionId', async (req, reply) => {
      await service.revokeSession(actorOf(req), params(req).userId, params(req).sessionId);
      return noContent(reply);
    });
    http.delete('/users/:userId', async (req, reply) => {
      await service.deleteUser(actorOf(req), params(req).userId);
      return noContent(reply);
    });
    for (const [action, run] of [
      ['enable', (actor: Actor, id: string) => service.setDisabled(actor, id, false)],
      ['disable', (actor: Actor, id: string) => service.setDisabled(actor, id, true)],
      ['logout', (actor: Actor, id: string) => service.revokeSessions(actor, id)],
    ] as const) {
      http.put(`/users/:userId/${action}`, async (req, reply) => {
        await run(actorOf(req), params(req).userId);
        return noContent(reply);
      });
    }

    // Password reset links (Baste's: the platform has no such route), for users imported without their password
    http.post('/users/:userId/send_password_reset', async (req, reply) => {
      await service.sendPasswordReset(actorOf(req), params(req).userId, pagesUrl(req));
      return noContent(reply);
    });
    http.post('/users/send_password_resets', async (req) => service.sendPasswordResets(actorOf(req), pagesUrl(req)));

    // Pending email/password registrations (`pending_users` is the platform's path; the bare one Baste's first)
    for (const path of ['/user_registrations/pending_users', '/user_registrations']) {
      http.get(path, async (req, reply) => sendPage(reply, await service.listPending({ after: query(req).after })));
    }
    http.post('/user_registrations/by_email/:email/confirm', async (req, reply) => {
      await service.confirmPending(actorOf(req), params(req).email);
      return noContent(reply);
    });
    http.post('/user_registrations/by_email/:email/send_confirm', async (req, reply) => {
      await service.sendConfirmation(actorOf(req), params(req).email, pagesUrl(req));
      return noContent(reply);
    });
    http.post('/user_registrations/by_email/:email/run_confirm', async (req, reply) => {
      await service.runConfirmation(actorOf(req), params(req).email);
      return reply.code(202).send();
    });
    http.delete('/user_registrations/by_email/:email', async (req, reply) => {
      await service.deletePending(actorOf(req), params(req).email);
      return noContent(reply);
    });

    // Server API keys
    http.get('/api_keys', async () => service.listApiKeys());
    http.post('/api_keys', body, async (req, reply) => reply.code(201).send(await service.createApiKey(actorOf(req), objectBody(req).name)));
    http.get('/api_keys/:keyId', async (req) => service.getApiKey(params(req).keyId));
    http.delete('/api_keys/:keyId', async (req, reply) => {
      await service.deleteApiKey(actorOf(req), params(req).keyId);
      return noContent(reply);
    });
    for (const action of ['enable', 'disable'] as const) {
      http.put(`/api_keys/:keyId/${action}`, async (req, reply) => {
        await service.setApiKeyDisabled(actorOf(req), params(req).keyId, action === 'disable');
        return noContent(reply);
      });
    }

    // App settings
    http.get('/security/refresh_token_expiration', async () => service.refreshTokenExpiration());
    http.put('/security/refresh_token_expiration', body, async (req, reply) => {
      await service.setRefreshTokenExpiration(actorOf(req), objectBody(req));
      return noContent(reply);
    });
    http.get('/security/session_policy', async () => service.sessionPolicy());
    http.put('/security/session_policy', body, async (req) => service.setSessionPolicy(actorOf(req), objectBody(req)));
    http.get('/custom_user_data', async () => service.customUserData());

    // Triggers: read-only (they are the app's files), with Baste's status; resume as on the platform
    http.get('/triggers', async () => triggers.list());
    http.get('/triggers/:triggerId', async (req) => triggers.get(params(req).triggerId));
    http.put('/triggers/:triggerId/resume', body, async (req, reply) => {
      // The body is optional on the platform: none means `disable_token: false`.
      await triggers.resume(actorOf(req), params(req).triggerId, req.body === undefined || req.body === null ? {} : objectBody(req));
      return noContent(reply);
    });

    // Providers (never a secret) and the audit log
    http.get('/auth_providers', async () => service.providers());
    http.get('/audit_log', async (req, reply) => sendPage(reply, await service.auditLog({ after: query(req).after })));
  };
