/**
 * `npm run bench [-- options]` — see bench/README.md.
 *
 * A launcher. It first compiles the library, the example app and the benchmark with tsc (into
 * node_modules/.cache/gci-bench, incrementally), because that is what users run: a library from
 * its compiled `dist`, not through a TypeScript loader (tsx names every function it creates at
 * runtime, which costs on hot paths, and would tax this library's code and not its peers', which
 * come compiled from npm). `--source` runs the sources through tsx instead (for quick edits).
 * It then runs bench/main in a child Node process with
 * - `--expose-gc`, so a full GC can run before every timed chunk (one contestant's garbage is then
 *   not collected on another's clock), and
 * - NODE_ENV=production unless NODE_ENV is set: graphql-js reads it once, at import, and outside
 *   production every `instanceOf` check also inspects `Symbol.toStringTag` (about 1.7× slower on
 *   the floor); production servers run with it.
 * The child's exit code is the launcher's. SIGINT/SIGTERM reach the child, which cleans up (drops
 * its databases, deletes its Redis keys) before exiting.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const build = `${root}node_modules/.cache/gci-bench/`;
const fromSource = process.argv.includes('--source');
const args = process.argv.slice(2).filter((arg) => arg !== '--source');

let entry = fileURLToPath(new URL('./main.ts', import.meta.url));
const loader = fromSource ? ['--import', import.meta.resolve('tsx')] : [];
if (!fromSource) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = spawnSync(
    process.execPath,
    [tsc, '-p', fileURLToPath(new URL('./tsconfig.json', import.meta.url))],
    {
      stdio: 'inherit',
    },
  );
  if (compiled.status !== 0) {
    process.stderr.write(
      'bench: the compile failed (see above); `npm run typecheck` shows the same errors\n',
    );
    process.exit(compiled.status ?? 1);
  }
  // What the compiled code reads beside itself, by relative URL: the SDL, the results directory
  // and the installed packages' versions.
  for (const [link, target] of [
    ['schema', `${root}schema`],
    ['bench/results', `${root}bench/results`],
    ['node_modules', `${root}node_modules`],
  ] as const) {
    rmSync(build + link, { recursive: true, force: true });
    mkdirSync(build + link.split('/').slice(0, -1).join('/'), { recursive: true });
    symlinkSync(target, build + link);
  }
  entry = `${build}bench/main.js`;
}

const child = spawn(process.execPath, ['--expose-gc', ...loader, entry, ...args], {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'production' },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A terminal's Ctrl-C reaches the child too; forwarding is for a signal sent to this process only.
    if (child.exitCode === null) child.kill(signal);
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
