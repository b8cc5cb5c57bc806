// Third-party services of Stitch and Realm exports (deprecated on the platform, still in real
// exports): `services/<svc>/config.json` of any type but MongoDB, and `http_endpoints/<svc>/config.json`
// (Realm CLI v2 keeps legacy HTTP services there). Functions reach them with
// `context.services.get(name)`: Baste serves the `http` type with the client of `context.http`; every
// other type (twilio, aws, aws-s3, aws-ses, gcm, github, …) is known by name and type only, so a
// call fails naming both instead of `undefined is not a function`, and each is warned about once.

import type { ServiceConfig } from './model.js';
import type { AppDir } from './dir.js';
import { asObject, Fields, type Warn } from './check.js';

const MONGO_TYPES = new Set(['mongodb-atlas', 'mongodb']);
/** The third-party service types Baste serves. */
export const SERVED_SERVICE_TYPES: ReadonlySet<string> = new Set(['http']);

export async function loadServices(dir: AppDir, dataSourceNames: ReadonlySet<string>, warn: Warn): Promise<Map<string, ServiceConfig>> {
  const services = new Map<string, ServiceConfig>();
  for (const root of ['services', 'http_endpoints']) {
    for (const svc of await dir.list(root)) {
      if (svc.kind !== 'dir' || svc.name.startsWith('.')) continue;
      const file = `${svc.path}/config.json`;
      if (!(await dir.isFile(file))) continue;
      const f = new Fields(file, asObject(await dir.readJson(file), file));
      const type = f.string('type') ?? '';
      if (MONGO_TYPES.has(type)) continue; // a data source: data-sources.ts
      const name = f.string('name') ?? svc.name;
      if (services.has(name) || dataSourceNames.has(name)) {
        warn(file, `service '${name}' is defined twice: the first definition is used (ignored)`);
        continue;
      }
      services.set(name, { name, type, file });
      if (!SERVED_SERVICE_TYPES.has(type)) {
        // Its webhooks are still served, with the HTTP service's payload: Twilio and GitHub
        // webhooks got their body pre-parsed as the payload on the platform.
        const hooks = (await dir.isDir(`${svc.path}/incoming_webhooks`)) ? '; its incoming webhooks run with the HTTP payload ({query, headers, body})' : '';
        warn(svc.path, `service '${name}' (type ${type || 'untyped'}) is not served by Baste: every call to it from a function fails${hooks}`);
      } else if (await dir.isDir(`${svc.path}/rules`)) {
        // Service rules allowed actions per call; functions are the app owner's code and Baste
        // lets them use every action. Clients cannot call the service at all (ServiceNotFound).
        warn(`${svc.path}/rules`, 'HTTP service rules are not enforced by Baste: functions may use every action, clients none (ignored)');
      }
    }
  }
  return services;
}
