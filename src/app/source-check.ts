// Checks of the code and expressions an export carries, so that what loads cannot fail every
// request later: rule expressions (at load: a broken one would answer 500 to each request it
// guards) and function sources (by `baste validate`: the server runs the others and reports the
// broken one when called).

import { Script } from 'node:vm';
import { ConfigError } from '../errors.js';
import { ExpressionError, interpret, type ExpressionVars } from '../rules/expressions.js';
import type { AppConfig, DataSourceConfig, FieldRule, FilterConfig, RoleConfig } from './model.js';
import { isObject } from './check.js';

/** Every expansion root an expression may use somewhere; which one is set depends on where it runs. */
const ROOTS = ['user', 'values', 'environment', 'request', 'args', 'root', 'prevRoot', 'this', 'prev', 'partition'];
const VARS: ExpressionVars = Object.fromEntries(ROOTS.map((r) => [r, {}]));

/** Mistakes in the expression itself; other ExpressionErrors depend on the values at run time. */
const STATIC_MISTAKE = /unknown operator|unknown expansion|needs a value to apply to|an expression is true, false or an object|needs an array of expressions/;

/** Refuses an expression whose shape or operators are wrong, naming `file` and `field`. */
export async function checkExpression(expr: unknown, file: string, field: string): Promise<void> {
  if (expr === true || expr === false || expr === null || expr === undefined) return;
  if (!isObject(expr)) throw new ConfigError(file, field, `must be true, false or an expression object, not ${JSON.stringify(expr)}`);
  for (const [key, value] of Object.entries(expr)) {
    const here = `${field}.${key}`;
    if (/^[%$](and|or|nor)$/.test(key)) {
      if (!Array.isArray(value)) throw new ConfigError(file, here, 'needs an array of expressions');
      for (const [i, sub] of value.entries()) await checkExpression(sub, file, `${here}[${i}]`);
      continue;
    }
    if (/^[%$]not$/.test(key)) {
      await checkExpression(value, file, here);
      continue;
    }
    // Each key on its own, so that one failing comparison does not hide a broken one after it.
    try {
      await interpret({ [key]: value }, VARS, { bareKeysRefer: 'root', callFunction: async () => undefined });
    } catch (err) {
      if (err instanceof ExpressionError && STATIC_MISTAKE.test(err.message)) throw new ConfigError(file, here, err.message);
      if (!(err instanceof ExpressionError)) throw err;
    }
  }
}

/** Checks one expression where it is; `checkExpression` and the `%function` names it calls. */
type Check = (expr: unknown, file: string, field: string) => Promise<void>;

/** `%function` calls naming a function the app does not define would fail every request they guard. */
function checkFunctionNames(expr: unknown, file: string, field: string, names: ReadonlySet<string>): void {
  if (Array.isArray(expr)) return expr.forEach((e, i) => checkFunctionNames(e, file, `${field}[${i}]`, names));
  if (!isObject(expr)) return;
  for (const [key, value] of Object.entries(expr)) {
    if (key === '%function' && isObject(value) && typeof value.name === 'string' && !names.has(value.name)) {
      throw new ConfigError(file, `${field}.%function`, `calls function '${value.name}', which is not defined in functions/`);
    }
    checkFunctionNames(value, file, `${field}.${key}`, names);
  }
}

/** The `validate` expressions of a schema, at every depth. */
async function checkSchema(schema: unknown, file: string, path: string, check: Check): Promise<void> {
  if (Array.isArray(schema)) {
    for (const [i, s] of schema.entries()) await checkSchema(s, file, `${path}[${i}]`, check);
    return;
  }
  if (!isObject(schema)) return;
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'validate') await check(value, file, `${path}.validate`);
    else await checkSchema(value, file, `${path}.${key}`, check);
  }
}

async function checkFieldRules(fields: Readonly<Record<string, FieldRule>>, file: string, path: string, check: Check): Promise<void> {
  for (const [name, rule] of Object.entries(fields)) {
    const here = `${path}.${name}`;
    await check(rule.read, file, `${here}.read`);
    await check(rule.write, file, `${here}.write`);
    if (rule.additionalFields) {
      await check(rule.additionalFields.read, file, `${here}.additional_fields.read`);
      await check(rule.additionalFields.write, file, `${here}.additional_fields.write`);
    }
    if (rule.fields) await checkFieldRules(rule.fields, file, `${here}.fields`, check);
  }
}

async function checkRoles(roles: readonly RoleConfig[], filters: readonly FilterConfig[], file: string, check: Check): Promise<void> {
  for (const [i, role] of roles.entries()) {
    const at = `roles[${i}]${role.name ? ` (${role.name})` : ''}`;
    for (const [key, expr] of [
      ['apply_when', role.applyWhen],
      ['read', role.read],
      ['write', role.write],
      ['insert', role.insert],
      ['delete', role.delete],
      ['search', role.search],
      ['additional_fields.read', role.additionalFields.read],
      ['additional_fields.write', role.additionalFields.write],
      ['document_filters.read', role.documentFilters?.read],
      ['document_filters.write', role.documentFilters?.write],
    ] as const) {
      await check(expr, file, `${at}.${key}`);
    }
    await checkFieldRules(role.fields, file, `${at}.fields`, check);
  }
  for (const [i, filter] of filters.entries()) await check(filter.applyWhen, file, `filters[${i}].apply_when`);
}

/**
 * Every rule expression of the app: collection roles, filters and schema `validate` keywords,
 * Partition-Based Sync permissions, `can_evaluate` of functions and webhooks; each must be an
 * expression and every `%function` it calls must exist.
 */
export async function checkRuleExpressions(
  app: Pick<AppConfig, 'functions' | 'webhooks'>,
  dataSources: ReadonlyMap<string, Pick<DataSourceConfig, 'defaultRules' | 'collections' | 'partitionSync'>>,
): Promise<void> {
  const names = new Set(app.functions.keys());
  const check: Check = async (expr, file, field) => {
    await checkExpression(expr, file, field);
    checkFunctionNames(expr, file, field, names);
  };
  for (const [service, source] of dataSources) {
    const sync = source.partitionSync;
    if (sync) {
      await check(sync.read, sync.file, 'partition permissions read');
      await check(sync.write, sync.file, 'partition permissions write');
    }
    const defaults = source.defaultRules;
    if (defaults) await checkRoles(defaults.roles, defaults.filters, defaults.file ?? `default rules of data source "${service}"`, check);
    for (const rules of source.collections.values()) {
      await checkRoles(rules.roles, rules.filters, rules.file, check);
      // Stitch v1 `valid` rules became the schema's `validate` keywords (legacy-rules.ts).
      if (rules.schema) await checkSchema(rules.schema, rules.file, rules.readableQueries ? 'valid rules (as schema)' : 'schema', check);
    }
  }
  for (const fn of app.functions.values()) await check(fn.canEvaluate, fn.file, 'can_evaluate');
  for (const hook of app.webhooks ?? []) await check(hook.canEvaluate, hook.file, 'can_evaluate');
}

/**
 * Parses every function source as the runtime wraps it (without running it). Returns one
 * ConfigError per broken source, naming the file and the line in it.
 */
export function checkFunctionSources(app: Pick<AppConfig, 'functions' | 'webhooks'>): ConfigError[] {
  const problems: ConfigError[] = [];
  // run_as_user_id_script_source is a stringified function the runtime runs as `exports = <it>;`.
  const script = (file: string, source: string | undefined) => (source ? [{ file: `${file} (run_as_user_id_script_source)`, source: `exports = ${source};` }] : []);
  const sources = [
    ...[...app.functions.values()].flatMap((f) => [{ file: f.file, source: f.source }, ...script(f.file, f.runAsUserIdScriptSource)]),
    ...(app.webhooks ?? []).flatMap((w) => [{ file: w.file, source: w.source }, ...script(w.file, w.runAsUserIdScriptSource)]),
  ];
  for (const { file, source } of sources) {
    try {
      // Two wrapper lines before the source: lineOffset makes the reported line the file's own.
      new Script(`(function (context, console, utils) {\nvar exports;\n${source}\n;return exports;\n})`, { filename: file, lineOffset: -2 });
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      const line = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`).exec(err.stack ?? '')?.[1];
      problems.push(new ConfigError(file, undefined, `syntax error${line ? ` at line ${line}` : ''}: ${err.message}`));
    }
  }
  return problems;
}
