// Custom user data (`auth/custom_user_data.json`, or the legacy root `custom_user_data_config`):
// where each user's custom data document lives, and the function run when a user is created.

import type { CustomUserDataConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, isObject } from './check.js';

export const CUSTOM_USER_DATA_FILE = 'auth/custom_user_data.json';

function read(f: Fields): CustomUserDataConfig | undefined {
  if (!f.bool('enabled', false)) return undefined;
  // Legacy exports name the service by id (`mongo_service_id`); Realm CLI testdata uses the name.
  const serviceName = f.string('mongo_service_name') ?? 'mongodb-atlas';
  const database = f.string('database_name');
  const collection = f.string('collection_name');
  const userIdField = f.string('user_id_field');
  if (!database) throw f.refuse('database_name', 'is required when custom user data is enabled');
  if (!collection) throw f.refuse('collection_name', 'is required when custom user data is enabled');
  if (!userIdField) throw f.refuse('user_id_field', 'is required when custom user data is enabled');
  return { serviceName, database, collection, userIdField, onUserCreationFunctionName: f.string('on_user_creation_function_name') || undefined };
}

export async function loadCustomUserData(dir: AppDir, rootFile: string, rootDoc: unknown): Promise<CustomUserDataConfig | undefined> {
  if (await dir.isFile(CUSTOM_USER_DATA_FILE)) {
    return read(new Fields(CUSTOM_USER_DATA_FILE, asObject(await dir.readJson(CUSTOM_USER_DATA_FILE), CUSTOM_USER_DATA_FILE)));
  }
  const legacy = isObject(rootDoc) ? rootDoc.custom_user_data_config : undefined;
  return isObject(legacy) ? read(new Fields(rootFile, legacy, 'custom_user_data_config')) : undefined;
}
