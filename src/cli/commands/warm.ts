/**
 * `warm`: loads every instance into the cache through the normal read path (`getInstances`, so
 * every fill is checked exactly as a request's would be), pks listed from the database in pk
 * order by keyset pagination, one batch at a time.
 */
import { Command } from 'commander';
import { type CacheStats, createStats } from '../../core/stats.js';
import { CliConfigError, InvalidOptionError, StoreError } from '../../errors.js';
import type { Pk } from '../../strategy/pk.js';
import type { CliContext, LoadedConfig } from '../context.js';
import { formatCount, formatDuration, plural } from '../format.js';
import { collectList, parsePositiveInt } from '../options.js';
import { createProgressReporter } from '../progress.js';

interface WarmOptions {
  readonly model?: readonly string[];
  readonly version?: readonly string[];
  readonly batch: number;
  readonly progressEvery: number;
}

/** One model and the versions it is warmed in. */
interface PlanEntry {
  readonly model: string;
  readonly versions: readonly string[];
}

/** What warming one model in one version did. */
interface WarmedVersion {
  readonly model: string;
  readonly version: string;
  /** Pks read (rows listed). */
  rows: number;
  /** Records that exist and are visible. */
  found: number;
  /** Pks that read as not found (deleted meanwhile, or hidden by the serializer). */
  notFound: number;
  readonly stats: CacheStats;
}

/** Which models in which versions: every readable model version, or those the options name. */
function planOf(config: LoadedConfig, options: WarmOptions): PlanEntry[] {
  const { strategy } = config.cache;
  const versions = options.version?.map((version) => strategy.checkVersion(version));
  const models = options.model ?? strategy.modelNames;
  const plan: PlanEntry[] = [];
  for (const name of models) {
    const model = strategy.model(name);
    const readable = [...model.versions.values()].filter((v) => v.serialize !== null).map((v) => v.version);
    const chosen = versions ? readable.filter((version) => versions.includes(version)) : readable;
    if (chosen.length > 0) plan.push({ model: model.name, versions: chosen });
    else if (options.model) {
      throw new InvalidOptionError(
        `warm: model "${model.name}" is stored in versions ${JSON.stringify(readable)}, none of ${JSON.stringify(versions)}`,
        { context: { model: model.name, option: 'version' } },
      );
    }
  }
  if (plan.length === 0) {
    throw new InvalidOptionError(`warm: no model is stored in versions ${JSON.stringify(versions)}`, {
      context: { option: 'version' },
    });
  }
  return plan;
}

async function warm(context: CliContext, command: Command, config: LoadedConfig, options: WarmOptions) {
  const { cache, pks } = config;
  const plan = planOf(config, options);
  if (!pks) {
    throw new CliConfigError(
      `config module ${config.path} has no pks source, which warm needs to list each model's rows: return { cache, pks: createMikroOrmPkSource(orm) } (or your own PkSource)`,
      { context: { option: 'config' } },
    );
  }
  if (!config.store.shared) {
    context.note(
      `note: the store is process-local (${config.store.kind}): what warm loads is gone when this command exits. Point the config at a shared store (Redis) for warm to be of use.`,
    );
  }
  const counts = await Promise.all(plan.map((entry) => pks.count(entry.model)));
  const total = plan.reduce((sum, entry, i) => sum + counts[i]! * entry.versions.length, 0);
  const progress = createProgressReporter({
    stream: context.io.stderr,
    title: 'warm',
    unit: 'records',
    every: options.progressEvery,
  });
  const warmed: WarmedVersion[] = [];
  const started = performance.now();
  let done = 0;
  let rows = 0;
  progress.start(total);
  try {
    for (const { model, versions } of plan) {
      const results = versions.map(
        (version): WarmedVersion => ({
          model,
          version,
          rows: 0,
          found: 0,
          notFound: 0,
          stats: createStats(),
        }),
      );
      warmed.push(...results);
      // Keyset pagination: the next page starts after the last pk of this one, so it is asked for
      // while this one loads.
      let page = pks.pksAfter(model, undefined, options.batch);
      for (;;) {
        const current = await page;
        if (current.length === 0) break;
        page =
          current.length < options.batch
            ? Promise.resolve([])
            : pks.pksAfter(model, current[current.length - 1] as Pk, options.batch);
        // Awaited on the next turn; a failure meanwhile must not be an unhandled rejection.
        page.catch(() => {});
        rows += current.length;
        await Promise.all(
          results.map(async (result) => {
            const records = await cache.getInstances(model, current, {
              version: result.version,
              stats: result.stats,
            });
            const missing = records.filter((record) => record === null).length;
            result.rows += current.length;
            result.notFound += missing;
            result.found += current.length - missing;
          }),
        );
        done += current.length * versions.length;
        progress.update(done, `${model}@${versions.join(',')}`);
        const failure = config.storeFailure();
        // Reads fall through to the database when the store fails: warming on would only load.
        if (failure) {
          throw new StoreError(
            `warm stopped at ${model} after ${formatCount(done)} of ${formatCount(total)} records: ${failure.message}`,
            { context: { model, operation: 'warm' }, cause: failure },
          );
        }
      }
    }
  } finally {
    progress.stop();
  }
  const ms = performance.now() - started;
  const rate = ms > 0 ? (done * 1000) / ms : 0;
  const width = Math.max(...warmed.map((w) => w.model.length));
  const lines = warmed.map(
    (w) =>
      `  ${w.model.padEnd(width)}  ${w.version}  ${formatCount(w.rows)} rows: ${formatCount(w.stats.misses)} loaded, ${formatCount(w.stats.hits)} already cached${w.notFound > 0 ? `, ${formatCount(w.notFound)} not found or hidden` : ''}`,
  );
  const versionsWarmed = new Set(warmed.map((w) => w.version));
  context.print(
    command,
    [
      `warmed ${plural(done, 'record')} (${plural(rows, 'row')}, ${plural(plan.length, 'model')}, ${plural(versionsWarmed.size, 'version')}) in ${formatDuration(ms)}: ${formatCount(Math.round(rate))} records/s`,
      ...lines,
      `store: ${config.store.label}`,
    ].join('\n'),
    {
      records: done,
      rows,
      models: plan.length,
      versions: [...versionsWarmed],
      seconds: Number((ms / 1000).toFixed(3)),
      recordsPerSecond: Math.round(rate),
      store: config.store,
      warmed: warmed.map(({ stats, ...w }) => ({
        ...w,
        loaded: stats.misses,
        cached: stats.hits,
        storeRoundTrips: stats.storeRoundTrips,
      })),
    },
  );
}

/** The `warm` subcommand. */
export function warmCommand(context: CliContext): Command {
  return new Command('warm')
    .description(
      "load every instance into the cache through the normal read path (getInstances): each model's pks are listed from the database in pk order (keyset pagination), batch by batch, in every version",
    )
    .option(
      '-m, --model <name>',
      'only this model (repeat, or comma-separate); default: every model',
      collectList,
    )
    .option(
      '--version <version>',
      'only this cache version (repeat, or comma-separate); default: every version each model is stored in',
      collectList,
    )
    .option(
      '-b, --batch <n>',
      'pks per batch: one getInstances call per batch and version',
      parsePositiveInt,
      500,
    )
    .option(
      '--progress-every <n>',
      'when stderr is not a terminal: one progress line every n batches (and one at the end)',
      parsePositiveInt,
      10,
    )
    .action((options: WarmOptions, command: Command) =>
      context.withConfig(command, (config) => warm(context, command, config, options)),
    );
}
