// The browser OAuth redirect flow (src/auth/oauth-redirect.ts): the GET login route that sends
// the browser to Google, Facebook or Apple (or, for link-with-redirect, names the URL in the
// X-Stitch-Location and X-BaaS-Location headers), and the provider's callback: a GET with the
// result in the query, or Apple's `response_mode=form_post`, a POST of a form.

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BasteError } from '../../errors.js';
import { deviceFromQuery, OAUTH_CALLBACK_PATH } from '../../auth/oauth-redirect.js';
import type { HttpDeps } from '../deps.js';
import { bearerToken, requireApp } from '../request.js';
import { publicBaseUrl } from './location.js';

/** Apple's form: a code, a state, an id_token and the user's name; far less than this. */
const FORM_LIMIT = 64 * 1024;

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

    const finish = async (req: FastifyRequest, reply: FastifyReply, params: Record<string, unknown>, status: 302 | 303) => {
      const outcome = await oauthRedirects.callback(params, {
        clientAddress: req.ip,
        publicBaseUrl: publicBaseUrl(req, options.baseUrl),
      });
      if (outcome.unexpected) req.log.error({ err: outcome.unexpected }, 'OAuth callback failed');
      // The fragment carries tokens: nothing may cache this answer or pass the URL on.
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      return reply.redirect(outcome.location, status);
    };

    http.get(OAUTH_CALLBACK_PATH, { exposeHeadRoute: false }, async (req, reply) => finish(req, reply, req.query as Record<string, unknown>, 302));

    // Apple's form_post. Only this plugin reads forms; the answer is a 303 so the browser GETs the app's page.
    http.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
    });
    http.post(OAUTH_CALLBACK_PATH, { bodyLimit: FORM_LIMIT }, async (req, reply) => {
      const form = req.body;
      if (!form || typeof form !== 'object' || Array.isArray(form) || !/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
        throw new BasteError('BadRequest', "the provider's callback must be a form (application/x-www-form-urlencoded)");
      }
      return finish(req, reply, form as Record<string, unknown>, 303);
    });
  };
