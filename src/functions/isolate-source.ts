// Code that runs INSIDE the sandbox isolate, kept as text. Each isolate has a base context: the
// prelude, the BSON bundle and BSON_SETUP, then ISOLATE_SETUP (the shared realm's entry points
// \`run\` and \`runHttp\`), then ISOLATE_LOCKDOWN freezes every intrinsic so no call can leave
// state behind for the next one: each call gets a fresh instance of the function's module scope and
// its own \`context\`, \`console\` and \`utils\`. An app whose code extends built-ins runs each call
// in a realm of its own instead (realms.ts, perCallRealmSource), unfrozen and dropped after the
// call. A call's user and request stay on the host: host calls name them by the \`execution\` id
// the host registered.
//
// A call answers through \`host.done\`, never through the promise of the host's \`apply\`: isolated-vm
// throws a promise rejection that nobody handled at whichever task of the isolate ends next, which
// may be another user's call (environment.cc, TaskEpilogue). And before answering, a call waits for
// the host calls it started and left pending (an un-awaited insertOne, a \`.then\` chain), within its
// time limit, so their writes are not lost and their failures stay in their own call.

import { sandboxConstants } from './contract.js';

/**
 * What the BSON bundle expects of a browser and V8 alone lacks: base64, UTF-8 and random bytes
 * (from the host's CSPRNG through \`__hostRandom\`, which this removes from the global). Bytes are
 * converted by table straight into typed arrays and strings are built 8 KiB of character codes at
 * a time: the bundle's own web conversions go a character at a time through strings and callbacks
 * (\`Uint8Array.from(atob(b64), c => c.charCodeAt(0))\`), and a 10 MB endpoint body took seconds,
 * or failed with "memory limit exceeded". \`__bytes\` hands the converters to BSON_SETUP, which
 * puts them under bson's ByteUtils and removes it from the global.
 */
export const ISOLATE_PRELUDE = String.raw`
(function () {
  'use strict';
  const hostRandom = globalThis.__hostRandom;
  delete globalThis.__hostRandom;
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const B64_CODE = new Uint8Array(64);
  // A character's 6 bits; -2 for what decoding skips (ASCII whitespace and '='), -1 for the rest.
  const B64_INDEX = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) { B64_CODE[i] = B64.charCodeAt(i); B64_INDEX[B64.charCodeAt(i)] = i; }
  for (const c of ' \t\n\f\r=') B64_INDEX[c.charCodeAt(0)] = -2;
  const CHUNK = 8192;
  // A string of the code units codes[0..n), n of them at most CHUNK per fromCharCode.
  const unitsToString = (codes, n) => {
    if (n <= CHUNK) return String.fromCharCode.apply(null, codes.subarray(0, n));
    const parts = [];
    for (let i = 0; i < n; i += CHUNK) parts.push(String.fromCharCode.apply(null, codes.subarray(i, Math.min(n, i + CHUNK))));
    return parts.join('');
  };
  const fromBase64 = (text) => {
    const s = String(text);
    const out = new Uint8Array(Math.ceil((s.length * 3) / 4));
    let n = 0, acc = 0, bits = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const v = c < 128 ? B64_INDEX[c] : -1;
      if (v < 0) {
        if (v === -2) continue;
        throw new Error('invalid base64: the character at ' + i + ' is not in its alphabet');
      }
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) { bits -= 8; out[n++] = (acc >> bits) & 255; }
    }
    return n === out.length ? out : out.slice(0, n);
  };
  const toBase64 = (bytes) => {
    const len = bytes.length;
    const codes = new Uint8Array(Math.ceil(len / 3) * 4);
    let o = 0;
    for (let i = 0; i < len; i += 3) {
      const a = bytes[i], b = i + 1 < len ? bytes[i + 1] : 0, c = i + 2 < len ? bytes[i + 2] : 0;
      codes[o++] = B64_CODE[a >> 2];
      codes[o++] = B64_CODE[((a & 3) << 4) | (b >> 4)];
      codes[o++] = i + 1 < len ? B64_CODE[((b & 15) << 2) | (c >> 6)] : 61;
      codes[o++] = i + 2 < len ? B64_CODE[c & 63] : 61;
    }
    return unitsToString(codes, o);
  };
  // Bytes as a "binary string", one character per byte (what atob gives, btoa takes).
  const toLatin1 = (bytes) => unitsToString(bytes, bytes.length);
  const fromLatin1 = (bin) => {
    const s = String(bin);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  };
  // UTF-8 as the Encoding standard decodes it: each ill-formed sequence (its maximal valid
  // prefix, at least one byte) is U+FFFD, or a TypeError when fatal.
  const utf8Decode = (view, fatal) => {
    const len = view.length;
    // ASCII (most JSON, every base64 text) straight from the bytes; looked for 4 bytes at a time.
    let ascii = 0;
    if (view.byteOffset % 4 === 0) {
      const words = new Uint32Array(view.buffer, view.byteOffset, len >> 2);
      while (ascii < words.length && (words[ascii] & 0x80808080) === 0) ascii++;
      ascii <<= 2;
    }
    while (ascii < len && view[ascii] < 0x80) ascii++;
    if (ascii === len) return unitsToString(view, len);
    const codes = new Uint16Array(len);
    let n = 0;
    for (let i = 0; i < len;) {
      const b = view[i];
      if (b < 0x80) { codes[n++] = b; i++; continue; }
      let need = 0, cp = 0, lo = 0x80, hi = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) { need = 2; cp = b & 0x0f; if (b === 0xe0) lo = 0xa0; else if (b === 0xed) hi = 0x9f; }
      else if (b >= 0xf0 && b <= 0xf4) { need = 3; cp = b & 0x07; if (b === 0xf0) lo = 0x90; else if (b === 0xf4) hi = 0x8f; }
      let j = i + 1;
      if (need > 0) {
        for (; j <= i + need; j++) {
          const c = j < len ? view[j] : -1;
          if (c < lo || c > hi) break;
          cp = (cp << 6) | (c & 0x3f);
          lo = 0x80; hi = 0xbf;
        }
      }
      if (need === 0 || j !== i + need + 1) {
        if (fatal) throw new TypeError('The encoded data was not valid for encoding utf-8');
        codes[n++] = 0xfffd;
        i = need === 0 ? i + 1 : j;
        continue;
      }
      if (cp > 0xffff) { cp -= 0x10000; codes[n++] = 0xd800 | (cp >> 10); codes[n++] = 0xdc00 | (cp & 0x3ff); }
      else codes[n++] = cp;
      i = j;
    }
    return unitsToString(codes, n);
  };
  // Lone surrogates become U+FFFD, as TextEncoder does.
  const utf8Encode = (text) => {
    const s = String(text);
    let size = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) size += 1;
      else if (c < 0x800) size += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { size += 4; i++; }
      else size += 3;
    }
    const out = new Uint8Array(size);
    let o = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) { out[o++] = c; continue; }
      if (c < 0x800) { out[o++] = 0xc0 | (c >> 6); out[o++] = 0x80 | (c & 0x3f); continue; }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[o++] = 0xf0 | (c >> 18); out[o++] = 0x80 | ((c >> 12) & 0x3f); out[o++] = 0x80 | ((c >> 6) & 0x3f); out[o++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      out[o++] = 0xe0 | (c >> 12); out[o++] = 0x80 | ((c >> 6) & 0x3f); out[o++] = 0x80 | (c & 0x3f);
    }
    return out;
  };
  globalThis.btoa = (bin) => {
    const s = String(bin);
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) throw new Error('btoa: character out of range');
    return toBase64(fromLatin1(s));
  };
  globalThis.atob = (text) => {
    try { return toLatin1(fromBase64(text)); } catch (e) { throw new Error('atob: invalid base64'); }
  };
  const viewOf = (bytes) => (bytes instanceof Uint8Array ? bytes : ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes));
  globalThis.TextEncoder = class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(text = '') { return utf8Encode(text); }
  };
  globalThis.TextDecoder = class TextDecoder {
    constructor(label = 'utf-8', options = {}) { this.fatal = Boolean(options.fatal); }
    get encoding() { return 'utf-8'; }
    decode(bytes = new Uint8Array(0)) { return utf8Decode(viewOf(bytes), this.fatal); }
  };
  globalThis.crypto = {
    getRandomValues(array) {
      const bytes = hostRandom.applySync(undefined, [array.byteLength], { result: { copy: true } });
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
      return array;
    },
  };
  Object.defineProperty(globalThis, '__bytes', { value: { fromBase64, toBase64, toLatin1, fromLatin1 }, configurable: true });
})();
`;

/**
 * The platform's BSON over the library's, once per isolate in its base context (the shared realm
 * and the owner of the BSON that per-call realms borrow): BSON.Binary helpers, and constructors
 * that work with or without \`new\`.
 */
export const BSON_SETUP = String.raw`
(function () {
  'use strict';
  // The platform's BSON.Binary helpers, over the library's own.
  const Binary = BSON.Binary;
  // bson's byte conversions, by table (ISOLATE_PRELUDE says why).
  const bytes = globalThis.__bytes;
  delete globalThis.__bytes;
  const ByteUtils = BSON.onDemand.ByteUtils;
  ByteUtils.fromBase64 = bytes.fromBase64;
  ByteUtils.toBase64 = bytes.toBase64;
  ByteUtils.toISO88591 = bytes.toLatin1;
  ByteUtils.fromISO88591 = bytes.fromLatin1;
  Binary.fromHex = (hex, subtype) => Binary.createFromHexString(hex, subtype);
  Binary.fromBase64 = (b64, subtype) => Binary.createFromBase64(b64, subtype);
  Binary.prototype.toHex = function () { return this.toString('hex'); };
  Binary.prototype.toBase64 = function () { return this.toString('base64'); };
  Binary.prototype.text = function () { return this.toString('utf8'); };
  // The platform's BSON constructors worked with or without \`new\`: real code calls
  // \`BSON.ObjectId(hex)\` and \`BSON.Int32(2)\`. Instances and \`instanceof\` are the library's own.
  for (const name of ['ObjectId', 'Double', 'Int32', 'Long', 'Decimal128', 'Binary', 'Timestamp', 'Code', 'DBRef', 'MinKey', 'MaxKey', 'BSONRegExp', 'BSONSymbol', 'UUID']) {
    const C = BSON[name];
    if (typeof C === 'function') BSON[name] = new Proxy(C, { apply: (target, _self, args) => Reflect.construct(target, args) });
  }
})();
`;

/**
 * Sets up a realm that runs calls: the shared frozen one (once per isolate) or a per-call one
 * (realms.ts). Returns its entry points \`{ run, runHttp }\`. \`app.functions\` lists the functions
 * (name, runAs, internal, compile error); their factories are made in this realm when a call
 * first needs them (\`hostFactory\`). In a per-call realm the realm's own global object is the
 * call's global scope (\`perCall\`).
 */
export const ISOLATE_SETUP = String.raw`
(function (hostLog, hostSync, hostAsync, hostDone, app, hostModule, hostCompile, hostFactory, perCall) {
  'use strict';
  const host = { log: hostLog, sync: hostSync, async: hostAsync, done: hostDone };
  // The host call kinds, from the contract (contract.ts): this source names kinds only through these.
  ${sandboxConstants()}
  const EJSON = BSON.EJSON;
  // bson's EJSON, fast for the common types (src/util/ejson-codec.ts, evaluated by the runtime).
  const codec = globalThis.__ejsonCodec;
  delete globalThis.__ejsonCodec;
  const Binary = BSON.Binary;
  // Every function by name: runAs 'system' | 'caller' | 'own' (a user the host resolves), internal
  // (webhook sources and run-as scripts: the host's to run, never a function's), the compile
  // error if any, and its factory, made in this realm on first use.
  const factories = new Map(app.functions.map((f) => [f.name, { runAs: f.runAs, internal: f.internal, syntaxError: f.error, factory: null }]));
  const functionFactory = (name, f) => (f.factory ??= hostFactory.applySync(undefined, [name], { arguments: { copy: true } }));
  const MAX_DEPTH = 32;
  // The realm's own decoder, taken before any function runs (ISOLATE_PRELUDE's).
  const utf8 = new TextDecoder();

  // Functions get plain JS numbers (as on the platform), and Int64 values beyond 2^53 as exact
  // BSON.Long; Decimal128, ObjectId and Date stay typed.
  const parse = codec.parse;
  const stringify = codec.stringifyCanonical;
  const clone = (v) => (v === undefined ? undefined : parse(stringify(v)));
  // Errors a host call failed with, and their wire code (a rule refusal's NoMatchingRuleFound):
  // kept out of the functions' reach, so only the host's own errors carry a code back out.
  const wireCodes = new WeakMap();
  const hostError = (wire) => {
    const err = new Error(wire.message);
    if (typeof wire.code === 'string') wireCodes.set(err, wire.code);
    return err;
  };
  // A call's error as it crosses back to the host (contract.ts, WireError).
  const wireErrorOf = (err) => {
    const code = err !== null && typeof err === 'object' ? wireCodes.get(err) : undefined;
    return code === undefined ? { message: errorMessage(err) } : { message: errorMessage(err), code };
  };
  // A host call's answer (contract.ts, HostAnswer): its value, or its error thrown here.
  const hostAnswer = (text) => {
    const parsed = parse(text);
    if (parsed && parsed.error) throw hostError(parsed.error);
    return parsed.value;
  };
  const callHost = (kind, payload) =>
    hostAnswer(host.sync.applySync(undefined, [kind, stringify(payload)], { arguments: { copy: true }, result: { copy: true } }));
  const hostAsyncCall = async (kind, payload) =>
    hostAnswer(await host.async.apply(undefined, [kind, stringify(payload)], {
      arguments: { copy: true },
      result: { promise: true, copy: true },
    }));
  // An asynchronous host call made for \`call\` (one client-level call): the call answers only once
  // it has settled. Watching it also marks it handled, so an un-awaited one that fails is not
  // reported as an unhandled rejection; code that awaits it still sees the failure.
  const callHostAsync = (kind, payload, call) => {
    const p = hostAsyncCall(kind, payload);
    call.pending.add(p);
    const settled = () => { call.pending.delete(p); };
    p.then(settled, settled);
    return p;
  };
  const newCall = (name) => {
    // modules: this call's module instances (require), by module id; made on first require.
    const call = { pending: new Set(), ended: false, scope: null, name, modules: null, require: null, console: null };
    call.scope = makeScope(call);
    return call;
  };
  // Ends a call: its timers stop (the platform cleared them when a function returned).
  const endCall = (call) => {
    call.ended = true;
    if (call.timers) call.timers.active.clear();
  };

  // Timers for one call, each tick a host sleep; nothing fires once the call has ended, and the
  // call does not wait for them (setTimeout(fn, 0) then return: fn may not run).
  const makeTimers = (call) => {
    const active = new Set();
    let next = 1;
    const schedule = (fn, ms, args, repeat) => {
      if (typeof fn !== 'function') throw new TypeError('the callback must be a function');
      const id = next++;
      const delay = Math.max(0, Math.floor(Number(ms) || 0));
      active.add(id);
      const tick = () => {
        hostAsyncCall(ASYNC_KIND.sleep, { ms: delay }).then(() => {
          if (call.ended || !active.has(id)) return;
          if (!repeat) active.delete(id);
          try { fn(...args); } catch (err) {
            host.log.applySync(undefined, ['error', '(timer)', 'a timer callback threw: ' + errorMessage(err)], { arguments: { copy: true } });
          }
          if (repeat && active.has(id) && !call.ended) tick();
        }, () => {});
      };
      tick();
      return id;
    };
    const clear = (id) => { active.delete(id); };
    return {
      active,
      setTimeout: (fn, ms, ...args) => schedule(fn, ms, args, false),
      setInterval: (fn, ms, ...args) => schedule(fn, ms, args, true),
      setImmediate: (fn, ...args) => schedule(fn, 0, args, false),
      clearTimeout: clear,
      clearInterval: clear,
      clearImmediate: clear,
    };
  };
  const TIMER_NAMES = new Set(['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate']);

  // ---- require(): CommonJS modules, Node's built-ins and the app's own packages ----
  // The host resolves names (confined to the app's node_modules) and compiles each module once per
  // isolate into a factory; every client-level call gets its own instances (call.modules), so one
  // call's module-level state never reaches another's. Module code runs in the call's global scope.
  const resolutions = new Map();
  const moduleFactories = new Map();
  const hostModuleCall = (args) => hostModule.applySync(undefined, args, { arguments: { copy: true }, result: { copy: true } });
  const moduleError = (message, code) => Object.assign(new Error(message), { code });
  const resolveModule = (spec, parentId) => {
    if (typeof spec !== 'string') throw new TypeError('The "id" argument must be of type string. Received ' + typeof spec);
    const key = parentId + '\0' + spec;
    let r = resolutions.get(key);
    if (r === undefined) {
      // Names may come from a caller's input: the cache stays bounded.
      if (resolutions.size >= 10000) resolutions.clear();
      resolutions.set(key, (r = hostModuleCall([MODULE_OP.resolve, spec, parentId])));
    }
    if (r.error !== undefined) throw moduleError(r.error, r.code);
    return r;
  };
  const factoryOf = (r) => {
    let f = moduleFactories.get(r.id);
    if (f === undefined) {
      try {
        f = r.kind === 'json' ? { json: hostModuleCall([MODULE_OP.source, r.id]) } : { make: hostCompile.applySync(undefined, [r.id], { arguments: { copy: true } }) };
      } catch (err) {
        throw moduleError("cannot load module '" + r.filename.replace(/^\/node_modules\//, '') + "': " + errorMessage(err), 'ERR_MODULE_LOAD');
      }
      moduleFactories.set(r.id, f);
    }
    return f;
  };
  // What crypto asks of the host; given to Baste's built-in sources only.
  const builtinBinding = Object.freeze({
    digest: (alg, key, data) => hostModuleCall([MODULE_OP.digest, alg, key, data]),
    pbkdf2: (password, salt, iterations, keylen, digest) =>
      hostModule.applySyncPromise(undefined, [MODULE_OP.pbkdf2, password, salt, iterations, keylen, digest], { arguments: { copy: true } }),
    get hashes() { return hostModuleCall([MODULE_OP.hashes]); },
  });
  const requireFor = (call, parentId) => {
    const require = (spec) => {
      const r = resolveModule(spec, parentId);
      const modules = (call.modules ??= new Map());
      const cached = modules.get(r.id);
      // A module still loading (a cycle) gives its exports so far, as Node does.
      if (cached !== undefined) return cached.exports;
      const f = factoryOf(r);
      const module = { id: r.filename, filename: r.filename, path: r.dirname, exports: {}, loaded: false, children: [], paths: [] };
      modules.set(r.id, module);
      try {
        if (f.json !== undefined) module.exports = JSON.parse(f.json);
        else {
          const fn = f.make(call.scope);
          const args = [module.exports, requireFor(call, r.id), module, r.filename, r.dirname];
          // Only Baste's own built-in sources get the host's help (an app module could read arguments[5]).
          if (r.id.startsWith('node:')) args.push(builtinBinding);
          fn.apply(module.exports, args);
        }
      } catch (err) {
        modules.delete(r.id);
        throw err;
      }
      module.loaded = true;
      return module.exports;
    };
    require.resolve = (spec) => resolveModule(spec, parentId).filename;
    require.cache = Object.create(null);
    return require;
  };
  // Globals Node gives every module and function: made for the call when first read.
  const callGlobal = (call, k) => {
    switch (k) {
      case 'require': return (call.require ??= requireFor(call, null));
      case 'Buffer': return (call.require ??= requireFor(call, null))('buffer').Buffer;
      case 'process': return (call.require ??= requireFor(call, null))('process');
      case 'console': return consoleOf(call);
    }
    return undefined;
  };
  const CALL_GLOBALS = new Set(['require', 'Buffer', 'process', 'console']);

  // A call's own global scope. Function files are sloppy scripts on the platform: real code
  // assigns undeclared names (\`tag = ...\`) and sets \`global.x\`. Each function body runs inside
  // \`with (scope)\` (factorySource), so such names live in this call's store, shared by the
  // functions the call runs and seen by no other call; the realm's own globals stay frozen and are
  // read through. A name never assigned reads as undefined rather than throwing. A per-call realm
  // is the call's alone: its global object is the store, so modules' globals join it too.
  const makeScope = (call) => {
    const store = perCall ? globalThis : Object.create(null);
    let proxy;
    const own = (k) => k === 'globalThis' || k === 'global' || TIMER_NAMES.has(k) || CALL_GLOBALS.has(k);
    proxy = new Proxy(store, {
      has: (_t, k) => typeof k === 'string' && (k in store || own(k) || !(k in globalThis)),
      get: (_t, k) => {
        if (typeof k !== 'string') return undefined; // Symbol.unscopables included
        if (k in store) return store[k];
        if (k === 'globalThis' || k === 'global') return proxy;
        if (TIMER_NAMES.has(k)) return (call.timers ??= makeTimers(call))[k];
        if (CALL_GLOBALS.has(k)) return callGlobal(call, k);
        return globalThis[k];
      },
      set: (_t, k, v) => {
        if (typeof k !== 'string') return false;
        store[k] = v;
        return true;
      },
      deleteProperty: (_t, k) => delete store[k],
      defineProperty: (_t, k, d) => Reflect.defineProperty(store, k, d),
    });
    return proxy;
  };
  // Waits for the host calls a call left pending, and for those their reactions start in turn.
  // A few microtask turns first let short \`.then\` chains of the function issue theirs.
  const settle = async (call) => {
    for (;;) {
      for (let i = 0; i < 8; i++) await undefined;
      if (call.pending.size === 0) return;
      await Promise.allSettled([...call.pending]);
    }
  };
  const errorMessage = (err) => (err instanceof Error ? err.message : String(err));
  // The answer of one client-level call, to the host (never through a rejection: see above):
  // (execution, WireError | null, result text), contract.ts's DoneMessage.
  const answer = (execution, error, text) => {
    host.done.applyIgnored(undefined, [execution, error, text], { arguments: { copy: true } });
  };

  const systemUser = Object.freeze({ id: '', type: 'system', data: {}, custom_data: {}, identities: [] });

  const makeConsole = (fnName) => {
    const log = (level) => (...parts) => {
      const text = parts.map((p) => (typeof p === 'string' ? p : EJSON.stringify(p, { relaxed: true }))).join(' ');
      host.log.applySync(undefined, [level, fnName, text.slice(0, 10000)], { arguments: { copy: true } });
    };
    return { log: log('info'), info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') };
  };

  // One console per client-level call, made when first read, shared by the functions the call
  // runs and logging under the call's entry function, as the platform's logs were per request.
  // It is the call's own and not frozen: real code adds to it (a utils function setting
  // \`console.logVerbose = ...\` for the functions it runs next) and no other call sees that.
  const consoleOf = (call) => (call.console ??= makeConsole(call.name));

  const utils = Object.freeze({
    crypto: Object.freeze({
      hash: (alg, input) => callHost(SYNC_KIND.cryptoHash, { alg, input }),
      hmac: (input, secret, alg, encoding) => callHost(SYNC_KIND.cryptoHmac, { input, secret, alg, encoding }),
      encrypt: (type, message, key) => callHost(SYNC_KIND.cryptoEncrypt, { type, message, key }),
      decrypt: (type, message, key) => callHost(SYNC_KIND.cryptoDecrypt, { type, message, key }),
      sign: (type, message, key, scheme) => callHost(SYNC_KIND.cryptoSign, { type, message, key, scheme }),
      verify: (type, message, key, signature, scheme) => callHost(SYNC_KIND.cryptoVerify, { type, message, key, signature, scheme }),
    }),
    jwt: Object.freeze({
      encode: (method, payload, secret, header) => callHost(SYNC_KIND.jwtEncode, { method, payload, secret, header }),
      decode: (jwt, key, returnHeader, methods) => callHost(SYNC_KIND.jwtDecode, { jwt, key, returnHeader, methods }),
    }),
  });

  const makeHttp = (call) => Object.freeze(Object.fromEntries(
    ['get', 'post', 'put', 'patch', 'delete', 'head'].map((m) => [m, (opts) => callHostAsync(ASYNC_KIND.http, { method: m.toUpperCase(), opts: opts || {} }, call)]),
  ));

  // The MongoDB client functions get from context.services.get(): the driver's API for the
  // operations the data service serves, each a host call naming who is asking (the host holds the
  // execution's user and request; system is ours to say, for callees that run as system).
  function mongoClient(service, desc) {
    const collection = (database, collection) => {
      const call = (op, args) =>
        callHostAsync(ASYNC_KIND.mongo, { service, op, args: Object.assign({ database, collection }, args), execution: desc.execution, system: desc.system }, desc.call);
      const cursor = (op, args) => {
        const state = Object.assign({}, args);
        const c = {
          sort(spec) { state.sort = spec; return c; },
          limit(n) { state.limit = n; return c; },
          toArray() { return call(op, state); },
          then(resolve, reject) { return call(op, state).then(resolve, reject); },
        };
        return c;
      };
      return Object.freeze({
        find: (query = {}, projection, options = {}) => cursor('find', { query, project: projection, sort: options.sort, limit: options.limit }),
        findOne: (query = {}, projection, options = {}) => call('findOne', { query, project: projection, sort: options.sort }),
        count: (query = {}, options = {}) => call('count', { query, limit: options.limit }),
        countDocuments: (query = {}, options = {}) => call('count', { query, limit: options.limit }),
        aggregate: (pipeline) => cursor('aggregate', { pipeline }),
        insertOne: (document) => call('insertOne', { document }),
        insertMany: (documents) => call('insertMany', { documents }),
        updateOne: (query, update, options = {}) => call('updateOne', { query, update, upsert: options.upsert, arrayFilters: options.arrayFilters }),
        updateMany: (query, update, options = {}) => call('updateMany', { query, update, upsert: options.upsert, arrayFilters: options.arrayFilters }),
        deleteOne: (query = {}) => call('deleteOne', { query }),
        deleteMany: (query = {}) => call('deleteMany', { query }),
        findOneAndUpdate: (filter, update, options = {}) => call('findOneAndUpdate', Object.assign({ filter, update }, options)),
        findOneAndReplace: (filter, update, options = {}) => call('findOneAndReplace', Object.assign({ filter, update }, options)),
        findOneAndDelete: (filter = {}, options = {}) => call('findOneAndDelete', Object.assign({ filter }, options)),
      });
    };
    return Object.freeze({ db: (database) => Object.freeze({ collection: (name) => collection(database, name) }) });
  }

  // ---- Third-party services (context.services.get of a name in services/): see src/app/services.ts.
  // \`http\` is served by the client of context.http, same options and answer. Any other type is
  // not served: the object answers every property with a callable that throws one error naming the
  // service and its type, however deep the chain (\`aws.s3("us-east-1").PutObject(...)\` fails at
  // \`s3(...)\`). Symbols and what awaiting or serializing looks up (\`then\`, \`toJSON\`, \`_bsontype\`)
  // are left undefined, so awaiting, logging or returning the object itself does not throw.
  const INERT_KEYS = new Set(['then', 'toJSON', '_bsontype']);
  const unservedService = (name, type) => {
    const fail = () => { throw new Error("service '" + name + "' (type " + (type || 'untyped') + ') is not served by Baste'); };
    const handler = { get: (_t, key) => (typeof key === 'symbol' || INERT_KEYS.has(key) ? undefined : new Proxy(function () {}, { get: handler.get, apply: fail, construct: fail })) };
    return new Proxy({}, handler);
  };
  const thirdPartyService = (name, desc) => {
    const type = app.services[name];
    return type === 'http' ? makeHttp(desc.call) : unservedService(name, type);
  };
  const hasService = (name) => typeof name === 'string' && Object.prototype.hasOwnProperty.call(app.services, name);
  // ---- end of third-party services.

  // desc: { execution (the host's id for who runs), system, userEjson, requestEjson (null: none),
  // call (the client-level call's pending host calls) }.
  function makeContext(desc, depth) {
    // user, request and environment are made when first read: most functions never read them.
    // They are the function's own copies; the host keeps what it knows of the caller.
    let user, request, environment, http;
    return Object.freeze({
      get user() { return (user ??= desc.userEjson === null ? systemUser : parse(desc.userEjson)); },
      runningAsSystem: () => desc.system,
      values: Object.freeze({ get: (name) => clone(app.values[name]) }),
      get environment() { return (environment ??= Object.freeze({ tag: app.environment, values: clone(app.environmentValues) })); },
      get request() { return desc.requestEjson === null ? undefined : (request ??= parse(desc.requestEjson)); },
      services: Object.freeze({
        // Unknown services are undefined, as on the platform.
        get: (name) => (app.dataSources.includes(name) ? mongoClient(name, desc) : hasService(name) ? thirdPartyService(name, desc) : undefined),
      }),
      get http() { return (http ??= makeHttp(desc.call)); },
      functions: Object.freeze({
        // The callee's own value: synchronous when the callee is, a promise only when it returns
        // one. Real apps guard with \`if (!context.functions.execute("isOwner", id)) return\`; an
        // always-async execute made that a truthy Promise, a silent bypass.
        execute: (name, ...args) => {
          if (depth >= MAX_DEPTH) throw new Error('function calls nested more than ' + MAX_DEPTH + ' deep');
          const f = factories.get(name);
          // Webhook sources and run-as scripts live here too, but only the host may run them.
          if (!f || f.internal) throw new Error("function not found: '" + name + "'");
          const copied = clone(args);
          if (f.runAs === 'own') {
            // The callee runs as the user its config names (run_as_user_id or a script): only the
            // host can look users up, so it answers who, for this function name only, as a new
            // execution of its own. Asking is asynchronous, so such a callee answers a promise.
            const argsEjson = stringify(copied);
            return callHostAsync(ASYNC_KIND.runAs, { name, argsEjson, execution: desc.execution, system: desc.system }, desc.call).then((chosen) =>
              invoke(name, copied, { execution: chosen.execution, system: chosen.system === true, userEjson: chosen.userEjson, requestEjson: desc.requestEjson, call: desc.call }, depth + 1));
          }
          // The callee keeps the caller's user, unless it is configured to run as the system user.
          const nested = { execution: desc.execution, system: desc.system || f.runAs === 'system', userEjson: desc.userEjson, requestEjson: desc.requestEjson, call: desc.call };
          return invoke(name, copied, nested, depth + 1);
        },
      }),
    });
  }

  function invoke(name, args, desc, depth) {
    const f = factories.get(name);
    if (!f) throw new Error("function not found: '" + name + "'");
    if (f.syntaxError) throw new Error(f.syntaxError);
    const entry = functionFactory(name, f)(desc.call.scope)(makeContext(desc, depth), consoleOf(desc.call), utils);
    if (typeof entry !== 'function') throw new Error("function '" + name + "' does not assign a function to exports");
    return entry(...args);
  }

  // The response object of HTTPS endpoints and webhooks: any call to it overrides the default answer.
  function makeResponse() {
    const state = { statusCode: null, headers: {}, body: null, touched: false };
    const response = Object.freeze({
      setStatusCode(code) { state.statusCode = Number(code); state.touched = true; },
      setBody(body) {
        state.body = typeof body === 'string' || body instanceof Binary ? body : EJSON.stringify(body, { relaxed: true });
        state.touched = true;
      },
      setHeader(name, value) { state.headers[String(name)] = [String(value)]; state.touched = true; },
      addHeader(name, value) {
        const key = String(name);
        state.headers[key] = (state.headers[key] || []).concat([String(value)]);
        state.touched = true;
      },
    });
    return { response, state };
  }

  const runHttp = async (name, payloadEjson, execution, system, userEjson, requestEjson) => {
    const call = newCall(name);
    let error = null, text = null;
    try {
      const payload = parse(payloadEjson);
      const desc = { execution, system: system === true, userEjson, requestEjson, call };
      const { response, state } = makeResponse();
      const result = await invoke(name, [payload, response], desc, 0);
      await settle(call);
      text = stringify({ hasResult: result !== undefined, result: result === undefined ? null : result, response: state });
    } catch (err) {
      await settle(call);
      error = wireErrorOf(err);
    }
    endCall(call);
    answer(execution, error, text);
  };

  const run = async (name, argsEjson, execution, system, userEjson, requestEjson) => {
    const call = newCall(name);
    let error = null, text = null;
    try {
      // Text, or the UTF-8 bytes of a big body, moved here from the host (args-ejson.ts).
      const args = parse(typeof argsEjson === 'string' ? argsEjson : utf8.decode(argsEjson));
      const desc = { execution, system: system === true, userEjson, requestEjson, call };
      const result = await invoke(name, args, desc, 0);
      await settle(call);
      text = result === undefined ? 'null' : stringify(result);
    } catch (err) {
      await settle(call);
      error = wireErrorOf(err);
    }
    endCall(call);
    answer(execution, error, text);
  };
  // The calls the host handed over in one message (call-batches.ts), each [entry, ...the entry's
  // arguments], started one at a time: each runs until it has answered or waits on something (up
  // to 32 microtask turns, a quick call's whole life) before the next starts, so a call's answer
  // leaves before a later call of the batch can hold the isolate, as if each had come alone.
  // Settles when every call has ended (none rejects: each answers).
  const runBatch = async (calls) => {
    const lives = [];
    for (const c of calls) {
      let ended = false;
      const life = (c[0] === 'runHttp' ? runHttp : run)(c[1], c[2], c[3], c[4], c[5], c[6]);
      life.then(() => { ended = true; }, () => { ended = true; });
      lives.push(life);
      for (let i = 0; i < 32 && !ended; i++) await undefined;
    }
    await Promise.all(lives);
  };
  return { run, runHttp, runBatch };
})
`;

/**
 * Freezes every intrinsic and the global object of the isolate's base context, once its setup is
 * done, so no call can leave state behind for the next one (per-call realms borrow its BSON).
 */
export const ISOLATE_LOCKDOWN = String.raw`
(function () {
  'use strict';
  // The frozen realm's "override mistake": with Object.prototype.toString frozen, plain
  // \`proto.toString = fn\` on an object inheriting it fails (throws in strict code), which breaks
  // packages (moment sets toString/valueOf on its prototypes; errors set name and message). These
  // properties become accessors whose setter gives the assigning object its own property, as an
  // unfrozen realm would; the intrinsic itself stays unchanged.
  const enabled = [];
  const enable = (proto, names) => {
    for (const name of names) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (!d || !('value' in d) || !d.writable) continue;
      const value = d.value;
      enabled.push(value);
      Object.defineProperty(proto, name, {
        get() { return value; },
        set(v) {
          if (this === proto) throw new TypeError("Cannot assign to read only property '" + String(name) + "' of a frozen built-in");
          if (Object(this) !== this) return;
          Object.defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
        },
        enumerable: d.enumerable,
        configurable: false,
      });
    }
  };
  // Not the \`constructor\` of arrays, promises, typed arrays or regexps: V8's fast paths (species
  // protectors) depend on those staying data properties.
  enable(Object.prototype, Object.getOwnPropertyNames(Object.prototype));
  enable(Function.prototype, ['constructor', 'toString', 'bind', 'call', 'apply']);
  enable(Array.prototype, ['toString', 'toLocaleString']);
  for (const E of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) enable(E.prototype, ['constructor', 'name', 'message', 'toString']);
  // Buffer.prototype inherits Uint8Array's, and the npm buffer overrides most of its methods.
  const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  enable(TypedArrayPrototype, Object.getOwnPropertyNames(TypedArrayPrototype).filter((n) => n !== 'constructor'));
  enable(Date.prototype, ['toString', 'toJSON']);
  // RegExp's legacy statics (RegExp.$1, lastMatch, input...) hold the realm's last match: in a
  // shared realm, one call's input read by the next. Gone, as in strict engines that never had them.
  for (const name of ['input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$\u0060', 'rightContext', "$'", '$1', '$2', '$3', '$4', '$5', '$6', '$7', '$8', '$9']) delete RegExp[name];
  const seen = new Set();
  const freeze = (o) => {
    if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) return;
    seen.add(o);
    Object.freeze(o);
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d && 'value' in d) freeze(d.value);
      if (d && d.get) freeze(d.get);
      if (d && d.set) freeze(d.set);
    }
    freeze(Object.getPrototypeOf(o));
  };
  for (const key of Reflect.ownKeys(globalThis)) {
    const d = Object.getOwnPropertyDescriptor(globalThis, key);
    if (d && 'value' in d) freeze(d.value);
  }
  for (const value of enabled) freeze(value);
  Object.freeze(globalThis);
})();
`;

/**
 * A per-call realm's BSON: the base context's (frozen, shared: its bundle is too dear to evaluate
 * per call), with EJSON and deserialize handing back arrays, objects and dates of this realm, so
 * a call's \`Array.prototype\` extensions apply to what it reads.
 */
const REALM_BSON = String.raw`
(function (base) {
  'use strict';
  const baseArray = Object.getPrototypeOf(base.EJSON.parse('[]'));
  const baseObject = Object.getPrototypeOf(base.EJSON.parse('{}'));
  const baseDate = Object.getPrototypeOf(base.EJSON.parse('{"$date":{"$numberLong":"0"}}'));
  const adopt = (v, depth) => {
    if (v === null || typeof v !== 'object' || depth > 200) return v;
    const p = Object.getPrototypeOf(v);
    if (p === baseArray) {
      Object.setPrototypeOf(v, Array.prototype);
      for (let i = 0; i < v.length; i++) adopt(v[i], depth + 1);
    } else if (p === baseObject) {
      Object.setPrototypeOf(v, Object.prototype);
      for (const k of Object.keys(v)) adopt(v[k], depth + 1);
    } else if (p === baseDate) Object.setPrototypeOf(v, Date.prototype);
    return v;
  };
  const E = base.EJSON;
  const EJSON = Object.freeze({
    parse: (text, options) => adopt(E.parse(text, options), 0),
    deserialize: (doc, options) => adopt(E.deserialize(doc, options), 0),
    stringify: (value, replacer, space, options) => E.stringify(value, replacer, space, options),
    serialize: (value, options) => E.serialize(value, options),
  });
  const own = Object.assign({}, base, { EJSON, deserialize: (buffer, options) => adopt(base.deserialize(buffer, options), 0) });
  return own;
})
`;

/**
 * A script whose value is the function that bootstraps a per-call realm in a fresh context and
 * starts its one call: $0 the host's random bytes, $1 the base context's BSON, $2–$9
 * ISOLATE_SETUP's bridges and app facts, $10 the entry (\`run\` | \`runHttp\`), $11–$16 its
 * arguments. Compiled once per isolate, so every realm shares its code. \`codec\` is the EJSON
 * codec's factory source (runtime.ts).
 */
export function perCallRealmSource(codec: string): string {
  return `(function ($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) {
globalThis.__hostRandom = $0;
delete globalThis.console;
${ISOLATE_PRELUDE}
delete globalThis.__bytes;
globalThis.BSON = (${REALM_BSON})($1);
globalThis.EJSON = BSON.EJSON;
globalThis.__ejsonCodec = ${codec};
let entries;
try {
  entries = (${ISOLATE_SETUP})($2, $3, $4, $5, $6, $7, $8, $9, true);
} catch (err) {
  $5.applyIgnored(undefined, [$13, 'the call could not start: ' + (err && err.message), null], { arguments: { copy: true } });
  return;
}
return entries[$10]($11, $12, $13, $14, $15, $16);
})`;
}

/**
 * Wraps one function's source in a factory: given the call's global scope (a sloppy-mode `with`,
 * see makeScope), a fresh module scope and `context` per call. The source still starts on line 3.
 */
export function factorySource(source: string): string {
  return `(function (__callScope) { with (__callScope) { return function (context, console, utils) {\nvar exports;\n${source}\n;return exports;\n}; } })`;
}

/** The call's own globals a module may name: bound from the call's scope when its source mentions them. */
const MODULE_GLOBALS = ['global', 'globalThis', 'Buffer', 'process', 'console', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate'];

/**
 * Wraps a CommonJS module's source in a factory run once per call: given the call's global scope,
 * it returns Node's module function. A module does not run inside `with` by default (that made
 * lodash's load three times slower): the call's globals it names (`global`, `Buffer`, its timers…)
 * are bound as locals, read from the call's scope only when the source mentions them; other free
 * names are the realm's (in a per-call realm, its global object is the call's scope, so they
 * meet). A sloppy module that assigns an undeclared name, or names one that code of the app
 * assigns (`scoped`, sloppy-globals.ts), runs inside the call's `with` scope as function code
 * does, so `lib = ...` lands in the call's store rather than on the frozen global object. Baste's
 * own built-ins also get `__baste` (the host's help for crypto).
 */
export function moduleFactorySource(source: string, builtin: boolean, scoped = false): string {
  const names = MODULE_GLOBALS.filter((name) => new RegExp(`\\b${name}\\b`).test(source));
  const locals = names.length ? `var ${names.map((n) => `${n} = __callScope.${n}`).join(', ')};` : '';
  const module = `function (exports, require, module, __filename, __dirname${builtin ? ', __baste' : ''}) {${source}\n}`;
  return scoped
    ? `(function (__callScope) { ${locals} with (__callScope) { return ${module}; } })`
    : `(function (__callScope) { ${locals} return ${module}; })`;
}
