/**
 * `stats`: what the cache can report without touching any record: the store (kind, Redis version,
 * memory, eviction policy), the strategy (versions, models, definition tags), and key counts per
 * version and model, from one SCAN pass (never KEYS) where the store can list its keys (Redis).
 */
import { Command } from 'commander';
import { GENERATION_SUFFIX } from '../../core/entry.js';
import type { CliContext, LoadedConfig } from '../context.js';
import { formatCount } from '../format.js';
import { redisInfo, scanKeys } from '../store-info.js';
import { storeCall } from './store-call.js';

/** Keys of one model in one version, by kind. */
interface KeyCounts {
  version: string;
  model: string;
  /** Record keys (records, "not found" entries and markers: one per instance read). */
  instances: number;
  /** Cached root lists (entries and their generation). */
  lists: number;
  /** Generation entries of a store checked at read (`…:g`). */
  generations: number;
}

async function countKeys(config: LoadedConfig) {
  const { strategy } = config.cache;
  const prefix = `${strategy.namespace}:`;
  const counts = new Map<string, KeyCounts>();
  const scanned = await scanKeys(config.cache.store, prefix, (key) => {
    const rest = key.slice(prefix.length);
    const versionEnd = rest.indexOf(':');
    const modelEnd = rest.indexOf(':', versionEnd + 1);
    if (versionEnd < 0 || modelEnd < 0) return;
    const version = rest.slice(0, versionEnd);
    const model = rest.slice(versionEnd + 1, modelEnd);
    const tail = rest.slice(modelEnd + 1);
    const id = `${version}\n${model}`;
    let entry = counts.get(id);
    if (!entry) {
      entry = { version, model, instances: 0, lists: 0, generations: 0 };
      counts.set(id, entry);
    }
    if (tail.startsWith('~list')) entry.lists += 1;
    else if (tail.endsWith(GENERATION_SUFFIX)) entry.generations += 1;
    else entry.instances += 1;
  });
  if (scanned === undefined) return undefined;
  const known = (c: KeyCounts) =>
    strategy.versions.includes(c.version) && strategy.modelNames.includes(c.model);
  const order = (c: KeyCounts) =>
    `${strategy.versions.indexOf(c.version)}\n${strategy.modelNames.indexOf(c.model)}`;
  const all = [...counts.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  return { scanned, known: all.filter(known), unknown: all.filter((c) => !known(c)) };
}

async function stats(context: CliContext, command: Command, config: LoadedConfig) {
  const { cache, store } = config;
  const { strategy } = cache;
  const [info, keys] = await storeCall('stats', () =>
    Promise.all([redisInfo(cache.store), countKeys(config)]),
  );
  const models = strategy.modelNames.map((name) => {
    const model = strategy.model(name);
    return {
      model: name,
      pk: model.pkType,
      versions: [...model.versions.values()].map((v) => ({
        version: v.version,
        tag: v.recordTag,
        stored: v.serialize !== null,
        lists: v.listFields !== null,
      })),
    };
  });
  const lines = [
    `store: ${store.label}, fills checked at ${store.checks}`,
    ...(info ?? []).map(
      (node) =>
        `  redis ${node.version}, used memory ${node.usedMemory}, maxmemory-policy ${node.maxmemoryPolicy}`,
    ),
    `strategy: namespace "${strategy.namespace}", versions ${strategy.versions.join(', ')} (default ${strategy.defaultVersion})`,
    ...models.map(
      (m) =>
        `  ${m.model} (${m.pk} pk): ${m.versions.map((v) => `${v.version} ${v.stored ? v.tag : 'invalidator-only'}${v.lists ? ' +lists' : ''}`).join(', ')}`,
    ),
  ];
  if (keys === undefined) {
    lines.push(
      store.shared
        ? 'keys: this store cannot list its keys (only the Redis store can)'
        : 'keys: none here: the store is process-local, and this process just started',
    );
  } else {
    const width = Math.max(
      5,
      ...keys.known.map((c) => c.model.length),
      ...keys.unknown.map((c) => c.model.length),
    );
    lines.push(`keys (one SCAN pass over ${formatCount(keys.scanned)} keys):`);
    lines.push(
      `  ${'version'.padEnd(8)} ${'model'.padEnd(width)} ${'instances'.padStart(10)} ${'lists'.padStart(6)}`,
    );
    for (const c of keys.known) {
      lines.push(
        `  ${c.version.padEnd(8)} ${c.model.padEnd(width)} ${formatCount(c.instances).padStart(10)} ${formatCount(c.lists).padStart(6)}`,
      );
    }
    if (keys.known.length === 0) lines.push('  (none)');
    for (const c of keys.unknown) {
      lines.push(
        `  ${c.version.padEnd(8)} ${c.model.padEnd(width)} ${formatCount(c.instances + c.lists + c.generations).padStart(10)}  not in the strategy (a retired version or model? drop-version deletes a version)`,
      );
    }
  }
  context.print(command, lines.join('\n'), {
    store,
    redis: info ?? null,
    strategy: {
      namespace: strategy.namespace,
      versions: strategy.versions,
      defaultVersion: strategy.defaultVersion,
      models,
    },
    keys: keys ?? null,
  });
}

/** The `stats` subcommand. */
export function statsCommand(context: CliContext): Command {
  return new Command('stats')
    .description(
      'show the store, the strategy (versions, models, definition tags) and key counts per version and model (Redis: one SCAN pass)',
    )
    .action((_options: object, command: Command) =>
      context.withConfig(command, (config) => stats(context, command, config)),
    );
}
