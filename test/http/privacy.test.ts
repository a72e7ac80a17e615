import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PollServer } from '../../examples/poll/server.js';
import {
  type Backend,
  databaseState,
  type GraphQLBody,
  post,
  query,
  startTestServer,
  testBackends,
} from './poll-backends.js';

const STAFF = { 'x-viewer-role': 'staff' };
const HIDDEN_TEXT = 'Secret launch date';
const HIDDEN_CHOICES = ['Hidden choice A', 'Hidden choice B'];

/** Every `id` under fields named `key`, anywhere in an answer (`votes`, `nodes`, `choices`). */
function idsUnder(value: unknown, key: string, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) idsUnder(item, key, found);
  } else if (value && typeof value === 'object') {
    for (const [name, child] of Object.entries(value)) {
      if (name === key && Array.isArray(child)) {
        for (const item of child)
          if (item && typeof item === 'object' && 'id' in item) found.push(String(item.id));
      }
      idsUnder(child, key, found);
    }
  }
  return found;
}

/**
 * The privacy suite of issue 9: every probe that leaked an unpublished (staff-only) question,
 * run without staff rights, in both versions, against the same probe on ids that do not exist.
 * A probe leaks when its answer carries the hidden question's or choices' text, or differs from
 * the answer about a record that does not exist (ids aside); it writes when the database
 * differs afterwards. Expected: 0 leaks, 0 writes.
 */
describe.each(await testBackends())(
  'privacy of unpublished questions over HTTP on %s',
  (backend: Backend) => {
    let server: PollServer;
    /** The hidden question, its choices, a user who voted for one of them, and another user. */
    const hidden = { question: '', choice: '', otherChoice: '', voter: '1', other: '2' };
    /** Ids that do not exist (the twins of the hidden ones). */
    const missing = { question: '999901', choice: '999902', otherChoice: '999903' };

    beforeAll(async () => {
      server = await startTestServer(backend, 'privacy');
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
      const { data } = await query<{ createQuestion: { id: string; choices: { id: string }[] } }>(
        server.urls.v2,
        'mutation($t: String!, $d: DateTime, $c: [String!]) { createQuestion(text: $t, pubDate: $d, choices: $c) { id choices { id } } }',
        { variables: { t: HIDDEN_TEXT, d: tomorrow, c: HIDDEN_CHOICES }, headers: STAFF },
      );
      hidden.question = data.createQuestion.id;
      [hidden.choice, hidden.otherChoice] = data.createQuestion.choices.map((c) => c.id) as [string, string];
      await query(
        server.urls.v2,
        `mutation { vote(choiceId: "${hidden.choice}", userId: "${hidden.voter}") { id } }`,
        {
          headers: STAFF,
        },
      );
      // Warm every record as staff: what the public reads below is cached, and still hidden.
      await query(
        server.urls.v2,
        `{ question(id: ${hidden.question}) { choices { id voters { id votes { id } } } } user(id: ${hidden.voter}) { votes { id } } }`,
        { headers: STAFF },
      );
    });
    afterAll(async () => {
      await server?.close();
    });

    /** A probe: one request about the hidden records, written once with ids as placeholders. */
    interface Probe {
      readonly name: string;
      readonly versions: readonly ('v1' | 'v2')[];
      /** `$Q`, `$C`, `$C2`, `$U`, `$U2`, `$NOW`, `$FUTURE` are replaced before sending. */
      readonly query: string;
      /** Extra check on the public answer (beyond the twin comparison). */
      readonly check?: (body: GraphQLBody) => boolean;
    }

    const probes: Probe[] = [
      // Reads: by id, nested, lists, search, counts, User.votes.
      { name: 'question by id', versions: ['v1', 'v2'], query: '{ question(id: $Q) { id pubDate } }' },
      {
        name: 'question choices',
        versions: ['v1', 'v2'],
        query: '{ question(id: $Q) { choices { id choiceText } } }',
      },
      { name: 'choice by id', versions: ['v1', 'v2'], query: '{ choice(id: $C) { id choiceText } }' },
      { name: 'choice → question', versions: ['v1', 'v2'], query: '{ choice(id: $C) { question { id } } }' },
      {
        name: 'choice voters',
        versions: ['v1', 'v2'],
        query: '{ choice(id: $C) { voters { id username } } }',
      },
      { name: 'other choice by id', versions: ['v1', 'v2'], query: '{ choice(id: $C2) { id choiceText } }' },
      { name: 'choice voteCount', versions: ['v2'], query: '{ choice(id: $C) { voteCount } }' },
      {
        name: 'User.votes',
        versions: ['v2'],
        query: '{ user(id: $U) { votes { id choiceText question { id } } } }',
        check: (body) => {
          const votes = idsUnder(body.data, 'votes');
          return votes.length > 0 && !votes.includes(hidden.choice);
        },
      },
      {
        name: 'User.votes → voters → votes',
        versions: ['v2'],
        query: '{ user(id: $U) { votes { voters { votes { id choiceText } } } } }',
        check: (body) => !idsUnder(body.data, 'votes').includes(hidden.choice),
      },
      {
        name: 'question list and its count',
        versions: ['v1', 'v2'],
        query: '{ questions(first: 100) { totalCount nodes { id choices { id } } } }',
        check: (body) => {
          const nodes = idsUnder(body.data, 'nodes');
          const choices = idsUnder(body.data, 'choices');
          const total = (body.data as { questions: { totalCount: number } }).questions.totalCount;
          return (
            nodes.length === total &&
            !nodes.includes(hidden.question) &&
            !choices.includes(hidden.choice) &&
            !choices.includes(hidden.otherChoice)
          );
        },
      },
      {
        name: 'search for the hidden text',
        versions: ['v1', 'v2'],
        query: '{ questions(search: "secret launch") { totalCount nodes { id } } }',
        check: (body) => JSON.stringify(body.data) === '{"questions":{"totalCount":0,"nodes":[]}}',
      },
      {
        name: 'a cursor from the future',
        versions: ['v1', 'v2'],
        query: `{ questions(first: 5, after: "${Buffer.from(JSON.stringify(['2999-01-01T00:00:00.000Z', 0])).toString('base64url')}") { nodes { id } } }`,
        check: (body) => !idsUnder(body.data, 'nodes').includes(hidden.question),
      },
      // Writes: each must answer as for a record that does not exist, and write nothing.
      {
        name: 'updateQuestion text',
        versions: ['v1'],
        query: 'mutation { updateQuestion(id: "$Q", questionText: "Hacked") { id } }',
      },
      {
        name: 'updateQuestion text',
        versions: ['v2'],
        query: 'mutation { updateQuestion(id: "$Q", text: "Hacked") { id } }',
      },
      {
        name: 'publish early (pubDate now)',
        versions: ['v1', 'v2'],
        query: 'mutation { updateQuestion(id: "$Q", pubDate: "$NOW") { id } }',
      },
      {
        name: 'reschedule (pubDate future)',
        versions: ['v1', 'v2'],
        query: 'mutation { updateQuestion(id: "$Q", pubDate: "$FUTURE") { id } }',
      },
      {
        name: 'addChoice',
        versions: ['v1', 'v2'],
        query: 'mutation { addChoice(questionId: "$Q", choiceText: "Injected") { id } }',
      },
      {
        name: 'vote',
        versions: ['v1', 'v2'],
        query: 'mutation { vote(choiceId: "$C", userId: "$U2") { id } }',
      },
      {
        name: 'unvote',
        versions: ['v1', 'v2'],
        query: 'mutation { unvote(choiceId: "$C", userId: "$U") { id } }',
      },
      { name: 'deleteChoice', versions: ['v1', 'v2'], query: 'mutation { deleteChoice(id: "$C2") }' },
    ];

    function render(text: string, ids: { question: string; choice: string; otherChoice: string }): string {
      return text
        .replaceAll('$Q', ids.question)
        .replaceAll('$C2', ids.otherChoice)
        .replaceAll('$C', ids.choice)
        .replaceAll('$U2', hidden.other)
        .replaceAll('$U', hidden.voter)
        .replaceAll('$NOW', new Date(Date.now() - 1000).toISOString())
        .replaceAll('$FUTURE', new Date(Date.now() + 7 * 86_400_000).toISOString());
    }

    /** The answer with the probed ids replaced (whole numbers only), so answers about different ids compare. */
    function normalize(body: GraphQLBody, ids: { question: string; choice: string; otherChoice: string }) {
      return JSON.stringify({
        data: body.data,
        errors: body.errors?.map((e) => [e.message, e.extensions?.code]),
      })
        .replace(new RegExp(`\\b${ids.question}\\b`, 'g'), 'Q')
        .replace(new RegExp(`\\b${ids.otherChoice}\\b`, 'g'), 'C2')
        .replace(new RegExp(`\\b${ids.choice}\\b`, 'g'), 'C');
    }

    it('every probe without staff rights: 0 leaks, 0 writes, in both versions', async () => {
      const before = await databaseState(server);
      const leaks: string[] = [];
      let sent = 0;
      for (const probe of probes) {
        for (const version of probe.versions) {
          const url = server.urls[version];
          const [onHidden, onMissing] = await Promise.all([
            post(url, render(probe.query, hidden), { stats: false }),
            post(url, render(probe.query, missing), { stats: false }),
          ]);
          sent += 1;
          const reasons: string[] = [];
          for (const secret of [HIDDEN_TEXT, ...HIDDEN_CHOICES]) {
            if (onHidden.text.includes(secret)) reasons.push(`shows "${secret}"`);
          }
          // A probe naming the hidden records must answer as the same probe on missing ones.
          const namesIds = /\$(Q|C)/.test(probe.query);
          if (namesIds && normalize(onHidden.body, hidden) !== normalize(onMissing.body, missing)) {
            reasons.push(
              `answers ${normalize(onHidden.body, hidden)} where a missing record gets ${normalize(onMissing.body, missing)}`,
            );
          }
          if (probe.check && !probe.check(onHidden.body))
            reasons.push(`fails its check: ${onHidden.text.slice(0, 300)}`);
          if (reasons.length > 0) leaks.push(`${version} ${probe.name}: ${reasons.join('; ')}`);
        }
      }
      expect(sent).toBe(35);
      expect(leaks).toEqual([]);
      expect(await databaseState(server)).toBe(before);
    });

    it('staff still see, edit and publish it (the probes are refused by visibility, not broken)', async () => {
      const seen = await query<{ choice: { choiceText: string; question: { id: string } } }>(
        server.urls.v1,
        `{ choice(id: ${hidden.choice}) { choiceText question { id } } }`,
        { headers: STAFF },
      );
      expect(seen.data.choice).toEqual({ choiceText: HIDDEN_CHOICES[0], question: { id: hidden.question } });
      const before = await databaseState(server);
      const published = await post(
        server.urls.v2,
        `mutation { updateQuestion(id: "${hidden.question}", pubDate: "${new Date(Date.now() - 1000).toISOString()}") { id } }`,
        { headers: STAFF },
      );
      expect(published.body).toMatchObject({ data: { updateQuestion: { id: hidden.question } } });
      expect(await databaseState(server)).not.toBe(before);
      const now = await query<{ choice: { choiceText: string } | null }>(
        server.urls.v2,
        `{ choice(id: ${hidden.choice}) { choiceText } }`,
      );
      expect(now.data.choice?.choiceText).toBe(HIDDEN_CHOICES[0]);
    });
  },
);
