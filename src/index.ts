/**
 * graphql-cached-instances — the core: strategy definition, codecs, the instance cache over keyv,
 * and per-request DataLoaders. Integrations are separate entry points:
 * `graphql-cached-instances/redis`, `/mikro-orm` and `/apollo`.
 *
 * @packageDocumentation
 */
export { type Codec, codecs, type JsonValue } from './codecs/codec.js';
export type { FieldCodecs } from './codecs/record.js';
export {
  type CacheLogger,
  InstanceCache,
  type InstanceCacheEvents,
  type InstanceCacheOptions,
  type ListReadOptions,
  type ReadOptions,
  type UpdateInstanceOptions,
  type UpdateOptions,
  type UpdateSummary,
} from './core/instance-cache.js';
export type { L1Options } from './core/l1.js';
export { type CacheStats, createStats } from './core/stats.js';
export {
  type BusListener,
  type CacheStore,
  createMemoryStore,
  type InvalidationBus,
  type KeyvStoreOptions,
  keyvStore,
  type StoreEntry,
  type StoreOp,
  type StoreOpResult,
} from './core/store.js';
export {
  CacheError,
  type CacheErrorCode,
  type CacheErrorContext,
  type CacheErrorOptions,
  CliConfigError,
  CodecError,
  DuplicateModelError,
  errorCodes,
  InvalidOptionError,
  InvalidPkError,
  JournalError,
  LoadError,
  QueueError,
  RecordEncodingError,
  StoreError,
  StrategyDefinitionError,
  UnknownModelError,
  UnknownVersionError,
} from './errors.js';
export { type CreateLoadersOptions, createLoaders, type Loaders } from './loaders/create-loaders.js';
export {
  type BackgroundRunnerOptions,
  backgroundRunner,
  type CascadeBatch,
  type CascadeRunner,
  type CascadeRunnerOptions,
  type CascadeTarget,
  inlineRunner,
} from './queue/runners.js';
export {
  type AppKeyRef,
  defineModel,
  defineStrategy,
  type LoadContext,
  type ModelDefinition,
  type ModelOptions,
  type RecordMap,
  type RecordsOf,
  type Ref,
  type ResolvedModel,
  type ResolvedVersion,
  type Strategy,
  type StrategyOptions,
  type VersionFunctions,
  type VersionRecordMap,
  type VersionsOf,
} from './strategy/define.js';
export { normalizePk, type Pk, type PkType } from './strategy/pk.js';
