// `--app` pointed at a folder inside an export (functions/, auth/, data_sources/mongodb-atlas/, …)
// instead of its root: some of those hold a config.json of their own, which would be misread as
// the root file. Said plainly, with the root to pass instead.

import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { ROOT_FILES } from './root.js';

/** Top-level folders of App Services, Realm and Stitch exports. */
const EXPORT_FOLDERS = new Set([
  'auth', 'auth_providers', 'data_sources', 'services', 'functions', 'triggers', 'values', 'environments',
  'http_endpoints', 'https_endpoints', 'graphql', 'sync', 'hosting', 'log_forwarders', 'secrets', 'incoming_webhooks',
]);

const hasRootFile = (dir: string) => ROOT_FILES.some(([file]) => existsSync(join(dir, file)));

/** The export root above `dir` whose export folder `dir` is in, looking a few levels up. */
function enclosingRoot(dir: string): string | undefined {
  let up = dirname(dir);
  for (let i = 0; i < 5 && up !== dirname(up); i++, up = dirname(up)) {
    const first = relative(up, dir).split(sep)[0]!;
    if (EXPORT_FOLDERS.has(first) && hasRootFile(up)) return up;
  }
  return undefined;
}

/** What is wrong with `dir` as an app root, or undefined when it may be one (the loader says the rest). */
export function appRootProblem(dir: string): string | undefined {
  if (!existsSync(dir)) return `--app ${dir}: no such directory`;
  if (!statSync(dir).isDirectory()) return `--app ${dir}: not a directory (pass the folder of the app export)`;
  const root = enclosingRoot(dir);
  if (root) {
    return `--app ${dir} is not an app root: it is inside the export at ${root} (its ${relative(root, dir).split(sep)[0]}/ folder); pass --app ${root}`;
  }
  if (!hasRootFile(dir)) {
    return `--app ${dir} is not an app root: it has none of ${ROOT_FILES.map(([f]) => f).join(', ')} (pass the folder of an App Services, Realm or Stitch export)`;
  }
  return undefined;
}
