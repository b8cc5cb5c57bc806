// What is wrong with a command line, in our words: node:util parseArgs' errors rephrased, with the
// nearest known flag suggested for a misspelt one (`--ap` → `--app`).

/** Edit distance (insertions, deletions, substitutions, and swapping two neighbours: `sevre`). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` when it is close enough to be a slip, else undefined. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const prefixed = candidates.filter((c) => c.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(w, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(1, Math.floor(w.length / 3)) ? best : undefined;
}

/**
 * The one-line message for a parseArgs failure. `options` maps flag name (without dashes) to its
 * type, as given to parseArgs.
 */
export function argsProblem(err: unknown, options: Record<string, { type: 'string' | 'boolean' }>): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  const names = Object.keys(options);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? '';
    const bare = flag.replace(/^-+/, '').split('=')[0]!;
    const guess = nearest(bare, names);
    return `unknown flag '${flag}'${guess ? `; did you mean --${guess}?` : ''}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    // "Option '--app <value>' argument missing", "Option '-h, --help' does not take an argument"
    const quoted = /Option '([^']+)'/.exec(message)?.[1] ?? '';
    const flag = /--[A-Za-z][\w-]*/.exec(quoted)?.[0] ?? quoted.split(/[ ,]/)[0]!;
    const name = flag.replace(/^-+/, '');
    if (options[name]?.type === 'boolean') return `${flag} takes no value`;
    return `${flag} needs a value (${flag} <value>)`;
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument: ${message}`;
  return message;
}
