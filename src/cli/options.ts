/** Parsers for command-line option values (commander's `argParser`s). */
import { InvalidArgumentError } from 'commander';

/** A repeatable option that also takes comma-separated lists: `--model A --model B,C` → `[A, B, C]`. */
export function collectList(value: string, previous: readonly string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  return [...(previous ?? []), ...items];
}

/** A positive integer (`--batch 500`); anything else is a usage error naming the value. */
export function parsePositiveInt(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number <= 0) {
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return number;
}
