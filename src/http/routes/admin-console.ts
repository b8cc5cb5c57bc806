// The web console's static files at /admin/ (see ../static-files.ts). The page talks to the
// admin API of the same server.

import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { BasteError } from '../../errors.js';
import { staticFiles } from '../static-files.js';

/** The console's files: names listed once, contents read on first use and kept. */
export const consoleFiles = staticFiles;

export const adminConsoleRoutes =
  (dir: string): FastifyPluginAsync =>
  async (http) => {
    const files = await staticFiles(dir);
    const serve = async (name: string, reply: FastifyReply) => {
      if (!(await files.send(name, reply))) throw new BasteError('NotFound', `no console file '${name.slice(0, 100)}'`);
      return reply;
    };

    http.get('/admin', async (_req, reply) => reply.redirect('/admin/', 301));
    http.get('/admin/', async (_req, reply) => serve('index.html', reply));
    http.get('/admin/:file', async (req, reply) => serve((req.params as { file: string }).file, reply));
  };
