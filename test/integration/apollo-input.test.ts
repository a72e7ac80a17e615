import { describe, expect, it } from 'vitest';
import { checkTextArgument } from '../../src/apollo/index.js';

function refusal(run: () => unknown): { message: string; extensions: unknown } {
  try {
    run();
  } catch (error) {
    const { message, extensions } = error as { message: string; extensions: unknown };
    return { message, extensions };
  }
  throw new Error('expected a refusal');
}

describe('checkTextArgument: text the database would refuse or change is BAD_USER_INPUT', () => {
  const options = { argument: 'text', minLength: 1, maxLength: 5 };

  it('returns the trimmed text', () => {
    expect(checkTextArgument('  abc ', options)).toBe('abc');
    expect(checkTextArgument('  abc ', { ...options, trim: false, maxLength: 10 })).toBe('  abc ');
  });

  it.each([
    ['a NUL character', 'a\u0000b', 'text must not contain NUL characters (U+0000)'],
    ['a lone high surrogate', 'a\uD800b', 'text is not well-formed Unicode: it contains a lone surrogate'],
    ['a lone low surrogate', '\uDC00', 'text is not well-formed Unicode: it contains a lone surrogate'],
    ['a reversed pair', '\uDC00\uD800', 'text is not well-formed Unicode: it contains a lone surrogate'],
    ['too long', 'abcdef', 'text must be 1 to 5 characters'],
    ['empty after trimming', '   ', 'text must be 1 to 5 characters'],
    ['not a string', 42, 'text must be a string'],
  ])('refuses %s', (_label, value, message) => {
    expect(refusal(() => checkTextArgument(value as string, options))).toEqual({
      message,
      extensions: { argument: 'text', code: 'BAD_USER_INPUT' },
    });
  });

  it('counts characters as SQL does (code points), so five emoji fit varchar(5)', () => {
    expect(checkTextArgument('😀😀😀😀😀', options)).toBe('😀😀😀😀😀');
    expect(() => checkTextArgument('😀😀😀😀😀😀', options)).toThrow('text must be 1 to 5 characters');
    expect(checkTextArgument('x'.repeat(10_000), { argument: 'search' })).toHaveLength(10_000);
    expect(() => checkTextArgument('x', { argument: 'q', minLength: 2 })).toThrow(
      'q must be at least 2 characters',
    );
  });

  it('needs the argument name', () => {
    expect(() => checkTextArgument('x', { argument: '' })).toThrow(
      'checkTextArgument: options.argument must name the argument',
    );
  });
});
