// The browser OAuth redirect flow (wire-protocol §3 #4–#5, §8): the GET login route that sends
// the browser to Google or Facebook (or, for link-with-redirect, names the URL in the
// X-Stitch-Location and X-BaaS-Location headers), and the provider's callback.

import type { FastifyPluginAsync } from 'fastify';
import { deviceFromQuery, OAUTH_CALLBACK_PATH } from '../../auth/oauth-redirect.js';
import type { HttpDeps } from '../app.js';
import { bearerToken, requireApp } from '../request.js';
import { publicBaseUrl } from './location.js';

export const oauthRoutes =
  ({ app, sessions, oauthRedirects, options }: HttpDeps): FastifyPluginAsync =>
  async (http) => {
    // No automatic HEAD routes: a HEAD must neither start a flow nor use up a state.
    http.get('/api/client/v2.0/app/:appId/auth/providers/:provider/login', { exposeHeadRoute: false }, async (req, reply) => {
      requireApp(app, req);
      const { provider } = req.params as { provider: string };
      const q = req.query as Record<string, unknown>;
      // A link carries the linking user's access token (a fetch with credentials, not a navigation).
      const caller = q.link === 'true' ? await sessions.verifyAccessToken(bearerToken(req)) : undefined;
      const url = await oauthRedirects.start({
        providerName: provider,
        redirect: q.redirect,
        clientState: q.state,
        device: deviceFromQuery(q.device),
        caller,
        publicBaseUrl: publicBaseUrl(req, options.baseUrl),
      });
      reply.header('cache-control', 'no-store');
      if (q.providerRedirectHeader === 'true') {
        // Stitch reads X-Stitch-Location, realm-web X-BaaS-Location: send both.
        return reply.code(200).header('X-Stitch-Location', url).header('X-BaaS-Location', url).send();
      }
      return reply.redirect(url, 302);
    });

    http.get(OAUTH_CALLBACK_PATH, { exposeHeadRoute: false }, async (req, reply) => {
      const outcome = await oauthRedirects.callback(req.query as Record<string, unknown>, {
        clientAddress: req.ip,
        publicBaseUrl: publicBaseUrl(req, options.baseUrl),
      });
      if (outcome.unexpected) req.log.error({ err: outcome.unexpected }, 'OAuth callback failed');
      // The fragment carries tokens: nothing may cache this answer or pass the URL on.
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      return reply.redirect(outcome.location, 302);
    });
  };
