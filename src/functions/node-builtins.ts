// The Node built-in modules functions may `require`, as CommonJS sources evaluated inside the
// sandbox, and the ones they may not, with the reason. The platform offered Node 10's modules
// (docs-app-services, source/functions/javascript-support.txt: assert, buffer, events, path,
// punycode, querystring, string_decoder, timers, url fully; util, crypto, process, fs, http… in
// part). Baste gives the ones that need nothing of the machine: small shims of its own here,
// `buffer` and `punycode` from their npm packages. Each shim runs once per client-level call, with
// that call's global scope (its timers, `Buffer`, `console`); `__baste` is the host's help for
// `crypto` (digests, PBKDF2), passed to these sources only.

/** Built-ins implemented by an npm package (a dependency of Baste), loaded like the app's modules. */
export const BUILTIN_PACKAGES: Readonly<Record<string, string>> = { buffer: 'buffer', punycode: 'punycode' };

/** What those packages may require in turn. */
export const INTERNAL_PACKAGES: ReadonlySet<string> = new Set(['base64-js', 'ieee754']);

const NO_FILES = 'no file system access (functions keep state in the data service and values)';
const NO_NETWORK = 'no raw network access (use context.http for HTTP requests)';
const NO_PROCESSES = 'functions cannot start processes or threads';

const REASONS: Readonly<Record<string, string>> = {
  fs: NO_FILES,
  'fs/promises': NO_FILES,
  net: NO_NETWORK,
  tls: NO_NETWORK,
  dgram: NO_NETWORK,
  dns: NO_NETWORK,
  'dns/promises': NO_NETWORK,
  http: NO_NETWORK,
  https: NO_NETWORK,
  http2: NO_NETWORK,
  child_process: NO_PROCESSES,
  cluster: NO_PROCESSES,
  worker_threads: NO_PROCESSES,
  vm: 'functions cannot compile code at run time',
  v8: 'the engine is not exposed to functions',
  inspector: 'the engine is not exposed to functions',
  module: "functions load modules through require only",
  stream: 'streams are not available to functions in Baste yet',
  zlib: 'compression is not available to functions in Baste yet',
  readline: 'functions have no terminal',
  repl: 'functions have no terminal',
};

/** The message of a built-in functions cannot have. */
export function refusedBuiltin(name: string, spec: string): string {
  const reason = REASONS[name] ?? REASONS[name.split('/')[0]!] ?? 'Baste does not offer it to functions';
  return `module '${spec}' is not available to functions in Baste: ${reason}`;
}

const EVENTS = String.raw`
'use strict';
function EventEmitter() { EventEmitter.init.call(this); }
EventEmitter.EventEmitter = EventEmitter;
EventEmitter.defaultMaxListeners = 10;
EventEmitter.init = function () {
  if (!this._events || this._events === Object.getPrototypeOf(this)._events) { this._events = Object.create(null); this._eventsCount = 0; }
  this._maxListeners = this._maxListeners || undefined;
};
const proto = EventEmitter.prototype;
proto._events = undefined;
proto._eventsCount = 0;
proto._maxListeners = undefined;
const checkListener = (l) => { if (typeof l !== 'function') throw new TypeError('The "listener" argument must be of type Function. Received type ' + typeof l); };
proto.setMaxListeners = function (n) { this._maxListeners = n; return this; };
proto.getMaxListeners = function () { return this._maxListeners === undefined ? EventEmitter.defaultMaxListeners : this._maxListeners; };
function add(target, type, listener, prepend) {
  checkListener(listener);
  if (!target._events) { target._events = Object.create(null); target._eventsCount = 0; }
  const events = target._events;
  if (events.newListener !== undefined) target.emit('newListener', type, listener.listener ? listener.listener : listener);
  const existing = target._events[type];
  if (existing === undefined) { target._events[type] = listener; target._eventsCount++; }
  else if (typeof existing === 'function') target._events[type] = prepend ? [listener, existing] : [existing, listener];
  else if (prepend) existing.unshift(listener); else existing.push(listener);
  return target;
}
proto.addListener = proto.on = function (type, listener) { return add(this, type, listener, false); };
proto.prependListener = function (type, listener) { return add(this, type, listener, true); };
function onceWrapper(target, type, listener) {
  const state = { fired: false, target, type, listener };
  const wrapped = function (...args) {
    if (state.fired) return undefined;
    state.fired = true;
    state.target.removeListener(state.type, wrapped);
    return state.listener.apply(state.target, args);
  };
  wrapped.listener = listener;
  return wrapped;
}
proto.once = function (type, listener) { checkListener(listener); return this.on(type, onceWrapper(this, type, listener)); };
proto.prependOnceListener = function (type, listener) { checkListener(listener); return this.prependListener(type, onceWrapper(this, type, listener)); };
proto.removeListener = proto.off = function (type, listener) {
  checkListener(listener);
  const events = this._events;
  if (!events) return this;
  const list = events[type];
  if (list === undefined) return this;
  if (list === listener || list.listener === listener) {
    if (--this._eventsCount === 0) this._events = Object.create(null); else delete events[type];
    if (events.removeListener) this.emit('removeListener', type, list.listener || listener);
  } else if (typeof list !== 'function') {
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i] === listener || list[i].listener === listener) {
        const removed = list[i];
        list.splice(i, 1);
        if (list.length === 1) events[type] = list[0];
        if (events.removeListener !== undefined) this.emit('removeListener', type, removed.listener || listener);
        break;
      }
    }
  }
  return this;
};
proto.removeAllListeners = function (type) {
  if (!this._events) return this;
  if (type === undefined) { this._events = Object.create(null); this._eventsCount = 0; }
  else if (this._events[type] !== undefined) { if (--this._eventsCount === 0) this._events = Object.create(null); else delete this._events[type]; }
  return this;
};
proto.emit = function (type, ...args) {
  const events = this._events;
  if (type === 'error' && (!events || events.error === undefined)) {
    const er = args[0];
    if (er instanceof Error) throw er;
    const err = new Error('Unhandled error.' + (er === undefined ? '' : ' (' + String(er) + ')'));
    err.context = er;
    throw err;
  }
  if (!events) return false;
  const handler = events[type];
  if (handler === undefined) return false;
  if (typeof handler === 'function') handler.apply(this, args);
  else for (const l of handler.slice()) l.apply(this, args);
  return true;
};
proto.listeners = function (type) {
  const l = this._events && this._events[type];
  return l === undefined ? [] : typeof l === 'function' ? [l.listener || l] : l.map((x) => x.listener || x);
};
proto.rawListeners = function (type) {
  const l = this._events && this._events[type];
  return l === undefined ? [] : typeof l === 'function' ? [l] : l.slice();
};
proto.listenerCount = function (type) {
  const l = this._events && this._events[type];
  return l === undefined ? 0 : typeof l === 'function' ? 1 : l.length;
};
EventEmitter.listenerCount = (emitter, type) => emitter.listenerCount(type);
proto.eventNames = function () { return this._eventsCount > 0 ? Reflect.ownKeys(this._events) : []; };
EventEmitter.once = function (emitter, name) {
  return new Promise((resolve, reject) => {
    const onError = (err) => { emitter.removeListener(name, onEvent); reject(err); };
    const onEvent = (...args) => { if (name !== 'error') emitter.removeListener('error', onError); resolve(args); };
    emitter.once(name, onEvent);
    if (name !== 'error') emitter.once('error', onError);
  });
};
module.exports = EventEmitter;
`;

const UTIL = String.raw`
'use strict';
const custom = Symbol.for('nodejs.util.inspect.custom');
const tag = (v) => Object.prototype.toString.call(v).slice(8, -1);
const types = {
  isDate: (v) => tag(v) === 'Date',
  isRegExp: (v) => tag(v) === 'RegExp',
  isMap: (v) => tag(v) === 'Map',
  isSet: (v) => tag(v) === 'Set',
  isWeakMap: (v) => tag(v) === 'WeakMap',
  isWeakSet: (v) => tag(v) === 'WeakSet',
  isPromise: (v) => tag(v) === 'Promise',
  isNativeError: (v) => v instanceof Error,
  isArrayBuffer: (v) => tag(v) === 'ArrayBuffer',
  isAnyArrayBuffer: (v) => tag(v) === 'ArrayBuffer' || tag(v) === 'SharedArrayBuffer',
  isTypedArray: (v) => ArrayBuffer.isView(v) && !(v instanceof DataView),
  isUint8Array: (v) => tag(v) === 'Uint8Array',
  isDataView: (v) => v instanceof DataView,
  isAsyncFunction: (v) => tag(v) === 'AsyncFunction' || tag(v) === 'AsyncGeneratorFunction',
  isGeneratorFunction: (v) => tag(v) === 'GeneratorFunction' || tag(v) === 'AsyncGeneratorFunction',
  isGeneratorObject: (v) => tag(v) === 'Generator',
  isBoxedPrimitive: (v) => ['Number', 'String', 'Boolean', 'BigInt', 'Symbol'].includes(tag(v)) && typeof v === 'object',
};
function inspect(value, opts) {
  const options = typeof opts === 'object' && opts !== null ? opts : {};
  const maxDepth = options.depth === undefined ? 2 : options.depth === null ? Infinity : options.depth;
  const seen = [];
  const str = (s, nested) => (nested ? "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n') + "'" : s);
  const key = (k) => (typeof k === 'symbol' ? '[' + k.toString() + ']' : /^[A-Za-z_$][\w$]*$/.test(k) ? k : str(k, true));
  const fmt = (v, depth, nested) => {
    if (v === null) return 'null';
    if (v === undefined) return 'undefined';
    if (typeof v === 'string') return str(v, nested);
    if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
    if (typeof v === 'bigint') return String(v) + 'n';
    if (typeof v === 'boolean' || typeof v === 'symbol') return v.toString();
    if (typeof v === 'function') {
      const base = '[' + (types.isAsyncFunction(v) ? 'AsyncFunction' : /^class\s/.test(Function.prototype.toString.call(v)) ? 'class' : 'Function') + (v.name ? ': ' + v.name : ' (anonymous)') + ']';
      const keys = Object.keys(v);
      return keys.length && depth <= maxDepth ? base + ' { ' + keys.map((k) => key(k) + ': ' + fmt(v[k], depth + 1, true)).join(', ') + ' }' : base;
    }
    if (typeof v[custom] === 'function' && v[custom] !== inspect) {
      const out = v[custom](maxDepth - depth, options, inspect);
      return typeof out === 'string' ? out : fmt(out, depth, nested);
    }
    if (seen.includes(v)) return '[Circular]';
    if (types.isDate(v)) return isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    if (types.isRegExp(v)) return RegExp.prototype.toString.call(v);
    if (v instanceof Error) return v.stack || '[' + (v.name || 'Error') + ': ' + v.message + ']';
    if (types.isPromise(v)) return 'Promise { <unknown> }';
    if (depth > maxDepth) return Array.isArray(v) ? '[Array]' : '[' + (v.constructor && v.constructor.name ? v.constructor.name : 'Object') + ']';
    seen.push(v);
    try {
      let parts, open = '{', close = '}', prefix = '';
      if (Array.isArray(v)) {
        parts = v.slice(0, 100).map((x) => fmt(x, depth + 1, true));
        if (v.length > 100) parts.push('... ' + (v.length - 100) + ' more items');
        open = '['; close = ']';
      } else if (types.isTypedArray(v)) {
        prefix = (v.constructor && v.constructor.name ? v.constructor.name : tag(v)) + '(' + v.length + ') ';
        parts = Array.from(v.subarray(0, 100), (x) => String(x));
        open = '['; close = ']';
      } else if (types.isMap(v)) {
        prefix = 'Map(' + v.size + ') ';
        parts = [...v].map(([k, x]) => fmt(k, depth + 1, true) + ' => ' + fmt(x, depth + 1, true));
      } else if (types.isSet(v)) {
        prefix = 'Set(' + v.size + ') ';
        parts = [...v].map((x) => fmt(x, depth + 1, true));
      } else {
        const ctor = v.constructor && v.constructor.name;
        if (Object.getPrototypeOf(v) === null) prefix = '[Object: null prototype] ';
        else if (ctor && ctor !== 'Object') prefix = ctor + ' ';
        parts = [];
      }
      for (const k of Reflect.ownKeys(v)) {
        if ((Array.isArray(v) || types.isTypedArray(v)) && (k === 'length' || String(Number(k)) === k)) continue;
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (!d || (!d.enumerable && !options.showHidden)) continue;
        parts.push(key(k) + ': ' + ('value' in d ? fmt(d.value, depth + 1, true) : d.get ? (d.set ? '[Getter/Setter]' : '[Getter]') : '[Setter]'));
      }
      if (parts.length === 0) return prefix + open + close;
      const one = prefix + open + ' ' + parts.join(', ') + ' ' + close;
      if (one.length <= 72 && !one.includes('\n')) return one;
      const pad = '  '.repeat(depth + 1);
      return prefix + open + '\n' + pad + parts.join(',\n' + pad) + '\n' + '  '.repeat(depth) + close;
    } finally { seen.pop(); }
  };
  return fmt(value, 0, false);
}
inspect.custom = custom;
inspect.defaultOptions = { depth: 2 };
function format(f, ...args) {
  if (typeof f !== 'string') return [f, ...args].map((a) => (typeof a === 'string' ? a : inspect(a))).join(' ');
  let i = 0;
  let out = f.replace(/%([sdifjoOc%])/g, (m, c) => {
    if (c === '%') return '%';
    if (i >= args.length) return m;
    const a = args[i++];
    switch (c) {
      case 's': return typeof a === 'string' ? a : typeof a === 'bigint' ? a + 'n' : typeof a === 'object' && a !== null ? inspect(a, { depth: 0 }) : String(a);
      case 'd': return typeof a === 'bigint' ? a + 'n' : typeof a === 'object' && a !== null ? 'NaN' : String(Number(a));
      case 'i': return typeof a === 'bigint' ? a + 'n' : String(parseInt(a, 10));
      case 'f': return String(parseFloat(a));
      case 'j': try { return JSON.stringify(a); } catch (e) { return '[Circular]'; }
      case 'o': return inspect(a, { showHidden: true, depth: 4 });
      case 'O': return inspect(a);
      case 'c': return '';
      default: return m;
    }
  });
  for (; i < args.length; i++) out += ' ' + (typeof args[i] === 'string' ? args[i] : inspect(args[i]));
  return out;
}
const customPromisify = Symbol.for('nodejs.util.promisify.custom');
function promisify(original) {
  if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type Function');
  if (original[customPromisify]) return original[customPromisify];
  function fn(...args) {
    return new Promise((resolve, reject) => {
      original.call(this, ...args, (err, ...values) => (err ? reject(err) : resolve(values.length > 1 ? values : values[0])));
    });
  }
  Object.setPrototypeOf(fn, Object.getPrototypeOf(original));
  return Object.defineProperties(fn, Object.getOwnPropertyDescriptors(original));
}
promisify.custom = customPromisify;
function callbackify(original) {
  if (typeof original !== 'function') throw new TypeError('The "original" argument must be of type Function');
  return function (...args) {
    const cb = args.pop();
    if (typeof cb !== 'function') throw new TypeError('The last argument must be of type Function');
    original.apply(this, args).then((v) => cb(null, v), (err) => cb(err || Object.assign(new Error('Promise was rejected with a falsy value'), { reason: err })));
  };
}
function inherits(ctor, superCtor) {
  if (typeof ctor !== 'function' || typeof superCtor !== 'function' || superCtor.prototype === undefined) throw new TypeError('inherits: both arguments must be constructors');
  Object.defineProperty(ctor, 'super_', { value: superCtor, writable: true, configurable: true });
  Object.setPrototypeOf(ctor.prototype, superCtor.prototype);
}
const warned = new Set();
function deprecate(fn, msg, code) {
  return function (...args) {
    if (!warned.has(code || msg)) { warned.add(code || msg); console.warn('DeprecationWarning: ' + msg); }
    return new.target ? Reflect.construct(fn, args, new.target) : fn.apply(this, args);
  };
}
function isDeepStrictEqual(a, b) { return require('assert').__deepEqual(a, b, true); }
module.exports = {
  format, formatWithOptions: (o, ...a) => format(...a), inspect, promisify, callbackify, inherits, deprecate, isDeepStrictEqual, types,
  debuglog: () => () => {},
  isArray: Array.isArray,
  isBoolean: (v) => typeof v === 'boolean',
  isNull: (v) => v === null,
  isNullOrUndefined: (v) => v == null,
  isNumber: (v) => typeof v === 'number',
  isString: (v) => typeof v === 'string',
  isSymbol: (v) => typeof v === 'symbol',
  isUndefined: (v) => v === undefined,
  isRegExp: types.isRegExp,
  isObject: (v) => v !== null && typeof v === 'object',
  isDate: types.isDate,
  isError: (v) => v instanceof Error,
  isFunction: (v) => typeof v === 'function',
  isPrimitive: (v) => v === null || (typeof v !== 'object' && typeof v !== 'function'),
  isBuffer: (v) => require('buffer').Buffer.isBuffer(v),
  TextEncoder, TextDecoder,
};
`;

const ASSERT = String.raw`
'use strict';
const util = () => require('util');
class AssertionError extends Error {
  constructor(options) {
    super(options.message !== undefined ? String(options.message) : util().inspect(options.actual) + ' ' + options.operator + ' ' + util().inspect(options.expected));
    this.name = 'AssertionError';
    this.code = 'ERR_ASSERTION';
    this.actual = options.actual;
    this.expected = options.expected;
    this.operator = options.operator;
    this.generatedMessage = options.message === undefined;
  }
}
const tag = (v) => Object.prototype.toString.call(v);
function deepEqual(a, b, strict, memo) {
  if (strict ? Object.is(a, b) : a == b || (a !== a && b !== b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (strict && Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (tag(a) !== tag(b)) return false;
  if (a instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof RegExp) return String(a) === String(b) && a.lastIndex === b.lastIndex;
  if ((a instanceof Error) && (a.message !== b.message || a.name !== b.name)) return false;
  if (ArrayBuffer.isView(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && a[i] !== b[i]) return false;
  }
  memo = memo || [];
  for (const [x, y] of memo) if (x === a && y === b) return true;
  memo.push([a, b]);
  if (a instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k), strict, memo)) return false;
  } else if (a instanceof Set) {
    if (a.size !== b.size) return false;
    for (const v of a) if (!b.has(v) && ![...b].some((w) => deepEqual(v, w, strict, memo))) return false;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k], strict, memo)) return false;
  return true;
}
const fail = (actual, expected, message, operator) => {
  if (message instanceof Error) throw message;
  throw new AssertionError({ actual, expected, message, operator });
};
function matches(err, expected) {
  if (expected === undefined) return true;
  if (typeof expected === 'function') {
    if (expected.prototype !== undefined && err instanceof expected) return true;
    if (Error.isPrototypeOf(expected) || expected === Error) return false;
    return expected.call({}, err) === true;
  }
  if (expected instanceof RegExp) return expected.test(String(err));
  if (typeof expected === 'object') return Object.keys(expected).every((k) => (expected[k] instanceof RegExp && typeof err[k] === 'string' ? expected[k].test(err[k]) : deepEqual(err[k], expected[k], true)));
  return false;
}
function ok(value, message) { if (!value) fail(value, true, message === undefined ? 'The expression evaluated to a falsy value' : message, '=='); }
const assert = function assert(value, message) { ok(value, message); };
Object.assign(assert, {
  AssertionError, ok,
  fail: (message) => { throw message instanceof Error ? message : new AssertionError({ message: message === undefined ? 'Failed' : message, operator: 'fail' }); },
  equal: (a, b, m) => { if (!(a == b || (a !== a && b !== b))) fail(a, b, m, '=='); },
  notEqual: (a, b, m) => { if (a == b) fail(a, b, m, '!='); },
  strictEqual: (a, b, m) => { if (!Object.is(a, b)) fail(a, b, m, 'strictEqual'); },
  notStrictEqual: (a, b, m) => { if (Object.is(a, b)) fail(a, b, m, 'notStrictEqual'); },
  deepEqual: (a, b, m) => { if (!deepEqual(a, b, false)) fail(a, b, m, 'deepEqual'); },
  notDeepEqual: (a, b, m) => { if (deepEqual(a, b, false)) fail(a, b, m, 'notDeepEqual'); },
  deepStrictEqual: (a, b, m) => { if (!deepEqual(a, b, true)) fail(a, b, m, 'deepStrictEqual'); },
  notDeepStrictEqual: (a, b, m) => { if (deepEqual(a, b, true)) fail(a, b, m, 'notDeepStrictEqual'); },
  match: (s, re, m) => { if (!re.test(s)) fail(s, re, m, 'match'); },
  doesNotMatch: (s, re, m) => { if (re.test(s)) fail(s, re, m, 'doesNotMatch'); },
  ifError: (v) => { if (v !== null && v !== undefined) throw v instanceof Error ? v : new AssertionError({ message: 'ifError got unwanted exception: ' + util().inspect(v), actual: v, operator: 'ifError' }); },
  throws: (fn, expected, message) => {
    if (typeof expected === 'string') { message = expected; expected = undefined; }
    try { fn(); } catch (err) { if (!matches(err, expected)) throw err; return; }
    fail(undefined, expected, message === undefined ? 'Missing expected exception.' : message, 'throws');
  },
  doesNotThrow: (fn, expected, message) => {
    try { fn(); } catch (err) { fail(err, expected, typeof expected === 'string' ? expected : message === undefined ? 'Got unwanted exception: ' + (err && err.message) : message, 'doesNotThrow'); }
  },
  rejects: async (p, expected, message) => {
    if (typeof expected === 'string') { message = expected; expected = undefined; }
    try { await (typeof p === 'function' ? p() : p); } catch (err) { if (!matches(err, expected)) throw err; return; }
    fail(undefined, expected, message === undefined ? 'Missing expected rejection.' : message, 'rejects');
  },
  doesNotReject: async (p, expected, message) => {
    try { await (typeof p === 'function' ? p() : p); } catch (err) { fail(err, expected, message === undefined ? 'Got unwanted rejection: ' + (err && err.message) : message, 'doesNotReject'); }
  },
});
Object.defineProperty(assert, '__deepEqual', { value: deepEqual });
const strict = function strict(value, message) { ok(value, message); };
Object.assign(strict, assert, { equal: assert.strictEqual, notEqual: assert.notStrictEqual, deepEqual: assert.deepStrictEqual, notDeepEqual: assert.notDeepStrictEqual });
assert.strict = strict;
strict.strict = strict;
module.exports = assert;
`;

const PATH = String.raw`
'use strict';
const check = (p, name) => { if (typeof p !== 'string') throw new TypeError('The "' + name + '" argument must be of type string. Received ' + typeof p); };
function normalizeParts(parts, absolute) {
  const out = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') { if (out.length && out[out.length - 1] !== '..') out.pop(); else if (!absolute) out.push('..'); }
    else out.push(p);
  }
  return out;
}
const path = {
  sep: '/',
  delimiter: ':',
  normalize(p) {
    check(p, 'path');
    if (p === '') return '.';
    const abs = p.startsWith('/');
    const trailing = p.endsWith('/');
    let out = normalizeParts(p.split('/'), abs).join('/');
    if (out === '' && !abs) out = '.';
    if (out !== '' && trailing) out += '/';
    return (abs ? '/' : '') + out;
  },
  join(...parts) {
    parts.forEach((p) => check(p, 'path'));
    const joined = parts.filter((p) => p !== '').join('/');
    return joined === '' ? '.' : path.normalize(joined);
  },
  resolve(...parts) {
    let resolved = '';
    for (let i = parts.length - 1; i >= 0 && !resolved.startsWith('/'); i--) {
      check(parts[i], 'paths[' + i + ']');
      if (parts[i] !== '') resolved = parts[i] + (resolved ? '/' + resolved : '');
    }
    if (!resolved.startsWith('/')) resolved = '/' + resolved;
    return '/' + normalizeParts(resolved.split('/'), true).join('/');
  },
  isAbsolute(p) { check(p, 'path'); return p.startsWith('/'); },
  relative(from, to) {
    const a = path.resolve(from).split('/').filter(Boolean), b = path.resolve(to).split('/').filter(Boolean);
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
  },
  dirname(p) {
    check(p, 'path');
    if (p === '') return '.';
    const trimmed = p.length > 1 ? p.replace(/\/+$/, '') || '/' : p;
    const i = trimmed.lastIndexOf('/');
    if (i === -1) return '.';
    if (i === 0) return '/';
    return trimmed.slice(0, i);
  },
  basename(p, ext) {
    check(p, 'path');
    const trimmed = p.replace(/\/+$/, '');
    let base = trimmed.slice(trimmed.lastIndexOf('/') + 1);
    if (ext !== undefined && base.endsWith(ext) && base !== ext) base = base.slice(0, -ext.length);
    return base;
  },
  extname(p) {
    check(p, 'path');
    const base = path.basename(p);
    const i = base.lastIndexOf('.');
    return i <= 0 ? '' : base.slice(i);
  },
  parse(p) {
    check(p, 'path');
    const root = p.startsWith('/') ? '/' : '';
    const base = path.basename(p), ext = path.extname(p);
    const dir = p.includes('/') ? path.dirname(p) : '';
    return { root, dir, base, ext, name: ext ? base.slice(0, -ext.length) : base };
  },
  format(o) {
    const dir = o.dir || o.root || '';
    const base = o.base || (o.name || '') + (o.ext || '');
    return dir ? (dir === o.root ? dir + base : dir + '/' + base) : base;
  },
  toNamespacedPath: (p) => p,
};
path.posix = path;
// Functions run on Linux; Windows paths are not offered.
path.win32 = path;
module.exports = path;
`;

const QUERYSTRING = String.raw`
'use strict';
const unescape = (s) => { try { return decodeURIComponent(s); } catch (e) { return s; } };
const escape = (s) => encodeURIComponent(s);
const prim = (v) => (typeof v === 'string' ? v : typeof v === 'number' && isFinite(v) ? String(v) : typeof v === 'bigint' ? String(v) : typeof v === 'boolean' ? String(v) : '');
function parse(qs, sep, eq, options) {
  sep = sep || '&'; eq = eq || '=';
  const out = Object.create(null);
  if (typeof qs !== 'string' || qs.length === 0) return out;
  const maxKeys = options && typeof options.maxKeys === 'number' ? options.maxKeys : 1000;
  const decode = options && typeof options.decodeURIComponent === 'function' ? options.decodeURIComponent : module.exports.unescape;
  let parts = qs.split(sep);
  if (maxKeys > 0) parts = parts.slice(0, maxKeys);
  for (const part of parts) {
    if (part === '') continue;
    const i = part.indexOf(eq);
    const k = decode((i >= 0 ? part.slice(0, i) : part).replace(/\+/g, ' '));
    const v = i >= 0 ? decode(part.slice(i + eq.length).replace(/\+/g, ' ')) : '';
    if (!(k in out)) out[k] = v; else if (Array.isArray(out[k])) out[k].push(v); else out[k] = [out[k], v];
  }
  return out;
}
function stringify(obj, sep, eq, options) {
  sep = sep || '&'; eq = eq || '=';
  const enc = options && typeof options.encodeURIComponent === 'function' ? options.encodeURIComponent : module.exports.escape;
  if (obj === null || typeof obj !== 'object') return '';
  return Object.keys(obj).map((k) => {
    const v = obj[k];
    const ks = enc(prim(k)) + eq;
    return Array.isArray(v) ? v.map((x) => ks + enc(prim(x))).join(sep) : ks + enc(prim(v));
  }).filter(Boolean).join(sep);
}
module.exports = { parse, stringify, decode: parse, encode: stringify, escape, unescape };
`;

const STRING_DECODER = String.raw`
'use strict';
const { Buffer } = require('buffer');
const normalize = (enc) => {
  const e = String(enc || 'utf8').toLowerCase();
  if (e === 'utf-8') return 'utf8';
  if (e === 'ucs2' || e === 'ucs-2' || e === 'utf-16le') return 'utf16le';
  if (e === 'binary') return 'latin1';
  if (!Buffer.isEncoding(e)) throw new TypeError('Unknown encoding: ' + enc);
  return e;
};
// How many bytes of a trailing incomplete character a chunk ends with, per encoding.
function incomplete(enc, buf) {
  if (enc === 'utf8') {
    for (let back = 1; back <= Math.min(3, buf.length); back++) {
      const b = buf[buf.length - back];
      if ((b & 0xc0) === 0x80) continue;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return need > back ? back : 0;
    }
    return 0;
  }
  if (enc === 'utf16le') return buf.length % 2;
  if (enc === 'base64') return buf.length % 3;
  return 0;
}
class StringDecoder {
  constructor(encoding) { this.encoding = normalize(encoding); this.pending = Buffer.alloc(0); }
  write(chunk) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, this.encoding) : Buffer.concat([this.pending, Buffer.from(chunk)]);
    if (typeof chunk === 'string') return chunk;
    const keep = incomplete(this.encoding, buf);
    this.pending = buf.slice(buf.length - keep);
    return buf.slice(0, buf.length - keep).toString(this.encoding);
  }
  end(chunk) {
    let out = chunk === undefined ? '' : this.write(chunk);
    if (this.pending.length) { out += this.pending.toString(this.encoding); this.pending = Buffer.alloc(0); }
    return out;
  }
}
module.exports = { StringDecoder };
`;

const TIMERS = String.raw`
'use strict';
// The call's own timers (its global scope): stopped when the call answers.
module.exports = { setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate };
`;

const TIMERS_PROMISES = String.raw`
'use strict';
module.exports = {
  setTimeout: (ms, value) => new Promise((resolve) => setTimeout(() => resolve(value), ms)),
  setImmediate: (value) => new Promise((resolve) => setImmediate(() => resolve(value))),
};
`;

const CRYPTO = String.raw`
'use strict';
const { Buffer } = require('buffer');
const toBytes = (data, enc) => {
  if (typeof data === 'string') return Buffer.from(data, enc || 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView');
};
const out = (bytes, enc) => { const b = Buffer.from(bytes); return enc ? b.toString(enc) : b; };
class Digest {
  constructor(alg, key) {
    this.alg = String(alg).toLowerCase();
    this.key = key;
    this.chunks = [];
    this.done = false;
    __baste.digest(this.alg, key === null ? null : new Uint8Array(0), new Uint8Array(0));
  }
  update(data, enc) {
    if (this.done) throw new Error('Digest already called');
    this.chunks.push(Buffer.from(toBytes(data, enc)));
    return this;
  }
  digest(enc) {
    if (this.done) throw new Error('Digest already called');
    this.done = true;
    return out(__baste.digest(this.alg, this.key, Buffer.concat(this.chunks)), enc);
  }
  copy() { const c = new Digest(this.alg, this.key); c.chunks = this.chunks.slice(); return c; }
}
const randomFillSync = (buf, offset, size) => {
  const view = new Uint8Array(buf.buffer || buf, (buf.byteOffset || 0) + (offset || 0), size === undefined ? (buf.byteLength - (offset || 0)) : size);
  for (let i = 0; i < view.length; i += 65536) crypto.getRandomValues(view.subarray(i, i + 65536));
  return buf;
};
const randomBytes = (n, cb) => {
  if (typeof n !== 'number' || n < 0 || n > 2147483647) throw new RangeError('The "size" argument must be a number between 0 and 2^31-1');
  const b = randomFillSync(Buffer.alloc(n));
  if (typeof cb === 'function') { Promise.resolve().then(() => cb(null, b)); return undefined; }
  return b;
};
const hex = (b) => Array.from(b, (x) => (x < 16 ? '0' : '') + x.toString(16)).join('');
const randomUUID = () => {
  const b = randomFillSync(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = hex(b);
  return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
};
const randomInt = (min, max, cb) => {
  if (max === undefined || typeof max === 'function') { cb = max; max = min; min = 0; }
  const range = max - min;
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || range <= 0 || range > 2 ** 48) throw new RangeError('randomInt: invalid range');
  const limit = 2 ** 48 - (2 ** 48 % range);
  let x;
  do { const b = randomFillSync(new Uint8Array(6)); x = b.reduce((a, v) => a * 256 + v, 0); } while (x >= limit);
  const n = min + (x % range);
  if (typeof cb === 'function') { Promise.resolve().then(() => cb(null, n)); return undefined; }
  return n;
};
const pbkdf2Sync = (password, salt, iterations, keylen, digest) =>
  Buffer.from(__baste.pbkdf2(toBytes(password), toBytes(salt), iterations, keylen, String(digest || 'sha1').toLowerCase()));
const unavailable = (name, instead) => () => { throw new Error('crypto.' + name + ' is not available to functions in Baste' + (instead ? ': use ' + instead : '')); };
module.exports = {
  createHash: (alg) => new Digest(alg, null),
  createHmac: (alg, key) => new Digest(alg, Buffer.from(toBytes(key))),
  getHashes: () => __baste.hashes.slice(),
  randomBytes, pseudoRandomBytes: randomBytes, randomFillSync,
  randomFill: (buf, offset, size, cb) => {
    cb = [offset, size, cb].find((x) => typeof x === 'function');
    randomFillSync(buf, typeof offset === 'number' ? offset : 0, typeof size === 'number' ? size : undefined);
    Promise.resolve().then(() => cb(null, buf));
  },
  randomUUID, randomInt,
  getRandomValues: (a) => crypto.getRandomValues(a),
  timingSafeEqual: (a, b) => {
    if (a.byteLength !== b.byteLength) throw new RangeError('Input buffers must have the same byte length');
    const x = toBytes(a), y = toBytes(b);
    let d = 0;
    for (let i = 0; i < x.length; i++) d |= x[i] ^ y[i];
    return d === 0;
  },
  pbkdf2Sync,
  pbkdf2: (password, salt, iterations, keylen, digest, cb) => {
    let r, e = null;
    try { r = pbkdf2Sync(password, salt, iterations, keylen, digest); } catch (err) { e = err; }
    Promise.resolve().then(() => cb(e, r));
  },
  createCipheriv: unavailable('createCipheriv', 'utils.crypto.encrypt'),
  createDecipheriv: unavailable('createDecipheriv', 'utils.crypto.decrypt'),
  createSign: unavailable('createSign', 'utils.crypto.sign'),
  createVerify: unavailable('createVerify', 'utils.crypto.verify'),
  createDiffieHellman: unavailable('createDiffieHellman'),
  createECDH: unavailable('createECDH'),
  scryptSync: unavailable('scryptSync', 'pbkdf2Sync'),
  generateKeyPairSync: unavailable('generateKeyPairSync'),
};
`;

const URL_MODULE = String.raw`
'use strict';
// A small URL: the WHATWG API for http(s), ws(s), ftp, file and opaque URLs (mailto:, urn:), with
// relative resolution and URLSearchParams; no IDNA for non-ASCII host names.
const qs = require('querystring');
const SPECIAL = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21', 'file:': '' };
const encodeSet = (re) => (s) => s.replace(re, (c) => encodeURIComponent(c));
const encPath = encodeSet(/[^A-Za-z0-9\-._~!$&'()*+,;=:@\/%]/g);
const encQuery = encodeSet(/[^A-Za-z0-9\-._~!$&'()*+,;=:@\/?%]/g);
const encFragment = encodeSet(/[^A-Za-z0-9\-._~!$&'()*+,;=:@\/?%#]/g);
const encUser = encodeSet(/[^A-Za-z0-9\-._~!$&'()*+,;=%]/g);
function normalizePath(path, special) {
  const segs = path.split('/');
  const out = [];
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i];
    const last = i === segs.length - 1;
    if (s === '.' || s.toLowerCase() === '%2e') { if (last) out.push(''); continue; }
    if (s === '..' || /^(\.|%2e)(\.|%2e)$/i.test(s)) { out.pop(); if (last) out.push(''); continue; }
    out.push(s);
  }
  return '/' + out.join('/');
}
const sp = Symbol('searchParams');
class URLSearchParams {
  constructor(init) {
    this.list = [];
    if (init === undefined || init === null) return;
    if (typeof init === 'object') {
      const entries = typeof init[Symbol.iterator] === 'function' ? [...init] : Object.keys(init).map((k) => [k, init[k]]);
      for (const pair of entries) this.list.push([String(pair[0]), String(pair[1])]);
      return;
    }
    this.parse(String(init));
  }
  parse(s) {
    this.list = [];
    if (s.startsWith('?')) s = s.slice(1);
    for (const part of s.split('&')) {
      if (part === '') continue;
      const i = part.indexOf('=');
      const dec = (x) => { try { return decodeURIComponent(x.replace(/\+/g, ' ')); } catch (e) { return x; } };
      this.list.push(i >= 0 ? [dec(part.slice(0, i)), dec(part.slice(i + 1))] : [dec(part), '']);
    }
  }
  update() { if (this.url) { const s = this.toString(); this.url.q = s ? '?' + s : ''; } }
  append(k, v) { this.list.push([String(k), String(v)]); this.update(); }
  delete(k) { this.list = this.list.filter(([x]) => x !== String(k)); this.update(); }
  get(k) { const e = this.list.find(([x]) => x === String(k)); return e ? e[1] : null; }
  getAll(k) { return this.list.filter(([x]) => x === String(k)).map(([, v]) => v); }
  has(k) { return this.list.some(([x]) => x === String(k)); }
  set(k, v) {
    k = String(k);
    const i = this.list.findIndex(([x]) => x === k);
    if (i < 0) this.list.push([k, String(v)]);
    else { this.list[i] = [k, String(v)]; this.list = this.list.filter(([x], j) => x !== k || j <= i); }
    this.update();
  }
  sort() { this.list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this.update(); }
  forEach(fn, self) { for (const [k, v] of this.list) fn.call(self, v, k, this); }
  keys() { return this.list.map(([k]) => k)[Symbol.iterator](); }
  values() { return this.list.map(([, v]) => v)[Symbol.iterator](); }
  entries() { return this.list.map((e) => e.slice())[Symbol.iterator](); }
  [Symbol.iterator]() { return this.entries(); }
  get size() { return this.list.length; }
  toString() {
    const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
    return this.list.map(([k, v]) => enc(k) + '=' + enc(v)).join('&');
  }
}
const AUTHORITY = /^([a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/([^\/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/;
class URL {
  constructor(input, base) {
    // port_ holds the port; the port accessor normalizes what is assigned to it.
    this.port_ = '';
    input = String(input).trim();
    let m = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(.*)$/.exec(input);
    if (m && !(m[1].toLowerCase() in SPECIAL) && !m[2].startsWith('/')) {
      // Opaque: mailto:x@y, urn:isbn:…
      const rest = /^([^?#]*)(\?[^#]*)?(#.*)?$/.exec(m[2]);
      Object.assign(this, { p: m[1].toLowerCase(), user: '', pass: '', h: '', port: '', path: rest[1], q: rest[2] || '', f: rest[3] || '', opaque: true });
    } else if (m) {
      this.absolute(m[1].toLowerCase(), m[2].replace(/\\/g, '/'), base);
    } else {
      if (base === undefined) throw new TypeError('Invalid URL: ' + input);
      const b = base instanceof URL ? base : new URL(base);
      if (b.opaque) throw new TypeError('Invalid URL: ' + input);
      const rel = input.replace(/\\/g, '/');
      Object.assign(this, { p: b.p, user: b.user, pass: b.pass, h: b.h, port: b.port, path: b.path, q: b.q, f: '' });
      if (rel.startsWith('//')) this.absolute(b.p, rel, undefined);
      else if (rel.startsWith('/')) { const r = /^([^?#]*)(\?[^#]*)?(#.*)?$/.exec(rel); this.path = normalizePath(encPath(r[1])); this.q = r[2] ? encQuery(r[2]) : ''; this.f = r[3] ? encFragment(r[3]) : ''; }
      else if (rel.startsWith('?')) { const r = /^(\?[^#]*)(#.*)?$/.exec(rel); this.q = encQuery(r[1]); this.f = r[2] ? encFragment(r[2]) : ''; }
      else if (rel.startsWith('#')) this.f = encFragment(rel);
      else if (rel !== '') {
        const r = /^([^?#]*)(\?[^#]*)?(#.*)?$/.exec(rel);
        this.path = normalizePath(b.path.slice(0, b.path.lastIndexOf('/') + 1) + encPath(r[1]));
        this.q = r[2] ? encQuery(r[2]) : ''; this.f = r[3] ? encFragment(r[3]) : '';
      }
    }
    if (this.q === '?') this.q = '';
    if (this.f === '#') this.f = '';
    const params = new URLSearchParams(this.q);
    params.url = this;
    this[sp] = params;
  }
  absolute(protocol, rest, base) {
    const special = protocol in SPECIAL;
    if (special && !rest.startsWith('//')) {
      if (base !== undefined) { const b = base instanceof URL ? base : new URL(base); if (b.p === protocol) { Object.assign(this, new URL(rest, b)); return; } }
      rest = '//' + rest.replace(/^\/*/, '');
    }
    const m = AUTHORITY.exec(protocol + rest);
    if (!m) throw new TypeError('Invalid URL: ' + protocol + rest);
    let auth = m[2], user = '', pass = '';
    const at = auth.lastIndexOf('@');
    if (at >= 0) { const cred = auth.slice(0, at); auth = auth.slice(at + 1); const c = cred.indexOf(':'); user = encUser(c >= 0 ? cred.slice(0, c) : cred); pass = c >= 0 ? encUser(cred.slice(c + 1)) : ''; }
    const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(auth);
    if (!hp) throw new TypeError('Invalid URL: ' + protocol + rest);
    const host = hp[1].toLowerCase();
    if (special && protocol !== 'file:' && host === '') throw new TypeError('Invalid URL: ' + protocol + rest);
    if (/[\s<>^|%]/.test(host) || /[^\x00-\x7f]/.test(host)) throw new TypeError('Invalid URL: ' + protocol + rest + (/[^\x00-\x7f]/.test(host) ? ' (non-ASCII host names are not supported in Baste)' : ''));
    let port = hp[2] || '';
    if (port !== '') { if (Number(port) > 65535) throw new TypeError('Invalid URL: ' + protocol + rest); port = String(Number(port)); }
    if (SPECIAL[protocol] === port) port = '';
    let path = m[3] || '';
    if (special && path === '') path = '/';
    Object.assign(this, { p: protocol, user, pass, h: host, port, path: special ? normalizePath(encPath(path)) : encPath(path), q: m[4] ? encQuery(m[4]) : '', f: m[5] ? encFragment(m[5]) : '' });
  }
  get protocol() { return this.p; }
  set protocol(v) { v = String(v).replace(/:?$/, ':').toLowerCase(); if (/^[a-z][a-z0-9+.-]*:$/.test(v) && (v in SPECIAL) === (this.p in SPECIAL)) this.p = v; }
  get username() { return this.user; }
  set username(v) { this.user = encUser(String(v)); }
  get password() { return this.pass; }
  set password(v) { this.pass = encUser(String(v)); }
  get hostname() { return this.h; }
  set hostname(v) { if (!this.opaque) this.h = String(v).toLowerCase(); }
  get port() { return this.port_ || ''; }
  set port(v) { v = String(v); this.port_ = v === '' || SPECIAL[this.p] === String(Number(v)) ? '' : /^\d+$/.test(v) && Number(v) <= 65535 ? String(Number(v)) : this.port_; }
  get host() { return this.h + (this.port ? ':' + this.port : ''); }
  set host(v) { const m = /^([^:]*)(?::(\d*))?$/.exec(String(v)); if (m) { this.h = m[1].toLowerCase(); if (m[2] !== undefined) this.port = m[2]; } }
  get origin() { return this.p in SPECIAL && this.p !== 'file:' ? this.p + '//' + this.host : 'null'; }
  get pathname() { return this.path; }
  set pathname(v) { if (!this.opaque) { v = String(v); this.path = normalizePath(encPath(v.startsWith('/') ? v : '/' + v)); } }
  get search() { return this.q; }
  set search(v) { v = String(v); this.q = v === '' || v === '?' ? '' : encQuery(v.startsWith('?') ? v : '?' + v); this[sp].parse(this.q); }
  get searchParams() { return this[sp]; }
  get hash() { return this.f; }
  set hash(v) { v = String(v); this.f = v === '' || v === '#' ? '' : encFragment(v.startsWith('#') ? v : '#' + v); }
  get href() {
    if (this.opaque) return this.p + this.path + this.q + this.f;
    const cred = this.user || this.pass ? this.user + (this.pass ? ':' + this.pass : '') + '@' : '';
    return this.p + '//' + cred + this.host + this.path + this.q + this.f;
  }
  set href(v) { const u = new URL(v); Object.assign(this, u); this[sp] = u[sp]; this[sp].url = this; }
  toString() { return this.href; }
  toJSON() { return this.href; }
}

// The legacy API (url.parse / format / resolve).
function Url() {
  Object.assign(this, { protocol: null, slashes: null, auth: null, host: null, port: null, hostname: null, hash: null, search: null, query: null, pathname: null, path: null, href: null });
}
function parse(input, parseQuery, slashesDenoteHost) {
  if (input instanceof Url) return input;
  const u = new Url();
  let rest = String(input).trim();
  const h = rest.indexOf('#');
  if (h >= 0) { u.hash = rest.slice(h); rest = rest.slice(0, h); }
  const q = rest.indexOf('?');
  if (q >= 0) { u.search = rest.slice(q); u.query = rest.slice(q + 1); rest = rest.slice(0, q); }
  else if (parseQuery) { u.search = ''; u.query = {}; }
  if (parseQuery && typeof u.query === 'string') u.query = qs.parse(u.query);
  const pm = /^([a-zA-Z][a-zA-Z0-9+.-]*:)/.exec(rest);
  if (pm) { u.protocol = pm[1].toLowerCase(); rest = rest.slice(pm[1].length); }
  if (rest.startsWith('//') && (u.protocol !== null || slashesDenoteHost)) {
    u.slashes = true;
    rest = rest.slice(2);
    const end = rest.search(/[\/]/);
    let authority = end >= 0 ? rest.slice(0, end) : rest;
    rest = end >= 0 ? rest.slice(end) : '';
    const at = authority.lastIndexOf('@');
    if (at >= 0) { u.auth = decodeURIComponent(authority.slice(0, at)); authority = authority.slice(at + 1); }
    const pm2 = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
    u.hostname = (pm2 ? pm2[1] : authority).toLowerCase().replace(/^\[|\]$/g, '');
    u.port = pm2 && pm2[2] ? pm2[2] : null;
    u.host = u.hostname + (u.port ? ':' + u.port : '');
    if (rest === '' && u.protocol in SPECIAL) rest = '/';
  } else if (u.protocol && u.protocol in SPECIAL && rest.startsWith('/')) {
    u.slashes = null;
  }
  u.pathname = rest === '' ? null : rest;
  u.path = (u.pathname || '') + (u.search || '') || null;
  u.href = format(u);
  return u;
}
function format(obj) {
  if (typeof obj === 'string') obj = parse(obj);
  if (obj instanceof URL) return obj.href;
  const protocol = obj.protocol ? (obj.protocol.endsWith(':') ? obj.protocol : obj.protocol + ':') : '';
  let host = '';
  if (obj.host) host = obj.host;
  else if (obj.hostname) host = (obj.hostname.includes(':') ? '[' + obj.hostname + ']' : obj.hostname) + (obj.port ? ':' + obj.port : '');
  const auth = obj.auth ? encodeURIComponent(obj.auth).replace(/%3A/i, ':') + '@' : '';
  let pathname = obj.pathname || '';
  let search = obj.search || (obj.query && typeof obj.query === 'object' && Object.keys(obj.query).length ? '?' + qs.stringify(obj.query) : '');
  if (search && !search.startsWith('?')) search = '?' + search;
  let hash = obj.hash || '';
  if (hash && !hash.startsWith('#')) hash = '#' + hash;
  const slashes = obj.slashes || (protocol in SPECIAL) || host;
  if (slashes && host !== undefined && (host || protocol in SPECIAL)) {
    if (pathname && !pathname.startsWith('/')) pathname = '/' + pathname;
    return protocol + '//' + auth + host + pathname + search.replace('#', '%23') + hash;
  }
  return protocol + pathname + search.replace('#', '%23') + hash;
}
function resolve(from, to) {
  try { return new URL(to, new URL(from)).href; } catch (e) {
    // relative bases: resolve against a placeholder origin and strip it again
    const u = new URL(to, new URL(from, 'resolve://x/'));
    return u.href.replace(/^resolve:\/\/x\/?/, from.startsWith('/') ? '/' : '');
  }
}
module.exports = {
  URL, URLSearchParams, Url, parse, format, resolve,
  resolveObject: (from, to) => parse(resolve(from, to)),
  domainToASCII: (d) => require('punycode').toASCII(String(d).toLowerCase()),
  domainToUnicode: (d) => require('punycode').toUnicode(String(d).toLowerCase()),
  fileURLToPath: () => { throw new Error('url.fileURLToPath is not available to functions in Baste: no file system access'); },
  pathToFileURL: () => { throw new Error('url.pathToFileURL is not available to functions in Baste: no file system access'); },
};
`;

const PROCESS = String.raw`
'use strict';
// The part of process the platform offered (hrtime, nextTick, version, versions) and what
// packages look at while loading; no environment, arguments or exit.
const start = Date.now();
const hrtime = (prev) => {
  const ms = Date.now() - start;
  let s = Math.floor(ms / 1000), ns = (ms % 1000) * 1e6;
  if (prev) { s -= prev[0]; ns -= prev[1]; if (ns < 0) { s--; ns += 1e9; } }
  return [s, ns];
};
hrtime.bigint = () => BigInt(Date.now() - start) * 1000000n;
const noop = function () { return process; };
const process = {
  title: 'baste', version: 'v10.18.1', versions: { node: '10.18.1' }, platform: 'linux', arch: 'x64', release: { name: 'node' },
  env: {}, argv: [], execArgv: [], pid: 0, ppid: 0, browser: false,
  cwd: () => '/', chdir: () => { throw new Error('process.chdir is not available to functions'); },
  exit: () => { throw new Error('process.exit is not available to functions: return or throw instead'); },
  nextTick: (fn, ...args) => { queueMicrotask(() => fn(...args)); },
  hrtime, uptime: () => (Date.now() - start) / 1000,
  memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0 }),
  emitWarning: (w) => console.warn(String(w && w.message ? w.message : w)),
  on: noop, once: noop, off: noop, addListener: noop, removeListener: noop, removeAllListeners: noop, emit: () => false, listeners: () => [],
  binding: () => { throw new Error('process.binding is not available to functions'); },
};
module.exports = process;
`;

const OS = String.raw`
'use strict';
module.exports = {
  EOL: '\n', platform: () => 'linux', type: () => 'Linux', arch: () => 'x64', release: () => '', hostname: () => 'baste', homedir: () => '/', tmpdir: () => '/tmp',
  endianness: () => 'LE', cpus: () => [], totalmem: () => 0, freemem: () => 0, uptime: () => 0, loadavg: () => [0, 0, 0], networkInterfaces: () => ({}),
  userInfo: () => ({ uid: -1, gid: -1, username: 'baste', homedir: '/', shell: null }), constants: { signals: {}, errno: {} },
};
`;

const TTY = String.raw`
'use strict';
module.exports = { isatty: () => false };
`;

/** Built-ins written here, by name (the `node:` prefix is stripped before lookup). */
export const BUILTIN_SOURCES: Readonly<Record<string, string>> = {
  events: EVENTS,
  util: UTIL,
  assert: ASSERT,
  'assert/strict': "'use strict';\nmodule.exports = require('assert').strict;\n",
  path: PATH,
  'path/posix': "'use strict';\nmodule.exports = require('path');\n",
  querystring: QUERYSTRING,
  string_decoder: STRING_DECODER,
  timers: TIMERS,
  'timers/promises': TIMERS_PROMISES,
  crypto: CRYPTO,
  url: URL_MODULE,
  process: PROCESS,
  os: OS,
  tty: TTY,
  console: "'use strict';\nmodule.exports = console;\n",
};
