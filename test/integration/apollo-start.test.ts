import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

// `npm start` is the README's quick start: keep what the README says about it true. The server
// runs as `npm start` runs it (tsx, examples/poll/main.ts), on a free port.
describe('npm start (examples/poll/main.ts)', () => {
  let child: ChildProcess | undefined;
  let output = '';

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  /** Resolves with the first match of `pattern` in the server's output, as soon as it is printed. */
  function waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = output.match(pattern);
        if (match) {
          child!.stdout!.off('data', check);
          child!.off('exit', fail);
          resolve(match);
        }
      };
      const fail = (code: number | null) =>
        reject(new Error(`server exited (${code}) before printing ${pattern}:\n${output}`));
      child!.stdout!.on('data', check);
      child!.once('exit', fail);
      check();
    });
  }

  it('serves the seeded poll API at /graphql/v1 and /graphql/v2 with the figures the README shows, and stops on SIGTERM', async () => {
    // The defaults: SQLite in memory, the in-process cache, figures on every response.
    const { DATABASE_URL: _db, REDIS_URL: _redis, CACHE_STATS: _stats, ...env } = process.env;
    child = spawn(process.execPath, ['--import', 'tsx', 'examples/poll/main.ts'], {
      env: { ...env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const [, v1, v2] = (await waitFor(
      /v1: (http:\S+\/graphql\/v1)\s+v2: (http:\S+\/graphql\/v2)/,
    )) as string[];
    expect(output).toContain('poll API (database: SQLite in memory, cache: in memory)');
    expect(output).toContain('seeded 50 questions, 200 choices, 200 users');

    // The README's curl, twice: its cold and warm figures.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    // The README's ```json blocks that show extensions.cache, however they are wrapped.
    const shown = [...readme.matchAll(/^```json\n([\s\S]*?)\n```$/gm)]
      .map((m) => JSON.parse(m[1]!) as { cache?: unknown })
      .flatMap((block) => (block.cache ? [block.cache] : []));
    expect(shown).toHaveLength(2);
    const figures = [];
    for (let i = 0; i < 2; i += 1) {
      const response = await fetch(v2!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query:
            '{ questions(first: 2) { nodes { text choices { choiceText voteCount voters { username } } } } }',
        }),
      });
      const body = (await response.json()) as {
        data: unknown;
        errors?: unknown;
        extensions: { cache: unknown };
      };
      expect(body.errors).toBeUndefined();
      figures.push(body.extensions.cache);
    }
    expect(figures).toEqual(shown);
    const other = await fetch(v1!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ questions(first: 1) { totalCount nodes { questionText } } }' }),
    });
    expect(
      ((await other.json()) as { data: { questions: { totalCount: number } } }).data.questions.totalCount,
    ).toBe(50);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output).toContain('SIGTERM: finishing in-flight requests…');
  });
});
