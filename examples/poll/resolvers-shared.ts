import { GraphQLError } from 'graphql';
import { clearLoaders, createCachedResolvers } from '../../src/apollo/index.js';
import type { Pk } from '../../src/index.js';
import { canReadQuestion, type PollContext } from './context.js';
import { addChoice, createQuestion, deleteChoice, parseId, setVote, updateQuestion } from './mutations.js';
import type { ChoiceRecord, PollRecordsV1, PollRecordsV2 } from './strategy.js';

/** The read rules of both versions: unpublished questions are staff-only, on every path. */
const canRead = { Question: canReadQuestion };

/** Resolver builders reading cache version v1. */
export const cachedV1 = createCachedResolvers<PollRecordsV1, PollContext>({ canRead });
/** Resolver builders reading cache version v2. */
export const cachedV2 = createCachedResolvers<PollRecordsV2, PollContext>({ canRead });

function checkSchedule(context: PollContext, pubDate: Date | null | undefined): void {
  if (pubDate && pubDate.getTime() > context.now.getTime() && !context.viewer.staff) {
    throw new GraphQLError('Only staff can schedule a question for a future date', {
      extensions: { code: 'FORBIDDEN' },
    });
  }
}

/**
 * The writes, shared by both versions; each version maps its own argument names onto them and
 * reads the result back from its own cache version. After a write the request's loader memo is
 * cleared, so the returned records are the refreshed ones.
 */
export const writes = {
  async createQuestion(
    context: PollContext,
    input: { text: string; pubDate?: Date | null; choices?: readonly string[] | null },
  ) {
    checkSchedule(context, input.pubDate);
    const id = await createQuestion(context.em, {
      text: input.text,
      pubDate: input.pubDate ?? context.now,
      choices: input.choices ?? [],
    });
    clearLoaders(context);
    return id;
  },
  async updateQuestion(
    context: PollContext,
    rawId: string,
    input: { text?: string | null; pubDate?: Date | null },
  ) {
    checkSchedule(context, input.pubDate);
    const id = parseId(rawId, 'Question');
    const found = await updateQuestion(context.em, id, input);
    clearLoaders(context);
    return found ? id : null;
  },
  async addChoice(context: PollContext, rawQuestionId: string, text: string) {
    const questionId = parseId(rawQuestionId, 'Question');
    const id = await addChoice(context.em, questionId, text);
    if (id === null)
      throw new GraphQLError(`No question ${questionId}`, { extensions: { code: 'BAD_USER_INPUT' } });
    clearLoaders(context);
    return id;
  },
  async deleteChoice(context: PollContext, rawId: string) {
    const deleted = await deleteChoice(context.em, parseId(rawId, 'Choice'));
    clearLoaders(context);
    return deleted;
  },
  async setVote(context: PollContext, rawChoiceId: string, rawUserId: string, voted: boolean) {
    const choiceId = parseId(rawChoiceId, 'Choice');
    const found = await setVote(context.em, choiceId, parseId(rawUserId, 'User'), voted);
    clearLoaders(context);
    return found ? choiceId : null;
  },
};

/** What the choice mutations need of a version's resolver builders: reading a Choice back. */
interface ChoiceReader {
  load(context: PollContext, model: 'Choice', pk: Pk): Promise<ChoiceRecord | null>;
}

/**
 * The mutations whose arguments and results are the same in every version: each version passes
 * its own builders, so the returned Choice is read from that version's cache.
 */
export function choiceMutations(cached: ChoiceReader) {
  return {
    async addChoice(
      _parent: unknown,
      args: { questionId: string; choiceText: string },
      context: PollContext,
    ) {
      const id = await writes.addChoice(context, args.questionId, args.choiceText);
      return (await cached.load(context, 'Choice', id))!;
    },
    deleteChoice: (_parent: unknown, args: { id: string }, context: PollContext) =>
      writes.deleteChoice(context, args.id),
    async vote(_parent: unknown, args: { choiceId: string; userId: string }, context: PollContext) {
      const id = await writes.setVote(context, args.choiceId, args.userId, true);
      return id === null ? null : cached.load(context, 'Choice', id);
    },
    async unvote(_parent: unknown, args: { choiceId: string; userId: string }, context: PollContext) {
      const id = await writes.setVote(context, args.choiceId, args.userId, false);
      return id === null ? null : cached.load(context, 'Choice', id);
    },
  };
}
