// A failure the command line did not foresee, said in one line: what went wrong with which file,
// never a stack trace (BASTE_DEBUG=1 adds it, for a bug report).

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'part of the path is not a directory',
  EEXIST: 'a file is in the way',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EMFILE: 'too many open files (raise ulimit -n)',
};

const ACTIONS: Record<string, string> = { open: 'cannot open', mkdir: 'cannot create', scandir: 'cannot list', stat: 'cannot find', rename: 'cannot rename', unlink: 'cannot remove' };

/** One line for `err`; `debug` appends the stack. */
export function describeFailure(err: unknown, debug = false): string {
  const e = err as { code?: string; syscall?: string; path?: string; message?: string; stack?: string };
  let line: string;
  if (typeof e?.code === 'string' && e.path && REASONS[e.code]) {
    line = `${ACTIONS[e.syscall ?? ''] ?? 'cannot use'} ${e.path}: ${REASONS[e.code]}`;
  } else {
    const message = (e?.message ?? String(err)).split('\n')[0];
    line = `unexpected error: ${message} (if this looks like a bug in Baste, report it with the output of BASTE_DEBUG=1 baste …)`;
  }
  return debug && e?.stack ? `${line}\n${e.stack}` : line;
}
