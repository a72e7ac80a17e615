/**
 * Stable error codes. Tests and callers match on `code`, never on message text.
 */
export type CacheErrorCode =
  | 'E_STRATEGY_INVALID'
  | 'E_DUPLICATE_MODEL'
  | 'E_UNKNOWN_MODEL'
  | 'E_UNKNOWN_VERSION'
  | 'E_INVALID_PK'
  | 'E_UNENCODABLE_VALUE'
  | 'E_CODEC'
  | 'E_STORE'
  | 'E_LOAD';

/** Context fields carried by a {@link CacheError}: which model, version, pk or field it concerns. */
export interface CacheErrorContext {
  model?: string;
  version?: string;
  pk?: unknown;
  field?: string;
}

/**
 * Base class of every error this library throws. `code` is stable across releases; `message`
 * names the API, the bad value and the fix; `cause` holds the underlying error, if any.
 */
export class CacheError extends Error {
  /** The stable error code (`E_…`). */
  readonly code: CacheErrorCode;
  /** What the error concerns (model, version, pk, field), where known. */
  readonly context: CacheErrorContext;

  constructor(
    code: CacheErrorCode,
    message: string,
    options: { context?: CacheErrorContext; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** A strategy definition is malformed (missing function, bad name, bad pk type, unknown default version). */
export class StrategyDefinitionError extends CacheError {}

/** A model name that the strategy (or the version asked for) does not define. */
export class UnknownModelError extends CacheError {
  constructor(message: string, context: CacheErrorContext) {
    super('E_UNKNOWN_MODEL', message, { context });
  }
}

/** A version name that the strategy does not define. */
export class UnknownVersionError extends CacheError {
  constructor(message: string, context: CacheErrorContext) {
    super('E_UNKNOWN_VERSION', message, { context });
  }
}

/** A primary key that does not match the model's declared pk type (a malformed id from a client, say). */
export class InvalidPkError extends CacheError {
  constructor(message: string, context: CacheErrorContext) {
    super('E_INVALID_PK', message, { context });
  }
}

/** A serializer produced a value that cannot be stored as JSON without a codec (a Date, a BigInt, …). */
export class RecordEncodingError extends CacheError {}
