// The web console's static files at /admin/ (plain HTML, CSS and ES modules; no build step).
// Only flat file names of the known kinds are served, so no path can leave the console folder.
// Files are read once and kept in memory. The page talks to the admin API of the same server.
// The folder is listed once at start: only names found there are ever cached, so requests for
// made-up names cannot grow memory.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { BasteError } from '../../errors.js';

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css|svg|png|ico)$/;

/** The page may load only its own files and call only its own server. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

/** The console's files: names listed once, contents read on first use and kept. */
export async function consoleFiles(dir: string): Promise<{ load(name: string): Promise<Buffer | null>; readonly cached: number }> {
  const names = new Set((await readdir(dir).catch(() => [])).filter((name) => FILE_NAME.test(name)));
  const files = new Map<string, Promise<Buffer | null>>();
  return {
    load(name) {
      if (!names.has(name)) return Promise.resolve(null);
      let file = files.get(name);
      if (!file) {
        file = readFile(join(dir, name)).catch(() => null);
        files.set(name, file);
      }
      return file;
    },
    get cached() {
      return files.size;
    },
  };
}

export const adminConsoleRoutes =
  (dir: string): FastifyPluginAsync =>
  async (http) => {
    const files = await consoleFiles(dir);
    const serve = async (name: string, reply: FastifyReply) => {
      const body = await files.load(name);
      if (!body) throw new BasteError('NotFound', `no console file '${name.slice(0, 100)}'`);
      return reply
        .headers(SECURITY_HEADERS)
        .header('content-type', CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)]!)
        .send(body);
    };

    http.get('/admin', async (_req, reply) => reply.redirect('/admin/', 301));
    http.get('/admin/', async (_req, reply) => serve('index.html', reply));
    http.get('/admin/:file', async (req, reply) => serve((req.params as { file: string }).file, reply));
  };
