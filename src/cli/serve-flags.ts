// Checks of `baste serve` flag values that would otherwise fail deep inside a library, with a
// stack trace: each returns what is wrong in one line, or undefined.

import { isIP } from 'node:net';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function logLevelProblem(level: string): string | undefined {
  return (LOG_LEVELS as readonly string[]).includes(level) ? undefined : `--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${level}'`;
}

/** `source` names where the URL came from (the flag or the variable). The value is never repeated: it may hold a password. */
export function smtpUrlProblem(url: string, source: string): string | undefined {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // below
  }
  if (parsed && (parsed.protocol === 'smtp:' || parsed.protocol === 'smtps:') && parsed.hostname) return undefined;
  return `${source} must be smtp://[user:password@]host[:port] or smtps://… (TLS from the start, port 465); the value given is not such a URL`;
}

export function mailFromProblem(from: string): string | undefined {
  const address = /^[^\s@<>]+@[^\s@<>]+$/;
  const named = /^[^<>]*<[^\s@<>]+@[^\s@<>]+>$/;
  return address.test(from) || named.test(from) ? undefined : `--mail-from must be an email address (baste@example.com or "Baste <baste@example.com>"), got '${from}'`;
}

/** An address or host name to listen on: an IP address, or a name whose last label is not all digits. */
export function hostProblem(host: string): string | undefined {
  if (isIP(host)) return undefined;
  if (/^\[.*\]$/.test(host)) return `--host takes an IPv6 address without brackets (--host ${host.slice(1, -1)})`;
  const labels = host.split('.');
  const nameLike = labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
  return nameLike && host.length <= 253 ? undefined : `--host must be an IP address of this machine (127.0.0.1, 0.0.0.0, ::) or its host name, got '${host}'`;
}
