/**
 * `npm run bench [-- options]` — see bench/README.md.
 *
 * A launcher: it runs bench/main.ts in a child Node process with
 * - `--expose-gc`, so a full GC can run before every timed chunk (one contestant's garbage is then
 *   not collected on another's clock), and
 * - NODE_ENV=production unless NODE_ENV is set: graphql-js reads it once, at import, and outside
 *   production every `instanceOf` check also inspects `Symbol.toStringTag` (about 1.7× slower on
 *   the floor); production servers run with it.
 * The child's exit code is the launcher's. SIGINT/SIGTERM reach the child, which cleans up (drops
 * its databases, deletes its Redis keys) before exiting.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = spawn(
  process.execPath,
  [
    '--expose-gc',
    '--import',
    import.meta.resolve('tsx'),
    fileURLToPath(new URL('./main.ts', import.meta.url)),
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'production' } },
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A terminal's Ctrl-C reaches the child too; forwarding is for a signal sent to this process only.
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
