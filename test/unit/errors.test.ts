import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheError, errorCodes } from '../../src/index.js';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

describe('errors', () => {
  it('gives each class one fixed code, the one the exported map names', () => {
    const codes = new Set<string>();
    for (const [code, ErrorClass] of Object.entries(errorCodes)) {
      const error = new ErrorClass('message', { context: { model: 'M' }, cause: 'why' });
      expect(error).toBeInstanceOf(CacheError);
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe(code);
      expect(error.name).toBe(ErrorClass.name);
      expect(error.context).toEqual({ model: 'M' });
      expect(error.cause).toBe('why');
      codes.add(error.code);
    }
    expect(codes.size).toBe(Object.keys(errorCodes).length);
  });

  it('is the only kind of error the library throws: no bare Error or TypeError in src/', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        // An Error made only to be caught a line later (a control-flow signal) is not thrown out.
        if (/\bnew (Type|Range|)Error\(/.test(line) && !line.includes('caught below')) {
          offenders.push(`${file.slice(SRC.length)}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    expect(offenders).toEqual([]);
  });
});
