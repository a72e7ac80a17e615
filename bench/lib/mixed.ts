/**
 * The mixed workload: reads (Q1 and Q2) with a share of `vote`/`unvote` writes, every read
 * compared with the database. The definitions (bench/README.md, "Mixed workload") in short:
 *
 * - Writes toggle a vote of a low-id active user (so it lands in `voters(first: 5)`) on a choice of
 *   the Q1 page, through the contestant's own write path. At most one write per choice is in
 *   flight, so each choice's writes are totally ordered: version 0 is the seed, version i the
 *   state after its i-th write. A write is *complete* when its mutation resolved, i.e. the commit
 *   AND the contestant's invalidation are done.
 * - Each event gets a tick of a logical clock: a read's start s and end e, a write's start and end.
 *   For a choice c in a read's answer, the *admissible* versions are k…m: k = writes to c complete
 *   before s, m = writes to c started before e.
 * - A read is FRESH when everything but the voters lists equals the seed's answer and every
 *   choice's voters equal an admissible version. It is STALE when some choice shows only a version
 *   older than k (a write whose invalidation finished before the read began is missing), and
 *   INCONSISTENT otherwise (a value no admissible or older version has).
 *
 * The model of the votes is checked against the contestant's own database after its last chunk.
 */
import { createRandom } from '../../examples/poll/seed.js';
import type { QueryName } from './apollo.js';
import type { Contestant } from './contestant.js';
import type { PollModel } from './data.js';
import { q1Skeleton, q2Expected, splitQ1, votersJson } from './expected.js';
import { collectGarbage } from './measure.js';

/** How the workload is drawn. */
export interface MixedPlan {
  readonly concurrency: number;
  /** Share of operations that are writes (0.05). */
  readonly writeShare: number;
  /** Share of reads that are Q1 (the rest are Q2 on a random question). */
  readonly q1Share: number;
  readonly q1Variables: { readonly first: number; readonly voters: number };
}

interface Write {
  readonly start: number;
  end: number | null;
}
interface ChoiceHistory {
  /** Voter ids now (after every write started so far). */
  readonly current: Set<number>;
  /** Q1's voters JSON of version i. */
  readonly versions: string[];
  readonly writes: Write[];
  inFlight: boolean;
}
interface Read {
  readonly query: QueryName;
  readonly id: number;
  readonly start: number;
  readonly end: number;
  readonly data: unknown;
}

/** Totals of one contestant's mixed workload. */
export interface MixedResult {
  readonly reads: number;
  readonly fresh: number;
  readonly stale: number;
  readonly inconsistent: number;
  readonly writes: number;
  readonly wallMs: number;
  /** The first stale or inconsistent read, explained. */
  readonly firstProblem: string | null;
}

/** One contestant's run of the workload, carried over its chunks. */
export class MixedWorkload {
  readonly #contestant: Contestant;
  readonly #model: PollModel;
  readonly #plan: MixedPlan;
  readonly #questionIds: readonly number[];
  readonly #voterPool: readonly number[];
  readonly #hot: readonly number[];
  readonly #history = new Map<number, ChoiceHistory>();
  readonly #random = createRandom(7);
  readonly #skeleton: string;
  readonly #now: Date;
  #clock = 0;
  #totals = { reads: 0, fresh: 0, stale: 0, inconsistent: 0, writes: 0, wallMs: 0 };
  #firstProblem: string | null = null;

  constructor(contestant: Contestant, model: PollModel, plan: MixedPlan, now: Date) {
    this.#contestant = contestant;
    this.#model = model;
    this.#plan = plan;
    this.#now = now;
    this.#questionIds = model.data.questions.map((q) => q.id);
    // The lowest-id active users: a vote of theirs is among a choice's first five voters.
    this.#voterPool = model.data.users
      .filter((u) => u.active)
      .slice(0, 20)
      .map((u) => u.id);
    const page = model.newestFirst.slice(0, plan.q1Variables.first);
    this.#hot = page.flatMap((q) => (model.choicesByQuestion.get(q.id) ?? []).map((c) => c.id));
    for (const id of this.#hot) {
      const ids = model.voterIds.get(id) ?? [];
      this.#history.set(id, {
        current: new Set(ids),
        versions: [votersJson(model, ids, plan.q1Variables.voters)],
        writes: [],
        inFlight: false,
      });
    }
    this.#skeleton = q1Skeleton(model, plan.q1Variables.first, now);
  }

  /** The choices the writes touch (the Q1 page's). */
  get hotChoices(): readonly number[] {
    return this.#hot;
  }

  /** Runs the workload for `durationMs` (after a full GC); reads are checked after the chunk, off the clock. */
  async runChunk(durationMs: number): Promise<void> {
    collectGarbage();
    const reads: Read[] = [];
    const start = performance.now();
    const deadline = start + durationMs;
    const worker = async () => {
      while (performance.now() < deadline) {
        if (this.#random() < this.#plan.writeShare) await this.#write();
        else reads.push(await this.#read());
      }
    };
    await Promise.all(Array.from({ length: this.#plan.concurrency }, worker));
    this.#totals.wallMs += performance.now() - start;
    for (const read of reads) this.#check(read);
  }

  async #write(): Promise<void> {
    let choiceId = this.#hot[Math.floor(this.#random() * this.#hot.length)]!;
    for (let tries = 0; this.#history.get(choiceId)!.inFlight && tries < 50; tries += 1) {
      choiceId = this.#hot[Math.floor(this.#random() * this.#hot.length)]!;
    }
    const history = this.#history.get(choiceId)!;
    if (history.inFlight) return; // every hot choice busy: skip this write
    const userId = this.#voterPool[Math.floor(this.#random() * this.#voterPool.length)]!;
    const voted = !history.current.has(userId);
    history.inFlight = true;
    if (voted) history.current.add(userId);
    else history.current.delete(userId);
    const ids = [...history.current].sort((a, b) => a - b);
    history.versions.push(votersJson(this.#model, ids, this.#plan.q1Variables.voters));
    const write: Write = { start: ++this.#clock, end: null };
    history.writes.push(write);
    await this.#contestant.vote!(choiceId, userId, voted);
    write.end = ++this.#clock;
    history.inFlight = false;
    this.#totals.writes += 1;
  }

  async #read(): Promise<Read> {
    const q1 = this.#random() < this.#plan.q1Share;
    const id = q1 ? 0 : this.#questionIds[Math.floor(this.#random() * this.#questionIds.length)]!;
    const variables = q1 ? this.#plan.q1Variables : { id: String(id) };
    const start = ++this.#clock;
    const outcome = await this.#contestant.request(q1 ? 'q1' : 'q2', variables, false);
    const end = ++this.#clock;
    if (outcome.errors && outcome.errors.length > 0) {
      throw new Error(
        `bench: ${this.#contestant.id} returned errors in the mixed workload: ${JSON.stringify(outcome.errors).slice(0, 300)}`,
      );
    }
    return { query: q1 ? 'q1' : 'q2', id, start, end, data: outcome.data };
  }

  #check(read: Read): void {
    this.#totals.reads += 1;
    const verdict = read.query === 'q1' ? this.#checkQ1(read) : this.#checkQ2(read);
    if (verdict === null) {
      this.#totals.fresh += 1;
      return;
    }
    if (verdict.kind === 'stale') this.#totals.stale += 1;
    else this.#totals.inconsistent += 1;
    this.#firstProblem ??= `${verdict.kind}: ${verdict.detail}`;
  }

  #checkQ2(read: Read): { kind: 'inconsistent'; detail: string } | null {
    const expected = q2Expected(this.#model, read.id, this.#now);
    const served = JSON.stringify(read.data);
    return served === expected
      ? null
      : { kind: 'inconsistent', detail: `Q2 ${read.id} served ${served.slice(0, 200)}` };
  }

  #checkQ1(read: Read): { kind: 'stale' | 'inconsistent'; detail: string } | null {
    const { skeleton, voters } = splitQ1(read.data);
    if (skeleton !== this.#skeleton)
      return { kind: 'inconsistent', detail: 'Q1 differs outside the voters lists' };
    let stale: string | null = null;
    for (const [choiceId, served] of voters) {
      const history = this.#history.get(choiceId);
      if (!history) return { kind: 'inconsistent', detail: `Q1 shows choice ${choiceId}, not on the page` };
      const k = history.writes.filter((w) => w.end !== null && w.end < read.start).length;
      const m = history.writes.filter((w) => w.start < read.end).length;
      if (history.versions.slice(k, m + 1).includes(served)) continue;
      const older = history.versions.slice(0, k).lastIndexOf(served);
      if (older < 0) {
        return {
          kind: 'inconsistent',
          detail: `choice ${choiceId} served ${served}, no version ever had it`,
        };
      }
      stale ??= `choice ${choiceId} served version ${older}, admissible ${k}…${m} (reads start tick ${read.start})`;
    }
    return stale === null ? null : { kind: 'stale', detail: stale };
  }

  /** Fails when the contestant's database does not hold the votes the model says it does. */
  async checkDatabase(): Promise<void> {
    const db = this.#contestant.db;
    if (!db) return;
    const rows: { choice_id: number; user_id: number }[] = await db
      .knex()('choice_voters')
      .select('choice_id', 'user_id')
      .whereIn('choice_id', [...this.#hot]);
    const actual = new Map<number, number[]>(this.#hot.map((id) => [id, []]));
    for (const row of rows) actual.get(Number(row.choice_id))?.push(Number(row.user_id));
    for (const [choiceId, history] of this.#history) {
      const want = [...history.current].sort((a, b) => a - b).join(',');
      const got = (actual.get(choiceId) ?? []).sort((a, b) => a - b).join(',');
      if (want !== got) {
        throw new Error(
          `bench: ${this.#contestant.id}: after the mixed workload choice ${choiceId} has voters [${got}] in its database, ` +
            `the workload's model says [${want}]: the freshness check would be wrong`,
        );
      }
    }
  }

  /** The totals so far. */
  result(): MixedResult {
    return { ...this.#totals, firstProblem: this.#firstProblem };
  }
}
