/**
 * `graphql-cached-instances/mikro-orm`: keeps an instance cache in step with MikroORM writes
 * ({@link CacheSubscriber}) and derives cached models from entity metadata ({@link fromMikroOrm}).
 * The core (`graphql-cached-instances`) never imports MikroORM; this entry point does.
 *
 * @packageDocumentation
 */

export type { DerivedFieldOptions } from './derive-fields.js';
export type { FieldValue, RelatedPks, RelationName } from './derived-record.js';
export type {
  ComputedField,
  DerivedModel,
  DerivedModelName,
  DerivedRecord,
  EntityOf,
  FromMikroOrmOptions,
  FromMikroOrmVersionOptions,
  MikroOrmLike,
} from './from-mikro-orm.js';
export { fromMikroOrm } from './from-mikro-orm.js';
export {
  CacheJournal,
  CacheJournalEntry,
  type CacheJournalOptions,
  type JournalCache,
  type RecoveryReport,
} from './journal.js';
export type {
  CacheSubscriberLogger,
  CacheSubscriberOptions,
  CacheUpdateTarget,
  InvalidationBatch,
} from './options.js';
export { createSqlCountingLoggerFactory, type LoggerFactory } from './sql-logger.js';
export { CacheSubscriber } from './subscriber.js';
