// HTTPS endpoints (`http_endpoints/config.json`, App Services `https_endpoints/config.json`) and
// incoming webhooks (`services/<svc>/incoming_webhooks/<name>/` in Stitch and Realm v1 exports,
// `http_endpoints/<svc>/incoming_webhooks/<name>/` in Realm v2 exports).

import { ConfigError } from '../errors.js';
import type { EndpointConfig, HttpMethod, ValidationMethod, WebhookConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, runAsUserIdOf, typeName, type Warn } from './check.js';
import { legacyServiceSecretName } from './legacy-secrets.js';

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', '*']);
const VALIDATIONS = new Set(['NO_VALIDATION', 'SECRET_AS_QUERY_PARAM', 'VERIFY_PAYLOAD']);
const ENDPOINT_FILES = ['https_endpoints/config.json', 'http_endpoints/config.json'];

function method(fields: Fields, key: string): HttpMethod {
  const raw = (fields.string(key) ?? '*').toUpperCase();
  const m = raw === 'ANY' ? '*' : raw;
  if (!METHODS.has(m)) throw fields.refuse(key, 'must be GET, POST, PUT, PATCH, DELETE, HEAD, ANY or *');
  return m as HttpMethod;
}

function validation(fields: Fields, key: string): ValidationMethod {
  const v = fields.string(key) ?? 'NO_VALIDATION';
  if (!VALIDATIONS.has(v)) throw fields.refuse(key, 'must be NO_VALIDATION, SECRET_AS_QUERY_PARAM or VERIFY_PAYLOAD');
  return v as ValidationMethod;
}

export async function loadEndpoints(dir: AppDir, functionNames: ReadonlySet<string>, _warn: Warn): Promise<EndpointConfig[]> {
  const endpoints: EndpointConfig[] = [];
  for (const file of ENDPOINT_FILES) {
    if (!(await dir.isFile(file))) continue;
    const doc = await dir.readJson(file);
    if (!Array.isArray(doc)) throw new ConfigError(file, undefined, `must contain an array of endpoints, not ${typeName(doc)}`);
    for (const [i, raw] of doc.entries()) {
      if (!isObject(raw)) throw new ConfigError(file, `[${i}]`, `must be an object, not ${typeName(raw)}`);
      const f = new Fields(file, raw, `[${i}]`);
      const route = f.string('route');
      if (!route || !/^\/[A-Za-z0-9/_.~-]*$/.test(route)) throw f.refuse('route', 'must start with / and hold only URL path characters');
      const functionName = f.string('function_name');
      if (!functionName || !functionNames.has(functionName)) throw f.refuse('function_name', `must name a function defined in functions/`);
      const validationMethod = validation(f, 'validation_method');
      const secretName = f.string('secret_name');
      if (validationMethod !== 'NO_VALIDATION' && !secretName) throw f.refuse('secret_name', `is required with ${validationMethod}`);
      const endpoint: EndpointConfig = {
        route,
        httpMethod: method(f, 'http_method'),
        functionName,
        validationMethod,
        secretName,
        respondResult: f.bool('respond_result', true),
        fetchCustomUserData: f.bool('fetch_custom_user_data', false),
        createUserOnAuth: f.bool('create_user_on_auth', false),
        disabled: f.bool('disabled', false),
        file,
      };
      if (endpoints.some((e) => e.route === endpoint.route && e.httpMethod === endpoint.httpMethod)) {
        throw f.refuse('route', `${endpoint.httpMethod} ${endpoint.route} is defined twice`);
      }
      endpoints.push(endpoint);
    }
  }
  return endpoints;
}

/** Webhooks of every service folder that has them, in either layout; `secrets` are the app's (name → material). */
export async function loadWebhooks(dir: AppDir, secrets: ReadonlyMap<string, string>, warn: Warn): Promise<WebhookConfig[]> {
  const webhooks: WebhookConfig[] = [];
  for (const root of ['services', 'http_endpoints']) {
    for (const svc of await dir.list(root)) {
      if (svc.kind !== 'dir' || svc.name.startsWith('.')) continue;
      const hooksDir = `${svc.path}/incoming_webhooks`;
      const hooks = (await dir.list(hooksDir)).filter((h) => h.kind === 'dir' && !h.name.startsWith('.'));
      if (hooks.length === 0) continue;
      const service = await serviceConfig(dir, svc.path);
      if (service?.string('type') === 'twilio') {
        // Twilio signs its calls (X-Twilio-Signature, keyed with the account's auth token); without
        // the token nothing can be verified, and serving them unverified would let anyone post fake
        // messages: then they are not served at all.
        const token = twilioAuthToken(service, svc.name, secrets);
        if ('reason' in token) {
          for (const hook of hooks) warn(hook.path, `Twilio incoming webhook not served: ${token.reason}, so X-Twilio-Signature cannot be verified and serving it unverified would let anyone call it`);
          continue;
        }
        for (const hook of hooks) webhooks.push({ ...(await readWebhook(dir, svc.name, hook.path, hook.name, warn)), twilioAuthTokenSecret: token.secret });
        continue;
      }
      // GitHub signs deliveries with its own headers, not the generic X-Hook-Signature.
      const github = service?.string('type') === 'github';
      for (const hook of hooks) webhooks.push({ ...(await readWebhook(dir, svc.name, hook.path, hook.name, warn)), ...(github ? { githubSignature: true } : {}) });
    }
  }
  return webhooks;
}

async function serviceConfig(dir: AppDir, svcPath: string): Promise<Fields | undefined> {
  const file = `${svcPath}/config.json`;
  if (!(await dir.isFile(file))) return undefined;
  return new Fields(file, asObject(await dir.readJson(file), file));
}

/**
 * The secret holding a Twilio service's auth token: named by `secret_config.auth_token` (realm-cli
 * and stitch-cli exports), or written in a legacy `secrets.json` under `services.<svc>.auth_token`.
 */
function twilioAuthToken(service: Fields, folder: string, secrets: ReadonlyMap<string, string>): { secret: string } | { reason: string } {
  const named = service.nested('secret_config')?.string('auth_token');
  if (named) {
    if (secrets.has(named)) return { secret: named };
    return { reason: `secret "${named}" (secret_config.auth_token of ${service.file}) is not provided (--secrets or BASTE_SECRET_${named})` };
  }
  const legacy = legacyServiceSecretName(service.string('name') ?? folder, 'auth_token');
  if (secrets.has(legacy)) return { secret: legacy };
  return { reason: `${service.file} has no secret_config.auth_token naming the secret that holds the Twilio auth token` };
}

/**
 * 2018 Stitch webhooks say `{secret, secretAsQueryParam}` instead of `validationMethod`: a secret
 * with `secretAsQueryParam: true` is checked in `?secret=`, any other secret signs the payload.
 */
function webhookValidation(options: Fields): ValidationMethod {
  if (options.has('validationMethod')) return validation(options, 'validationMethod');
  const secret = options.string('secret');
  if (!secret) return 'NO_VALIDATION';
  return options.bool('secretAsQueryParam', false) ? 'SECRET_AS_QUERY_PARAM' : 'VERIFY_PAYLOAD';
}

async function readWebhook(dir: AppDir, service: string, path: string, folderName: string, warn: Warn): Promise<WebhookConfig> {
  const configFile = `${path}/config.json`;
  const sourceFile = `${path}/source.js`;
  if (!(await dir.isFile(sourceFile))) throw new ConfigError(sourceFile, undefined, 'is missing: every incoming webhook needs its source');
  const f = new Fields(configFile, (await dir.isFile(configFile)) ? asObject(await dir.readJson(configFile), configFile) : {});
  const options = f.nested('options') ?? new Fields(configFile, {}, 'options');
  const name = f.string('name') ?? folderName;
  const validationMethod = webhookValidation(options);
  const secret = options.string('secret');
  if (validationMethod !== 'NO_VALIDATION' && !secret) throw options.refuse('secret', `is required with ${validationMethod}`);
  const runAsUserId = runAsUserIdOf(f, warn);
  const runAsUserIdScriptSource = f.string('run_as_user_id_script_source') || undefined;
  if (runAsUserId && runAsUserIdScriptSource) {
    throw f.refuse('run_as_user_id_script_source', 'cannot be combined with run_as_user_id: a webhook runs as one user');
  }
  const runAsAuthedUser = f.bool('run_as_authed_user', false);
  if (runAsAuthedUser && (runAsUserId || runAsUserIdScriptSource)) {
    throw f.refuse('run_as_authed_user', 'cannot be combined with run_as_user_id or run_as_user_id_script_source');
  }
  const createUserOnAuth = f.bool('create_user_on_auth', false);
  if (createUserOnAuth && !runAsAuthedUser) warn(configFile, 'create_user_on_auth: only applies with run_as_authed_user (ignored)');
  return {
    service,
    name,
    source: await dir.readText(sourceFile),
    file: sourceFile,
    canEvaluate: f.raw('can_evaluate') ?? {},
    runAsSystem: f.bool('run_as_system', false),
    runAsAuthedUser,
    runAsUserId,
    runAsUserIdScriptSource,
    respondResult: f.bool('respond_result', false),
    fetchCustomUserData: f.bool('fetch_custom_user_data', false),
    createUserOnAuth: createUserOnAuth && runAsAuthedUser,
    httpMethod: method(options, 'httpMethod'),
    validationMethod,
    secret,
  };
}
