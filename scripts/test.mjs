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

// No import cycles among the modules of src/ (scripts/check-cycles.mjs prints any it finds).
const cycles = spawnSync(process.execPath, [join('scripts', 'check-cycles.mjs')], { stdio: 'inherit' });
if (cycles.status !== 0) process.exit(cycles.status ?? 1);

// Build first: it type-checks the server, and the CLI tests start the compiled `bin/baste.js`.
const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
for (const project of ['tsconfig.json', join('test', 'tsconfig.json')]) {
  const build = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.error(`type check failed (${project})`);
    process.exit(build.status ?? 1);
  }
}

const runTests = (list, env = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...list], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test', ...env },
  }).status ?? 1;

let status = runTests(files);
// The end-to-end suites once more on PostgreSQL, when it is available (they use SQLite above).
const E2E_ON_POSTGRES = ['realm-core', 'sdk-realm-web', 'sdk-stitch', 'functions', 'functions-isolation', 'functions-platform', 'functions-require', 'functions-contract', 'functions-long', 'functions-realms', 'data-service', 'data-leaks', 'rules-v1', 'partition-sync', 'twilio-webhooks', 'custom-user-data', 'api-keys', 'http-wire', 'admin-api', 'platform-http', 'auth-triggers', 'execution-users', 'execution-users-server', 'admin-triggers', 'oauth-apple', 'watch', 'email-pages'];
const e2e = files.filter((f) => E2E_ON_POSTGRES.some((name) => f.endsWith(`${name}.test.ts`)));
if (status === 0 && e2e.length > 0) {
  if (process.env.BASTE_TEST_DATABASE_URL) {
    console.log(`\nThe end-to-end suites again, on PostgreSQL: ${e2e.join(' ')}`);
    status = runTests(e2e, { BASTE_TEST_BACKEND: 'postgres' });
  } else {
    console.log('\nBASTE_TEST_DATABASE_URL not set: the end-to-end suites did not run on PostgreSQL');
  }
}
process.exit(status);
