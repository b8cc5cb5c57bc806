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

function convert(value: unknown): unknown {
  if (value instanceof BSONRegExp) return toJsRegExp(value.pattern, value.options);
  if (Array.isArray(value)) return value.some(needsConversion) ? value.map(convert) : value;
  if (isPlain(value)) {
    if (!Object.values(value).some(needsConversion)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = convert(v);
    return out;
  }
  return value;
}

function needsConversion(value: unknown): boolean {
  if (value instanceof BSONRegExp) return true;
  if (Array.isArray(value)) return value.some(needsConversion);
  if (isPlain(value)) return Object.values(value).some(needsConversion);
  return false;
}
