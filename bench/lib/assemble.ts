/** Puts one run's measurements together into latest.json's shape, targets included. */
import { APOLLO_CONFIG_NOTE, countFields, Q1, Q1_VARIABLES, Q2 } from './apollo.js';
import type { Contestant, Skipped } from './contestant.js';
import { type PollModel, voterPrefixLength } from './data.js';
import { loadAverage, type MachineFacts, packageVersions } from './machine.js';
import type { Summary } from './measure.js';
import type { MixedResult } from './mixed.js';
import type { BenchOptions } from './options.js';
import { q2Ids, type Reference, type Scenario } from './phases.js';
import type { BenchReport, ContestantReport, ScenarioReport } from './report.js';
import { computeTargets, IDS, type RequestCounts } from './targets.js';

/** Everything a run measured. */
export interface RunOutcome {
  readonly options: BenchOptions;
  /** `performance.now()` when the run started. */
  readonly started: number;
  readonly machine: MachineFacts;
  readonly services: Record<string, string>;
  readonly model: PollModel;
  readonly reference: Reference;
  /** The contestants timed, in creation order. */
  readonly timed: readonly Contestant[];
  readonly scenarios: readonly Scenario[];
  /** scenario id → contestant id → summary. */
  readonly measured: ReadonlyMap<string, ReadonlyMap<string, Summary>>;
  /** contestant id → Redis MONITOR sample per query. */
  readonly counted: ReadonlyMap<string, { q1: RequestCounts['redis']; q2: RequestCounts['redis'] }>;
  /** contestant id → its mixed workload. */
  readonly mixed: ReadonlyMap<string, MixedResult>;
  readonly contestants: readonly ContestantReport[];
  readonly skipped: readonly Skipped[];
  readonly chunkMs: number;
}

/**
 * The records a query needs, one key each. Q1: the page's questions and choices, and for each
 * choice the voter pks to read until its first `voters` readable ones are found. Q2: one question
 * and its choices, averaged over the ids of the MONITOR sample.
 */
export function recordsPerRequest(
  model: PollModel,
  sampleIds: readonly number[],
): { q1: number; q2: number } {
  const page = model.newestFirst.slice(0, Q1_VARIABLES.first);
  const choices = page.flatMap((q) => model.choicesByQuestion.get(q.id) ?? []);
  const voters = new Set(
    choices.flatMap((c) => {
      const ids = model.voterIds.get(c.id) ?? [];
      return ids.slice(0, voterPrefixLength(model, ids, Q1_VARIABLES.voters));
    }),
  );
  const q2 = sampleIds.reduce((sum, id) => sum + 1 + (model.choicesByQuestion.get(id)?.length ?? 0), 0);
  return { q1: page.length + choices.length + voters.size, q2: q2 / sampleIds.length };
}

function methodNotes(run: RunOutcome): Record<string, string> {
  const { options } = run;
  const modes = options.cacheControl.map((x) => (x ? 'on' : 'off')).join('/');
  return {
    Apollo: `${APOLLO_CONFIG_NOTE}; requests through executeOperation (no HTTP), context creation included`,
    Verification: `before timing (cold and after warm-up) and after timing, every contestant answered Q1 and ${run.reference.q2.size} Q2 (one a missing id) in both cache-control modes byte-identical to the floor, which matches the answers computed from the data; caching contestants had 0 misses when warm`,
    'Warm-up': `per contestant: a caching one reads every question once per timed mode, then ≥ ${options.warmup.q1} Q1 and ≥ ${options.warmup.q2} Q2 and ≥ ${options.warmup.seconds} s (naive: a tenth of the counts, no minimum time)`,
    Timing: `${run.scenarios.length} scenarios (Q1/Q2 × sequential/${options.concurrency} concurrent × cache-control ${modes}); each in ${options.rounds} rounds, every contestant one ${run.chunkMs.toFixed(0)} ms chunk per round, order rotating by one each round, full GC (--expose-gc) before every chunk; req/s = requests ÷ the chunks' wall time; p50/p99 nearest rank`,
    Counts: `SQL per request: each contestant has its own database and statement counter (MikroORM logger; knex query events for raw rows). Redis: a MONITOR sample per contestant (${options.monitorSample.q1} Q1, ${options.monitorSample.q2} Q2, one at a time), commands of its own connections (MULTI…EXEC = 1 round trip), keys = arguments under its key prefix`,
    Memory:
      'retained heap = V8 used heap after a full GC once the contestant was created and warmed, minus before it was created (Redis memory not included); peak heap growth = highest used heap sampled during a chunk minus the heap after the GC that starts it; peak RSS is the whole process',
    'Mixed workload': `${options.mixedSeconds} s per contestant in ${options.rounds} rotating chunks, ${options.concurrency} in flight: 5% vote/unvote toggles (a low-id active user on a choice of the Q1 page, one write per choice at a time), the rest half Q1, half Q2 on random ids; every read checked against the data (definitions: bench/README.md); the votes model checked against each contestant's database at the end`,
  };
}

/** latest.json's content for this run. */
export function assembleReport(run: RunOutcome): BenchReport {
  const { options, model, measured, timed } = run;
  const questionIds = model.data.questions.map((q) => q.id);
  const sampleQ2 = q2Ids(questionIds, 5);
  const records = recordsPerRequest(
    model,
    Array.from({ length: options.monitorSample.q2 }, () => Number(sampleQ2().id)),
  );
  const firstMode = options.cacheControl[0] ? 'on' : 'off';
  const sqlOf = (id: string, query: 'q1' | 'q2') =>
    measured.get(`${query}-seq-cc-${firstMode}`)?.get(id)?.sqlPerRequest ?? null;
  const counts = timed.map((c) => ({
    id: c.id,
    q1: { sql: sqlOf(c.id, 'q1'), redis: run.counted.get(c.id)?.q1 ?? null, records: records.q1 },
    q2: { sql: sqlOf(c.id, 'q2'), redis: run.counted.get(c.id)?.q2 ?? null, records: records.q2 },
  }));
  const mixed = [...run.mixed].map(([id, r]) => ({
    id,
    ...r,
    freshPerSecond: (r.fresh * 1000) / r.wallMs,
    writesPerSecond: (r.writes * 1000) / r.wallMs,
  }));
  const scenarios: ScenarioReport[] = run.scenarios.map((s) => {
    const rows = measured.get(s.id)!;
    const floor = rows.get(IDS.floor)?.rps ?? null;
    const dlpg = rows.get(IDS.dataloaderPostgres)?.rps ?? null;
    return {
      ...s,
      results: timed.map((c) => {
        const summary = rows.get(c.id)!;
        return {
          id: c.id,
          ...summary,
          vsFloor: floor ? summary.rps / floor : null,
          vsDataLoaderPostgres: dlpg ? summary.rps / dlpg : null,
        };
      }),
    };
  });
  const targets = computeTargets({
    scenarios: measured,
    counts: new Map(counts.map((c) => [c.id, c])),
    mixed: new Map(mixed.map((x) => [x.id, x])),
    present: new Set(timed.map((c) => c.id)),
  });
  const q1Json = run.reference.q1;
  const q2Json = [...run.reference.q2.values()][0]!;
  const argv = process.argv.slice(2);
  return {
    format: 2,
    createdAt: new Date().toISOString(),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    quick: options.quick,
    durationSeconds: (performance.now() - run.started) / 1000,
    machine: {
      ...run.machine,
      loadAverageAtEnd: loadAverage(),
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    },
    packages: packageVersions(),
    services: run.services,
    data: {
      scale: options.scale,
      users: model.data.users.length,
      questions: model.data.questions.length,
      choices: model.data.choices.length,
      votes: model.data.votes.length,
      q1: {
        query: Q1,
        variables: Q1_VARIABLES,
        fields: countFields(JSON.parse(q1Json)),
        bytes: Buffer.byteLength(q1Json),
        records: records.q1,
      },
      q2: { query: Q2, fields: countFields(JSON.parse(q2Json)), records: records.q2 },
    },
    method: methodNotes(run),
    contestants: run.contestants,
    scenarios,
    counts,
    mixed,
    targets,
    skipped: run.skipped,
  };
}
