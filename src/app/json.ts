// JSON parsing for config files. V8's own parse errors quote the offending text, which may be
// secret material (a broken secrets.json), so errors are located here and described without it.

import { ConfigError } from '../errors.js';

export interface JsonProblem {
  readonly line: number;
  readonly column: number;
  readonly problem: string;
}

/** Parses `text` as the contents of `file`; refuses with the position of the first syntax error. */
export function parseJson(text: string, file: string): unknown {
  // Editors on Windows save a byte-order mark that JSON.parse rejects.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch {
    const where = locateJsonError(body);
    const reason = where
      ? `not valid JSON: ${where.problem} at line ${where.line}, column ${where.column}`
      : 'not valid JSON';
    throw new ConfigError(file, undefined, reason);
  }
}

class Stop {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {}
}

/** First syntax error in `text`, or undefined when it is valid JSON. */
export function locateJsonError(text: string): JsonProblem | undefined {
  let i = 0;
  const fail = (problem: string): never => {
    throw new Stop(i, i >= text.length ? 'unexpected end of input' : problem);
  };
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const expect = (ch: string, problem: string) => {
    skipSpace();
    if (text[i] !== ch) fail(problem);
    i++;
  };
  const digits = () => {
    const start = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === start) fail('expected a digit');
  };
  const number = () => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('bad \\u escape');
          i += 4;
        } else if (e === undefined || !'"\\/bfnrt'.includes(e)) fail('bad escape');
      }
      i++;
    }
    i++;
  };
  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      i++;
      skipSpace();
      if (text[i] === '}') return void i++;
      for (;;) {
        skipSpace();
        if (text[i] !== '"') fail('expected a property name in double quotes');
        string();
        expect(':', "expected ':' after property name");
        value();
        skipSpace();
        if (text[i] === '}') return void i++;
        if (text[i] !== ',') fail("expected ',' or '}'");
        i++;
      }
    }
    if (c === '[') {
      i++;
      skipSpace();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        skipSpace();
        if (text[i] === ']') return void i++;
        if (text[i] !== ',') fail("expected ',' or ']'");
        i++;
      }
    }
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) return void (i += word.length);
    }
    fail('unexpected character');
  };

  try {
    value();
    skipSpace();
    if (i < text.length) fail('unexpected text after the JSON value');
    return undefined;
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const before = text.slice(0, e.offset);
    const line = before.split('\n').length;
    const column = e.offset - before.lastIndexOf('\n');
    return { line, column, problem: e.problem };
  }
}
