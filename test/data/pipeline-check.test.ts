// The aggregation stages a user may run, checked at every depth (src/services/mongodb/pipeline.ts):
// a sweep of generated pipelines with a forbidden stage nested at random depths in `$facet` (and in
// `$lookup` / `$unionWith` sub-pipelines) must all be refused, naming the stage; pipelines of
// allowed stages nested as deep must all pass; the system user's lookups are found at any depth.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BasteError } from '../../src/errors.js';
import { checkPipeline } from '../../src/services/mongodb/pipeline.js';
import { nestedAllowed, nestedForbidden, prng } from '../helpers/pipelines.js';

const USER = { system: false, server: false } as const;
const SYSTEM_ON_MONGODB = { system: true, server: true } as const;

function refusal(pipeline: unknown): BasteError {
  try {
    checkPipeline(pipeline, USER);
  } catch (err) {
    if (err instanceof BasteError) return err;
    throw err;
  }
  assert.fail(`accepted: ${JSON.stringify(pipeline)}`);
}

describe('aggregation pipelines a user may run', () => {
  it('refuses 5,000 generated pipelines with a forbidden stage 0–6 levels deep, naming it and where it is', () => {
    const rand = prng(17);
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const pipeline = nestedForbidden(rand, i % 7);
      const err = refusal(pipeline);
      assert.ok(['NoMatchingRuleFound', 'InvalidParameter'].includes(err.code), `${err.code}: ${JSON.stringify(pipeline)}`);
      const named = /aggregation stage (\$\w+) \(at (pipeline\[\d+\][^)]*)\)/.exec(err.message);
      assert.ok(named, `${err.message} names no stage`);
      seen.add(named[1]!);
    }
    // Every kind of forbidden stage was met, inside containers as well as at the top.
    for (const stage of ['$lookup', '$unionWith', '$graphLookup', '$out', '$merge', '$documents', '$collStats', '$zork']) assert.ok(seen.has(stage), stage);
  });

  it('accepts 2,000 generated pipelines of allowed stages nested 0–6 deep in $facet, decoy `from`/`pipeline` fields included', () => {
    const rand = prng(71);
    for (let i = 0; i < 2000; i++) {
      const pipeline = nestedAllowed(rand, i % 7);
      assert.deepEqual([...checkPipeline(pipeline, USER)], [], JSON.stringify(pipeline));
    }
    // A field named `pipeline` holding stage-like objects is an expression, not a sub-pipeline.
    assert.deepEqual([...checkPipeline([{ $set: { pipeline: [{ $lookup: { from: 'private', as: 'x' } }] } }], USER)], []);
  });

  it('the first leak: a `from` on a harmless stage and a $lookup inside $facet', () => {
    const err = refusal([{ $addFields: { from: 'private' } }, { $facet: { x: [{ $lookup: { from: 'private', pipeline: [], as: 'all' } }] } }]);
    assert.equal(err.code, 'NoMatchingRuleFound');
    assert.match(err.message, /aggregation stage \$lookup \(at pipeline\[1\]\.\$facet\.x\[0\]\) is only available to system functions/);
  });

  it('refuses malformed stages and nesting deeper than 20', () => {
    for (const bad of [[{}], [{ $match: {}, $lookup: { from: 'x', as: 'y' } }], [null], ['$match'], [{ $facet: [] }], [{ $facet: { a: {} } }]]) {
      assert.equal(refusal(bad).code, 'InvalidParameter', JSON.stringify(bad));
    }
    let deep: unknown[] = [{ $match: {} }];
    for (let i = 0; i < 25; i++) deep = [{ $facet: { a: deep } }];
    assert.match(refusal(deep).message, /nest at most 20 deep/);
  });

  it('the system user runs every stage; its lookups are found at any depth', () => {
    const lookups = checkPipeline(
      [
        { $facet: { a: [{ $lookup: { from: 'one', pipeline: [{ $unionWith: { coll: 'two', pipeline: [{ $graphLookup: { from: 'three', as: 'g' } }] } }], as: 'x' } }] } },
        { $unionWith: 'four' },
        { $addFields: { from: 'not-a-lookup' } },
      ],
      SYSTEM_ON_MONGODB,
    );
    assert.deepEqual([...lookups].sort(), ['four', 'one', 'three', 'two']);
    // Without a MongoDB server, stages the embedded engines lack are refused at any depth.
    assert.throws(() => checkPipeline([{ $facet: { a: [{ $out: 'copy' }] } }], { system: true, server: false }), /\$out .* not supported by the embedded store/);
  });
});
