// Static pages Baste serves itself (the admin console, the email confirm and reset pages): plain
// HTML, CSS and ES modules with no build step, under a CSP that lets a page load only its own
// files and call only its own server. Only flat file names of the known kinds are served, so no
// path can leave the folder; the folder is listed once at start and only names found there are
// ever cached, so requests for made-up names cannot grow memory.
//
// What every page's head repeats lives here once: a page's `<!-- baste:head -->` becomes
// SHARED_HEAD as the file is read, and every folder serves the same `favicon.svg` (unless it has
// its own), so no page asks for an icon that is not there.

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

const HEAD_MARKER = '<!-- baste:head -->';
const SHARED_HEAD = [
  '<meta charset="utf-8">',
  '<meta name="viewport" content="width=device-width, initial-scale=1">',
  // The Referrer-Policy header says the same; the tag keeps it for a page saved to disk.
  '<meta name="referrer" content="no-referrer">',
  '<meta name="robots" content="noindex">',
  '<link rel="icon" href="favicon.svg" type="image/svg+xml">',
].join('\n  ');

/** A white B on the console's header blue. */
const FAVICON = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#0d2136"/>' +
    '<path fill="#fff" fill-rule="evenodd" d="M9 6h8.5a5.2 5.2 0 0 1 3.6 9A5.4 5.4 0 0 1 18 26H9zm4.2 3.7v4h3.6a2 2 0 0 0 0-4zm0 7.5v5h4.2a2.5 2.5 0 0 0 0-5z"/></svg>\n',
);

/** The file as served: an HTML page with the shared head in place of its marker. */
function prepared(name: string, body: Buffer): Buffer {
  if (!name.endsWith('.html')) return body;
  const text = body.toString('utf8');
  return text.includes(HEAD_MARKER) ? Buffer.from(text.replace(HEAD_MARKER, SHARED_HEAD), 'utf8') : body;
}

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
    if (!names.has(name)) return Promise.resolve(name === 'favicon.svg' ? FAVICON : null);
    let file = files.get(name);
    if (!file) {
      file = readFile(join(dir, name)).then(
        (body) => prepared(name, body),
        () => null,
      );
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
