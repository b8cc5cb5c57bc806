// Client calls of app functions (`functions/call`): the checks a client call must pass
// (exists, not private, `can_evaluate`) before the sandbox runs it as the caller, the system user
// or the user its config names.

import type { AppConfig, FunctionConfig } from '../app/model.js';
import { BasteError } from '../errors.js';
import { resolvedValues } from '../app/values.js';
import { hostEjson } from '../util/ejson-codec.js';
import { ExpressionError, evaluate } from '../rules/expressions.js';
import type { ExecutionUsers } from './execution-user.js';
import { prefersInt64, widenIntegers } from './integer-width.js';
import { argsText, type ArgsEjson } from './args-ejson.js';
import type { FunctionRuntime } from './runtime.js';
import type { CallRequest, CallUser } from './types.js';
import { expressionRequest } from './request-headers.js';

/** No `can_evaluate`, or the empty expression (the default): every caller may run the function. */
const alwaysHolds = (expr: unknown): boolean =>
  expr === undefined || expr === null || (typeof expr === 'object' && !Array.isArray(expr) && Object.keys(expr).length === 0);

export class Functions {
  private readonly values: Record<string, unknown>;

  constructor(
    private readonly app: AppConfig,
    private readonly runtime: FunctionRuntime,
    private readonly executionUsers: ExecutionUsers,
  ) {
    this.values = resolvedValues(app);
  }

  private find(name: string): FunctionConfig {
    const fn = this.app.functions.get(name);
    if (!fn) throw new BasteError('FunctionNotFound', `function not found: '${name.slice(0, 200)}'`);
    return fn;
  }

  /**
   * A client's call: refused when the function is private or its `can_evaluate` does not hold.
   * The refusal never says more than the function's name.
   */
  async callFromClient(input: {
    name: string;
    /** Canonical EJSON of the arguments array, as the client sent it (text, or a worker's bytes). */
    argsEjson: ArgsEjson;
    user: CallUser;
    request: CallRequest;
  }): Promise<string> {
    const fn = this.find(input.name);
    if (fn.private) throw new BasteError('FunctionNotCallable', `function '${fn.name}' is private and cannot be called from a client`);
    if (!alwaysHolds(fn.canEvaluate) && !(await this.canEvaluate(fn, input))) {
      throw new BasteError('FunctionNotCallable', `rule not matched for function '${fn.name}': the caller may not run it`);
    }
    // can_evaluate judged the caller; the function itself may run as someone else.
    const run = await this.executionUsers.forFunction(fn, { user: input.user, system: false }, input.argsEjson, input.request);
    const result = await this.runtime.call({ name: fn.name, argsEjson: input.argsEjson, user: run.user, runAsSystem: run.system, request: input.request });
    const int64 = typeof input.argsEjson === 'string' ? prefersInt64(input.argsEjson) : input.argsEjson.prefersInt64;
    return int64 ? widenIntegers(result) : result;
  }

  /**
   * A call the server makes on its own: triggers, auth hooks (custom-function login, confirmation
   * and reset functions, the user creation function) and a rule's `%function`. The caller is the
   * system user ("Triggers run in the context of the system user", users.txt), but the function's
   * own execution user still applies, as from any caller ("Functions … always execute in the
   * context of a specific application user or as a system user", set per function:
   * functions.txt): on application auth it runs as the system user with `user` (whom the call is
   * about: the new user, a rule's active user) as context.user; with `run_as_user_id` or a run-as
   * script, as that user, rules applied. The docs name no execution user for `%function`: keeping
   * the system user there means a rule's helper runs outside the rules it belongs to and cannot
   * recurse into them. Returns the decoded result.
   */
  async callFromSystem(name: string, args: unknown[], user: CallUser | null = null, request?: CallRequest): Promise<unknown> {
    const fn = this.find(name);
    const argsEjson = hostEjson.stringifyCanonical(args);
    const run = await this.executionUsers.forFunction(fn, { user, system: true }, argsEjson, request);
    const text = await this.runtime.call({ name: fn.name, argsEjson, user: run.user, runAsSystem: run.system, request });
    return hostEjson.parse(text);
  }

  private async canEvaluate(fn: FunctionConfig, input: { argsEjson: ArgsEjson; user: CallUser; request: CallRequest }): Promise<boolean> {
    try {
      return await evaluate(
        fn.canEvaluate,
        {
          user: input.user,
          args: hostEjson.parse(argsText(input.argsEjson)),
          values: this.values,
          environment: { tag: this.app.environment, values: this.app.environmentValues },
          request: expressionRequest(input.request),
        },
        { callFunction: (name, args) => this.callFromSystem(name, args, input.user, input.request) },
      );
    } catch (err) {
      if (err instanceof ExpressionError) throw new BasteError('FunctionNotCallable', `can_evaluate of function '${fn.name}' is not a valid expression: ${err.message}`);
      throw err;
    }
  }
}
