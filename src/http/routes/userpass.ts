// Email/password flows (wire-protocol §3 #16–#22). realm-web sends the current user's access
// token on these routes when someone is logged in: it is ignored, never refused.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { emailPagesUrl, type EmailPasswordProvider, type FlowContext } from '../../auth/providers/local-userpass.js';
import type { HttpDeps } from '../deps.js';
import { objectBody, requireApp } from '../request.js';
import { mailedLinkBaseUrl } from './location.js';

/** These bodies hold an email, a password and a token or two. */
const USERPASS_BODY_LIMIT = 64 * 1024;

type Flow = (provider: EmailPasswordProvider, body: Record<string, unknown>, name: string, ctx: FlowContext) => Promise<void>;

export const userpassRoutes =
  ({ app, auth, options }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    const route = (path: string, flow: Flow, status = 204) =>
      http.post(`/api/client/v2.0/app/:appId/auth/providers/:provider/${path}`, { bodyLimit: USERPASS_BODY_LIMIT }, async (req: FastifyRequest, reply: FastifyReply) => {
        requireApp(app, req);
        const { provider: name } = req.params as { provider: string };
        // The client address: every credential check here is throttled per address too. Links
        // open Baste's own pages when the provider names no URL (see mailedLinkBaseUrl).
        const ctx = { clientAddress: req.ip, pagesUrl: emailPagesUrl(mailedLinkBaseUrl(req, options.baseUrl), app.appId) };
        await flow(auth.emailPassword(name), objectBody(req), name, ctx);
        return status === 204 ? reply.code(204).send() : reply.code(status).send({});
      });

    route('register', (p, body, _name, ctx) => p.register(body, ctx), 201);
    route('confirm', (p, body, _name, ctx) => p.confirm(body, ctx));
    route('confirm/send', (p, body, _name, ctx) => p.resendConfirmation(body, ctx));
    route('confirm/call', (p, body, _name, ctx) => p.retryConfirmationFunction(body, ctx));
    route('reset/send', (p, body, _name, ctx) => p.sendReset(body, ctx));
    route('reset/call', async (p, body, name, ctx) => {
      const changed = await p.callResetFunction(body, ctx);
      if (changed) await auth.endSessionsOfUserpassAccount(name, changed);
    });
    route('reset', async (p, body, name, ctx) => {
      const accountId = await p.reset(body, ctx);
      // A new password ends every session opened with the old one.
      await auth.endSessionsOfUserpassAccount(name, accountId);
    });
  };
