/** latest.json's shape and its markdown rendering (also printed by every run). */
import type { Skipped } from './contestant.js';
import type { MachineFacts } from './machine.js';
import type { Summary } from './measure.js';
import type { MixedResult } from './mixed.js';
import type { RequestCounts, Target } from './targets.js';

/** One contestant's description and one-off measurements. */
export interface ContestantReport {
  readonly id: string;
  readonly label: string;
  readonly database: string;
  readonly store: string;
  readonly notes: string;
  /** Heap retained after its creation and warm-up, after a full GC, minus the heap before (MB). */
  readonly retainedHeapMB: number;
  /** The very first Q1 and Q2 (cold caches, cold JIT): one sample each, indicative only. */
  readonly coldMs: { readonly q1: number; readonly q2: number };
  readonly warmup: { readonly q1: number; readonly q2: number; readonly seconds: number };
}

/** One timed scenario: a query, a concurrency, a cache-control mode. */
export interface ScenarioReport {
  readonly id: string;
  readonly query: 'q1' | 'q2';
  readonly concurrency: number;
  readonly cacheControl: boolean;
  readonly results: readonly (Summary & {
    readonly id: string;
    /** This throughput ÷ the floor's. */
    readonly vsFloor: number | null;
    /** This throughput ÷ DataLoader + MikroORM on Postgres. */
    readonly vsDataLoaderPostgres: number | null;
  })[];
}

/** Everything latest.json holds. */
export interface BenchReport {
  readonly format: 2;
  readonly createdAt: string;
  readonly command: string;
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly machine: MachineFacts & {
    readonly loadAverageAtEnd: readonly number[];
    readonly peakRssMB: number;
  };
  readonly packages: Record<string, string>;
  readonly services: Record<string, string>;
  readonly data: {
    readonly scale: number;
    readonly users: number;
    readonly questions: number;
    readonly choices: number;
    readonly votes: number;
    readonly q1: {
      readonly query: string;
      readonly variables: object;
      readonly fields: number;
      readonly bytes: number;
      readonly records: number;
    };
    readonly q2: { readonly query: string; readonly fields: number; readonly records: number };
  };
  readonly method: Readonly<Record<string, string>>;
  readonly contestants: readonly ContestantReport[];
  readonly scenarios: readonly ScenarioReport[];
  readonly counts: readonly { readonly id: string; readonly q1: RequestCounts; readonly q2: RequestCounts }[];
  readonly mixed: readonly (MixedResult & {
    readonly id: string;
    readonly freshPerSecond: number;
    readonly writesPerSecond: number;
  })[];
  readonly targets: readonly Target[];
  readonly skipped: readonly Skipped[];
}

const ms = (x: number) =>
  Number.isNaN(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
const ratio = (x: number | null) => (x === null ? '–' : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`);
const num = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined ? '–' : Number.isInteger(x) ? String(x) : x.toFixed(digits);

function scenarioTable(s: ScenarioReport, labels: ReadonlyMap<string, string>): string[] {
  const out = [
    `### ${s.query.toUpperCase()}, ${s.concurrency === 1 ? 'sequential' : `${s.concurrency} concurrent`}, cache-control ${s.cacheControl ? 'on' : 'off'}`,
    '',
    '| contestant | n | req/s | p50 ms | p99 ms | vs floor | vs DataLoader PG | SQL/req | peak heap growth MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of s.results) {
    out.push(
      `| ${labels.get(r.id) ?? r.id} (\`${r.id}\`) | ${r.requests} | ${r.rps.toFixed(0)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ratio(r.vsFloor)} | ${ratio(r.vsDataLoaderPostgres)} | ${num(r.sqlPerRequest)} | ${r.peakHeapGrowthMB.toFixed(1)} |`,
    );
  }
  out.push('');
  return out;
}

/** The markdown report. */
export function toMarkdown(r: BenchReport): string {
  const m = r.machine;
  const labels = new Map(r.contestants.map((c) => [c.id, c.label]));
  const out: string[] = [];
  out.push(`# Benchmark: ${r.quick ? 'quick run (smoke test: not for quoting)' : 'full run'}`, '');
  out.push(
    'For regressions and honest comparison, not marketing: one process, every contestant live, same data, same Apollo ' +
      'configuration, answers verified identical before timing. Read bench/README.md before quoting a number; quote ratios from one run.',
    '',
  );
  out.push(`- **When:** ${r.createdAt}, ${r.durationSeconds.toFixed(0)} s, \`${r.command}\``);
  out.push(
    `- **Machine:** Node ${m.node} (V8 ${m.v8}, NODE_ENV=${m.nodeEnv}), ${m.platform}/${m.arch}, ${m.cpus} CPU × ${m.cpuModel}, ${m.totalMemoryGiB} GiB; ` +
      `load average (1/5/15 min) ${m.loadAverageAtStart.join(' / ')} at start, ${m.loadAverageAtEnd.join(' / ')} at end; ` +
      `commit ${m.git.commit ?? '?'}${m.git.dirty ? ' (uncommitted changes)' : ''}; peak RSS of the process ${m.peakRssMB.toFixed(0)} MB`,
  );
  const busy = Math.max(m.loadAverageAtStart[0] ?? 0, m.loadAverageAtEnd[0] ?? 0);
  if (busy > m.cpus / 2) {
    out.push(
      `- **Warning:** the machine was busy (load average ${busy} on ${m.cpus} CPUs): absolute numbers are inflated and noisy; ` +
        'ratios within this run hold up better. Rerun on a quiet machine before comparing runs.',
    );
  }
  out.push(
    `- **Services:** ${Object.entries(r.services)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}`,
  );
  const d = r.data;
  out.push(
    `- **Data:** scale ${d.scale}: ${d.users} users (every 10th inactive, hidden), ${d.questions} questions, ${d.choices} choices, ${d.votes} votes. ` +
      `Q1 = \`questions(first: 50) → choices → voters(first: 5)\`: ${d.q1.fields} fields, ${d.q1.bytes} bytes, ${d.q1.records} records; ` +
      `Q2 = \`question(id) → choices\` on random ids: ${d.q2.fields} fields, ${d.q2.records} records`,
  );
  for (const [key, value] of Object.entries(r.method)) out.push(`- **${key}:** ${value}`);
  out.push(
    '',
    '## Targets (issue 7)',
    '',
    '| target | threshold | measured | met | note |',
    '|---|---|---:|---|---|',
  );
  for (const t of r.targets) {
    out.push(
      `| ${t.name} | ${t.target} | ${t.measured === null ? '–' : num(t.measured, 3)} | ${t.met ? 'yes' : 'no'} | ${t.note ?? ''} |`,
    );
  }
  out.push('', '## Throughput and latency', '');
  for (const s of r.scenarios) out.push(...scenarioTable(s, labels));
  out.push('## Counts per warm request', '');
  out.push(
    "SQL from each contestant's own counter (sequential Q1/Q2, cache-control off); Redis round trips and keys from a MONITOR sample " +
      '(bench/README.md). "records" is what the query needs, one key each.',
    '',
    '| contestant | Q1 SQL | Q1 Redis RT | Q1 Redis keys | Q2 SQL | Q2 Redis RT | Q2 Redis keys | Redis commands seen |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const c of r.counts) {
    const per = (x: RequestCounts, f: 'roundTrips' | 'keys') =>
      x.redis ? num(x.redis[f] / x.redis.requests) : '–';
    const seen = [c.q1, c.q2]
      .map((x) =>
        x.redis
          ? Object.entries(x.redis.byCommand)
              .map(([k, v]) => `${k}×${v}/${x.redis!.requests}`)
              .join(' ')
          : '',
      )
      .filter(Boolean)
      .join('; ');
    out.push(
      `| \`${c.id}\` | ${num(c.q1.sql)} | ${per(c.q1, 'roundTrips')} | ${per(c.q1, 'keys')} | ${num(c.q2.sql)} | ${per(c.q2, 'roundTrips')} | ${per(c.q2, 'keys')} | ${seen} |`,
    );
  }
  out.push('', '## Mixed workload', '');
  out.push(
    '| contestant | reads | fresh | stale | inconsistent | writes | fresh reads/s | writes/s | first problem |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const x of r.mixed) {
    out.push(
      `| \`${x.id}\` | ${x.reads} | ${x.fresh} | ${x.stale} | ${x.inconsistent} | ${x.writes} | ${x.freshPerSecond.toFixed(0)} | ${x.writesPerSecond.toFixed(1)} | ${x.firstProblem ?? ''} |`,
    );
  }
  out.push(
    '',
    '## Contestants',
    '',
    '| contestant | DB | store | retained heap MB | cold Q1 ms | cold Q2 ms | warm-up (Q1 / Q2 / s) | notes |',
    '|---|---|---|---:|---:|---:|---|---|',
  );
  for (const c of r.contestants) {
    out.push(
      `| ${c.label} (\`${c.id}\`) | ${c.database} | ${c.store} | ${c.retainedHeapMB.toFixed(1)} | ${ms(c.coldMs.q1)} | ${ms(c.coldMs.q2)} | ${c.warmup.q1} / ${c.warmup.q2} / ${c.warmup.seconds.toFixed(1)} | ${c.notes} |`,
    );
  }
  if (r.skipped.length > 0) {
    out.push('', 'Skipped:');
    for (const s of r.skipped) out.push(`- \`${s.id}\`: ${s.reason}`);
  }
  return `${out.join('\n')}\n`;
}
