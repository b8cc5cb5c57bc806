// Regular expressions in queries. EJSON decodes both `{$regex, $options}` (the legacy form realm-web
// and the Stitch SDKs send for a `{$regex: ...}` filter) and `$regularExpression` (a RegExp value)
// into bson's BSONRegExp, which mingo does not match with: queries get JS RegExps instead.

import { BSONRegExp } from 'bson';
import { isPlain } from './values.js';

/**
 * MongoDB's options as JS flags: i, m, s and u carry over; x (extended) is applied to the pattern
 * (unescaped whitespace and `#` comments outside character classes removed), as PCRE reads it.
 */
export function toJsRegExp(pattern: string, options: string): RegExp {
  const extended = options.includes('x');
  const flags = [...new Set(options)].filter((o) => 'imsu'.includes(o)).join('');
  return new RegExp(extended ? unextended(pattern) : pattern, flags);
}

function unextended(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      out += ch + (pattern[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (ch === ']') inClass = false;
      out += ch;
    } else if (ch === '[') {
      inClass = true;
      out += ch;
    } else if (ch === '#') {
      while (i < pattern.length && pattern[i] !== '\n') i++;
    } else if (!/\s/.test(ch)) {
      out += ch;
    }
  }
  return out;
}

/** A query (or pipeline) with every BSONRegExp as a JS RegExp, through plain objects and arrays. */
export function withJsRegExps<T>(value: T): T {
  return convert(value) as T;
}

// One walk: a container is copied only once a child of it changed, so a filter without regular
// expressions comes back as the same object (the common case costs one traversal, no allocation).
function convert(value: unknown): unknown {
  if (value instanceof BSONRegExp) return toJsRegExp(value.pattern, value.options);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = convert(value[i]);
      if (out === undefined && v !== value[i]) out = value.slice(0, i);
      out?.push(v);
    }
    return out ?? value;
  }
  if (isPlain(value)) {
    let out: Record<string, unknown> | undefined;
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const v = convert(value[k]);
      if (out === undefined && v !== value[k]) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]!] = value[keys[j]!];
      }
      if (out !== undefined) out[k] = v;
    }
    return out ?? value;
  }
  return value;
}
