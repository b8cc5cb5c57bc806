// One line per trigger, whatever its kind: what it listens to, the function it runs and how it is
// set up. `baste validate` prints it; the admin API and console show the same words.

import { derivedId } from '../app/ids.js';
import type { AppConfig, AuthTriggerConfig, DatabaseTriggerConfig, ScheduledTriggerConfig } from '../app/model.js';

export type TriggerType = 'AUTHENTICATION' | 'SCHEDULED' | 'DATABASE';

export type AnyTrigger =
  | { readonly type: 'AUTHENTICATION'; readonly config: AuthTriggerConfig }
  | { readonly type: 'SCHEDULED'; readonly config: ScheduledTriggerConfig }
  | { readonly type: 'DATABASE'; readonly config: DatabaseTriggerConfig };

export interface TriggerDescription {
  readonly type: TriggerType;
  readonly name: string;
  /** What fires it: `CREATE, LOGIN by local-userpass`, `0 7 * * * (UTC)`, `INSERT on todo.items`. */
  readonly listensTo: string;
  readonly functionName: string;
  readonly notes: readonly string[];
}

/** Every trigger of the app, ordered by name (names are unique across kinds). */
export function allTriggers(app: AppConfig): AnyTrigger[] {
  const all: AnyTrigger[] = [
    ...[...(app.triggers?.values() ?? [])].map((config) => ({ type: 'AUTHENTICATION' as const, config })),
    ...[...(app.scheduledTriggers?.values() ?? [])].map((config) => ({ type: 'SCHEDULED' as const, config })),
    ...[...(app.databaseTriggers?.values() ?? [])].map((config) => ({ type: 'DATABASE' as const, config })),
  ];
  return all.sort((a, b) => (a.config.name < b.config.name ? -1 : a.config.name > b.config.name ? 1 : 0));
}

/** The export's `id` when it has one, else one derived from the name (stable across restarts and instances). */
export const triggerId = (app: AppConfig, t: AnyTrigger): string => t.config.id ?? derivedId(`baste:trigger:${app.appId}:${t.config.name}`);

export function describeTrigger(t: AnyTrigger): TriggerDescription {
  const base = { type: t.type, name: t.config.name, functionName: t.config.functionName };
  switch (t.type) {
    case 'AUTHENTICATION': {
      const c = t.config;
      const by = c.providers.length ? c.providers.join(', ') : 'any provider';
      return { ...base, listensTo: `${c.operations.join(', ')} by ${by}`, notes: flags([c.disabled, 'disabled']) };
    }
    case 'SCHEDULED': {
      const c = t.config;
      return { ...base, listensTo: `${c.schedule} (UTC)`, notes: flags([c.disabled, 'disabled'], [c.skipCatchupEvents, 'skips missed ticks']) };
    }
    case 'DATABASE': {
      const c = t.config;
      const source = c.serviceName ? `${c.serviceName} ` : '';
      return {
        ...base,
        listensTo: `${c.operations.join(', ')} on ${source}${c.database}.${c.collection}`,
        notes: flags(
          [c.disabled, 'disabled'],
          [Object.keys(c.match).length > 0, 'with a match'],
          [Object.keys(c.project).length > 0, 'projected'],
          [c.fullDocument, 'full document'],
          [c.fullDocumentBeforeChange, 'pre-image'],
          [c.unordered, 'unordered'],
          [c.skipCatchupEvents, 'skips events of while disabled'],
        ),
      };
    }
  }
}

const KIND: Record<TriggerType, string> = { AUTHENTICATION: 'authentication', SCHEDULED: 'scheduled', DATABASE: 'database' };

/** `database trigger 'onItem': INSERT on todo.items runs sum (with a match)`. */
export function triggerLine(d: TriggerDescription): string {
  return `${KIND[d.type]} trigger '${d.name}': ${d.listensTo} runs ${d.functionName}${d.notes.length ? ` (${d.notes.join(', ')})` : ''}`;
}

const flags = (...pairs: [boolean, string][]): string[] => pairs.filter(([on]) => on).map(([, text]) => text);
