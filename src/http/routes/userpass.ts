// Email/password flows (wire-protocol §3 #16–#22). realm-web sends the current user's access
// token on these routes when someone is logged in: it is ignored, never refused.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { EmailPasswordProvider } from '../../auth/providers/local-userpass.js';
import type { HttpDeps } from '../app.js';
import { objectBody, requireApp } from '../request.js';

/** These bodies hold an email, a password and a token or two. */
const USERPASS_BODY_LIMIT = 64 * 1024;

type Flow = (provider: EmailPasswordProvider, body: Record<string, unknown>, name: string) => Promise<void>;

export const userpassRoutes =
  ({ app, auth }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    const route = (path: string, flow: Flow, status = 204) =>
      http.post(`/api/client/v2.0/app/:appId/auth/providers/:provider/${path}`, { bodyLimit: USERPASS_BODY_LIMIT }, async (req: FastifyRequest, reply: FastifyReply) => {
        requireApp(app, req);
        const { provider: name } = req.params as { provider: string };
        await flow(auth.emailPassword(name), objectBody(req), name);
        return status === 204 ? reply.code(204).send() : reply.code(status).send({});
      });

    route('register', (p, body) => p.register(body), 201);
    route('confirm', (p, body) => p.confirm(body));
    route('confirm/send', (p, body) => p.resendConfirmation(body));
    route('confirm/call', (p, body) => p.retryConfirmationFunction(body));
    route('reset/send', (p, body) => p.sendReset(body));
    route('reset/call', async (p, body, name) => {
      const changed = await p.callResetFunction(body);
      if (changed) await auth.endSessionsOfUserpassAccount(name, changed);
    });
    route('reset', async (p, body, name) => {
      const accountId = await p.reset(body);
      // A new password ends every session opened with the old one.
      await auth.endSessionsOfUserpassAccount(name, accountId);
    });
  };
