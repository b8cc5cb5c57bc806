// Which undeclared names a sloppy CommonJS module assigns (`lib = factory()`, `moment = ...` in an
// old UMD header): on the platform, and in Node, such a name became a global that the module's
// other code and other modules then read by its bare name. In Baste's shared frozen realm that
// assignment would go to the frozen global object and be lost, so a module found assigning one
// runs inside the call's `with` scope, as function code does (moduleFactorySource), and so does
// any module that names one of them.
//
// The scan is a small tokenizer, not a parser: it skips comments, strings, templates and regular
// expression literals, counts every name declared anywhere in the file (var/let/const lists,
// function and arrow parameters, catch bindings, functions and classes) and reports the names
// assigned with a plain `=` that are declared nowhere. A name declared in one function and
// assigned undeclared in another is missed (rare in real packages); a false positive only costs
// that module the `with` scope's slower lookups.

interface Token {
  readonly kind: 'name' | 'punct' | 'literal';
  readonly value: string;
  /** A line break came before this token (automatic semicolon insertion). */
  readonly newline: boolean;
}

const PUNCTUATORS = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '&&', '||', '??', '?.', '++', '--', '**', '<<', '>>',
];
/** After these a `/` starts a regular expression literal, not a division. */
const REGEX_AFTER_WORDS = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'instanceof', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'of']);
const NAME_START = /[\p{L}\p{Nl}_$\\]/u;
const NAME_PART = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_$\u200c\u200d\\]/u;
const isNameStart = (c: string) => {
  const n = c.charCodeAt(0);
  return (n >= 97 && n <= 122) || (n >= 65 && n <= 90) || n === 95 || n === 36 || (n > 127 && NAME_START.test(c)) || n === 92;
};
const isNamePart = (c: string) => {
  const n = c.charCodeAt(0);
  return isNameStart(c) || (n >= 48 && n <= 57) || (n > 127 && NAME_PART.test(c));
};
/** Punctuators by their first character, longest first. */
const PUNCT_BY_FIRST = new Map<string, string[]>();
for (const p of PUNCTUATORS) PUNCT_BY_FIRST.set(p[0]!, [...(PUNCT_BY_FIRST.get(p[0]!) ?? []), p]);

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const braces: ('{' | '${')[] = [];
  let i = 0;
  let newline = false;
  const push = (kind: Token['kind'], value: string) => {
    tokens.push({ kind, value, newline });
    newline = false;
  };
  // Scans a template's text from i (just after ` or }) to its end or its next `${`.
  const template = () => {
    while (i < source.length) {
      const c = source[i]!;
      if (c === '\\') i += 2;
      else if (c === '`') { i++; return; }
      else if (c === '$' && source[i + 1] === '{') { i += 2; braces.push('${'); return; }
      else i++;
    }
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029') { newline = true; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\v' || c === '\f' || c === '\ufeff' || c === '\u00a0') { i++; continue; }
    if (c === '/' && source[i + 1] === '/') { while (i < source.length && source[i] !== '\n') i++; continue; }
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      if (source.slice(i, end < 0 ? source.length : end).includes('\n')) newline = true;
      i = end < 0 ? source.length : end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      const text = source.slice(i + 1, j);
      i = j + 1;
      push('literal', text === 'use strict' ? 'use strict' : 'directive:');
      continue;
    }
    if (c === '`') { i++; template(); push('literal', '``'); continue; }
    if (isNameStart(c)) {
      // `#x` (a private field) is a property, never a global.
      const hash = tokens.length > 0 && source[i - 1] === '#';
      let j = i + 1;
      while (j < source.length && isNamePart(source[j]!)) j++;
      push(hash ? 'literal' : 'name', source.slice(i, j));
      i = j;
      continue;
    }
    const digit = (d: string | undefined) => d !== undefined && d >= '0' && d <= '9';
    if (digit(c) || (c === '.' && digit(source[i + 1]))) {
      let j = i + 1;
      while (j < source.length && (isNamePart(source[j]!) || source[j] === '.')) j++;
      i = j;
      push('literal', '0');
      continue;
    }
    if (c === '/') {
      const prev = tokens[tokens.length - 1];
      const regex = !prev || (prev.kind === 'punct' && ![')', ']', '}'].includes(prev.value)) || (prev.kind === 'name' && REGEX_AFTER_WORDS.has(prev.value));
      if (regex) {
        let j = i + 1;
        let cls = false;
        while (j < source.length && source[j] !== '\n') {
          const d = source[j];
          if (d === '\\') { j += 2; continue; }
          if (d === '[') cls = true;
          else if (d === ']') cls = false;
          else if (d === '/' && !cls) break;
          j++;
        }
        j++;
        while (j < source.length && /[a-z]/i.test(source[j]!)) j++;
        i = j;
        push('literal', '/re/');
        continue;
      }
    }
    if (c === '{') braces.push('{');
    if (c === '}') {
      if (braces.pop() === '${') { i++; template(); push('literal', '``'); continue; }
    }
    const p = PUNCT_BY_FIRST.get(c)?.find((q) => source.startsWith(q, i)) ?? c;
    push('punct', p);
    i += p.length;
  }
  return tokens;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** The index of the token closing the bracket opened at `at` (or the last token). */
function closing(tokens: readonly Token[], at: number): number {
  let depth = 0;
  for (let j = at; j < tokens.length; j++) {
    const v = tokens[j]!.kind === 'punct' ? tokens[j]!.value : '';
    if (v in OPEN) depth++;
    else if (v === ')' || v === ']' || v === '}') if (--depth === 0) return j;
  }
  return tokens.length - 1;
}

/** The index of the bracket opening the one closed at `at`. */
function opening(tokens: readonly Token[], at: number): number {
  let depth = 0;
  for (let j = at; j >= 0; j--) {
    const v = tokens[j]!.kind === 'punct' ? tokens[j]!.value : '';
    if (v === ')' || v === ']' || v === '}') depth++;
    else if (v in OPEN) if (--depth === 0) return j;
  }
  return 0;
}

const ENDS_VALUE = (t: Token) => t.kind !== 'punct' || t.value === ')' || t.value === ']' || t.value === '}' || t.value === '++' || t.value === '--';
const STARTS_STATEMENT = (t: Token) => t.kind !== 'punct' ? !['in', 'instanceof', 'of'].includes(t.value) : t.value === '{' || t.value === '!' || t.value === '++' || t.value === '--';

const METHOD_PREFIX = new Set(['static', 'async', 'get', 'set', '*']);
const CONTROL = new Set(['if', 'while', 'for', 'switch', 'with', 'return', 'typeof', 'await', 'yield', 'new', 'delete', 'void', 'throw', 'case', 'in', 'of', 'instanceof']);

/** Names the CommonJS wrapper and Baste's module factory already give a module. */
const MODULE_LOCALS = new Set(['exports', 'require', 'module', '__filename', '__dirname', 'arguments', 'undefined', 'eval']);

/** The undeclared names a (sloppy) module assigns with `=`, in source order. */
export function undeclaredAssignments(source: string): string[] {
  const tokens = tokenize(source);
  const declared = new Set<string>();
  const assigned: string[] = [];
  const declareIn = (from: number, to: number) => {
    for (let j = from; j <= to; j++) if (tokens[j]!.kind === 'name') declared.add(tokens[j]!.value);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    if (t.kind === 'punct') {
      if (t.value === '=>' && prev) {
        if (prev.kind === 'name') declared.add(prev.value);
        else if (prev.value === ')') declareIn(opening(tokens, i - 1), i - 1);
      }
      continue;
    }
    if (t.kind !== 'name' || prev?.value === '.' || prev?.value === '?.') continue;
    const next = tokens[i + 1];
    if (t.value === 'var' || t.value === 'let' || t.value === 'const') {
      // A declarator list: patterns, each maybe with an initializer read past to its `,` at depth 0.
      let j = i + 1;
      for (;;) {
        const target = tokens[j];
        if (!target) break;
        if (target.kind === 'name') declared.add(target.value);
        else if (target.value === '{' || target.value === '[') { const end = closing(tokens, j); declareIn(j, end); j = end; }
        else break;
        j++;
        if (tokens[j]?.value === '=') {
          j++;
          let depth = 0;
          for (; j < tokens.length; j++) {
            const u = tokens[j]!;
            if (u.kind === 'punct' && u.value in OPEN) depth++;
            else if (u.kind === 'punct' && (u.value === ')' || u.value === ']' || u.value === '}')) { if (--depth < 0) break; }
            else if (depth === 0 && (u.value === ',' || u.value === ';')) break;
            else if (depth === 0 && u.newline && ENDS_VALUE(tokens[j - 1]!) && STARTS_STATEMENT(u)) break;
          }
        }
        if (tokens[j]?.value !== ',') break;
        j++;
      }
      // The initializers are scanned as any code is (a function expression's body may assign globals).
      continue;
    }
    if (t.value === 'function') {
      let j = i + 1;
      if (tokens[j]?.value === '*') j++;
      if (tokens[j]?.kind === 'name') declared.add(tokens[j++]!.value);
      if (tokens[j]?.value === '(') declareIn(j, closing(tokens, j));
      continue;
    }
    if (t.value === 'class' && next?.kind === 'name') { declared.add(next.value); continue; }
    if (t.value === 'catch' && next?.value === '(') { declareIn(i + 1, closing(tokens, i + 1)); continue; }
    // A method's parameters: `name(a, b) {` in a class or an object literal.
    if (next?.value === '(' && !CONTROL.has(t.value) && (prev?.value === ',' || prev?.value === '{' || prev?.value === '}' || prev?.value === ';' || t.newline || METHOD_PREFIX.has(prev?.value ?? ''))) {
      const end = closing(tokens, i + 1);
      if (tokens[end + 1]?.value === '{') declareIn(i + 1, end);
    }
    if (next?.kind === 'punct' && next.value === '=' && !MODULE_LOCALS.has(t.value)) assigned.push(t.value);
  }
  return [...new Set(assigned.filter((name) => !declared.has(name)))];
}

/** Whether a source names any of `names` as a bare identifier (not as a property). */
export function namesAny(source: string, names: ReadonlySet<string>): boolean {
  if (names.size === 0) return false;
  const pattern = new RegExp(`(?<![\\w$.])(?:${[...names].map((n) => n.replace(/\$/g, '\\$')).join('|')})(?![\\w$])`);
  return pattern.test(source);
}

/** A source whose directive prologue says 'use strict': an undeclared assignment throws there, as in Node. */
export function isStrict(source: string): boolean {
  // Read token by token (a regular expression with nested repetition backtracks without end on
  // long runs of whitespace).
  for (const t of tokenize(source.slice(0, 4096)).slice(0, 64)) {
    if (t.kind === 'literal' && t.value === 'use strict') return true;
    if (t.kind !== 'literal' || !t.value.startsWith('directive:')) {
      if (!(t.kind === 'punct' && t.value === ';')) return false;
    }
  }
  return false;
}

/**
 * Names an old UMD header sets on its `root` (`root.lib = factory()`, root being `global` under
 * CommonJS): the write reaches the call's scope through `global`, and code reading `lib` by its
 * bare name needs that scope too.
 */
export function rootWrites(source: string): string[] {
  return [...new Set([...source.matchAll(/(?<![\w$.])root\s*\.\s*([A-Za-z_$][\w$]*)\s*=(?![=>])/g)].map((m) => m[1]!))];
}
