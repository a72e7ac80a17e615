/**
 * The answers the data implies, computed from the model without GraphQL: the reference for the
 * mixed workload's freshness check. They are checked against the floor's real answers before any
 * timing, so the checker cannot drift from what the API returns.
 */
import { encodeCursor } from './apollo.js';
import { firstActiveVoters, type PollModel } from './data.js';

/** The voters list of one choice as Q1 serializes it. */
export function votersJson(model: PollModel, voterIds: readonly number[], first: number): string {
  return JSON.stringify(
    firstActiveVoters(model, voterIds, first).map((u) => ({ id: String(u.id), username: u.username })),
  );
}

/** Q1's `data` with every `voters` list replaced by null: what no vote can change. */
export function q1Skeleton(model: PollModel, first: number, now: Date): string {
  const rows = model.newestFirst.filter((q) => q.pubDate.getTime() <= now.getTime()).slice(0, first + 1);
  const page = rows.slice(0, first);
  const last = page[page.length - 1];
  return JSON.stringify({
    questions: {
      nodes: page.map((q) => ({
        id: String(q.id),
        questionText: q.questionText,
        pubDate: q.pubDate.toISOString(),
        choices: (model.choicesByQuestion.get(q.id) ?? []).map((c) => ({
          id: String(c.id),
          choiceText: c.choiceText,
          voters: null,
        })),
      })),
      pageInfo: {
        hasNextPage: rows.length > first,
        endCursor: last ? encodeCursor([last.pubDate.toISOString(), last.id]) : null,
      },
    },
  });
}

/** Q1's `data` as the baseline data answers it. */
export function q1Expected(model: PollModel, first: number, voters: number, now: Date): string {
  const data = JSON.parse(q1Skeleton(model, first, now)) as Q1Data;
  for (const node of data.questions.nodes) {
    for (const choice of node.choices) {
      choice.voters = JSON.parse(votersJson(model, model.voterIds.get(Number(choice.id)) ?? [], voters));
    }
  }
  return JSON.stringify(data);
}

/** Q2's `data` for one id (votes never change it). */
export function q2Expected(model: PollModel, id: number, now: Date): string {
  const q = model.questionById.get(id);
  if (!q || q.pubDate.getTime() > now.getTime()) return JSON.stringify({ question: null });
  return JSON.stringify({
    question: {
      id: String(q.id),
      questionText: q.questionText,
      pubDate: q.pubDate.toISOString(),
      choices: (model.choicesByQuestion.get(q.id) ?? []).map((c) => ({
        id: String(c.id),
        choiceText: c.choiceText,
      })),
    },
  });
}

/** The shape of Q1's data, as far as the checker walks it. */
export interface Q1Data {
  questions: {
    nodes: { choices: { id: string; voters: unknown }[] }[];
  };
}

/**
 * Splits a Q1 answer into its skeleton (voters nulled) and each choice's voters JSON. Mutates a
 * copy, never the answer.
 */
export function splitQ1(data: unknown): { skeleton: string; voters: Map<number, string> } {
  const copy = JSON.parse(JSON.stringify(data)) as Q1Data;
  const voters = new Map<number, string>();
  for (const node of copy.questions?.nodes ?? []) {
    for (const choice of node.choices ?? []) {
      voters.set(Number(choice.id), JSON.stringify(choice.voters));
      choice.voters = null;
    }
  }
  return { skeleton: JSON.stringify(copy), voters };
}
