import { StoreError } from '../errors.js';
import type { AppKeyRef, Ref, ResolvedVersion } from '../strategy/define.js';
import { normalizePk, type Pk } from '../strategy/pk.js';
import { NOT_FOUND, tagRecord, untagRecord } from './entry.js';
import type { RefreshWrite, StoreProtocol } from './protocol.js';
import type { CacheStats } from './stats.js';

/** What one breadth-first level of an update needs from the cache. @internal */
export interface RefreshContext {
  readonly protocol: StoreProtocol;
  /** Calls a model version's `load` once (counted) and indexes the entities by pk. */
  load(version: ResolvedVersion, pks: readonly Pk[], stats?: CacheStats): Promise<Map<Pk, unknown>>;
  /** The TTL of a record fill. */
  ttlFor(json: string): number | undefined;
  report(error: unknown, operation: string): void;
  /** These keys could not be invalidated in the store: retry, and meanwhile read them from the database. */
  markPending(keys: readonly string[]): void;
  /** These keys were written or invalidated in the store (for this process's L1). */
  written(keys: readonly string[]): void;
  /** The store's `connectionEpoch` now (`undefined` for a store without one). */
  connectionEpoch(): number | undefined;
}

/** One instance to refresh, in the versions chosen for it. @internal */
export interface RefreshTarget {
  /** `{Model}:{encoded pk}`, the visited-set identity. */
  readonly id: string;
  readonly model: string;
  readonly pk: Pk;
  readonly encodedPk: string;
  readonly versions: readonly ResolvedVersion[];
  /** The record before the write, when the caller knows it better than the cache. */
  readonly previous?: object | null;
  /** Leave this instance alone where it is not cached (no load, no fill, no cascade). */
  readonly updateOnly: boolean;
}

/** A ref of the next level, with how to refresh it. @internal */
export interface NextRef extends Ref {
  readonly updateOnly: boolean;
}

/** How one level of an update runs. @internal */
export interface LevelOptions {
  /** The store's `connectionEpoch` when the update began. Default: read when the level begins. */
  readonly epoch?: number | undefined;
  /** See `UpdateOptions.resume`. */
  readonly resume?: boolean;
}

/** What one level counted, for the caller's summary. @internal */
export interface LevelCounts {
  refreshed: number;
  deleted: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

interface Slot {
  readonly target: RefreshTarget;
  readonly version: ResolvedVersion;
  readonly key: string;
  /** The valid cached JSON before the write; `undefined` for a miss (absent, stale, corrupt, unreadable). */
  current: string | undefined;
  /** What the refresh writes against (see `protocol.ts`); `undefined`: nothing may be written. */
  stamp: string | undefined;
}

/** The key under which a model version's cached lists are invalidated together. @internal */
export function listGenerationKey(version: ResolvedVersion): string {
  return `${version.keyPrefix}~lists`;
}

/**
 * Refreshes one breadth-first level of an update and returns the refs of the next level.
 *
 *   1. begin: find every record of the level and claim the keys for this refresh (one round
 *      trip; a store checked at read reads, then bumps every generation: two). From here on no
 *      fill stamped earlier, and no refresh begun earlier, can write these keys;
 *   2. load the instances (one `load` per model and load function), except misses of targets
 *      marked `updateOnly`;
 *   3. serialize, compare with the record found in step 1, and write what changed and the list
 *      generations of models whose lists this level changed (one round trip; none when nothing
 *      changed). Unchanged records are not written;
 *   4. for instances whose record changed or disappeared (a miss that was loaded counts as
 *      changed; an invalidator-only model always counts), collect `invalidate(entity, previous)`.
 *      Refs named from a miss are marked `updateOnly`: with no previous record the invalidator can
 *      only name every current neighbour, and following their misses too would walk the whole
 *      connected graph on a cold cache. Cached neighbours are still refreshed, and a neighbour
 *      whose relation changed is named directly by the writer (the ORM subscriber).
 *
 * Step 1 comes before step 2 on purpose (see `protocol.ts`): of two concurrent refreshes of one
 * key, only the one that began last — and so loaded last — can write.
 *
 * A failed load invalidates the level's keys of that load (nothing loaded before the write may
 * stay servable) and rejects. A failed store write marks its keys pending (retried; meanwhile
 * this process reads them from the database).
 *
 * @internal
 */
export async function refreshLevel(
  ctx: RefreshContext,
  targets: readonly RefreshTarget[],
  counts: LevelCounts,
  options: LevelOptions = {},
): Promise<{ refs: NextRef[]; appKeys: string[] }> {
  const slots: Slot[] = [];
  for (const target of targets) {
    for (const version of target.versions) {
      slots.push({
        target,
        version,
        key: version.keyPrefix + target.encodedPk,
        current: undefined,
        stamp: undefined,
      });
    }
  }
  if (slots.length === 0) return { refs: [], appKeys: [] };
  // Invalidator-only models have no records: they are loaded, never stored.
  const stored = slots.filter((slot) => slot.version.serialize !== null);
  const keys = stored.map((slot) => slot.key);

  // 1. Begin: current records (for change detection and the invalidator's `previous`), and
  //    the keys claimed for this refresh.
  let writable = true;
  let invalidated: readonly string[] = [];
  const epoch = 'epoch' in options ? options.epoch : ctx.connectionEpoch();
  try {
    const start = await ctx.protocol.beginRefresh(
      keys,
      stored.map((slot) => !slot.target.updateOnly),
    );
    stored.forEach((slot, i) => {
      const current = start.current[i];
      // A record another definition of the model wrote is no previous state of this one.
      slot.current = current === undefined ? undefined : untagRecord(slot.version.recordTag, current);
      slot.stamp = start.stamps[i];
    });
    invalidated = start.invalidated;
  } catch (error) {
    // The store is unreachable: nothing can be written now. Retry the invalidations later; the
    // loads below still run, because the cascade needs the new state.
    ctx.report(error, 'update');
    ctx.markPending(keys);
    counts.failed += keys.length;
    writable = false;
  }

  // 2. Load, one call per distinct load function, skipping misses of updateOnly targets.
  const needsLoad = (slot: Slot) =>
    !slot.target.updateOnly || slot.current !== undefined || slot.version.serialize === null;
  const byLoader = new Map<
    ResolvedVersion['load'],
    { version: ResolvedVersion; pks: Set<Pk>; keys: string[] }
  >();
  for (const slot of slots) {
    if (!needsLoad(slot)) continue;
    const group = byLoader.get(slot.version.load) ?? { version: slot.version, pks: new Set<Pk>(), keys: [] };
    group.pks.add(slot.target.pk);
    if (slot.version.serialize !== null) group.keys.push(slot.key);
    byLoader.set(slot.version.load, group);
  }
  const loaded = new Map<ResolvedVersion['load'], Map<Pk, unknown>>();
  const failures: unknown[] = [];
  const failedKeys: string[] = [];
  await Promise.all(
    [...byLoader].map(async ([load, { version, pks, keys: groupKeys }]) => {
      try {
        loaded.set(load, await ctx.load(version, [...pks]));
      } catch (error) {
        failures.push(error);
        failedKeys.push(...groupKeys);
      }
    }),
  );
  if (failures.length > 0) {
    if (writable) await invalidateOrPend(ctx, failedKeys);
    throw failures[0];
  }

  // 3 and 4. Serialize, compare, write; collect the next level.
  const writes: RefreshWrite[] = [];
  const lists = new Set<string>();
  const refs: NextRef[] = [];
  const appKeys: string[] = [];
  // What this level did, added to `counts` only once its writes landed: a key whose write failed
  // is counted as failed, and as nothing else.
  const done = { refreshed: 0, deleted: 0, unchanged: 0, skipped: 0 };
  for (const slot of slots) {
    if (!needsLoad(slot)) {
      done.skipped += 1;
      continue;
    }
    const entity = loaded.get(slot.version.load)!.get(slot.target.pk) ?? null;
    const { serialize, codec } = slot.version;
    let changed = true;
    if (serialize !== null) {
      const record = entity === null ? null : serialize(entity);
      const json = record === null ? NOT_FOUND : codec.encode(record);
      changed = json !== slot.current;
      if (!changed) done.unchanged += 1;
      else if (json === NOT_FOUND && slot.current !== undefined) done.deleted += 1;
      else done.refreshed += 1;
      writes.push({
        key: slot.key,
        stamp: slot.stamp,
        json: tagRecord(slot.version.recordTag, json),
        changed,
        ttl: ctx.ttlFor(json),
      });
      if (changed && listsChanged(slot.version, slot.current, json))
        lists.add(listGenerationKey(slot.version));
    }
    // A resumed refresh follows unchanged instances too: an interrupted run may have written this
    // level and died before the next.
    if (!changed && !options.resume) continue;
    try {
      const previous =
        slot.target.previous !== undefined
          ? slot.target.previous
          : slot.current === undefined || slot.current === NOT_FOUND
            ? null
            : slot.version.codec.decode(slot.current);
      const known = slot.target.previous !== undefined || slot.current !== undefined;
      const updateOnly = slot.target.updateOnly || !known || (options.resume === true && !changed);
      for (const ref of slot.version.invalidate(entity, previous)) {
        if (isAppKeyRef(ref)) appKeys.push(ref.key);
        else refs.push({ model: ref.model, pk: ref.pk, updateOnly });
      }
    } catch (error) {
      ctx.report(error, `invalidate ${slot.version.model}@${slot.version.version}`);
    }
  }
  if (writable) {
    try {
      const written = new Set([...invalidated, ...(await ctx.protocol.finishRefresh(writes, [...lists]))]);
      if (written.size > 0) ctx.written([...written]);
      if (ctx.connectionEpoch() !== epoch) {
        // The store's connection was established again since the update began: what was begun or
        // written before may be gone (a restarted, restored or failed-over server). Invalidate
        // these keys once more and report the level failed, so that a journal entry stays to be
        // applied again.
        ctx.report(
          new StoreError(
            'the store reconnected during a refresh: its keys are invalidated again and the refresh counts as failed',
          ),
          'update',
        );
        ctx.markPending([...keys, ...lists]);
        counts.failed += keys.length + lists.size;
      } else {
        addDone(counts, done);
      }
    } catch (error) {
      ctx.report(error, 'update');
      ctx.markPending([...keys, ...lists]);
      counts.failed += keys.length + lists.size;
    }
  } else if (lists.size > 0) {
    ctx.markPending([...lists]);
  }
  return { refs, appKeys };
}

function addDone(counts: LevelCounts, done: Omit<LevelCounts, 'failed'>): void {
  counts.refreshed += done.refreshed;
  counts.deleted += done.deleted;
  counts.unchanged += done.unchanged;
  counts.skipped += done.skipped;
}

async function invalidateOrPend(ctx: RefreshContext, keys: readonly string[]): Promise<void> {
  try {
    await ctx.protocol.invalidate(keys);
    ctx.written(keys);
  } catch (error) {
    ctx.report(error, 'update');
    ctx.markPending(keys);
  }
}

function isAppKeyRef(ref: Ref | AppKeyRef): ref is AppKeyRef {
  return typeof (ref as AppKeyRef).key === 'string' && (ref as Partial<Ref>).model === undefined;
}

/**
 * Whether a changed record changes the model's cached lists: it appeared, disappeared, or one of
 * the version's `listFields` differs.
 */
function listsChanged(version: ResolvedVersion, before: string | undefined, after: string): boolean {
  const fields = version.listFields;
  if (fields === null) return false;
  if (fields === 'all' || before === undefined || before === NOT_FOUND || after === NOT_FOUND) return true;
  const a = JSON.parse(before) as Record<string, unknown>;
  const b = JSON.parse(after) as Record<string, unknown>;
  return fields.some((field) => JSON.stringify(a[field]) !== JSON.stringify(b[field]));
}

/** Calls a model version's `load` once for `pks` and indexes the entities by normalised pk. @internal */
export async function loadEntities(version: ResolvedVersion, pks: readonly Pk[]): Promise<Map<Pk, unknown>> {
  const loaded = await version.load(pks, { model: version.model, version: version.version });
  const byPk = new Map<Pk, unknown>();
  for (const entity of loaded) {
    if (entity === null || entity === undefined) continue;
    byPk.set(normalizePk(version.pkOf(entity), version.pkType, version.model), entity);
  }
  return byPk;
}
