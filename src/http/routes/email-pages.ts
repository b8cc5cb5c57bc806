// Baste's own pages for the links it mails: `/app/{appId}/confirm` and `/app/{appId}/reset`
// (App Services never served any: the app owner hosted them). They read `token` and `tokenId`
// from their address and call the client routes `…/local-userpass/confirm` and `…/reset` of
// this server. Links point here when the provider names no emailConfirmationUrl /
// resetPasswordUrl (or names these pages).

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { BasteError } from '../../errors.js';
import type { HttpDeps } from '../deps.js';
import { requireApp } from '../request.js';
import { staticFiles } from '../static-files.js';

export const emailPageRoutes =
  ({ app }: HttpDeps, dir: string): FastifyPluginAsync =>
  async (http) => {
    const files = await staticFiles(dir);
    const serve = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
      requireApp(app, req);
      if (!(await files.send(name, reply))) throw new BasteError('NotFound', `no page file '${name.slice(0, 100)}'`);
      return reply;
    };
    http.get('/app/:appId/confirm', (req, reply) => serve(req, reply, 'confirm.html'));
    http.get('/app/:appId/reset', (req, reply) => serve(req, reply, 'reset.html'));
    // The pages' scripts and style sheet, next to them (`confirm.js` from `/app/{appId}/confirm`).
    http.get('/app/:appId/:file', (req, reply) => {
      const { file } = req.params as { file: string };
      // A page's address is served only without its `.html`.
      if (file.endsWith('.html')) throw new BasteError('NotFound', `no route for GET ${req.url.split('?')[0]}`);
      return serve(req, reply, file);
    });
  };
