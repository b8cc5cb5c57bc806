#!/usr/bin/env node
// Runs the whole suite with node's test runner (TypeScript through tsx).
// `npm test -- test/foo.test.ts` runs only the files given.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const given = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = given.length
  ? given
  : readdirSync('test', { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => join('test', f));

// Build first: it type-checks the server, and the CLI tests start the compiled `bin/baste.js`.
const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
for (const project of ['tsconfig.json', join('test', 'tsconfig.json')]) {
  const build = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.error(`type check failed (${project})`);
    process.exit(build.status ?? 1);
  }
}

const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(run.status ?? 1);
