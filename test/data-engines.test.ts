import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import { openPostgresDocuments } from '../src/data/postgres-engine.js';
import { openSqliteDocuments } from '../src/data/sqlite-engine.js';
import { engineConformance } from './data/engine-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'baste-docs-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));
engineConformance('sqlite', async () => openSqliteDocuments(join(dir, `docs-${n++}.sqlite`)));

const url = process.env.BASTE_TEST_DATABASE_URL;
if (url) {
  const schemas: string[] = [];
  engineConformance('postgres', async () => {
    const schema = `docs_${process.pid}_${Date.now()}_${n++}`;
    schemas.push(schema);
    return openPostgresDocuments(url, { schema, maxConnections: 2 });
  });
  after(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await client.end();
  });
} else {
  console.log('BASTE_TEST_DATABASE_URL not set: PostgreSQL document engine tests skipped');
}
