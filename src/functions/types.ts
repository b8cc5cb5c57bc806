// The shapes of a function call as the server's parts pass it around: who calls, the request it
// came with, what the sandbox is asked to run and what an endpoint or webhook answered. Kept
// apart from the runtime so the parts that build calls (functions, execution users, triggers,
// the data service, HTTP) need not import the sandbox, and the sandbox need not import them.

import type { ArgsEjson } from './args-ejson.js';

/** The user a call runs for, as functions see it in `context.user` (null: the system user). */
export interface CallUser {
  readonly id: string;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly custom_data: Record<string, unknown>;
  readonly identities: readonly { id: string; provider_type: string; provider_id?: string }[];
}

export interface CallRequest {
  readonly remoteIPAddress?: string;
  readonly requestHeaders?: Record<string, string[]>;
  readonly httpMethod?: string;
  readonly rawQueryString?: string;
  readonly webhookUrl?: string;
  readonly httpReferrer?: string;
  readonly httpUserAgent?: string;
  readonly service?: string;
  readonly action?: string;
}

export interface FunctionInvocation {
  readonly name: string;
  /** Canonical EJSON of the argument array: text, or UTF-8 bytes transferred to the isolate (args-ejson.ts). */
  readonly argsEjson: ArgsEjson;
  readonly user: CallUser | null;
  readonly runAsSystem: boolean;
  readonly request?: CallRequest;
}

/** What an endpoint or webhook function answered: its return value and what it did to `response`. */
export interface HttpOutcome {
  readonly hasResult: boolean;
  readonly result: unknown;
  readonly response: {
    readonly statusCode: number | null;
    readonly headers: Record<string, string[]>;
    readonly body: unknown;
    readonly touched: boolean;
  };
}
