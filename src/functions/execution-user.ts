// Who a function runs as when its config names the user: `run_as_user_id`, or a
// `run_as_user_id_script_source` that picks one. Client calls, HTTPS endpoints, webhooks and nested
// `context.functions.execute` all resolve such users here, so a configured user is looked up,
// checked and chosen in one place, and the sandbox never reads users itself.
//
// `context.user` of a function running as a configured user is that user, not the caller. App Services'
// documentation says context.user is "the authenticated caller", but a fixed-user function is how the
// platform authenticates *as* that user: rules see it as `%%user`, and apps written for such
// functions (service accounts, endpoints without credentials) read `context.user.id` expecting it.
// Keeping context.user and the rules' user the same also means one user crosses the sandbox
// boundary. The cost: such a function cannot tell who called it (use `can_evaluate`, which still
// sees the caller). A run-as-system function keeps the caller as context.user, as documented.

import type { AppConfig, FunctionConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import type { UserRecord } from '../store/store.js';
import { callUserOf } from '../users/users.js';
import type { CallRequest, CallUser, FunctionInvocation } from './types.js';
import { argsText, type ArgsEjson } from './args-ejson.js';

/** Who a call runs as: `user` is `context.user` (null: no caller), `system` bypasses rules. */
export interface Execution {
  readonly user: CallUser | null;
  readonly system: boolean;
}

/** An enabled user as functions see it, or null when the id names no user or a disabled one. */
export type ActiveUserLookup = (userId: string) => Promise<CallUser | null>;

export function activeUsers(
  getUser: (userId: string) => Promise<UserRecord | null>,
  customData?: (userId: string) => Promise<Record<string, unknown> | undefined>,
): ActiveUserLookup {
  return async (userId) => {
    const user = await getUser(userId);
    if (!user || user.disabled) return null;
    return callUserOf(user, (await customData?.(userId)) ?? {});
  };
}

/** A configured execution user: a fixed id, or the sandbox name of the script that picks one. */
export type RunAs = { readonly userId: string } | { readonly scriptName: string };

/** Sandbox name of a function's run-as script: `:` never occurs in function names, so it cannot collide. */
export const runAsScriptName = (functionName: string) => `run_as_user_id_script_source:${functionName}`;

/** The user `fn` is configured to run as; undefined when it runs as the caller or as the system user (which wins). */
export function configuredRunAs(fn: FunctionConfig): RunAs | undefined {
  if (fn.runAsSystem) return undefined;
  if (fn.runAsUserId) return { userId: fn.runAsUserId };
  if (fn.runAsUserIdScriptSource) return { scriptName: runAsScriptName(fn.name) };
  return undefined;
}

export type Failure = (message: string) => BasteError;
const functionFailure: Failure = (message) => new BasteError('FunctionExecutionError', message);

export class ExecutionUsers {
  constructor(
    private readonly app: AppConfig,
    private readonly runtime: { call(invocation: FunctionInvocation): Promise<string> },
    private readonly lookup: ActiveUserLookup,
  ) {}

  /**
   * How `fn` runs when `current` calls it (a client, an endpoint's caller, or the calling
   * function): as the system user, as its configured user, or as `current` (application auth).
   * `argsEjson` (canonical EJSON of an array) is what a run-as script receives.
   */
  async forFunction(fn: FunctionConfig, current: Execution, argsEjson: ArgsEjson, request?: CallRequest): Promise<Execution> {
    if (fn.runAsSystem) return { user: current.user, system: true };
    const runAs = configuredRunAs(fn);
    if (!runAs) return current;
    return this.resolve(runAs, current.user, argsEjson, request, `function '${fn.name}'`, functionFailure);
  }

  /** `context.functions.execute` of a function with its own user: the sandbox asks by name. */
  async forNestedCall(name: string, current: Execution, argsEjson: string, request?: CallRequest): Promise<Execution> {
    const fn = this.app.functions.get(name);
    if (!fn) throw functionFailure(`function not found: '${name.slice(0, 200)}'`);
    return this.forFunction(fn, current, argsEjson, request);
  }

  /**
   * The fixed user, or the script's choice: a user id, or `{runAsSystemUser: true}` (then
   * context.user stays the caller). The script runs as the system user, sees the caller as
   * context.user, and gets `argsEjson` as its arguments. Unknown and disabled users are refused,
   * so nothing runs for them.
   */
  async resolve(
    runAs: RunAs,
    caller: CallUser | null,
    argsEjson: ArgsEjson,
    request: CallRequest | undefined,
    what: string,
    fail: Failure,
  ): Promise<Execution> {
    if ('userId' in runAs) {
      const user = await this.lookup(runAs.userId);
      if (!user) throw fail(`${what} runs as a user that does not exist or is disabled`);
      return { user, system: false };
    }
    // The script gets the text: bytes are the function's to take (args-ejson.ts).
    const chosen = await this.runScript(runAs.scriptName, caller, argsText(argsEjson), request, what);
    if (isSystemChoice(chosen)) return { user: caller, system: true };
    if (typeof chosen !== 'string' || chosen.length === 0) {
      throw fail(`run_as_user_id_script_source of ${what} must return a user id string or {runAsSystemUser: true}`);
    }
    const user = await this.lookup(chosen);
    if (!user) throw fail(`run_as_user_id_script_source of ${what} chose a user that does not exist or is disabled`);
    return { user, system: false };
  }

  private async runScript(name: string, caller: CallUser | null, argsEjson: string, request: CallRequest | undefined, what: string): Promise<unknown> {
    let text: string;
    try {
      text = await this.runtime.call({ name, argsEjson, user: caller, runAsSystem: true, request });
    } catch (err) {
      if (err instanceof BasteError) throw new BasteError(err.code, `run_as_user_id_script_source of ${what} failed: ${err.message}`);
      throw err;
    }
    return JSON.parse(text) as unknown;
  }
}

const isSystemChoice = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && (v as { runAsSystemUser?: unknown }).runAsSystemUser === true;
