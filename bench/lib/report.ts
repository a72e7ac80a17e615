import type { MachineFacts } from './machine.js';
import type { Measurement, Summary } from './measure.js';
import type { Variant } from './variant.js';

/** One variant's line of the results. */
export interface VariantResult {
  readonly id: string;
  readonly label: string;
  readonly phase: 1 | 2;
  readonly transport: Variant['transport'];
  readonly database: Variant['database'];
  readonly store: string;
  readonly notes: string;
  /** Wall time of the very first request (cold cache, cold JIT): one sample, indicative only; `null` for repeats. */
  readonly coldMs: number | null;
  readonly summary: Summary;
  /** The baseline's mean ÷ this mean (> 1: faster than per-request DataLoader + MikroORM on the same DB). */
  readonly speedupVsDataLoader: number | null;
  readonly baseline: string;
  /** This mean ÷ the floor's mean (≥ 1 in practice: how far above the floor). */
  readonly timesFloor: number | null;
  readonly sqlPerRequest: number;
  /** `null` when the variant has no shared store or cannot count its calls. */
  readonly storeRoundTripsPerRequest: number | null;
  readonly hitsPerRequest: number | null;
  readonly missesPerRequest: number | null;
  readonly memoHitsPerRequest: number | null;
}

/** Everything latest.json holds. */
export interface BenchReport {
  readonly format: 1;
  readonly createdAt: string;
  readonly command: string;
  readonly quick: boolean;
  readonly durationSeconds: number;
  readonly machine: MachineFacts & { readonly loadAverage1mAtEnd: number };
  readonly packages: Record<string, string>;
  readonly services: Record<string, string>;
  readonly data: {
    readonly seed: { questions: number; choicesPerQuestion: number; votesPerChoice: number; users: number };
    readonly query: string;
    readonly variables: Record<string, unknown>;
    readonly resolvedFieldsPerResponse: number;
    readonly responseBytes: number;
  };
  readonly method: {
    readonly transport: string;
    readonly serverOptions: string;
    readonly warmup: number;
    readonly iterations: string;
    readonly rounds: number;
    readonly concurrency: 1;
    readonly verified: string;
    readonly ratios: string;
  };
  readonly variants: readonly VariantResult[];
  readonly skipped: readonly { readonly id: string; readonly reason: string }[];
}

/** Builds a variant's result line from its measurement. */
export function resultOf(
  variant: Variant,
  m: Measurement,
  summary: Summary,
  coldMs: number | null,
  baselineMean: number | undefined,
  floorMean: number | undefined,
): VariantResult {
  const n = m.samples.length;
  const per = (sum: number) => (m.withCounters > 0 ? sum / m.withCounters : null);
  const perHit = (sum: number) => (m.withHits > 0 ? sum / m.withHits : null);
  return {
    id: variant.id,
    label: variant.label,
    phase: variant.phase,
    transport: variant.transport,
    database: variant.database,
    store: variant.store,
    notes: variant.notes,
    coldMs,
    summary,
    speedupVsDataLoader: baselineMean === undefined ? null : baselineMean / summary.mean,
    baseline: variant.baseline,
    timesFloor: floorMean === undefined ? null : summary.mean / floorMean,
    sqlPerRequest: m.sql / n,
    storeRoundTripsPerRequest: per(m.storeRoundTrips),
    hitsPerRequest: perHit(m.hits),
    missesPerRequest: perHit(m.misses),
    memoHitsPerRequest: perHit(m.memoHits),
  };
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)}×`);
const count = (x: number | null) => (x === null ? '–' : Number.isInteger(x) ? String(x) : x.toFixed(2));

function table(rows: readonly VariantResult[]): string {
  const head =
    '| variant | id | DB | n | mean ms | p50 ms | p95 ms | req/s | vs DataLoader | × floor | SQL/req | store RT/req |\n' +
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = rows.map((r) =>
    [
      r.label,
      `\`${r.id}\``,
      r.database,
      String(r.summary.n),
      ms(r.summary.mean),
      ms(r.summary.p50),
      ms(r.summary.p95),
      r.summary.rps.toFixed(0),
      ratio(r.speedupVsDataLoader),
      ratio(r.timesFloor),
      count(r.sqlPerRequest),
      count(r.storeRoundTripsPerRequest),
    ].join(' | '),
  );
  return [head, ...lines.map((l) => `| ${l} |`)].join('\n');
}

/** The markdown report (also printed). */
export function toMarkdown(report: BenchReport): string {
  const m = report.machine;
  const phase1 = report.variants.filter((v) => v.phase === 1);
  const phase2 = report.variants.filter((v) => v.phase === 2);
  const seed = report.data.seed;
  const out: string[] = [];
  out.push(`# Benchmark: nested poll query (${report.quick ? 'quick run' : 'full run'})`);
  out.push('');
  out.push(
    'For regressions and honest comparison, not marketing: one machine, one process, one request at a time. ' +
      'Read bench/README.md before quoting a number.',
  );
  out.push('');
  out.push(`- **When:** ${report.createdAt}, ${report.durationSeconds.toFixed(0)} s, \`${report.command}\``);
  out.push(
    `- **Machine:** Node ${m.node} (V8 ${m.v8}, NODE_ENV=${m.nodeEnv}), ${m.platform}/${m.arch}, ${m.cpus} CPU × ${m.cpuModel}, ` +
      `${m.totalMemoryGiB} GiB, load average ${m.loadAverage1m} at start, ${m.loadAverage1mAtEnd} at end; commit ${m.git.commit ?? '?'}${m.git.dirty ? ' (uncommitted changes)' : ''}`,
  );
  out.push(
    `- **Services:** ${Object.entries(report.services)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}`,
  );
  out.push(
    `- **Data:** ${seed.questions} questions × ${seed.choicesPerQuestion} choices × ${seed.votesPerChoice} voters ` +
      `(${seed.users} users, every 10th inactive and hidden); query \`questions(first: ${String(report.data.variables.first)})\` → choices → voters ` +
      `(v1 schema): ${report.data.resolvedFieldsPerResponse} resolved fields, ${report.data.responseBytes} bytes of JSON per response`,
  );
  out.push(
    `- **Method:** ${report.method.transport}; ${report.method.serverOptions}. ${report.method.warmup} warm-up ` +
      `requests per variant, then ${report.method.iterations} (column n), one at a time, in ${report.method.rounds} rounds ` +
      `with the variants' order rotating, GC before each batch. ${report.method.verified}`,
  );
  const busy = Math.max(m.loadAverage1m, m.loadAverage1mAtEnd);
  if (busy > m.cpus / 2) {
    out.push(
      `- **Warning:** the machine was busy (load average ${busy} on ${m.cpus} CPUs): absolute times are inflated and ` +
        'noisier; ratios measured in the same run hold up better, but rerun on a quiet machine before comparing runs.',
    );
  }
  out.push(`- **Ratios:** ${report.method.ratios}`);
  out.push('');
  out.push(table(phase1));
  if (phase2.length > 0) {
    out.push('');
    out.push(
      'Phase 2, after everything above: what one more enabled AsyncLocalStorage costs. `@als-off` / `@als-on` are the same ' +
        'variant with batches alternating (interleaved A/B); `http-gci-memory-countsql` is the HTTP handler with its default ' +
        "`countSql: true`, which enables the library's own storage for good, so it runs last. Compare within this table.",
    );
    out.push('');
    out.push(table(phase2));
  }
  out.push('');
  out.push('Cold first request (one sample each, empty caches, cold JIT; indicative only): ');
  out.push(
    report.variants
      .filter((v) => v.coldMs !== null)
      .map((v) => `\`${v.id}\` ${ms(v.coldMs!)} ms`)
      .join(', '),
  );
  const cacheLines = report.variants.filter((v) => v.hitsPerRequest !== null);
  if (cacheLines.length > 0) {
    out.push('');
    out.push(
      'Per warm request (library variants): ' +
        cacheLines
          .map(
            (v) =>
              `\`${v.id}\` hits ${count(v.hitsPerRequest)}, misses ${count(v.missesPerRequest)}, memo hits ${count(v.memoHitsPerRequest)}`,
          )
          .join('; '),
    );
  }
  if (report.skipped.length > 0) {
    out.push('');
    out.push('Skipped:');
    for (const s of report.skipped) out.push(`- \`${s.id}\`: ${s.reason}`);
  }
  out.push('');
  out.push('Notes per variant:');
  for (const v of report.variants) out.push(`- \`${v.id}\` — ${v.store}; ${v.notes}`);
  return `${out.join('\n')}\n`;
}
