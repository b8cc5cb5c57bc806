// Static pages Baste serves itself (the admin console, the email confirm and reset pages): plain
// HTML, CSS and ES modules with no build step, under a CSP that lets a page load only its own
// files and call only its own server. Only flat file names of the known kinds are served, so no
// path can leave the folder; the folder is listed once at start and only names found there are
// ever cached, so requests for made-up names cannot grow memory.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyReply } from 'fastify';

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};
const FILE_NAME = /^[a-z0-9][a-z0-9-]*\.(html|js|css|svg|png|ico)$/;

export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // The confirm and reset pages' addresses carry one-time tokens: no other site may see them.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

export interface StaticFiles {
  load(name: string): Promise<Buffer | null>;
  /** Sends the file with its type and the security headers; false when there is no such file. */
  send(name: string, reply: FastifyReply): Promise<boolean>;
  readonly cached: number;
}

/** A folder's files: names listed once, contents read on first use and kept. */
export async function staticFiles(dir: string): Promise<StaticFiles> {
  const names = new Set((await readdir(dir).catch(() => [])).filter((name) => FILE_NAME.test(name)));
  const files = new Map<string, Promise<Buffer | null>>();
  const load = (name: string): Promise<Buffer | null> => {
    if (!names.has(name)) return Promise.resolve(null);
    let file = files.get(name);
    if (!file) {
      file = readFile(join(dir, name)).catch(() => null);
      files.set(name, file);
    }
    return file;
  };
  return {
    load,
    async send(name, reply) {
      const body = await load(name);
      if (!body) return false;
      reply
        .headers(SECURITY_HEADERS)
        .header('content-type', CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)]!)
        .send(body);
      return true;
    },
    get cached() {
      return files.size;
    },
  };
}
