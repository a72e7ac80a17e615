/**
 * `graphql-cached-instances/mikro-orm`: keeps an instance cache in step with MikroORM writes
 * ({@link CacheSubscriber}) and derives cached models from entity metadata ({@link fromMikroOrm}).
 */
export { CacheSubscriber } from './subscriber.js';
export type {
  CacheSubscriberLogger,
  CacheSubscriberOptions,
  CacheUpdateTarget,
  InvalidationBatch,
} from './subscriber.js';
export { fromMikroOrm } from './from-mikro-orm.js';
export type {
  DerivedRecord,
  FromMikroOrmOptions,
  FromMikroOrmVersionOptions,
  MikroOrmLike,
} from './from-mikro-orm.js';
export type { DerivedFieldOptions } from './derive-fields.js';
