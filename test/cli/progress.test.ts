import { describe, expect, it } from 'vitest';
import { createProgressReporter, type ProgressStream } from '../../src/cli/progress.js';

/** A stream that says it is a terminal and keeps what is written (escape codes included). */
function fakeTerminal(columns = 160): ProgressStream & { text: string } {
  return {
    isTTY: true,
    columns,
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

function pipe(): ProgressStream & { text: string } {
  return {
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

/** Without the terminal's control sequences: what a person sees, frame after frame. */
const frames = (text: string) =>
  text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences
    .split(/\x1B\[1G|\x1B\[0K|\r/)
    .filter((frame) => frame.includes('records'));

describe('progress on a terminal: a live bar (cli-progress)', () => {
  it('redraws one line with done/total, the rate, the ETA and what is being warmed', () => {
    let now = 0;
    const stream = fakeTerminal();
    const progress = createProgressReporter({ stream, title: 'warm', unit: 'records', now: () => now });
    progress.start(1000);
    now = 1000;
    progress.update(250, 'Question@v1,v2');
    now = 2000;
    progress.update(1000, 'User@v1,v2');
    progress.stop();
    const shown = frames(stream.text);
    expect(shown[0]).toMatch(/^warm .* 0\/1,000 records \| 0 records\/s \| ETA /);
    // The last frame: complete, at 1,000 records in 2 s.
    expect(shown.at(-1)).toMatch(/^warm .* 1,000\/1,000 records \| 500 records\/s \| ETA 0s \| User@v1,v2/);
    // Redrawn in place (cursor moved to column 1), never a new line per update.
    expect(stream.text.split('\n')).toHaveLength(2);
    expect(stream.text).toContain('\x1B[1G');
  });

  it('grows the total when more rows arrived than were counted', () => {
    const stream = fakeTerminal();
    const progress = createProgressReporter({ stream, title: 'warm', unit: 'records' });
    progress.start(10);
    progress.update(12, 'Question@v1');
    progress.stop();
    expect(frames(stream.text).at(-1)).toContain('12/12 records');
  });

  it('cuts the line at the terminal width instead of wrapping', () => {
    const stream = fakeTerminal(40);
    const progress = createProgressReporter({ stream, title: 'warm', unit: 'records' });
    progress.start(100);
    progress.stop();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences
    const drawn = stream.text.split(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]|\n/).filter(Boolean);
    expect(drawn.length).toBeGreaterThan(0);
    for (const frame of drawn) {
      expect(frame.startsWith('warm ')).toBe(true);
      expect(frame.length).toBeLessThanOrEqual(40);
    }
  });
});

describe('progress elsewhere (a pipe, a log): plain lines', () => {
  it('writes a line every n updates and one at the end, with the rate and the ETA', () => {
    let now = 0;
    const stream = pipe();
    const progress = createProgressReporter({
      stream,
      title: 'warm',
      unit: 'records',
      every: 2,
      now: () => now,
    });
    progress.start(1000);
    for (const [at, done] of [
      [500, 100],
      [1000, 200],
      [1500, 300],
      [2000, 400],
      [2500, 500],
    ] as const) {
      now = at;
      progress.update(done, 'Choice@v2');
    }
    progress.stop();
    expect(stream.text.split('\n').filter(Boolean)).toEqual([
      'warm: 200/1,000 records (20%), 200 records/s, ETA 4.0 s, Choice@v2',
      'warm: 400/1,000 records (40%), 200 records/s, ETA 3.0 s, Choice@v2',
      'warm: 500/1,000 records (50%), 200 records/s, ETA 2.5 s, Choice@v2',
    ]);
    // No terminal control sequences in a log.
    expect(stream.text).not.toContain('\x1B');
  });

  it('does not repeat the last line when it was just written', () => {
    const stream = pipe();
    const progress = createProgressReporter({ stream, title: 'warm', unit: 'records', every: 1 });
    progress.start(2);
    progress.update(2, 'User@v1');
    progress.stop();
    expect(stream.text.trim().split('\n')).toHaveLength(1);
  });
});
