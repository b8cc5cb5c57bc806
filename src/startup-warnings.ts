// What `baste serve` warns about before it listens: set-ups that work on a laptop and go wrong
// once served to others. Pure: the CLI says them (in the log and on stderr).

import { isInside } from './store/data-dir.js';

export interface StartupWarning {
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** Addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1' || /^(0+:){7}0*1$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

export function startupWarnings(o: {
  host: string;
  baseUrl: string | undefined;
  dataDir: string;
  appDir: string;
  /** --max-connections, when given. */
  maxConnections?: number;
  /** The process's soft limit on open files, when known. */
  openFiles?: number;
  /** Descriptors kept for the store, data files and outgoing requests beside connections. */
  reservedDescriptors?: number;
}): StartupWarning[] {
  const out: StartupWarning[] = [];
  // Node cannot raise its own descriptor limit (no setrlimit): a connection limit above what the
  // limit leaves room for would let clients exhaust the descriptors instead of getting a 503.
  if (o.maxConnections !== undefined && o.openFiles !== undefined && o.maxConnections > o.openFiles - (o.reservedDescriptors ?? 0)) {
    out.push({
      fields: { maxConnections: o.maxConnections, openFilesLimit: o.openFiles },
      message:
        `--max-connections ${o.maxConnections} is more than the open-files limit of ${o.openFiles} leaves room for ` +
        `(${Math.max(0, o.openFiles - (o.reservedDescriptors ?? 0))} after ${o.reservedDescriptors ?? 0} kept for the databases and outgoing requests): ` +
        'past that, new connections and logins fail with "too many open files" instead of a 503; raise the limit before ' +
        'starting Baste (ulimit -n in the shell, LimitNOFILE= in a systemd unit, --ulimit nofile= for docker run) or lower --max-connections',
    });
  }
  if (!isLoopback(o.host) && o.baseUrl === undefined) {
    out.push({
      fields: { host: o.host },
      message:
        `serving on ${o.host} (reachable from other machines) without --base-url: the location route then answers ` +
        'the address each client used, and every SDK sends all later requests there; behind a proxy or a domain, ' +
        'pass --base-url https://<your public host> (and --trust-proxy behind a proxy)',
    });
  }
  if (isInside(o.dataDir, o.appDir)) {
    out.push({
      fields: { dataDir: o.dataDir, app: o.appDir },
      message:
        `the data directory ${o.dataDir} is inside the app directory ${o.appDir}: it holds the user database, the ` +
        'token signing keys and emailed links, one commit away from being published; keep it out of version control ' +
        '(a data directory Baste creates carries a .gitignore) or move it elsewhere and pass --data-dir',
    });
  }
  return out;
}
