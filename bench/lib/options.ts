import type { SeedPollOptions } from '../../examples/poll/seed.js';

/** What one `npm run bench` invocation does. */
export interface BenchOptions {
  /** `--quick`: fewer iterations, for CI and a quick look (under ~30 s). */
  readonly quick: boolean;
  /** Untimed requests per variant after the cold one (fills caches, warms the JIT). */
  readonly warmup: number;
  /** Timed requests per variant when fixed (`--iterations`); `null`: from the time budget. */
  readonly iterations: number | null;
  /** Seconds of timed requests per variant (the count follows from the warm-up's speed). */
  readonly budgetSeconds: number;
  /** Fewest and most timed requests per variant under the time budget. */
  readonly minIterations: number;
  readonly maxIterations: number;
  /** The timed requests of each variant are split into this many rounds, variants rotating between rounds. */
  readonly rounds: number;
  /** The seeded data. */
  readonly seed: SeedPollOptions;
  /** Variant ids to time (substring match); the floor and the DataLoader baselines always run. Empty: all. */
  readonly only: readonly string[];
  /** Also time the HTTP variants. */
  readonly http: boolean;
  /** Write bench/results/latest.{json,md}. */
  readonly save: boolean;
}

const HELP = `npm run bench -- [options]

  --quick              short run (CI smoke test, < ~30 s): budget 1 s, at least 20 requests
  --budget=S           seconds of timed requests per variant (default 5; quick 1); the request
                       count follows from the warm-up speed, at least --min-iterations (default
                       100; quick 20), at most 5000
  --min-iterations=N   see --budget
  --iterations=N       the same fixed number of timed requests for every variant instead
  --warmup=N           untimed warm requests per variant (default 20; quick 5)
  --rounds=N           rounds the timed requests are split into (default 8; quick 2)
  --questions=N        seeded questions (default 50, at most 100: the query asks for all of them)
  --choices=N          choices per question (default 4)
  --voters=N           voters per choice (default 5)
  --users=N            users (default 200)
  --only=a,b           time only variants whose id contains one of these (floor and DataLoader baselines always run)
  --no-http            skip the HTTP variants
  --no-save            do not write bench/results/latest.{json,md}
  --help               this text

Environment: POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
REDIS_URL (default redis://127.0.0.1:6379). Variants whose service does not answer are skipped.`;

function positive(name: string, text: string, max = 1_000_000): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new TypeError(`bench: --${name} must be an integer from 1 to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** Parses the command line (after `npm run bench --`). Prints help and exits on `--help`. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new TypeError(`bench: unknown argument ${JSON.stringify(arg)} (try --help)`);
    flags.set(match[1]!, match[2] ?? '');
  }
  if (flags.has('help')) {
    console.log(HELP);
    process.exit(0);
  }
  const known = new Set([
    'quick',
    'budget',
    'min-iterations',
    'iterations',
    'warmup',
    'rounds',
    'questions',
    'choices',
    'voters',
    'users',
    'only',
    'no-http',
    'no-save',
  ]);
  for (const name of flags.keys()) {
    if (!known.has(name)) throw new TypeError(`bench: unknown option --${name} (try --help)`);
  }
  const quick = flags.has('quick');
  const get = (name: string, fallback: number, max?: number) =>
    flags.has(name) ? positive(name, flags.get(name)!, max) : fallback;
  const seed: SeedPollOptions = {
    questions: get('questions', 50, 100),
    choicesPerQuestion: get('choices', 4, 50),
    votesPerChoice: get('voters', 5, 100),
    users: get('users', 200, 100_000),
  };
  if (seed.votesPerChoice > seed.users) {
    throw new TypeError(`bench: --voters (${seed.votesPerChoice}) cannot exceed --users (${seed.users})`);
  }
  const iterations = flags.has('iterations') ? positive('iterations', flags.get('iterations')!) : null;
  const minIterations = get('min-iterations', quick ? 20 : 100, 5000);
  const rounds = get('rounds', quick ? 2 : 8, 100);
  return {
    quick,
    warmup: get('warmup', quick ? 5 : 20),
    iterations,
    budgetSeconds: get('budget', quick ? 1 : 5, 600),
    minIterations,
    maxIterations: 5000,
    rounds: Math.min(rounds, iterations ?? minIterations),
    seed,
    only: (flags.get('only') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    http: !flags.has('no-http'),
    save: !flags.has('no-save'),
  };
}
