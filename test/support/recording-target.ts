import type { Ref } from '../../src/index.js';
import type { CacheUpdateTarget } from '../../src/mikro-orm/index.js';

/** One `update` call seen by a {@link RecordingTarget}. */
export interface RecordedUpdate {
  /** The refs, as `Model:pk` strings, sorted. */
  readonly refs: string[];
  readonly updateOnly: boolean | undefined;
  /** The last SQL statement executed before the call (to prove it came after COMMIT). */
  readonly after: string | undefined;
}

/** A real {@link CacheUpdateTarget} that records its calls and then forwards them (or not). */
export interface RecordingTarget extends CacheUpdateTarget {
  readonly calls: RecordedUpdate[];
  /** The refs of every call, flattened and sorted. */
  readonly refs: string[];
  reset(): void;
}

/** Formats refs as sorted `Model:pk` strings. */
export function formatRefs(refs: readonly Ref[]): string[] {
  return refs.map((ref) => `${ref.model}:${ref.pk}`).sort();
}

/**
 * Creates a recording target. `next` (an InstanceCache, say) receives every call after it was
 * recorded; `lastStatement` tells what SQL ran last; `modelNames` plays a strategy's model list.
 */
export function createRecordingTarget(
  options: {
    next?: CacheUpdateTarget;
    lastStatement?: () => string | undefined;
    modelNames?: readonly string[];
  } = {},
): RecordingTarget {
  const calls: RecordedUpdate[] = [];
  const strategy =
    options.next?.strategy ?? (options.modelNames ? { modelNames: options.modelNames } : undefined);
  return {
    calls,
    get refs() {
      return calls.flatMap((call) => call.refs).sort();
    },
    reset() {
      calls.length = 0;
    },
    ...(strategy ? { strategy } : {}),
    async update(refs, updateOptions) {
      calls.push({
        refs: formatRefs(refs),
        updateOnly: updateOptions?.updateOnly,
        after: options.lastStatement?.(),
      });
      return options.next?.update(refs, updateOptions);
    },
  };
}
