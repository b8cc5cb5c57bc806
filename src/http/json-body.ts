// Request bodies in JSON: one parser for the main thread and the worker that takes big function
// calls off it (json-offload.ts). Pure: no I/O, nothing at import.

import sjson from 'secure-json-parse';
import { BasteError } from '../errors.js';

/**
 * Deepest nesting of objects and arrays accepted in a JSON body. MongoDB stores documents at
 * most 100 levels deep; EJSON wrappers and the call envelope add a few.
 */
export const MAX_JSON_DEPTH = 150;

/** Does the JSON text nest objects/arrays deeper than `max`? One pass over the text, strings skipped. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump over the string with indexOf (native): a 10 MB string argument costs microseconds, not
      // a JavaScript loop over every character. A quote preceded by an odd run of backslashes is escaped.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return false; // unterminated: the parser refuses it
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c /* \ */) slashes++;
        if (slashes % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/** The body's value (undefined for an empty body), or a 400 in the Stitch shape. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  // Deeper values would overflow the stack of the recursive code that walks them (EJSON, rules).
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new BasteError('BadRequest', `request body is nested more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return sjson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw new BasteError('BadRequest', 'request body is not valid JSON');
  }
}
