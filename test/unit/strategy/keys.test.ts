import { describe, expect, it } from 'vitest';
import { defineModel, defineStrategy, InstanceCache, type Pk } from '../../../src/index.js';
import { encodePk } from '../../../src/strategy/pk.js';

const model = (name: string, pk: 'number' | 'string') =>
  defineModel(name, {
    pk,
    load: (_: readonly Pk[]) => [],
    serialize: (e: { id: Pk }) => e,
    invalidate: () => [],
  });

describe('keys', () => {
  const strategy = defineStrategy({
    versions: ['v1', 'v2'],
    models: [model('Question', 'number'), model('Slug', 'string')],
  });
  const cache = new InstanceCache(strategy);

  it('have the form {namespace}:{version}:{Model}:{pk}', () => {
    expect(cache.keyOf('Question', 42)).toBe('gci:v1:Question:42');
    expect(cache.keyOf('Slug', 'hello', 'v2')).toBe('gci:v2:Slug:shello');
  });

  it('numeric strings and numbers are one pk for a numeric model', () => {
    expect(cache.keyOf('Question', '42')).toBe(cache.keyOf('Question', 42));
  });

  it('never let two distinct pks share a key', () => {
    const pks: Pk[] = [
      1,
      '1',
      's1',
      'a:b',
      'a%3Ab',
      'a/b',
      'A',
      'a',
      ' a',
      'é',
      'e\u0301',
      '𝄞',
      'x'.repeat(120),
      'x'.repeat(121),
      'x'.repeat(10_000),
      `${'x'.repeat(9_999)}y`,
      'h',
      'hx',
      '-1',
      -1,
      '',
    ].filter((pk) => pk !== '');
    const keys = pks.map((pk) => encodePk(pk));
    expect(new Set(keys).size).toBe(pks.length);
  });

  it('contain no raw user text: no colons, spaces or control characters, bounded length', () => {
    for (const pk of ['a:b:c', 'new\nline', 'tab\there', 'x'.repeat(5000), '../../etc', 'ключ']) {
      const encoded = encodePk(pk);
      expect(encoded).toMatch(/^[A-Za-z0-9_.~%-]+$/);
      expect(encoded.length).toBeLessThanOrEqual(121);
    }
  });

  it('record tags change with the definition: a different serializer, a different revision', () => {
    const other = defineStrategy({
      versions: ['v1', 'v2'],
      models: [
        defineModel('Question', {
          load: (_: readonly Pk[]) => [],
          serialize: (e: { id: Pk }) => ({ id: e.id, extra: true }),
          invalidate: () => [],
        }),
        model('Slug', 'string'),
      ],
    });
    const tag = (s: { resolve(model: string, version: string): { recordTag: string } }, name: string) =>
      s.resolve(name, 'v1').recordTag;
    expect(tag(strategy, 'Question')).toMatch(/^#[0-9a-f]{8}$/);
    expect(tag(other, 'Question')).not.toBe(tag(strategy, 'Question'));
    // The keys stay the same, so invalidations reach records of every definition.
    expect(new InstanceCache(other).keyOf('Question', 1)).toBe(cache.keyOf('Question', 1));
    // Only the changed model's records change tag.
    expect(tag(other, 'Slug')).toBe(tag(strategy, 'Slug'));
    expect(strategy.versionPrefix('v1')).toBe('gci:v1:');
    const revised = defineStrategy({
      versions: ['v1', 'v2'],
      revision: '2',
      models: [model('Question', 'number'), model('Slug', 'string')],
    });
    expect(tag(revised, 'Question')).not.toBe(tag(strategy, 'Question'));
    expect(tag(revised, 'Slug')).not.toBe(tag(strategy, 'Slug'));
  });

  it('a version is untouched when only another version changes', () => {
    const v2Only = defineModel('Question', {
      load: (_: readonly Pk[]) => [],
      invalidate: () => [],
      versions: {
        v1: { serialize: (e: { id: Pk }) => e },
        v2: { serialize: (e: { id: Pk }) => ({ ...e, v2: true }) },
      },
    });
    const changed = defineStrategy({ versions: ['v1', 'v2'], models: [v2Only, model('Slug', 'string')] });
    expect(changed.resolve('Question', 'v1').recordTag).toBe(strategy.resolve('Question', 'v1').recordTag);
    expect(changed.resolve('Question', 'v2').recordTag).not.toBe(
      strategy.resolve('Question', 'v2').recordTag,
    );
  });
});
