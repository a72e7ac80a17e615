/**
 * `invalidate <model> <pk…>`: the normal invalidation (`cache.invalidate`), for writes the ORM
 * hooks could not see (raw SQL, another service): each instance is reloaded and rewritten where it
 * changed, in every version, and the change cascades to what depends on it.
 */
import { Command } from 'commander';
import { normalizePk } from '../../strategy/pk.js';
import type { CliContext } from '../context.js';
import { formatCount, plural } from '../format.js';
import { collectList } from '../options.js';

interface InvalidateOptions {
  readonly version?: readonly string[];
  readonly updateOnly?: boolean;
}

/** The `invalidate` subcommand. */
export function invalidateCommand(context: CliContext): Command {
  return new Command('invalidate')
    .description(
      'refresh instances whose rows changed outside the ORM, and cascade (cache.invalidate): each is reloaded and rewritten where it changed, in every version',
    )
    .argument('<model>', 'the model name')
    .argument('<pk...>', 'one or more primary keys')
    .option(
      '--version <version>',
      'only this cache version (repeat, or comma-separate); default: every version',
      collectList,
    )
    .option(
      '--update-only',
      'do not load instances that are not cached: mark them invalidated and stop the cascade there',
    )
    .action((model: string, pks: string[], options: InvalidateOptions, command: Command) =>
      context.withConfig(command, async ({ cache, store }) => {
        const resolved = cache.strategy.model(model);
        // Checked before anything is touched: a bad pk or version changes nothing.
        const normalized = pks.map((pk) => normalizePk(pk, resolved.pkType, resolved.name));
        const versions = options.version?.map((version) => cache.strategy.checkVersion(version));
        for (const version of versions ?? []) cache.strategy.resolve(resolved.name, version);
        const started = performance.now();
        const summary = await cache.invalidate(resolved.name, normalized, {
          updateOnly: options.updateOnly ?? false,
          ...(versions ? { versions } : {}),
        });
        const ms = performance.now() - started;
        const text = [
          `invalidated ${plural(normalized.length, `${resolved.name} instance`)} in ${versions ? versions.join(', ') : 'every version'} (${plural(summary.levels, 'cascade level')}, ${Math.round(ms)} ms):`,
          `  ${plural(summary.refreshed, 'record')} rewritten, ${formatCount(summary.deleted)} now not found, ${formatCount(summary.unchanged)} unchanged, ${formatCount(summary.skipped)} not cached (skipped)`,
          ...(summary.failed > 0
            ? [
                `  ${plural(summary.failed, 'key')} could not be written (the store failed): run the command again once it answers`,
              ]
            : []),
          ...(store.shared ? [] : ['note: the store is process-local: other processes did not see this']),
        ].join('\n');
        context.print(command, text, {
          model: resolved.name,
          pks: normalized,
          versions: versions ?? null,
          ...summary,
        });
      }),
    );
}
