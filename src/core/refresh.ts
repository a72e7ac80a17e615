import type { Ref, ResolvedVersion } from '../strategy/define.js';
import { normalizePk, type Pk } from '../strategy/pk.js';
import { encodeEntry, GENERATION_SUFFIX, INITIAL_GENERATION, NOT_FOUND, readEntry } from './entry.js';
import type { UpdateSummary } from './instance-cache.js';
import type { CacheStats } from './stats.js';
import type { StoreEntry } from './store.js';

/** The parts of the cache a refresh uses. @internal */
export interface CacheInternals {
  readRaw(keys: readonly string[]): Promise<(string | undefined)[] | null>;
  writeGenerations(recordKeys: readonly string[]): Promise<string[] | null>;
  writeFills(entries: readonly StoreEntry[], stats?: CacheStats): Promise<void>;
  ttlFor(json: string): number | undefined;
  countLoad(stats?: CacheStats): void;
  report(error: unknown, operation: string): void;
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

interface Slot {
  target: RefreshTarget;
  version: ResolvedVersion;
  key: string;
  /** The valid cached JSON before the write; `undefined` for a miss (absent, stale, corrupt, unreadable). */
  current: string | undefined;
  /** The new generation, once written. */
  generation?: string;
}

/**
 * Refreshes one breadth-first level of an update and returns the refs of the next level.
 *
 *   1. read every record and generation of the level (one round trip);
 *   2. bump every key's generation (one round trip) — from here on, any fill that read the old
 *      generation, including one that loaded before the write committed, will never be served;
 *   3. load the instances (one `load` per model and load function), except misses of targets
 *      marked `updateOnly`;
 *   4. serialize, compare with the record read in step 1, fill stamped with the new generation
 *      (one round trip);
 *   5. for instances whose record changed or disappeared (a miss that was filled counts as
 *      changed; an invalidator-only model always counts), collect `invalidate(entity, previous)`.
 *      Refs named from a miss are marked `updateOnly`: with no previous record the invalidator
 *      can only name every current neighbour, and following their misses too would walk the
 *      whole connected graph on a cold cache. Cached neighbours are still refreshed, and a
 *      neighbour whose relation changed is named directly by the writer (the ORM subscriber).
 *
 * The load in step 3 happens after the bump in step 2 on purpose: of two concurrent refreshes of
 * one key, the one whose bump lands last also loads last, so the record stamped with the final
 * generation is never older than any commit that bumped before it.
 *
 * @internal
 */
export async function refreshLevel(
  cache: CacheInternals,
  targets: readonly RefreshTarget[],
  summary: UpdateSummary,
): Promise<{ refs: NextRef[] }> {
  const slots: Slot[] = [];
  for (const target of targets) {
    for (const version of target.versions) {
      slots.push({ target, version, key: version.keyPrefix + target.encodedPk, current: undefined });
    }
  }
  if (slots.length === 0) return { refs: [] };

  // 1. Current records, for change detection and for the invalidator's `previous`.
  const values = await cache.readRaw(slots.flatMap((slot) => [slot.key, slot.key + GENERATION_SUFFIX]));
  if (values) {
    slots.forEach((slot, i) => {
      const entry = values[2 * i];
      if (entry === undefined) return;
      const json = readEntry(entry, values[2 * i + 1] ?? INITIAL_GENERATION);
      if (typeof json === 'string') slot.current = json;
    });
  }

  // 2. New generations. When they cannot be written, the cache retries them in the background and
  // meanwhile serves those keys from the database; filling now would be pointless.
  const generations = await cache.writeGenerations(slots.map((slot) => slot.key));
  if (generations) {
    slots.forEach((slot, i) => {
      slot.generation = generations[i];
    });
  }

  // 3. Load, one call per distinct load function, skipping misses of updateOnly targets.
  const needsLoad = (slot: Slot) =>
    !slot.target.updateOnly || slot.current !== undefined || slot.version.serialize === null;
  const byLoader = new Map<ResolvedVersion['load'], { version: ResolvedVersion; pks: Set<Pk> }>();
  for (const slot of slots) {
    if (!needsLoad(slot)) continue;
    const group = byLoader.get(slot.version.load) ?? { version: slot.version, pks: new Set<Pk>() };
    group.pks.add(slot.target.pk);
    byLoader.set(slot.version.load, group);
  }
  const loaded = new Map<ResolvedVersion['load'], Map<Pk, unknown>>();
  await Promise.all(
    [...byLoader].map(async ([load, { version, pks }]) => {
      loaded.set(load, await loadEntities(cache, version, [...pks]));
    }),
  );

  // 4 and 5. Serialize, compare, fill; collect the next level.
  const fills: StoreEntry[] = [];
  const refs: NextRef[] = [];
  for (const slot of slots) {
    if (!needsLoad(slot)) {
      summary.skipped += 1;
      continue;
    }
    const entity = loaded.get(slot.version.load)!.get(slot.target.pk) ?? null;
    const { serialize, codec } = slot.version;
    let changed: boolean;
    if (serialize === null) {
      changed = true;
    } else {
      const record = entity === null ? null : serialize(entity);
      const json = record === null ? NOT_FOUND : codec.encode(record);
      changed = json !== slot.current;
      if (!changed) summary.unchanged += 1;
      else if (json === NOT_FOUND && slot.current !== undefined) summary.deleted += 1;
      else summary.refreshed += 1;
      if (slot.generation !== undefined) {
        fills.push({ key: slot.key, value: encodeEntry(slot.generation, json), ttl: cache.ttlFor(json) });
      }
    }
    if (!changed) continue;
    try {
      const previous =
        slot.target.previous !== undefined
          ? slot.target.previous
          : slot.current === undefined || slot.current === NOT_FOUND
            ? null
            : slot.version.codec.decode(slot.current);
      const known = slot.target.previous !== undefined || slot.current !== undefined;
      const updateOnly = slot.target.updateOnly || !known;
      for (const ref of slot.version.invalidate(entity, previous))
        refs.push({ model: ref.model, pk: ref.pk, updateOnly });
    } catch (error) {
      cache.report(error, `invalidate ${slot.version.model}@${slot.version.version}`);
    }
  }
  await cache.writeFills(fills);
  return { refs };
}

/** Calls a model version's `load` once for `pks` and indexes the entities by normalised pk. */
export async function loadEntities(
  cache: Pick<CacheInternals, 'countLoad'>,
  version: ResolvedVersion,
  pks: readonly Pk[],
  stats?: CacheStats,
): Promise<Map<Pk, unknown>> {
  cache.countLoad(stats);
  const loaded = await version.load(pks, { model: version.model, version: version.version });
  const byPk = new Map<Pk, unknown>();
  for (const entity of loaded) {
    if (entity === null || entity === undefined) continue;
    byPk.set(normalizePk(version.pkOf(entity), version.pkType, version.model), entity);
  }
  return byPk;
}
