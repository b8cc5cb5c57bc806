// Custom user data (`auth/custom_user_data.json`, or the legacy root `custom_user_data_config`):
// where each user's custom data document lives, and the function run when a user is created.

import type { CustomUserDataConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject, type Warn } from './check.js';

export const CUSTOM_USER_DATA_FILE = 'auth/custom_user_data.json';

const MONGO_TYPES = new Set(['mongodb-atlas', 'mongodb']);

async function read(dir: AppDir, f: Fields, warn: Warn): Promise<CustomUserDataConfig | undefined> {
  if (!f.bool('enabled', false)) return undefined;
  const serviceName = f.string('mongo_service_name') || (await serviceById(dir, f, warn)) || 'mongodb-atlas';
  const database = f.string('database_name');
  const collection = f.string('collection_name');
  const userIdField = f.string('user_id_field');
  if (!database) throw f.refuse('database_name', 'is required when custom user data is enabled');
  if (!collection) throw f.refuse('collection_name', 'is required when custom user data is enabled');
  if (!userIdField) throw f.refuse('user_id_field', 'is required when custom user data is enabled');
  return { serviceName, database, collection, userIdField, onUserCreationFunctionName: f.string('on_user_creation_function_name') || undefined };
}

/**
 * Legacy exports name the service by the platform's id (`mongo_service_id`), which the service's
 * own `services/<svc>/config.json` carries as `id`. When no service has that id (ids change on
 * every import), the app's only MongoDB service is meant.
 */
async function serviceById(dir: AppDir, f: Fields, warn: Warn): Promise<string | undefined> {
  const id = f.string('mongo_service_id');
  if (!id) return undefined;
  const mongo: { name: string; id: unknown }[] = [];
  for (const svc of await dir.list('services')) {
    const file = `${svc.path}/config.json`;
    if (svc.kind !== 'dir' || !(await dir.isFile(file))) continue;
    const doc = asObject(await dir.readJson(file), file);
    if (typeof doc.type === 'string' && MONGO_TYPES.has(doc.type)) mongo.push({ name: typeof doc.name === 'string' ? doc.name : svc.name, id: doc.id });
  }
  const match = mongo.find((s) => s.id === id);
  if (match) return match.name;
  if (mongo.length === 1) {
    warn(f.file, `${f.path('mongo_service_id')}: no service has id "${id}"; using the app's only MongoDB service "${mongo[0]!.name}"`);
    return mongo[0]!.name;
  }
  throw f.refuse('mongo_service_id', `no MongoDB service has id "${id}"; write "mongo_service_name": "<service folder name>" instead`);
}

/** The config with the place it came from, so later refusals name it. */
export interface LoadedCustomUserData {
  readonly config: CustomUserDataConfig;
  readonly fields: Fields;
}

export async function loadCustomUserData(dir: AppDir, rootFile: string, rootDoc: unknown, warn: Warn): Promise<LoadedCustomUserData | undefined> {
  let fields: Fields | undefined;
  if (await dir.isFile(CUSTOM_USER_DATA_FILE)) {
    fields = new Fields(CUSTOM_USER_DATA_FILE, asObject(await dir.readJson(CUSTOM_USER_DATA_FILE), CUSTOM_USER_DATA_FILE));
  } else {
    const legacy = isObject(rootDoc) ? rootDoc.custom_user_data_config : undefined;
    if (isObject(legacy)) fields = new Fields(rootFile, legacy, 'custom_user_data_config');
  }
  const config = fields && (await read(dir, fields, warn));
  return config && fields && { config, fields };
}
