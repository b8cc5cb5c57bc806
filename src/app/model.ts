// The loaded app: one typed, immutable model whatever generation of export it came from.
// Only src/app/ reads configuration files; everything else receives an AppConfig.

export const PROVIDER_TYPES = [
  'anon-user',
  'local-userpass',
  'api-key',
  'custom-token',
  'custom-function',
  'oauth2-google',
  'oauth2-facebook',
  'oauth2-apple',
] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export interface MetadataField {
  readonly required: boolean;
  /** Field name or JWT path, e.g. `email` or `user.profile.name`. */
  readonly name: string;
  /** Alias under which the value lands in `user.data`. */
  readonly fieldName?: string;
}

export interface ProviderConfig {
  /** Route segment: `/auth/providers/{name}/login`. */
  readonly name: string;
  readonly type: ProviderType;
  readonly disabled: boolean;
  /** 24-hex id reported as `provider_id`: the export's own `id` when it has one, otherwise derived from app id and name. */
  readonly id: string;
  /** Provider-specific public options, as written in the export. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Option name → secret name, as written in the export. */
  readonly secretConfig: Readonly<Record<string, string>>;
  /**
   * Options that name several secrets (custom-token `signingKeys`): option name → secret names.
   * The loader always sets it; optional so configs built by hand (tests) may leave it out.
   */
  readonly secretConfigLists?: Readonly<Record<string, readonly string[]>>;
  readonly metadataFields: readonly MetadataField[];
  readonly redirectUris: readonly string[];
  readonly domainRestrictions: readonly string[];
  /**
   * Where the export configures it: the file and the field path of the provider inside it ('' when
   * the file holds only it), so messages name the real place. Absent in configs built by hand.
   */
  readonly source?: { readonly file: string; readonly prefix: string };
}

export interface ValueConfig {
  readonly name: string;
  /** When true, `value` is the name of a secret; its material is `AppConfig.secrets.get(value)` (undefined if not provided). */
  readonly fromSecret: boolean;
  readonly value: unknown;
}

export interface FunctionConfig {
  /** Possibly nested: `auth/emailpass/onCreate`. */
  readonly name: string;
  readonly private: boolean;
  readonly runAsSystem: boolean;
  /** `run_as_user_id`: runs as this user (ignored under runAsSystem; exclusive with the script). */
  readonly runAsUserId?: string;
  /** `run_as_user_id_script_source`: a stringified function returning a user id or `{runAsSystemUser: true}`. */
  readonly runAsUserIdScriptSource?: string;
  readonly canEvaluate: unknown;
  /** Source text of the function (`exports = function (...) {...}`). */
  readonly source: string;
  /** File it came from, relative to the app directory, for error messages. */
  readonly file: string;
}

/** An AUTHENTICATION trigger: runs its function as the system user after matching auth events. */
export interface AuthTriggerConfig {
  readonly name: string;
  /** The export's `id` (24 hex), when it has one: the admin API's `_id`. */
  readonly id?: string;
  readonly functionName: string;
  readonly operations: readonly ('LOGIN' | 'CREATE' | 'DELETE')[];
  /** Provider types it fires for; empty means all. */
  readonly providers: readonly string[];
  readonly disabled: boolean;
}

/** A SCHEDULED trigger: runs its function as the system user, without arguments, on each tick of its CRON schedule (UTC). */
export interface ScheduledTriggerConfig {
  readonly name: string;
  /** The export's `id` (24 hex), when it has one: the admin API's `_id`. */
  readonly id?: string;
  readonly functionName: string;
  /** The CRON expression as written; the loader has checked that it parses. */
  readonly schedule: string;
  /** When ticks were missed while no instance ran: true skips them, false runs the function once for all of them. */
  readonly skipCatchupEvents: boolean;
  readonly disabled: boolean;
}

/** The document operations a DATABASE trigger can listen to (collection-level triggers). */
export type ChangeOperation = 'INSERT' | 'UPDATE' | 'REPLACE' | 'DELETE';

/**
 * A DATABASE trigger: runs its function as the system user with each change event of its
 * collection that passes `operations` and `match`, shaped by `project` (src/triggers/).
 */
export interface DatabaseTriggerConfig {
  readonly name: string;
  /** The export's `id` (24 hex), when it has one: the admin API's `_id`. */
  readonly id?: string;
  readonly functionName: string;
  /** The data source (`config.service_name`); undefined: the app's only (or first) one. */
  readonly serviceName?: string;
  readonly database: string;
  readonly collection: string;
  readonly operations: readonly ChangeOperation[];
  /** A `$match` over the change event (EJSON already decoded); empty: every event. */
  readonly match: Record<string, unknown>;
  /** A `$project` of the change event; empty: the whole event. */
  readonly project: Record<string, unknown>;
  /** UPDATE events carry `fullDocument` (insert and replace events always do). */
  readonly fullDocument: boolean;
  /** Events other than inserts carry `fullDocumentBeforeChange`. */
  readonly fullDocumentBeforeChange: boolean;
  /** Events may run concurrently instead of one after another in commit order. */
  readonly unordered: boolean;
  /** On re-enabling, events that happened while disabled are not delivered. */
  readonly skipCatchupEvents: boolean;
  readonly disabled: boolean;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | '*';
export type ValidationMethod = 'NO_VALIDATION' | 'SECRET_AS_QUERY_PARAM' | 'VERIFY_PAYLOAD';

/** An HTTPS endpoint, served at `/app/{appId}/endpoint{route}`. Its user comes from its function's config. */
export interface EndpointConfig {
  readonly route: string;
  readonly httpMethod: HttpMethod;
  readonly functionName: string;
  readonly validationMethod: ValidationMethod;
  /** Name of the secret used for validation. */
  readonly secretName?: string;
  readonly respondResult: boolean;
  readonly fetchCustomUserData: boolean;
  readonly createUserOnAuth: boolean;
  readonly disabled: boolean;
  /** Config file it came from, for messages. */
  readonly file: string;
}

/** A Stitch/Realm incoming webhook, served at `/api/client/v2.0/app/{app}/service/{service}/incoming_webhook/{name}`. */
export interface WebhookConfig {
  readonly service: string;
  readonly name: string;
  readonly source: string;
  readonly file: string;
  readonly canEvaluate: unknown;
  readonly runAsSystem: boolean;
  readonly runAsAuthedUser: boolean;
  readonly runAsUserId?: string;
  readonly runAsUserIdScriptSource?: string;
  readonly respondResult: boolean;
  readonly fetchCustomUserData: boolean;
  /** With run_as_authed_user: valid credentials of an identity without a user create that user. */
  readonly createUserOnAuth?: boolean;
  readonly httpMethod: HttpMethod;
  readonly validationMethod: ValidationMethod;
  /** The webhook's own secret string, as legacy exports write it. */
  readonly secret?: string;
  /**
   * A Twilio service's webhook: the secret holding the account's auth token, with which every call
   * must carry a valid `X-Twilio-Signature` (functions/twilio-signature.ts).
   */
  readonly twilioAuthTokenSecret?: string;
  /**
   * A GitHub service's webhook: its secret signs the body as GitHub signs deliveries
   * (`X-Hub-Signature-256`, legacy `X-Hub-Signature`: functions/github-signature.ts).
   */
  readonly githubSignature?: boolean;
}

/**
 * Field-level permissions of a role. A field holding an embedded document may carry rules for its
 * sub-fields (`fields`); they apply when the field's own `read` / `write` does not grant.
 */
export interface FieldRule {
  readonly read?: unknown;
  readonly write?: unknown;
  readonly fields?: Readonly<Record<string, FieldRule>>;
  /** Sub-fields without an entry; when absent, those of the enclosing level (the role's at the top). */
  readonly additionalFields?: { readonly read?: unknown; readonly write?: unknown };
}

/** A collection role (App Services rules); every permission is a rule expression. */
export interface RoleConfig {
  readonly name: string;
  readonly applyWhen: unknown;
  readonly read: unknown;
  readonly write: unknown;
  readonly insert: unknown;
  readonly delete: unknown;
  readonly search: unknown;
  /** Field name → `{read, write, fields}`; see FieldRule. */
  readonly fields: Readonly<Record<string, FieldRule>>;
  readonly additionalFields: { readonly read: unknown; readonly write: unknown };
  readonly documentFilters?: { readonly read?: unknown; readonly write?: unknown };
}

/** A filter merged into every query it applies to, before any document is read. */
export interface FilterConfig {
  readonly name: string;
  readonly applyWhen: unknown;
  /** MongoDB query in EJSON. */
  readonly query: Readonly<Record<string, unknown>>;
  readonly projection: Readonly<Record<string, unknown>>;
}

export interface CollectionRules {
  readonly database: string;
  readonly collection: string;
  readonly roles: readonly RoleConfig[];
  readonly filters: readonly FilterConfig[];
  /** The collection's document schema (`schema.json`, or `schema` in a legacy rule file), checked at load. */
  readonly schema?: Readonly<Record<string, unknown>>;
  /**
   * Stitch v1 rules (legacy-rules.ts): a user's query sees only what the caller may read, so a
   * predicate on a hidden field never matches its value.
   */
  readonly readableQueries?: boolean;
  readonly file: string;
}

/**
 * Partition-Based Sync permissions of a synced cluster (2020-era `config.sync.partition`, or
 * `sync/config.json`). On the platform they replace the collection rules for every request to the
 * cluster; a document's partition is its partition key's value.
 */
export interface PartitionSyncConfig {
  /** The partition key field. */
  readonly key: string;
  readonly read: unknown;
  readonly write: unknown;
  /** The roles that enforce them in the data service (partition-sync.ts). */
  readonly roles: readonly RoleConfig[];
  readonly file: string;
}

/** A MongoDB data source (`mongodb-atlas` service) with its rules. */
export interface DataSourceConfig {
  readonly name: string;
  readonly type: string;
  /** A MongoDB connection string (`config.uri`), when the data lives in a real cluster. */
  readonly uri?: string;
  /** Roles and filters of collections that have no rules of their own. */
  readonly defaultRules?: { readonly roles: readonly RoleConfig[]; readonly filters: readonly FilterConfig[]; readonly readableQueries?: boolean; readonly file?: string };
  /** Partition-Based Sync enabled on this cluster: its permissions govern every collection. */
  readonly partitionSync?: PartitionSyncConfig;
  /** Keyed by `<database>.<collection>`. */
  readonly collections: ReadonlyMap<string, CollectionRules>;
}

/** A third-party service (`services/<svc>/config.json` of a type other than MongoDB): its name and type. */
export interface ServiceConfig {
  readonly name: string;
  /** `http` (served), or a type Baste does not serve (`twilio`, `aws`, `aws-ses`, …); `''` when untyped. */
  readonly type: string;
  readonly file: string;
}

/** Where custom user data lives (`auth/custom_user_data.json`). */
export interface CustomUserDataConfig {
  readonly serviceName: string;
  readonly database: string;
  readonly collection: string;
  /** Field holding the user id (as a string or an ObjectId). */
  readonly userIdField: string;
  /** Runs when a user is created, before the first token; a throw fails the creation. */
  readonly onUserCreationFunctionName?: string;
}

export type ConfigLayout = '20210101' | '20200603' | '20180301';

export interface AppConfig {
  /** Client app id: the `{app}` in `/api/client/v2.0/app/{app}/...`. */
  readonly appId: string;
  readonly name: string;
  /** 24-hex id of the app, reported as `domain_id` / `baas_domain_id`. */
  readonly domainId: string;
  readonly layout: ConfigLayout;
  /** `config_version` as written, or null when the export had none. */
  readonly configVersion: number | null;
  /** Active environment (`""`, `development`, `testing`, `qa`, `production`). */
  readonly environment: string;
  /** Values of `environments/<env>.json` for the active environment. */
  readonly environmentValues: Readonly<Record<string, unknown>>;
  /** Empty means every origin is allowed. */
  readonly allowedRequestOrigins: readonly string[];
  /** Keyed by provider name. */
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  readonly values: ReadonlyMap<string, ValueConfig>;
  readonly functions: ReadonlyMap<string, FunctionConfig>;
  /** Authentication triggers, by name. Optional so configs built by hand (tests) may leave it out. */
  readonly triggers?: ReadonlyMap<string, AuthTriggerConfig>;
  /** Scheduled triggers, by name; optional like `triggers`. */
  readonly scheduledTriggers?: ReadonlyMap<string, ScheduledTriggerConfig>;
  /** Database triggers, by name; optional like `triggers`. */
  readonly databaseTriggers?: ReadonlyMap<string, DatabaseTriggerConfig>;
  /** HTTPS endpoints and incoming webhooks; optional so configs built by hand may leave them out. */
  readonly endpoints?: readonly EndpointConfig[];
  readonly webhooks?: readonly WebhookConfig[];
  /** MongoDB data sources by service name (`mongodb-atlas` by default). */
  readonly dataSources?: ReadonlyMap<string, DataSourceConfig>;
  /** Third-party services by name (services.ts); optional so configs built by hand may leave them out. */
  readonly services?: ReadonlyMap<string, ServiceConfig>;
  /** Custom user data, when enabled. */
  readonly customUserData?: CustomUserDataConfig;
  /** Secret name → material, from `--secrets`, `BASTE_SECRET_<NAME>` and a legacy `secrets.json`. */
  readonly secrets: ReadonlyMap<string, string>;
  /** The packages functions may `require`; absent when the export carries none. */
  readonly functionDependencies?: FunctionDependencies;
}

/** Where an export keeps its functions' npm packages (app/dependencies.ts). */
export interface FunctionDependencies {
  /** Absolute `node_modules` folders: `functions/node_modules`, then one beside `functions/`. */
  readonly folders: readonly string[];
  /** Absolute path of `functions/node_modules.tar.gz` (or .tgz, .tar), unpacked at start. */
  readonly archive?: string;
  /** Package name → version range, from the package.json below. */
  readonly declared: Readonly<Record<string, string>>;
  /** The package.json declaring them, relative to the app, and its absolute folder. */
  readonly manifest?: string;
  readonly manifestDir?: string;
}

/** Something in the export that was skipped, kept for `baste validate` and the start-up log. */
export interface ConfigWarning {
  /** Path relative to the app directory. */
  readonly file: string;
  readonly message: string;
}

export interface LoadedApp {
  readonly config: AppConfig;
  readonly warnings: readonly ConfigWarning[];
}
