/**
 * The poll app's writes, through MikroORM on the request's entity manager. None of them touches
 * the cache: the `CacheSubscriber` refreshes every affected record, in every version, once the
 * flush's transaction has committed (and before `flush()` resolves).
 *
 * Input is checked before anything reaches the database, so that what the database would refuse
 * (NUL characters, lone surrogates, text longer than the column) is a `BAD_USER_INPUT` error and
 * not an internal one. Whether the viewer may see the records is checked by the callers
 * (resolvers-shared.ts), through the cache's read rules.
 */
import {
  type EntityManager,
  ForeignKeyConstraintViolationException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import { badUserInput, checkTextArgument, toGraphQLError } from '../../src/apollo/index.js';
import { normalizePk } from '../../src/index.js';
import { Choice, Question, User } from './entities.js';

/** Longest question or choice text: the columns are `varchar(200)`. */
export const MAX_TEXT = 200;
/** Most choices `createQuestion` accepts at once. */
export const MAX_CHOICES = 20;

/** Parses a GraphQL `ID` argument into a pk; a malformed one is a `BAD_USER_INPUT` error. */
export function parseId(raw: string | number, model: string): number {
  try {
    return normalizePk(raw, 'number', model) as number;
  } catch (error) {
    throw toGraphQLError(error);
  }
}

/** A question or choice text: trimmed, 1 to 200 characters, storable. */
export function checkText(text: string, argument: string): string {
  return checkTextArgument(text, { argument, minLength: 1, maxLength: MAX_TEXT });
}

/** The checked input of {@link createQuestion}. */
export interface QuestionInput {
  readonly text: string;
  readonly pubDate: Date;
  readonly choices: readonly string[];
}

/** Checks `createQuestion`'s input (texts and the number of choices). */
export function checkQuestionInput(input: QuestionInput): QuestionInput {
  if (input.choices.length > MAX_CHOICES) {
    throw badUserInput(`choices must list at most ${MAX_CHOICES} choices`, { argument: 'choices' });
  }
  return {
    text: checkText(input.text, 'text'),
    pubDate: input.pubDate,
    choices: input.choices.map((choice) => checkText(choice, 'choices')),
  };
}

/** Creates a question and its choices in one flush; returns its id. */
export async function createQuestion(em: EntityManager, input: QuestionInput): Promise<number> {
  const { text, pubDate, choices } = checkQuestionInput(input);
  const question = em.create(Question, { questionText: text, pubDate });
  for (const choiceText of choices) em.create(Choice, { choiceText, question });
  await em.flush();
  return question.id;
}

/** Updates a question's text and/or date (already checked); false when there is no such question. */
export async function updateQuestion(
  em: EntityManager,
  id: number,
  input: { text?: string | null; pubDate?: Date | null },
): Promise<boolean> {
  const question = await em.findOne(Question, id);
  if (!question) return false;
  if (input.text !== undefined && input.text !== null) question.questionText = input.text;
  if (input.pubDate) question.pubDate = input.pubDate;
  await em.flush();
  return true;
}

/** Adds a choice (text already checked) to a question; returns its id, or null when there is no such question. */
export async function addChoice(em: EntityManager, questionId: number, text: string): Promise<number | null> {
  const question = await em.findOne(Question, questionId);
  if (!question) return null;
  const choice = em.create(Choice, { choiceText: text, question });
  await em.flush();
  return choice.id;
}

/** Deletes a choice (its votes go with it); false when there was no such choice. */
export async function deleteChoice(em: EntityManager, id: number): Promise<boolean> {
  const choice = await em.findOne(Choice, id);
  if (!choice) return false;
  em.remove(choice);
  await em.flush();
  return true;
}

async function setVoteOnce(em: EntityManager, choiceId: number, userId: number, voted: boolean) {
  const choice = await em.findOne(Choice, choiceId, { populate: ['voters'] });
  const user = choice ? await em.findOne(User, { id: userId, active: true }) : null;
  if (!choice || !user) return false;
  if (voted) choice.voters.add(user);
  else choice.voters.remove(user);
  await em.flush();
  return true;
}

/**
 * Adds or removes a user's vote; false when the choice or the user does not exist (or the user
 * is inactive). Voting twice, or removing a vote that is not there, changes nothing — also when
 * the two requests arrive at once.
 */
export async function setVote(
  em: EntityManager,
  choiceId: number,
  userId: number,
  voted: boolean,
): Promise<boolean> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      // A fork per attempt: a failed flush leaves its changes pending in the entity manager.
      return await setVoteOnce(em.fork(), choiceId, userId, voted);
    } catch (error) {
      // Two requests adding the same vote at once both read "no vote yet"; the database kept
      // the first insert and refused the second (the pivot table's primary key). The vote is
      // there now, so reading again finds it and writes nothing: one vote, no error.
      if (error instanceof UniqueConstraintViolationException && attempt < 3) continue;
      // The choice or the user was deleted between the read and the write: as if not found.
      if (error instanceof ForeignKeyConstraintViolationException) return false;
      throw error;
    }
  }
}
