// How `baste serve` bounds V8's heaps (issue 20: peak RSS under load). V8 lets a heap grow to
// 1.5–4 times what survived its last full collection before collecting again (the most on a
// machine with plenty of memory), so at a few thousand finds a second the main heap carried
// 100+ MB of garbage between collections. A fixed growth of 50 % keeps it near its live size at a
// small cost: more full collections (20 % cost function calls ~8 % more CPU, through costlier
// scavenges while marking; 50 % about 2 %). The flag is read at every collection, so setting it
// at start applies to the main heap and to every isolate. A value given on node's command line is
// kept (node refuses this flag in NODE_OPTIONS).

/** Growth of a V8 heap beyond what survived its last full collection, in percent. */
export const HEAP_GROWING_PERCENT = 50;

const NAMED = /^--heap[-_]growing[-_]percent(=|$)/;

/** The V8 flags `baste serve` sets at start (`execArgv`: node's own flags), unless node was given them. */
export function serverV8Flags(execArgv: readonly string[]): string[] {
  return execArgv.some((arg) => NAMED.test(arg)) ? [] : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`];
}
