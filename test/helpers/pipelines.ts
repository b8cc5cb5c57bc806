// Random aggregation pipelines for the nested-pipeline sweeps: stages a user may run, nested in
// `$facet` (and in the sub-pipelines of `$lookup` / `$unionWith`) at random depths, with one stage a
// user may not run placed somewhere inside. Seeded, so a failure names a pipeline that can be re-run.

import { seededRandom } from './random.js';

/** A small seeded generator: the same seed, the same pipelines. */
export const prng = (seed: number): (() => number) => seededRandom(seed).next;

type Stage = Record<string, unknown>;

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

/**
 * Stages a user may run. Some carry decoys: fields named `from`, `coll` or `pipeline` holding other
 * collections' names (the first leak collected lookups from any stage's `from`).
 */
const ALLOWED: readonly (() => Stage)[] = [
  () => ({ $match: {} }),
  () => ({ $match: { title: { $exists: true } } }),
  () => ({ $addFields: { from: 'private', coll: 'notes' } }),
  () => ({ $set: { pipeline: ['private', 'notes'] } }),
  () => ({ $project: { _id: 1, title: 1, owner: 1 } }),
  () => ({ $sort: { title: 1 } }),
  () => ({ $limit: 50 }),
  () => ({ $skip: 0 }),
  () => ({ $unset: 'nothing' }),
  () => ({ $group: { _id: '$owner', n: { $sum: 1 } } }),
  () => ({ $replaceRoot: { newRoot: '$$ROOT' } }),
  () => ({ $count: 'n' }),
];

/** Stages a user may not run: each reaches another collection, writes, reports on the server, or is unknown. */
export const FORBIDDEN: readonly (() => Stage)[] = [
  () => ({ $lookup: { from: 'notes', pipeline: [], as: 'all' } }),
  () => ({ $lookup: { from: 'private', localField: 'x', foreignField: 'x', as: 'all' } }),
  () => ({ $lookup: { from: 'private', let: {}, pipeline: [{ $match: {} }], as: 'all' } }),
  () => ({ $unionWith: 'private' }),
  () => ({ $unionWith: { coll: 'notes', pipeline: [{ $match: {} }] } }),
  () => ({ $graphLookup: { from: 'private', startWith: '$owner', connectFromField: 'owner', connectToField: 'owner', as: 'all' } }),
  () => ({ $out: 'copy' }),
  () => ({ $merge: { into: 'copy' } }),
  () => ({ $documents: [{ forged: true }] }),
  () => ({ $collStats: {} }),
  () => ({ $indexStats: {} }),
  () => ({ $currentOp: {} }),
  () => ({ $search: { text: { query: 'x', path: 'title' } } }),
  () => ({ $geoNear: { near: [0, 0], distanceField: 'd' } }),
  () => ({ $zork: {} }),
];

/** A pipeline of allowed stages around one position that `inner` fills. */
function around(rand: () => number, inner: Stage): Stage[] {
  const before = Array.from({ length: Math.floor(rand() * 3) }, () => pick(rand, ALLOWED)());
  const after = Array.from({ length: Math.floor(rand() * 2) }, () => pick(rand, ALLOWED)());
  return [...before, inner, ...after];
}

/** A stage holding `pipeline` as a sub-pipeline: `$facet` mostly (the users' one container). */
function container(rand: () => number, pipeline: Stage[]): Stage {
  const r = rand();
  if (r < 0.7) {
    const siblings = Math.floor(rand() * 2);
    const facets: Record<string, Stage[]> = {};
    for (let i = 0; i < siblings; i++) facets[`s${i}`] = [pick(rand, ALLOWED)()];
    facets[`f${Math.floor(rand() * 100)}`] = pipeline;
    return { $facet: facets };
  }
  if (r < 0.85) return { $lookup: { from: 'private', pipeline, as: 'nested' } };
  return { $unionWith: { coll: 'private', pipeline } };
}

/** A pipeline with one forbidden stage at `depth` levels of nesting (0: at the top). */
export function nestedForbidden(rand: () => number, depth: number): Stage[] {
  let pipeline = around(rand, pick(rand, FORBIDDEN)());
  for (let d = 0; d < depth; d++) pipeline = around(rand, container(rand, pipeline));
  return pipeline;
}

/** A pipeline of allowed stages only, `$facet`s nested `depth` deep. */
export function nestedAllowed(rand: () => number, depth: number): Stage[] {
  let pipeline = around(rand, pick(rand, ALLOWED)());
  for (let d = 0; d < depth; d++) pipeline = around(rand, { $facet: { inner: pipeline } });
  return pipeline;
}
