import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The quickstart is documentation that runs: keep what it prints true (the README quotes it).
describe('examples/quickstart', () => {
  it('prints a batched miss, hits, a cascade and a rejected stale fill', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'examples/quickstart/main.ts'],
      {
        timeout: 30_000,
      },
    );
    expect(stdout).toMatch(
      /1\. cold request: batched misses\s+store round trips 6, hits 0, misses 5, loads 2/,
    );
    expect(stdout).toMatch(
      /2\. same request again: all hits\s+store round trips 2, hits 5, misses 0, loads 0/,
    );
    expect(stdout).toContain('Question 1 choices [1], Question 2 choices [2,3]');
    expect(stdout).toContain(
      'its late fill was refused (fills landed: 0); the next read got "Favourite color?" with 0 loads',
    );
    // The README shows the whole output, exactly.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const shown = /`npm run quickstart` runs[\s\S]*?```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown).toBe(stdout);
  });
});
