#!/usr/bin/env node
/**
 * The `graphql-cached-instances` executable (package.json `bin`). See `runCli` for the program
 * and `EXIT_CODES` for what the exit codes mean.
 */
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
// Exit now rather than when the last handle closes: a config that leaves a pool or a timer open
// must not keep an operator's terminal waiting. Everything written so far is flushed first.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
process.exit(code);
