// Typed reads of JSON config documents. A refusal names the file and the field path, and says
// which type was found, never the value: a misplaced secret must not end up in a log.

import { ConfigError } from '../errors.js';

export type JsonObject = Record<string, unknown>;

export const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const typeName = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/** The document in `file` must be a JSON object. */
export function asObject(doc: unknown, file: string, what = 'an object'): JsonObject {
  if (!isObject(doc)) throw new ConfigError(file, undefined, `must contain ${what}, not ${typeName(doc)}`);
  return doc;
}

/**
 * Fields of one object in `file`, reported as `prefix.key`. `null` counts as absent: realm-cli is
 * written in Go, whose encoder writes empty maps and lists as null.
 */
export class Fields {
  constructor(
    readonly file: string,
    readonly doc: JsonObject,
    readonly prefix = '',
  ) {}

  path(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  refuse(key: string, reason: string): ConfigError {
    return new ConfigError(this.file, this.path(key), reason);
  }

  has(key: string): boolean {
    return this.doc[key] !== undefined && this.doc[key] !== null;
  }

  raw(key: string): unknown {
    return this.has(key) ? this.doc[key] : undefined;
  }

  private wrongType(key: string, expected: string): ConfigError {
    return this.refuse(key, `must be ${expected}, not ${typeName(this.doc[key])}`);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw this.wrongType(key, 'true or false');
    return v;
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw this.wrongType(key, 'a string');
    return v;
  }

  object(key: string): JsonObject | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!isObject(v)) throw this.wrongType(key, 'an object');
    return v;
  }

  /** A nested object read with the same file and a longer field path. */
  nested(key: string): Fields | undefined {
    const v = this.object(key);
    return v && new Fields(this.file, v, this.path(key));
  }

  array(key: string): unknown[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw this.wrongType(key, 'an array');
    return v;
  }

  stringArray(key: string): string[] | undefined {
    const items = this.array(key);
    items?.forEach((item, i) => {
      if (typeof item !== 'string') {
        throw new ConfigError(this.file, `${this.path(key)}[${i}]`, `must be a string, not ${typeName(item)}`);
      }
    });
    return items as string[] | undefined;
  }
}

// Name rules, as App Services refuses names at deploy.

/** Values and secrets: ≤64 chars of `[A-Za-z0-9_-]`, starting with a letter or digit. */
export const isValueName = (s: string) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(s);
export const VALUE_NAME_RULE = 'must be 1–64 characters of A–Z, a–z, 0–9, _ and -, starting with a letter or digit';

/** App names: 1–32 chars of `[A-Za-z0-9_-]`. */
export const isAppName = (s: string) => /^[A-Za-z0-9_-]{1,32}$/.test(s);
export const APP_NAME_RULE = 'must be 1–32 characters of A–Z, a–z, 0–9, _ and -';

/** Provider names are a URL path segment; Realm makes them equal to the type. */
export const isProviderName = (s: string) => /^[A-Za-z0-9_-]{1,64}$/.test(s);
export const PROVIDER_NAME_RULE = 'must be 1–64 characters of A–Z, a–z, 0–9, _ and -';

/**
 * Function names may be nested (`auth/emailpass/onCreate`) and map to file paths, so each segment
 * is a plain file name: no empty, `.` or `..` segments.
 */
export const isFunctionName = (s: string) =>
  s.length <= 256 && s.split('/').every((seg) => /^[A-Za-z0-9_.-]+$/.test(seg) && seg !== '.' && seg !== '..');
export const FUNCTION_NAME_RULE =
  'must be one or more /-separated segments of A–Z, a–z, 0–9, _, . and - (no "." or ".." segments)';

/** Collects a ConfigWarning: `file` relative to the app directory. */
export type Warn = (file: string, message: string) => void;

/**
 * `run_as_user_id` of a function or webhook; exports write an unset one as "". Whether the user
 * exists is known only at run time (users come after the config), but its form is known now: App
 * Services and Baste name users by 24 lowercase hex digits (an ObjectId), so anything else can
 * never find its user. That is a warning, not a refusal: every call of that function is refused at
 * run time (nothing runs as a user it cannot find), and the rest of the app works meanwhile.
 */
export function runAsUserIdOf(fields: Fields, warn: Warn): string | undefined {
  const id = fields.string('run_as_user_id') || undefined;
  if (id !== undefined && !/^[0-9a-f]{24}$/.test(id)) {
    const shown = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
    warn(fields.file, `${fields.path('run_as_user_id')}: ${shown} is not a user id (24 lowercase hex digits); every call will be refused as running as a user that does not exist`);
  }
  return id;
}
