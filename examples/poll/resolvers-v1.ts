import type { Resolvers } from './generated/v1-resolvers.generated.js';
import { questionListOptions } from './queries.js';
import { cachedV1 as cached, choiceMutations, writes } from './resolvers-shared.js';
import { DateTime } from './scalars.js';

/**
 * The v1 resolvers: every object type is a cached model, every relation a cached pk list, the
 * root list one pk query. Typed by the signatures codegen generated from schema/v1.
 */
export const resolversV1: Resolvers = {
  DateTime,
  Query: {
    questions: cached.list('Question', questionListOptions),
    question: cached.byId('Question'),
    choice: cached.byId('Choice'),
    user: cached.byId('User'),
  },
  Mutation: {
    async createQuestion(_parent, args, context) {
      const id = await writes.createQuestion(context, { ...args, text: args.questionText });
      return (await cached.load(context, 'Question', id))!;
    },
    async updateQuestion(_parent, args, context) {
      const id = await writes.updateQuestion(cached, context, args.id, {
        text: args.questionText,
        pubDate: args.pubDate,
      });
      return id === null ? null : cached.load(context, 'Question', id);
    },
    ...choiceMutations(cached),
  },
  Question: cached.type('Question', { choices: cached.related('Choice', 'choiceIds') }),
  Choice: cached.type('Choice', {
    question: cached.relatedOne('Question', 'questionId'),
    voters: cached.related('User', 'voterIds', { firstArgument: 'first' }),
  }),
};
