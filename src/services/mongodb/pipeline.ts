// Which aggregation pipelines the data service runs, and for whom. Every stage is checked, at every
// depth: the sub-pipelines of `$facet`, `$lookup`, `$unionWith` and of any stage that holds a
// `pipeline` are pipelines too, so a stage refused at the top is refused inside them. Application
// users get an allowlist: stages that only reshape their input, which is what their roles let them
// read. Anything that reaches another collection, writes, or reports on the server is the system
// user's. Pure.

import { BasteError } from '../../errors.js';

/**
 * Stages an application user may run. Each reads only the documents flowing into it, already
 * chosen and trimmed by the roles. App Services also keeps `$facet` from users
 * (mongodb/crud-and-aggregation-apis.txt, "Aggregation Pipeline Stage Availability"); Baste allows
 * it, since its sub-pipelines are held to this same list and see the same input.
 */
const USER_STAGES: ReadonlySet<string> = new Set([
  '$addFields',
  '$bucket',
  '$bucketAuto',
  '$count',
  '$densify',
  '$facet',
  '$fill',
  '$group',
  '$limit',
  '$match',
  '$project',
  '$redact',
  '$replaceRoot',
  '$replaceWith',
  '$sample',
  '$set',
  '$setWindowFields',
  '$skip',
  '$sort',
  '$sortByCount',
  '$unset',
  '$unwind',
]);

/** MongoDB stages outside the users' list: named as the system user's, not as unknown. */
const SYSTEM_STAGES: ReadonlySet<string> = new Set([
  '$changeStream',
  '$changeStreamSplitLargeEvent',
  '$collStats',
  '$currentOp',
  '$documents',
  '$geoNear',
  '$graphLookup',
  '$indexStats',
  '$listLocalSessions',
  '$listSampledQueries',
  '$listSearchIndexes',
  '$listSessions',
  '$lookup',
  '$merge',
  '$out',
  '$planCacheStats',
  '$queryStats',
  '$search',
  '$searchMeta',
  '$shardedDataDistribution',
  '$unionWith',
  '$vectorSearch',
]);

/** Stages the embedded engines (mingo) cannot run; a real MongoDB runs them for the system user. */
const ENGINE_UNSUPPORTED: ReadonlySet<string> = new Set([
  '$out',
  '$merge',
  '$currentOp',
  '$indexStats',
  '$collStats',
  '$planCacheStats',
  '$changeStream',
  '$geoNear',
  '$search',
  '$searchMeta',
  '$vectorSearch',
]);

/** Deeper nesting than any real pipeline needs; it bounds the walk (and mingo's recursion). */
const MAX_DEPTH = 20;

export interface PipelineCheck {
  /** The caller is the system user (every stage allowed). */
  readonly system: boolean;
  /** A real MongoDB runs the pipeline (stages mingo lacks are fine then). */
  readonly server: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a pipeline and every pipeline nested in it; throws a 4xx naming the first refused stage
 * and where it is. Returns the collections its `$lookup` / `$graphLookup` / `$unionWith` stages
 * read (only the system user's pipelines can have any), for the embedded engines to resolve.
 */
export function checkPipeline(pipeline: unknown, check: PipelineCheck): Set<string> {
  const collections = new Set<string>();
  walk(pipeline, 'pipeline', 0, check, collections);
  return collections;
}

function walk(pipeline: unknown, path: string, depth: number, check: PipelineCheck, collections: Set<string>): void {
  if (!Array.isArray(pipeline)) throw new BasteError('InvalidParameter', `${path} must be an array of stages`);
  if (depth > MAX_DEPTH) throw new BasteError('InvalidParameter', `${path}: pipelines nest at most ${MAX_DEPTH} deep`);
  pipeline.forEach((stage: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(stage)) throw new BasteError('InvalidParameter', `${at} must be an object naming one stage`);
    const keys = Object.keys(stage);
    if (keys.length !== 1) throw new BasteError('InvalidParameter', `${at} must name exactly one stage, not ${keys.length}`);
    const name = keys[0]!;
    const spec = stage[name];
    if (!check.system && !USER_STAGES.has(name)) {
      if (SYSTEM_STAGES.has(name)) throw new BasteError('NoMatchingRuleFound', `aggregation stage ${name} (at ${at}) is only available to system functions`);
      throw new BasteError('InvalidParameter', `unknown aggregation stage ${name.slice(0, 60)} (at ${at})`);
    }
    if (!check.server && ENGINE_UNSUPPORTED.has(name)) throw new BasteError('InvalidParameter', `aggregation stage ${name} (at ${at}) is not supported by the embedded store`);
    for (const [sub, where] of nested(name, spec, at)) walk(sub, where, depth + 1, check, collections);
    const from = readsFrom(name, spec);
    if (from !== undefined) collections.add(from);
  });
}

/** The sub-pipelines a stage holds, with where they are. */
function nested(name: string, spec: unknown, at: string): [unknown, string][] {
  if (name === '$facet') {
    if (!isObject(spec)) throw new BasteError('InvalidParameter', `${at}.$facet must be an object of pipelines`);
    return Object.entries(spec).map(([facet, sub]) => [sub, `${at}.$facet.${facet.slice(0, 60)}`]);
  }
  // `$lookup`, `$unionWith`, and any stage to come that takes a `pipeline` (only the system user
  // can name one). A user's `$set: { pipeline: … }` is a field, not a pipeline.
  const holdsPipeline = name === '$lookup' || name === '$unionWith' || !USER_STAGES.has(name);
  if (holdsPipeline && isObject(spec) && spec.pipeline !== undefined) return [[spec.pipeline, `${at}.${name}.pipeline`]];
  return [];
}

/** The collection a stage reads, when it reads one. */
function readsFrom(name: string, spec: unknown): string | undefined {
  if (name === '$unionWith') {
    const coll = typeof spec === 'string' ? spec : isObject(spec) ? spec.coll : undefined;
    return typeof coll === 'string' ? coll : undefined;
  }
  if (name === '$lookup' || name === '$graphLookup') {
    const from = isObject(spec) ? spec.from : undefined;
    return typeof from === 'string' ? from : undefined;
  }
  return undefined;
}
