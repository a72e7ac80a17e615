/**
 * `drop-version <version>`: deletes every key of one cache version (`cache.dropVersion`), for
 * retiring a schema version. Asks first on a terminal, unless `--yes`; refuses without `--yes`
 * when it cannot ask.
 */
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { plural } from '../format.js';
import { storedKeyName } from '../store-info.js';
import { storeCall } from './store-call.js';

/** Asks `question` on the terminal; true for y / yes. */
async function confirm(context: CliContext, question: string): Promise<boolean> {
  const prompt = createInterface({
    input: context.io.stdin,
    output: context.io.stderr as NodeJS.WritableStream,
    terminal: false,
  });
  try {
    const answer = await prompt.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/** The `drop-version` subcommand. */
export function dropVersionCommand(context: CliContext): Command {
  return new Command('drop-version')
    .description(
      'delete every key of one cache version (records, markers, cached lists): for retiring a version nothing serves any more',
    )
    .argument('<version>', 'the cache version')
    .option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .action((version: string, options: { yes?: boolean }, command: Command) =>
      context.withConfig(command, async ({ cache, store }) => {
        const prefix = cache.strategy.versionPrefix(version);
        const where = `key matching ${storedKeyName(cache.store, prefix)}* in ${store.label}`;
        if (!options.yes) {
          if (context.io.stdin.isTTY !== true) {
            throw new InvalidOptionError(
              `drop-version: stdin is not a terminal, so there is no one to confirm: pass --yes to delete every ${where}`,
              { context: { version, option: 'yes' } },
            );
          }
          const others = cache.strategy.versions.filter((v) => v !== version);
          const sure = await confirm(
            context,
            `Delete every ${where} (cache version ${version})?\nServers still reading ${version} will load from the database until they fill it again${others.length > 0 ? `; ${others.join(', ')} keep their keys` : ''}. [y/N] `,
          );
          if (!sure) {
            context.note('not dropped');
            context.exitCode = 1;
            return;
          }
        }
        const deleted = await storeCall('drop-version', () => cache.dropVersion(version));
        context.print(
          command,
          `dropped cache version ${version}: ${plural(deleted, 'key')} deleted (${store.label})${store.shared ? '' : '\nnote: the store is process-local: only this process’s (empty) store was dropped'}`,
          { version, deleted, store },
        );
      }),
    );
}
