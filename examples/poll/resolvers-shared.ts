import { GraphQLError } from 'graphql';
import {
  type CanRead,
  clearLoaders,
  createCachedResolvers,
  readableThrough,
} from '../../src/apollo/index.js';
import type { Pk } from '../../src/index.js';
import { canReadQuestion, type PollContext } from './context.js';
import {
  addChoice,
  checkText,
  createQuestion,
  deleteChoice,
  parseId,
  setVote,
  updateQuestion,
} from './mutations.js';
import type { ChoiceRecord, PollRecordsV1, PollRecordsV2 } from './strategy.js';

/**
 * The read rules of both versions, applied on every path (by id, lists, nested relations,
 * `User.votes`): an unpublished question is staff-only, and so is everything that belongs to it —
 * a choice is readable exactly when its question is (read through the request's loaders,
 * batched). Users are hidden by the strategy when inactive.
 */
const canRead = {
  Question: canReadQuestion,
  Choice: readableThrough('Question', 'questionId'),
} satisfies CanRead<PollRecordsV1, PollContext> & CanRead<PollRecordsV2, PollContext>;

/** Resolver builders reading cache version v1. */
export const cachedV1 = createCachedResolvers<PollRecordsV1, PollContext>({ canRead });
/** Resolver builders reading cache version v2. */
export const cachedV2 = createCachedResolvers<PollRecordsV2, PollContext>({ canRead });

/**
 * What the writes need of a version's resolver builders: reading a record as this request may
 * see it (`null` when it does not exist OR the viewer may not see it).
 */
export interface VisibleReader {
  load(context: PollContext, model: 'Question' | 'Choice' | 'User', pk: Pk): Promise<object | null>;
}

function checkSchedule(context: PollContext, pubDate: Date | null | undefined): void {
  if (pubDate && pubDate.getTime() > context.now.getTime() && !context.viewer.staff) {
    throw new GraphQLError('Only staff can schedule a question for a future date', {
      extensions: { code: 'FORBIDDEN' },
    });
  }
}

function noQuestion(id: number): GraphQLError {
  return new GraphQLError(`No question ${id}`, { extensions: { code: 'BAD_USER_INPUT' } });
}

/**
 * The writes, shared by both versions; each version maps its own argument names onto them and
 * reads the result back from its own cache version. After a write the request's loader memo is
 * cleared, so the returned records are the refreshed ones.
 *
 * Every write on an existing record first reads it through the version's read rules: a record
 * the viewer may not see is answered exactly as one that does not exist, and nothing is written
 * (an unpublished question cannot be edited, published early, given choices or voted on by the
 * public). Input is checked before visibility, so a bad input gets the same answer either way.
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
    reader: VisibleReader,
    context: PollContext,
    rawId: string,
    input: { text?: string | null; pubDate?: Date | null },
  ) {
    checkSchedule(context, input.pubDate);
    const text = input.text === undefined || input.text === null ? input.text : checkText(input.text, 'text');
    const id = parseId(rawId, 'Question');
    if (!(await reader.load(context, 'Question', id))) return null;
    const found = await updateQuestion(context.em, id, { text, pubDate: input.pubDate });
    clearLoaders(context);
    return found ? id : null;
  },
  async addChoice(reader: VisibleReader, context: PollContext, rawQuestionId: string, text: string) {
    const choiceText = checkText(text, 'choiceText');
    const questionId = parseId(rawQuestionId, 'Question');
    if (!(await reader.load(context, 'Question', questionId))) throw noQuestion(questionId);
    const id = await addChoice(context.em, questionId, choiceText);
    if (id === null) throw noQuestion(questionId);
    clearLoaders(context);
    return id;
  },
  async deleteChoice(reader: VisibleReader, context: PollContext, rawId: string) {
    const id = parseId(rawId, 'Choice');
    if (!(await reader.load(context, 'Choice', id))) return false;
    const deleted = await deleteChoice(context.em, id);
    clearLoaders(context);
    return deleted;
  },
  async setVote(
    reader: VisibleReader,
    context: PollContext,
    rawChoiceId: string,
    rawUserId: string,
    voted: boolean,
  ) {
    const choiceId = parseId(rawChoiceId, 'Choice');
    const userId = parseId(rawUserId, 'User');
    const [choice, user] = await Promise.all([
      reader.load(context, 'Choice', choiceId),
      reader.load(context, 'User', userId),
    ]);
    if (!choice || !user) return null;
    const found = await setVote(context.em, choiceId, userId, voted);
    clearLoaders(context);
    return found ? choiceId : null;
  },
};

/** What the choice mutations need of a version's resolver builders: reading records back. */
interface ChoiceReader extends VisibleReader {
  load(context: PollContext, model: 'Choice', pk: Pk): Promise<ChoiceRecord | null>;
  load(context: PollContext, model: 'Question' | 'Choice' | 'User', pk: Pk): Promise<object | null>;
}

/**
 * The mutations whose arguments and results are the same in every version: each version passes
 * its own builders, so the returned Choice is read from that version's cache (and its rules).
 */
export function choiceMutations(cached: ChoiceReader) {
  return {
    async addChoice(
      _parent: unknown,
      args: { questionId: string; choiceText: string },
      context: PollContext,
    ) {
      const id = await writes.addChoice(cached, context, args.questionId, args.choiceText);
      return (await cached.load(context, 'Choice', id))!;
    },
    deleteChoice: (_parent: unknown, args: { id: string }, context: PollContext) =>
      writes.deleteChoice(cached, context, args.id),
    async vote(_parent: unknown, args: { choiceId: string; userId: string }, context: PollContext) {
      const id = await writes.setVote(cached, context, args.choiceId, args.userId, true);
      return id === null ? null : cached.load(context, 'Choice', id);
    },
    async unvote(_parent: unknown, args: { choiceId: string; userId: string }, context: PollContext) {
      const id = await writes.setVote(cached, context, args.choiceId, args.userId, false);
      return id === null ? null : cached.load(context, 'Choice', id);
    },
  };
}
