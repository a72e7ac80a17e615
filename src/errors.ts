/**
 * Every error this library throws or reports, in one module at the bottom of the tree (it imports
 * nothing). Each class has ONE stable `code`; callers and tests match on `code` (or the class),
 * never on message text. Messages name the API, the bad value and the fix.
 */

/** Context fields carried by a {@link CacheError}: what the error concerns, where known. */
export interface CacheErrorContext {
  model?: string;
  version?: string;
  pk?: unknown;
  field?: string;
  /** The option or argument that was wrong (`ttl`, `first`, …). */
  option?: string;
  /** The store or queue operation that failed (`read`, `fill`, `invalidate`, …). */
  operation?: string;
}

/** Options every error constructor takes. */
export interface CacheErrorOptions {
  context?: CacheErrorContext;
  cause?: unknown;
}

/**
 * Base class of every error this library throws. Not thrown itself: each subclass fixes one
 * {@link CacheErrorCode}. `cause` holds the underlying error, if any.
 */
export abstract class CacheError extends Error {
  /** The stable error code (`E_…`), fixed per class. */
  abstract readonly code: CacheErrorCode;
  /** What the error concerns (model, version, pk, field, option), where known. */
  readonly context: CacheErrorContext;

  constructor(message: string, options: CacheErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.context = options.context ?? {};
  }
}

/** A strategy definition is malformed: a missing function, a bad name or pk type, a bad codec. */
export class StrategyDefinitionError extends CacheError {
  readonly code = 'E_STRATEGY_INVALID';
}

/** Two models of a strategy have the same name. */
export class DuplicateModelError extends CacheError {
  readonly code = 'E_DUPLICATE_MODEL';
}

/** A model name that the strategy (or the version asked for) does not define. */
export class UnknownModelError extends CacheError {
  readonly code = 'E_UNKNOWN_MODEL';
}

/** A version name that the strategy does not define. */
export class UnknownVersionError extends CacheError {
  readonly code = 'E_UNKNOWN_VERSION';
}

/** A primary key that does not match the model's declared pk type (a malformed id from a client). */
export class InvalidPkError extends CacheError {
  readonly code = 'E_INVALID_PK';
}

/** A serializer produced a value that cannot be stored as JSON (a `Date` without a codec, say). */
export class RecordEncodingError extends CacheError {
  readonly code = 'E_UNENCODABLE_VALUE';
}

/** A codec was given a value of the wrong kind, or a stored value it did not write. */
export class CodecError extends CacheError {
  readonly code = 'E_CODEC';
}

/** The store failed (unreachable, timed out, refused a command). Reads fall through to the database. */
export class StoreError extends CacheError {
  readonly code = 'E_STORE';
}

/** A model's `load` function threw or returned something that is not an iterable of entities. */
export class LoadError extends CacheError {
  readonly code = 'E_LOAD';
}

/** A library API was called with an option or argument it cannot accept. Thrown synchronously, at once. */
export class InvalidOptionError extends CacheError {
  readonly code = 'E_INVALID_OPTION';
}

/** The invalidation journal could not be written or read (its table is missing, the database failed). */
export class JournalError extends CacheError {
  readonly code = 'E_JOURNAL';
}

/** A cascade could not be handed to its runner (the background queue is closed, BullMQ failed). */
export class QueueError extends CacheError {
  readonly code = 'E_QUEUE';
}

/**
 * The operator CLI's `--config` module could not be used: not found, failed to import, or its
 * default export is not a config factory (see `graphql-cached-instances/cli`).
 */
export class CliConfigError extends CacheError {
  readonly code = 'E_CLI_CONFIG';
}

/**
 * Code → class, for every error this library throws: `errorCodes.E_STORE === StoreError`.
 * The README lists them.
 */
export const errorCodes = {
  E_STRATEGY_INVALID: StrategyDefinitionError,
  E_DUPLICATE_MODEL: DuplicateModelError,
  E_UNKNOWN_MODEL: UnknownModelError,
  E_UNKNOWN_VERSION: UnknownVersionError,
  E_INVALID_PK: InvalidPkError,
  E_UNENCODABLE_VALUE: RecordEncodingError,
  E_CODEC: CodecError,
  E_STORE: StoreError,
  E_LOAD: LoadError,
  E_INVALID_OPTION: InvalidOptionError,
  E_JOURNAL: JournalError,
  E_QUEUE: QueueError,
  E_CLI_CONFIG: CliConfigError,
} as const;

/** Stable error codes. */
export type CacheErrorCode = keyof typeof errorCodes;
