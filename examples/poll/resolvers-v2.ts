import type { Resolvers } from './generated/v2-resolvers.generated.js';
import { questionListOptions } from './queries.js';
import { cachedV2 as cached, choiceMutations, writes } from './resolvers-shared.js';
import { DateTime } from './scalars.js';

/**
 * The v2 resolvers. Against v1: `Question.text` is a plain record field (cache version v2 stores
 * it under that name); `Choice.voteCount` is computed from the cached voter ids (no query);
 * `User.votes` is the newly exposed relation, from the `voteIds` only v2 records carry.
 */
export const resolversV2: Resolvers = {
  DateTime,
  Query: {
    questions: cached.list('Question', questionListOptions),
    question: cached.byId('Question'),
    choice: cached.byId('Choice'),
    user: cached.byId('User'),
  },
  Mutation: {
    async createQuestion(_parent, args, context) {
      const id = await writes.createQuestion(context, args);
      return (await cached.load(context, 'Question', id))!;
    },
    async updateQuestion(_parent, args, context) {
      const id = await writes.updateQuestion(cached, context, args.id, args);
      return id === null ? null : cached.load(context, 'Question', id);
    },
    ...choiceMutations(cached),
  },
  Question: cached.type('Question', { choices: cached.related('Choice', 'choiceIds') }),
  Choice: cached.type('Choice', {
    question: cached.relatedOne('Question', 'questionId'),
    voters: cached.related('User', 'voterIds', { firstArgument: 'first' }),
    voteCount: (choice) => choice.voterIds.length,
  }),
  User: cached.type('User', { votes: cached.related('Choice', 'voteIds') }),
};
