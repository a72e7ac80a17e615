import { describe, expect, it } from 'vitest';
import { defineModel, defineStrategy, InstanceCache, type Pk } from '../../../src/index.js';

const load = (_: readonly Pk[]) => [];
const serialize = (e: { id: Pk }) => e;
const invalidate = () => [];
const ok = defineModel('Question', { load, serialize, invalidate });

// Misuse fails at definition time with a stable code and a message naming the API, the bad
// value and the fix.
describe('defineStrategy rejects bad definitions', () => {
  const cases: [string, () => unknown, string, RegExp][] = [
    [
      'no versions',
      () => defineStrategy({ versions: [], models: [ok] }),
      'E_STRATEGY_INVALID',
      /`versions` must list at least one version/,
    ],
    [
      'unknown default version',
      () => defineStrategy({ versions: ['v1'], defaultVersion: 'v2', models: [ok] }),
      'E_UNKNOWN_VERSION',
      /defaultVersion "v2" is not one of the versions \["v1"\]/,
    ],
    [
      'bad version name',
      () => defineStrategy({ versions: ['v 1'], models: [ok] }),
      'E_STRATEGY_INVALID',
      /version "v 1" must match/,
    ],
    [
      'duplicate version',
      () => defineStrategy({ versions: ['v1', 'v1'], models: [ok] }),
      'E_STRATEGY_INVALID',
      /duplicate/,
    ],
    [
      'no models',
      () => defineStrategy({ versions: ['v1'], models: [] }),
      'E_STRATEGY_INVALID',
      /non-empty array of defineModel/,
    ],
    [
      'duplicate model',
      () =>
        defineStrategy({
          versions: ['v1'],
          models: [ok, defineModel('Question', { load, serialize, invalidate })],
        }),
      'E_DUPLICATE_MODEL',
      /model "Question" is defined twice/,
    ],
    [
      'bad model name',
      () =>
        defineStrategy({
          versions: ['v1'],
          models: [defineModel('my-model', { load, serialize, invalidate })],
        }),
      'E_STRATEGY_INVALID',
      /model name "my-model" must match/,
    ],
    [
      'missing serialize',
      () => defineStrategy({ versions: ['v1'], models: [defineModel('Question', { load, invalidate })] }),
      'E_STRATEGY_INVALID',
      /model "Question" version "v1" has no serialize function \(use serialize: null for an invalidator-only model\)/,
    ],
    [
      'missing load',
      () =>
        // @ts-expect-error a model without load is a type error too (test/types checks it)
        defineStrategy({ versions: ['v1'], models: [defineModel('Question', { serialize, invalidate })] }),
      'E_STRATEGY_INVALID',
      /model "Question" version "v1" has no load function/,
    ],
    [
      'missing invalidate in one version only',
      () =>
        defineStrategy({
          versions: ['v1', 'v2'],
          models: [defineModel('Question', { load, serialize, versions: { v1: { invalidate }, v2: {} } })],
        }),
      'E_STRATEGY_INVALID',
      /model "Question" version "v2" has no invalidate function \(use invalidate: \(\) => \[\] when nothing depends on it\)/,
    ],
    [
      'bad pk type',
      () =>
        defineStrategy({
          versions: ['v1'],
          models: [defineModel('Question', { pk: 'uuid' as 'string', load, serialize, invalidate })],
        }),
      'E_STRATEGY_INVALID',
      /model "Question" has pk type "uuid"; use 'number' or 'string'/,
    ],
    [
      'model in an unknown version',
      () =>
        defineStrategy({
          versions: ['v1'],
          models: [defineModel('Question', { load, serialize, invalidate, versions: ['v1', 'v3'] })],
        }),
      'E_UNKNOWN_VERSION',
      /model "Question" declares version "v3", which is not one of \["v1"\]/,
    ],
    [
      'not a codec',
      () =>
        defineStrategy({
          versions: ['v1'],
          models: [
            defineModel('Question', { load, serialize, invalidate, codecs: { id: 'datetime' as never } }),
          ],
        }),
      'E_STRATEGY_INVALID',
      /codec for field "id" is not a codec/,
    ],
    [
      'bad namespace',
      () => defineStrategy({ versions: ['v1'], namespace: 'a:b', models: [ok] }),
      'E_STRATEGY_INVALID',
      /namespace "a:b"/,
    ],
  ];
  for (const [name, define, code, message] of cases) {
    it(name, () => {
      let caught: unknown;
      try {
        define();
      } catch (error) {
        caught = error;
      }
      expect(caught).toMatchObject({ code });
      expect((caught as Error).message).toMatch(message);
    });
  }
});

describe('InstanceCache rejects bad options and unknown names', () => {
  const strategy = defineStrategy({ versions: ['v1'], models: [ok] });
  it('ttl must be a positive number', () => {
    expect(() => new InstanceCache(strategy, { ttl: -1 })).toThrow(
      'InstanceCache: options.ttl must be a positive number of milliseconds, got -1',
    );
  });
  it('unknown models and versions name the valid ones', () => {
    const cache = new InstanceCache(strategy);
    expect(() => cache.keyOf('Choice' as 'Question', 1)).toThrow(
      'Unknown model "Choice"; the models are ["Question"]',
    );
    expect(() => cache.keyOf('Question', 1, 'v2')).toThrow(
      'Unknown cache version "v2"; the versions are ["v1"]',
    );
    expect(() => cache.keyOf('Question', '1e3')).toThrow(
      'Invalid id for Question: expected an integer, got "1e3"',
    );
  });
});
