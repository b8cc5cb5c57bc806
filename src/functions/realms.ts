// Which realm an app's calls run in. On the platform every call got a fresh JavaScript realm, so
// code that extends built-ins (`Array.prototype.toDictionary = ...` in a utils function,
// `Math.clamp = ...`, a package that sets `global.x`) saw its extensions for the rest of the call
// and no other call ever did. Baste has two realms for that, chosen per app when it is loaded:
//
// - shared (the default): one context per isolate, bootstrapped once and then frozen, running
//   every call; per-call globals live in the call's `with` store (isolate-source.ts). ~170 µs of
//   server CPU per `function_call`.
// - per-call: each client-level call (with its nested calls) gets a context of its own, made for
//   it and dropped after it: its intrinsics are unfrozen and its global object is the call's
//   global scope. BSON stays in the isolate's frozen base context, shared (its bundle costs
//   ~1.4 ms and a 17 MB buffer to evaluate). Measured on the dev machine: a fresh context alone is
//   ~300 µs (sync) to ~450 µs (async), the whole per-call bootstrap ~0.8 ms of CPU, so making every
//   call pay it would have taken `function_call` under its 0.15 floor.
//
// So an app runs per-call realms only when its own code needs them: this scan looks for writes to
// built-ins in its functions (and the modules they require, followed by literal `require('x')`)
// and the runtime names what it found in the log. The scan is textual: a write it cannot see
// (`var AP = Array.prototype; AP.x = f`) fails in the frozen realm, where such writes are refused
// (sloppy code silently, strict code with a TypeError); a module that turns out to write built-ins
// when it is first compiled switches the app to per-call realms from then on, loudly.

import type { ModuleResolver } from './modules.js';
import { isStrict, rootWrites, undeclaredAssignments } from './sloppy-globals.js';

/** Built-ins a write to which means the code wants its own realm. */
const INTRINSICS = [
  'Object', 'Function', 'Array', 'String', 'Number', 'Boolean', 'Symbol', 'BigInt', 'Date', 'RegExp', 'Promise',
  'Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError',
  'Map', 'Set', 'WeakMap', 'WeakSet', 'ArrayBuffer', 'DataView', 'JSON', 'Math', 'Reflect', 'Intl',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
].join('|');

const NOT_AFTER = String.raw`(?<![\w$.])`;
const ASSIGN = String.raw`\s*(?:[-+*/%&|^]|\*\*|<<|>>>?|\?\?|&&|\|\|)?=(?![=>])`;
const KEY = String.raw`(?:\.\s*([\w$]+)|\[\s*([^\]]{0,60}?)\s*\])`;

/** `Array.prototype.x = `, `Array.prototype[k] = `, `Math.clamp = `. */
const MEMBER_WRITE = new RegExp(String.raw`${NOT_AFTER}(${INTRINSICS})\s*(\.\s*prototype\s*)?${KEY}${ASSIGN}`, 'g');
/** `Object.defineProperty(Array.prototype, ...)`, `Object.assign(Date.prototype, ...)`, `Reflect.defineProperty(Math, ...)`. */
const DEFINE = new RegExp(String.raw`${NOT_AFTER}(?:Object|Reflect)\s*\.\s*(defineProperty|defineProperties|assign|setPrototypeOf|__defineGetter__)\s*\(\s*(${INTRINSICS})\s*(\.\s*prototype)?\b`, 'g');
/** `x.__proto__.y = ` and `Object.getPrototypeOf(x).y = `: a prototype reached from a value. */
const PROTO_OF = new RegExp(String.raw`(?:\.\s*__proto__|getPrototypeOf\s*\([^()]{0,80}\))\s*${KEY}${ASSIGN}`, 'g');
/** `global.x = `, `globalThis.x = `: in a module, a global other modules read by its bare name. */
const GLOBAL_WRITE = new RegExp(String.raw`${NOT_AFTER}(global|globalThis|window|self)\s*${KEY}${ASSIGN}`, 'g');

const keyName = (dot: string | undefined, bracket: string | undefined) => (dot !== undefined ? `.${dot}` : `[${bracket}]`);

/**
 * The built-ins a source writes to, as it names them (`Array.prototype.toDictionary`, `Math.clamp`,
 * `Object.defineProperty(Array.prototype)`); `globals` also counts `global.x = ` (modules).
 */
export function intrinsicWrites(source: string, globals = false): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(MEMBER_WRITE)) {
    const [, owner, proto, dot, bracket] = m;
    if (!proto && dot === 'prototype') continue; // `Foo.prototype = ...` of a built-in: not possible
    found.add(`${owner}${proto ? '.prototype' : ''}${keyName(dot, bracket)}`);
  }
  for (const m of source.matchAll(DEFINE)) found.add(`Object.${m[1]}(${m[2]}${m[3] ? '.prototype' : ''})`);
  for (const m of source.matchAll(PROTO_OF)) found.add(`a built-in prototype (${m[0].replace(/\s+/g, ' ').slice(0, 60)})`);
  // A UMD header's browser branch (`define.amd ? define(factory) : global.moment = factory()`) is
  // not taken under CommonJS: not a global this module sets.
  if (globals) {
    for (const m of source.matchAll(GLOBAL_WRITE)) {
      if (!source.slice(Math.max(0, m.index - 200), m.index).includes('define.amd')) found.add(`${m[1]}${keyName(m[2], m[3])}`);
    }
  }
  return [...found];
}

/** Why an app runs per-call realms: which function or module writes which built-ins. */
export interface RealmReason {
  readonly where: string;
  readonly writes: readonly string[];
}

export interface RealmPlan {
  readonly perCall: boolean;
  readonly reasons: readonly RealmReason[];
  /**
   * Undeclared names the functions and sloppy modules assign (`lib = ...`): each call's own
   * globals, which a module reads through the call's scope (sloppy-globals.ts).
   */
  readonly sloppyGlobals: ReadonlySet<string>;
}

const REQUIRE = /(?<![\w$.])require\s*\(\s*(['"])([^'"\n]{1,200})\1\s*\)/g;
/** Files of packages followed from one app, at most: a cap on load time for huge dependency trees. */
const MAX_MODULES = 2000;

/**
 * The realm an app needs, from its function sources (each a `where` name) and the app modules
 * they require literally, followed transitively. Baste's own built-in modules are not scanned.
 */
export function planRealms(sources: readonly { where: string; source: string }[], modules?: ModuleResolver): RealmPlan {
  const reasons: RealmReason[] = [];
  const sloppyGlobals = new Set<string>();
  const seen = new Set<string>();
  const queue: { spec: string; parent: string | null }[] = [];
  const requires = (source: string, parent: string | null) => {
    for (const m of source.matchAll(REQUIRE)) queue.push({ spec: m[2]!, parent });
  };
  for (const { where, source } of sources) {
    const writes = intrinsicWrites(source);
    if (writes.length) reasons.push({ where, writes });
    for (const name of undeclaredAssignments(source)) sloppyGlobals.add(name);
    if (modules) requires(source, null);
  }
  while (modules && queue.length && seen.size < MAX_MODULES) {
    const { spec, parent } = queue.shift()!;
    const r = modules.resolve(spec, parent);
    if ('error' in r || r.kind !== 'js' || r.id.startsWith('node:') || seen.has(r.id)) continue;
    seen.add(r.id);
    let source: string;
    try {
      source = modules.source(r.id);
    } catch {
      continue; // unreadable: its require() fails with the reason at run time
    }
    const writes = intrinsicWrites(source, true);
    if (writes.length) reasons.push({ where: `module ${r.filename.replace(/^\/node_modules\//, '')}`, writes });
    if (!isStrict(source)) for (const name of [...undeclaredAssignments(source), ...rootWrites(source)]) sloppyGlobals.add(name);
    requires(source, r.id);
  }
  return { perCall: reasons.length > 0, reasons, sloppyGlobals };
}
