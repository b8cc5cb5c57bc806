// Email/password flows (register, confirm, resend the confirmation, rerun the confirmation function,
// send a reset email, reset through the reset function, reset with a mailed token), documented at
// https://www.mongodb.com/docs/atlas/app-services/authentication/email-password/. realm-web sends
// the current user's access token on these routes when someone is logged in: it is ignored, never
// refused.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { emailPagesUrl, type EmailPasswordAccounts, type FlowContext } from '../../users/email-password.js';
import type { HttpDeps } from '../deps.js';
import { objectBody, requireApp } from '../request.js';
import { mailedLinkBaseUrl } from './location.js';

/** These bodies hold an email, a password and a token or two. */
const USERPASS_BODY_LIMIT = 64 * 1024;

type Flow = (accounts: EmailPasswordAccounts, body: Record<string, unknown>, ctx: FlowContext) => Promise<void>;

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
        await flow(auth.users.emailPassword(name), objectBody(req), ctx);
        return status === 204 ? reply.code(204).send() : reply.code(status).send({});
      });

    route('register', (a, body, ctx) => a.register(body, ctx), 201);
    route('confirm', (a, body, ctx) => a.confirm(body, ctx));
    route('confirm/send', (a, body, ctx) => a.resendConfirmation(body, ctx));
    route('confirm/call', (a, body, ctx) => a.retryConfirmationFunction(body, ctx));
    route('reset/send', (a, body, ctx) => a.sendReset(body, ctx));
    // A new password (either way) ends every session opened with the old one: users/ does it.
    route('reset/call', (a, body, ctx) => a.callResetFunction(body, ctx));
    route('reset', (a, body, ctx) => a.reset(body, ctx));
  };
