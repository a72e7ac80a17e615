/**
 * The targets of issue 7 ("## Targets"), computed from one run. A target whose contestants are
 * not in the run is reported with `measured: null, met: false` and a note saying which are missing.
 */
import type { Summary } from './measure.js';
import type { MixedResult } from './mixed.js';
import type { RedisSample } from './redis-monitor.js';

/** One target: latest.json's `targets[]`. */
export interface Target {
  readonly name: string;
  /** The threshold, as text (`>= 1.3`, `== 3`). */
  readonly target: string;
  readonly measured: number | null;
  readonly met: boolean;
  readonly note?: string;
  /** Per-scenario values behind `measured`, where it is the worst of several. */
  readonly detail?: Readonly<Record<string, number>>;
}

/** Contestant ids the targets name. The L1 tiers are added to the library's variant table later. */
export const IDS = {
  floor: 'floor',
  dataloaderPostgres: 'dataloader-postgres',
  rawRows: 'raw-rows-postgres',
  layeredRedis: 'layered-loader-redis',
  layeredMemory: 'layered-loader-memory-redis',
  memory: 'gci-memory',
  redis: 'gci-redis',
  l1: 'gci-redis-l1',
  l1Lists: 'gci-redis-l1-lists',
} as const;

/** Per-request counts of one contestant and query (from the MONITOR sample and the SQL counter). */
export interface RequestCounts {
  readonly sql: number | null;
  readonly redis: (RedisSample & { readonly requests: number }) | null;
  /** Records the query needs (one key each): computed from the data. */
  readonly records: number;
}

/** What the targets are computed from. */
export interface TargetInputs {
  /** scenario id → contestant id → summary. */
  readonly scenarios: ReadonlyMap<string, ReadonlyMap<string, Summary>>;
  /** contestant id → query → counts. */
  readonly counts: ReadonlyMap<string, { readonly q1: RequestCounts; readonly q2: RequestCounts }>;
  /** contestant id → mixed workload result. */
  readonly mixed: ReadonlyMap<string, MixedResult & { readonly freshPerSecond: number }>;
  /** Contestant ids in the run. */
  readonly present: ReadonlySet<string>;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function missing(inputs: TargetInputs, ids: readonly string[]): string | undefined {
  const absent = ids.filter((id) => !inputs.present.has(id));
  return absent.length > 0 ? `not in this run: ${absent.join(', ')}` : undefined;
}

/** The worst, over every timed scenario, of `ratio(a, b)` of throughputs. */
function ratioTarget(
  inputs: TargetInputs,
  name: string,
  target: string,
  a: string,
  b: string,
  ratio: (ra: number, rb: number) => number,
  worst: 'min' | 'max',
  meets: (x: number) => boolean,
): Target {
  const absent = missing(inputs, [a, b]);
  if (absent) return { name, target, measured: null, met: false, note: absent };
  const detail: Record<string, number> = {};
  for (const [scenario, rows] of inputs.scenarios) {
    const sa = rows.get(a);
    const sb = rows.get(b);
    if (sa && sb) detail[scenario] = round(ratio(sa.rps, sb.rps));
  }
  const values = Object.values(detail);
  if (values.length === 0) return { name, target, measured: null, met: false, note: 'no timed scenario' };
  const measured = worst === 'min' ? Math.min(...values) : Math.max(...values);
  return {
    name,
    target,
    measured,
    met: meets(measured),
    note: `${worst === 'min' ? 'lowest' : 'highest'} over the timed scenarios`,
    detail,
  };
}

function countTarget(
  inputs: TargetInputs,
  name: string,
  target: string,
  id: string,
  value: (c: { q1: RequestCounts; q2: RequestCounts }) => number | null,
  meets: (x: number, c: { q1: RequestCounts; q2: RequestCounts }) => boolean,
): Target {
  const absent = missing(inputs, [id]);
  const counts = inputs.counts.get(id);
  if (absent || !counts) return { name, target, measured: null, met: false, note: absent ?? 'not counted' };
  const measured = value(counts);
  if (measured === null)
    return { name, target, measured: null, met: false, note: 'not counted (no Redis MONITOR sample)' };
  return { name, target, measured: round(measured), met: meets(measured, counts) };
}

const perRequest = (c: RequestCounts, field: 'roundTrips' | 'keys') =>
  c.redis ? c.redis[field] / c.redis.requests : null;

/** Computes every target of issue 7 from the run. */
export function computeTargets(inputs: TargetInputs): Target[] {
  const targets: Target[] = [
    ratioTarget(
      inputs,
      'Redis tier vs layered-loader Redis-only (throughput ratio)',
      '>= 1.3',
      IDS.redis,
      IDS.layeredRedis,
      (a, b) => a / b,
      'min',
      (x) => x >= 1.3,
    ),
    ratioTarget(
      inputs,
      'Redis + L1 vs layered-loader memory + Redis (throughput ratio)',
      '>= 1.3',
      IDS.l1,
      IDS.layeredMemory,
      (a, b) => a / b,
      'min',
      (x) => x >= 1.3,
    ),
    ratioTarget(
      inputs,
      'Redis + L1 within 1.2× of the floor (floor throughput ÷ L1 throughput)',
      '<= 1.2',
      IDS.floor,
      IDS.l1,
      (a, b) => a / b,
      'max',
      (x) => x <= 1.2,
    ),
    ratioTarget(
      inputs,
      'Redis + L1 vs DataLoader + MikroORM on Postgres (throughput ratio)',
      '>= 10',
      IDS.l1,
      IDS.dataloaderPostgres,
      (a, b) => a / b,
      'min',
      (x) => x >= 10,
    ),
    ratioTarget(
      inputs,
      'Redis tier vs the raw-rows DataLoader (throughput ratio)',
      '>= 2',
      IDS.redis,
      IDS.rawRows,
      (a, b) => a / b,
      'min',
      (x) => x >= 2,
    ),
    countTarget(
      inputs,
      'Warm Q1 on Redis: Redis round trips per request',
      '== 3',
      IDS.redis,
      (c) => perRequest(c.q1, 'roundTrips'),
      (x) => x === 3,
    ),
    countTarget(
      inputs,
      'Warm Q1 on Redis: keys per request ÷ records it needs (one key per record)',
      '== 1',
      IDS.redis,
      (c) => {
        const keys = perRequest(c.q1, 'keys');
        return keys === null ? null : keys / c.q1.records;
      },
      (x) => x === 1,
    ),
    countTarget(
      inputs,
      'Warm Q2 on Redis: Redis round trips per request',
      '== 2',
      IDS.redis,
      (c) => perRequest(c.q2, 'roundTrips'),
      (x) => x === 2,
    ),
    countTarget(
      inputs,
      'Warm Q2 on Redis: keys per request ÷ records it needs (one key per record)',
      '== 1',
      IDS.redis,
      (c) => {
        const keys = perRequest(c.q2, 'keys');
        return keys === null ? null : keys / c.q2.records;
      },
      (x) => x === 1,
    ),
  ];
  for (const query of ['q1', 'q2'] as const) {
    targets.push(
      countTarget(
        inputs,
        `Warm ${query.toUpperCase()} with L1 and cached root lists: SQL + Redis round trips per request`,
        '== 0',
        IDS.l1Lists,
        (c) => {
          const rt = perRequest(c[query], 'roundTrips');
          return c[query].sql === null || rt === null ? null : c[query].sql! + rt;
        },
        (x) => x === 0,
      ),
    );
  }
  for (const id of [IDS.memory, IDS.redis, IDS.l1, IDS.l1Lists]) {
    const name = `Mixed workload: stale + inconsistent responses served by ${id}`;
    const result = inputs.mixed.get(id);
    if (!result) {
      targets.push({
        name,
        target: '== 0',
        measured: null,
        met: false,
        note: missing(inputs, [id]) ?? 'not in the mixed workload',
      });
    } else {
      const bad = result.stale + result.inconsistent;
      targets.push({
        name,
        target: '== 0',
        measured: bad,
        met: bad === 0,
        ...(result.firstProblem ? { note: result.firstProblem } : {}),
      });
    }
  }
  const library = [...inputs.mixed].filter(([id]) => id.startsWith('gci-'));
  const others = [...inputs.mixed].filter(([id]) => !id.startsWith('gci-'));
  const best = (rows: typeof library) =>
    rows.reduce<[string, number] | null>(
      (b, [id, r]) => (!b || r.freshPerSecond > b[1] ? [id, r.freshPerSecond] : b),
      null,
    );
  const [bestLibrary, bestOther] = [best(library), best(others)];
  const absentTiers = missing(inputs, [IDS.l1, IDS.l1Lists]);
  targets.push(
    bestLibrary && bestOther
      ? {
          name: 'Mixed workload: fresh responses per second, best library tier ÷ best other contestant',
          target: '> 1',
          measured: round(bestLibrary[1] / bestOther[1]),
          met: bestLibrary[1] > bestOther[1],
          note: `${bestLibrary[0]} vs ${bestOther[0]}${absentTiers ? `; ${absentTiers}` : ''}`,
        }
      : {
          name: 'Mixed workload: fresh responses per second, best library tier ÷ best other contestant',
          target: '> 1',
          measured: null,
          met: false,
          note: 'no library tier or no other contestant in the mixed workload',
        },
  );
  return targets;
}
