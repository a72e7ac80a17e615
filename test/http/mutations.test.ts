import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollServer } from '../../examples/poll/server.js';
import { type Backend, query, startTestServer, testBackends } from './poll-backends.js';

type Ids = { id: string }[];

describe.each(await testBackends())(
  'mutations over HTTP on %s: the next read is fresh in BOTH versions',
  (backend: Backend) => {
    let server: PollServer;
    let v1: string;
    let v2: string;

    beforeAll(async () => {
      server = await startTestServer(backend, 'mutations');
      ({ v1, v2 } = server.urls);
    });
    afterAll(async () => {
      await server?.close();
    });

    const ids = (list: Ids) => list.map((item) => item.id);

    /** Reads a question's choices in both versions (warming or re-reading the cache). */
    async function choicesOf(questionId: string) {
      const text = `query($id: ID!) { question(id: $id) { choices { id } } }`;
      const [a, b] = await Promise.all([
        query<{ question: { choices: Ids } }>(v1, text, { variables: { id: questionId } }),
        query<{ question: { choices: Ids } }>(v2, text, { variables: { id: questionId } }),
      ]);
      return { v1: ids(a.data.question.choices), v2: ids(b.data.question.choices) };
    }

    it('updateQuestion through v1 is read back renamed in v2, by id and in the list', async () => {
      const before = await query<{ a: { questionText: string } }>(
        v1,
        '{ a: question(id: 4) { questionText } }',
      );
      await query(v2, '{ question(id: 4) { text } questions(first: 100) { nodes { id text } } }'); // warm v2
      const { data } = await query<{ updateQuestion: { id: string; questionText: string } }>(
        v1,
        'mutation { updateQuestion(id: "4", questionText: "Which colour?") { id questionText } }',
      );
      expect(data.updateQuestion).toEqual({ id: '4', questionText: 'Which colour?' });
      expect(before.data.a.questionText).not.toBe('Which colour?');

      const fresh1 = await query<{ question: { questionText: string } }>(
        v1,
        '{ question(id: 4) { questionText } }',
      );
      const fresh2 = await query<{
        question: { text: string };
        questions: { nodes: { id: string; text: string }[] };
      }>(v2, '{ question(id: 4) { text } questions(first: 100) { nodes { id text } } }');
      expect(fresh1.data.question.questionText).toBe('Which colour?');
      expect(fresh2.data.question.text).toBe('Which colour?');
      expect(fresh2.data.questions.nodes.find((q) => q.id === '4')?.text).toBe('Which colour?');
      // Fresh and still cached: the subscriber refreshed the records after the commit.
      expect(fresh2.cache).toMatchObject({ misses: 0, staleRejected: 0 });
    });

    it('vote through v2 shows in v1 voters and in v2 votes and voteCount; unvote through v1 undoes both', async () => {
      const choice = '7';
      const warm = await query<{ choice: { voteCount: number; voters: Ids } }>(
        v2,
        `{ choice(id: ${choice}) { voteCount voters { id } } }`,
      );
      const voters = new Set(ids(warm.data.choice.voters));
      const users = await query<{ [k: string]: { id: string } | null }>(
        v1,
        `{ ${Array.from({ length: 12 }, (_, i) => `u${i + 1}: user(id: ${i + 1}) { id }`).join(' ')} }`,
      );
      const voter = Object.values(users.data).find((u) => u !== null && !voters.has(u.id))!.id;
      await query(v2, `{ user(id: ${voter}) { votes { id } } }`); // warm the user's v2 record
      await query(v1, `{ choice(id: ${choice}) { voters { id } } }`); // warm v1

      const voted = await query<{ vote: { voteCount: number; voters: Ids } }>(
        v2,
        `mutation { vote(choiceId: "${choice}", userId: "${voter}") { voteCount voters { id } } }`,
      );
      expect(voted.data.vote.voteCount).toBe(warm.data.choice.voteCount + 1);
      expect(ids(voted.data.vote.voters)).toContain(voter);

      const inV1 = await query<{ choice: { voters: Ids } }>(
        v1,
        `{ choice(id: ${choice}) { voters { id } } }`,
      );
      const inV2 = await query<{ user: { votes: Ids } }>(v2, `{ user(id: ${voter}) { votes { id } } }`);
      expect(ids(inV1.data.choice.voters)).toContain(voter);
      expect(ids(inV2.data.user.votes)).toContain(choice);

      await query(v1, `mutation { unvote(choiceId: "${choice}", userId: "${voter}") { id } }`);
      const after1 = await query<{ choice: { voters: Ids } }>(
        v1,
        `{ choice(id: ${choice}) { voters { id } } }`,
      );
      const after2 = await query<{ user: { votes: Ids }; choice: { voteCount: number } }>(
        v2,
        `{ user(id: ${voter}) { votes { id } } choice(id: ${choice}) { voteCount } }`,
      );
      expect(ids(after1.data.choice.voters)).not.toContain(voter);
      expect(ids(after2.data.user.votes)).not.toContain(choice);
      expect(after2.data.choice.voteCount).toBe(warm.data.choice.voteCount);
    });

    it('addChoice through v1 and deleteChoice through v2 change the question in both versions', async () => {
      const before = await choicesOf('9');
      expect(before.v1).toEqual(before.v2);

      const added = await query<{ addChoice: { id: string; question: { id: string } } }>(
        v1,
        'mutation { addChoice(questionId: "9", choiceText: "None of these") { id question { id } } }',
      );
      const newId = added.data.addChoice.id;
      expect(added.data.addChoice.question.id).toBe('9');
      const withNew = await choicesOf('9');
      expect(withNew.v1).toEqual([...before.v1, newId].sort((a, b) => Number(a) - Number(b)));
      expect(withNew.v2).toEqual(withNew.v1);

      const removed = await query<{ deleteChoice: boolean }>(
        v2,
        `mutation { deleteChoice(id: "${before.v1[0]}") }`,
      );
      expect(removed.data.deleteChoice).toBe(true);
      const afterDelete = await choicesOf('9');
      expect(afterDelete.v1).toEqual(withNew.v1.slice(1));
      expect(afterDelete.v2).toEqual(afterDelete.v1);
      const gone = await query(v1, `{ choice(id: ${before.v1[0]}) { id } }`);
      const gone2 = await query(v2, `{ choice(id: ${before.v1[0]}) { id } }`);
      expect(gone.data).toEqual({ choice: null });
      expect(gone2.data).toEqual({ choice: null });
      const again = await query<{ deleteChoice: boolean }>(
        v1,
        `mutation { deleteChoice(id: "${before.v1[0]}") }`,
      );
      expect(again.data.deleteChoice).toBe(false);
    });

    it('createQuestion through v2 heads the newest-first list of v1 at once', async () => {
      const listV1 = '{ questions(first: 3) { nodes { id questionText choices { choiceText } } } }';
      const warm = await query<{ questions: { nodes: { id: string }[] } }>(v1, listV1);
      const created = await query<{
        createQuestion: { id: string; text: string; choices: { choiceText: string }[] };
      }>(
        v2,
        'mutation { createQuestion(text: "Tea or coffee?", choices: ["Tea", "Coffee"]) { id text choices { choiceText } } }',
      );
      expect(created.data.createQuestion.text).toBe('Tea or coffee?');
      expect(created.data.createQuestion.choices.map((c) => c.choiceText).sort()).toEqual(['Coffee', 'Tea']);

      const fresh = await query<{
        questions: { nodes: { id: string; questionText: string; choices: unknown[] }[] };
      }>(v1, listV1);
      expect(fresh.data.questions.nodes[0]).toMatchObject({
        id: created.data.createQuestion.id,
        questionText: 'Tea or coffee?',
      });
      expect(fresh.data.questions.nodes[0]!.choices).toHaveLength(2);
      expect(fresh.data.questions.nodes.slice(1).map((q) => q.id)).toEqual(
        warm.data.questions.nodes.slice(0, 2).map((q) => q.id),
      );
    });

    it('a mutation returns what its own request read before, refreshed (the request memo is cleared)', async () => {
      const { data } = await query<{ updateQuestion: { questionText: string } }>(
        v1,
        'mutation { updateQuestion(id: "5", questionText: "Renamed in one request") { questionText } }',
      );
      expect(data.updateQuestion.questionText).toBe('Renamed in one request');
      const { data: both } = await query<{
        a: { questionText: string } | null;
        b: { questionText: string } | null;
      }>(
        v1,
        'mutation { a: updateQuestion(id: "5", questionText: "First") { questionText } b: updateQuestion(id: "5", questionText: "Second") { questionText } }',
      );
      expect(both).toEqual({ a: { questionText: 'First' }, b: { questionText: 'Second' } });
    });
  },
);
