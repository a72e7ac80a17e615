/**
 * The shipped declarations, as a TypeScript user gets them: every entry point resolved through
 * `exports` (NodeNext), record types inferred from an entity, a renamed field per version.
 * Compiled (not run) by ../pack-install.test.ts with the repository's TypeScript.
 */
import { defineEntity, p } from '@mikro-orm/core';
import { defineStrategy, InstanceCache, type RecordsOf } from 'graphql-cached-instances';
import { cachedContext, createCachedResolvers } from 'graphql-cached-instances/apollo';
import { fromMikroOrm, type MikroOrmLike } from 'graphql-cached-instances/mikro-orm';
import { createRedisStore, type RedisStore } from 'graphql-cached-instances/redis';

const Author = defineEntity({
  name: 'Author',
  properties: { id: p.integer().primary().autoincrement(), name: p.string(), born: p.datetime().nullable() },
});

declare const orm: MikroOrmLike;

export const strategy = defineStrategy({
  versions: ['v1', 'v2'],
  models: [
    fromMikroOrm(orm, Author, { name: 'Author', versions: { v1: {}, v2: { rename: { name: 'fullName' } } } }),
  ],
});

type V2 = RecordsOf<typeof strategy, 'v2'>;
export const fullName = (author: V2['Author']): string => author.fullName;
export const born = (author: V2['Author']): Date | null => author.born;
// @ts-expect-error v2 renamed `name` to `fullName`
export const oldName = (author: V2['Author']): string => author.name;

export const store: (url: string) => Promise<RedisStore> = (url) => createRedisStore({ url, namespace: 'x' });
export const context = cachedContext(new InstanceCache(strategy), { version: 'v2' });
export const resolvers = createCachedResolvers<V2, Awaited<ReturnType<typeof context>>>();
