// `baste backup` and `baste restore` as the command line runs them: what they print. The CLI
// (src/cli.ts) resolves the flags and the data directory.

import { backupDataDir, restoreDataDir } from './backup.js';

interface Out {
  readonly stdout: { write(s: string): unknown };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function backupCommand(o: { dataDir: string; to: string; force: boolean; json: boolean }, io: Out): Promise<number> {
  const r = await backupDataDir({ dataDir: o.dataDir, to: o.to, force: o.force });
  io.stdout.write(
    o.json
      ? `${JSON.stringify(r)}\n`
      : `backed up ${o.dataDir} (app ${r.appId ?? 'unclaimed'}: ${plural(r.users, 'user')}, ${plural(r.documents, 'document')}) to ${r.file} (${r.bytes} bytes)\n`,
  );
  return 0;
}

export async function restoreCommand(o: { from: string; dataDir: string; force: boolean; appId?: string; json: boolean }, io: Out): Promise<number> {
  const r = await restoreDataDir({ from: o.from, dataDir: o.dataDir, force: o.force, appId: o.appId });
  io.stdout.write(
    o.json
      ? `${JSON.stringify(r)}\n`
      : `restored the backup of ${r.createdAt} (app ${r.appId ?? 'unclaimed'}: ${plural(r.users, 'user')}, ${plural(r.documents, 'document')}) into ${r.dataDir}` +
          `${r.replaced ? ', replacing its databases' : ''}; start the server on it with --data-dir ${r.dataDir}\n`,
  );
  return 0;
}
