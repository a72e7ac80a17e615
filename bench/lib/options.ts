/** What one `npm run bench` invocation does. */
export interface BenchOptions {
  /** `--quick`: the CI smoke run (< 60 s): smaller data, short chunks, cache-control off only, naive not timed, never saved. */
  readonly quick: boolean;
  /** Data scale: 1 = 1,000 users / 2,000 questions / 8,000 choices / 40,000 votes. */
  readonly scale: number;
  /** Seconds of timed requests per contestant per scenario, split over the rounds. */
  readonly budgetSeconds: number;
  /** Rounds; in each, every contestant runs one chunk, in an order that rotates from round to round. */
  readonly rounds: number;
  /** Requests in flight in the concurrent scenarios (and the mixed workload). */
  readonly concurrency: number;
  /** Cache-control modes to time (both are always verified). */
  readonly cacheControl: readonly boolean[];
  /** Seconds of mixed workload per contestant, split over the rounds. */
  readonly mixedSeconds: number;
  /** Warm-up per contestant: at least this many Q1 and Q2 requests (each in both modes) and this long. */
  readonly warmup: { readonly q1: number; readonly q2: number; readonly seconds: number };
  /** Requests per query in the Redis MONITOR sample. */
  readonly monitorSample: { readonly q1: number; readonly q2: number };
  /** Contestant ids to run (substring match); the floor always runs. Empty: all. */
  readonly only: readonly string[];
  /** Write bench/results/latest.{json,md}: full runs only, never with --quick, --no-save or --only. */
  readonly save: boolean;
}

const HELP = `npm run bench -- [options]

  --quick             CI smoke run, under 60 s: scale 0.1, 0.25 s per contestant and scenario, cache-control
                      off only (both modes are still verified), short warm-up, the naive resolvers
                      verified but not timed; never writes results
  --scale=X           data scale (default 1: 1,000 users, 2,000 questions, 8,000 choices, 40,000 votes;
                      --quick: 0.1). Q1 always reads the newest 50 questions.
  --budget=S          seconds of timed requests per contestant per scenario (default 2.5; quick 0.25)
  --rounds=N          rounds the budget is split into, contestants rotating (default 5; quick 2)
  --concurrency=N     requests in flight in the concurrent scenarios and the mixed workload (default 8)
  --cache-control=M   on, off or both (default both; quick off)
  --mixed=S           seconds of mixed workload per contestant (default 4; quick 0.4)
  --only=a,b          run only contestants whose id contains one of these (the floor always runs);
                      such a run is never saved
  --no-save           do not write bench/results/latest.{json,md}
  --help              this text

Environment: POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres; the run creates and
drops its own databases gci_bench_<pid>_…), REDIS_URL (default redis://127.0.0.1:6379; keys under
gci-bench-<pid>-…, deleted at the end). A missing service skips its contestants with one line, or
fails the run when REQUIRE_SERVICES=1. NODE_ENV defaults to production.`;

function positive(name: string, value: string, integer: boolean, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) {
    throw new TypeError(
      `bench: --${name} must be a positive ${integer ? 'integer' : 'number'} up to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Parses the command line; prints the help and exits on `--help`. Throws a TypeError on a bad option. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new TypeError(`bench: unexpected argument ${JSON.stringify(arg)} (try --help)`);
    flags.set(match[1]!, match[2] ?? '');
  }
  if (flags.has('help')) {
    console.log(HELP);
    process.exit(0);
  }
  const known = [
    'quick',
    'scale',
    'budget',
    'rounds',
    'concurrency',
    'cache-control',
    'mixed',
    'only',
    'no-save',
  ];
  for (const name of flags.keys()) {
    if (!known.includes(name)) throw new TypeError(`bench: unknown option --${name} (try --help)`);
  }
  const quick = flags.has('quick');
  const get = (name: string, fallback: number, integer: boolean, max: number) =>
    flags.has(name) ? positive(name, flags.get(name)!, integer, max) : fallback;
  const mode = flags.get('cache-control') ?? (quick ? 'off' : 'both');
  if (!['on', 'off', 'both'].includes(mode)) {
    throw new TypeError(`bench: --cache-control must be on, off or both, got ${JSON.stringify(mode)}`);
  }
  const only = (flags.get('only') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    quick,
    scale: get('scale', quick ? 0.1 : 1, false, 50),
    budgetSeconds: get('budget', quick ? 0.25 : 2.5, false, 600),
    rounds: get('rounds', quick ? 2 : 5, true, 100),
    concurrency: get('concurrency', 8, true, 256),
    cacheControl: mode === 'both' ? [false, true] : [mode === 'on'],
    mixedSeconds: get('mixed', quick ? 0.4 : 4, false, 600),
    warmup: quick ? { q1: 10, q2: 100, seconds: 0 } : { q1: 50, q2: 500, seconds: 1.5 },
    monitorSample: quick ? { q1: 3, q2: 10 } : { q1: 10, q2: 50 },
    only,
    save: !quick && !flags.has('no-save') && only.length === 0,
  };
}
