/**
 * `inspect <model> <pk>`: what the store holds for one instance in each version — the record (and
 * whether the running definition wrote it), a marker left by an invalidation, a refresh token,
 * the generation (stores checked at read) — and each key's TTL. Reads only.
 */
import { Command } from 'commander';
import { GENERATION_SUFFIX, MARKER_PREFIX, NOT_FOUND, RECORD_PREFIX, TAG_LENGTH } from '../../core/entry.js';
import type { ResolvedVersion } from '../../strategy/define.js';
import { normalizePk } from '../../strategy/pk.js';
import type { CliContext, LoadedConfig } from '../context.js';
import { formatDuration } from '../format.js';
import { collectList } from '../options.js';
import { storedKeyName, ttlsOf } from '../store-info.js';
import { storeCall } from './store-call.js';

/** What one version's key holds. */
export interface InspectedKey {
  readonly version: string;
  /** The cache key, and the key as the store holds it (with the Redis namespace). */
  readonly key: string;
  readonly storedKey: string;
  /**
   * `record`: a record of the running definition; `not-found`: the cached "no such instance";
   * `marker`: invalidated, the next read loads and fills; `absent`: nothing (never read,
   * expired, dropped); `other-definition`: a record another deploy wrote (reads as a miss);
   * `stale`: stamped with an older generation (checked at read; reads as a miss); `corrupt`:
   * not written by this library; `not-stored`: the model is invalidator-only in this version.
   */
  readonly state:
    | 'record'
    | 'not-found'
    | 'marker'
    | 'absent'
    | 'other-definition'
    | 'stale'
    | 'corrupt'
    | 'not-stored';
  /** Remaining TTL in ms, `'none'` for no expiry, `'unknown'` when the store cannot tell. */
  readonly ttl: number | 'none' | 'unknown';
  /** The record's definition tag, and the running definition's. */
  readonly tag?: string;
  readonly currentTag: string;
  /** The refresh token a record carries while a refresh is under way. */
  readonly token?: string;
  /** A marker's generation, or the generation entry (checked at read). */
  readonly generation?: string;
  /** The stored record's JSON, parsed (codec-encoded: dates are strings). */
  readonly record?: unknown;
}

interface Parsed {
  state: InspectedKey['state'];
  tag?: string;
  token?: string;
  generation?: string;
  json?: string;
}

/** Splits a stored record text: `#tag[@token\n]json`. */
function parseRecord(text: string, version: ResolvedVersion): Parsed {
  const tag = text.slice(0, TAG_LENGTH);
  let rest = text.slice(TAG_LENGTH);
  let token: string | undefined;
  if (rest.startsWith('@')) {
    const newline = rest.indexOf('\n');
    if (newline < 0) return { state: 'corrupt', tag };
    token = rest.slice(1, newline);
    rest = rest.slice(newline + 1);
  }
  if (tag !== version.recordTag) return { state: 'other-definition', tag, token, json: rest };
  if (rest === NOT_FOUND) return { state: 'not-found', tag, token };
  try {
    version.codec.decode(rest);
  } catch {
    return { state: 'corrupt', tag, token, json: rest };
  }
  return { state: 'record', tag, token, json: rest };
}

function parseWriteChecked(value: string | undefined, version: ResolvedVersion): Parsed {
  if (value === undefined) return { state: 'absent' };
  if (value.startsWith(MARKER_PREFIX)) return { state: 'marker', generation: value.slice(1) };
  if (value.startsWith(RECORD_PREFIX)) return parseRecord(value, version);
  return { state: 'corrupt' };
}

function parseReadChecked(
  entry: string | undefined,
  generation: string | undefined,
  version: ResolvedVersion,
): Parsed {
  if (entry === undefined)
    return generation === undefined ? { state: 'absent' } : { state: 'marker', generation };
  const newline = entry.indexOf('\n');
  if (newline <= 0) return { state: 'corrupt', generation };
  const parsed = parseRecord(entry.slice(newline + 1), version);
  // Without a generation entry, or under an older one, the record is not served.
  if (generation === undefined || entry.slice(0, newline) !== generation)
    return { ...parsed, state: 'stale', generation };
  return { ...parsed, generation };
}

async function inspect(
  config: LoadedConfig,
  model: string,
  pk: string,
  versions: readonly string[] | undefined,
) {
  const { cache } = config;
  const resolved = cache.strategy.model(model);
  const chosen = versions
    ? versions.map((version) => cache.strategy.resolve(resolved.name, version))
    : [...resolved.versions.values()];
  const keys = chosen.map((version) => cache.keyOf(resolved.name, pk, version.version));
  const checksAtWrite = cache.store.apply !== undefined;
  const [values, ttls] = await storeCall(
    'inspect',
    async () =>
      [
        await cache.store.getMany(
          checksAtWrite ? keys : keys.flatMap((key) => [key, key + GENERATION_SUFFIX]),
        ),
        await ttlsOf(cache.store, keys),
      ] as const,
  );
  return chosen.map((version, i): InspectedKey => {
    const parsed =
      version.serialize === null
        ? { state: 'not-stored' as const }
        : checksAtWrite
          ? parseWriteChecked(values[i], version)
          : parseReadChecked(values[2 * i], values[2 * i + 1], version);
    const ttl = ttls[i];
    return {
      version: version.version,
      key: keys[i]!,
      storedKey: storedKeyName(cache.store, keys[i]!),
      state: parsed.state,
      ttl: ttl === undefined || ttl === 'absent' ? 'unknown' : ttl === null ? 'none' : ttl,
      currentTag: version.recordTag,
      ...(parsed.tag === undefined ? {} : { tag: parsed.tag }),
      ...(parsed.token === undefined ? {} : { token: parsed.token }),
      ...(parsed.generation === undefined ? {} : { generation: parsed.generation }),
      ...(parsed.json === undefined ? {} : { record: JSON.parse(parsed.json) as unknown }),
    };
  });
}

/** Indented JSON with lists of plain values on one line (`"choiceIds": [25, 26, 27]`). */
function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    /\[\s+([^[\]{}]*?)\s+\]/g,
    (_, items: string) => `[${items.replace(/,\s+/g, ', ')}]`,
  );
}

const STATES: Record<InspectedKey['state'], string> = {
  record: 'record',
  'not-found': 'not found (the cached "no such instance, or hidden")',
  marker: 'marker: invalidated; the next read loads and fills it',
  absent: 'absent: never read, expired or dropped; the next read loads and fills it',
  'other-definition': 'record of another definition (another deploy): reads as a miss and is overwritten',
  stale: 'record under an older generation: reads as a miss and is overwritten',
  corrupt: 'not written by this library: reads as a miss and is overwritten',
  'not-stored': 'not stored: the model is invalidator-only in this version',
};

function describe(model: string, pk: string, keys: readonly InspectedKey[], shared: boolean): string {
  const lines = [`${model} ${pk}`];
  for (const key of keys) {
    const ttl =
      key.ttl === 'unknown'
        ? 'TTL unknown'
        : key.ttl === 'none'
          ? 'no TTL'
          : `TTL ${formatDuration(key.ttl)}`;
    lines.push(`  ${key.version}: ${STATES[key.state]}`);
    lines.push(
      `    key ${key.storedKey}${key.state === 'absent' || key.state === 'not-stored' ? '' : `, ${ttl}`}`,
    );
    if (key.tag !== undefined) {
      lines.push(
        `    tag ${key.tag}${key.tag === key.currentTag ? ' (this definition)' : `, this definition's is ${key.currentTag}`}`,
      );
    }
    if (key.token !== undefined)
      lines.push(
        `    refresh token ${key.token}: a refresh began and has not rewritten it (unchanged, or still running)`,
      );
    if (key.generation !== undefined) lines.push(`    generation ${key.generation}`);
    if (key.record !== undefined)
      lines.push(
        ...pretty(key.record)
          .split('\n')
          .map((line) => `    ${line}`),
      );
  }
  if (!shared) lines.push('note: the store is process-local: a new process starts with it empty');
  return lines.join('\n');
}

/** The `inspect` subcommand. */
export function inspectCommand(context: CliContext): Command {
  return new Command('inspect')
    .description(
      'show what the store holds for one instance in each version: record, marker or nothing, its definition tag, refresh token, generation and TTL',
    )
    .argument('<model>', 'the model name')
    .argument('<pk>', 'the primary key')
    .option(
      '--version <version>',
      'only this cache version (repeat, or comma-separate); default: every version of the model',
      collectList,
    )
    .action((model: string, pk: string, options: { version?: string[] }, command: Command) =>
      context.withConfig(command, async (config) => {
        const keys = await inspect(config, model, pk, options.version);
        const resolved = config.cache.strategy.model(model);
        const normalized = normalizePk(pk, resolved.pkType, resolved.name);
        context.print(command, describe(resolved.name, pk, keys, config.store.shared), {
          model: resolved.name,
          pk: normalized,
          versions: keys,
        });
      }),
    );
}
