/**
 * The poll app's writes, through MikroORM on the request's entity manager. None of them touches
 * the cache: the `CacheSubscriber` refreshes every affected record, in every version, once the
 * flush's transaction has committed (and before `flush()` resolves).
 */
import type { EntityManager } from '@mikro-orm/core';
import { badUserInput, toGraphQLError } from '../../src/apollo/index.js';
import { normalizePk } from '../../src/index.js';
import { Choice, Question, User } from './entities.js';

/** Parses a GraphQL `ID` argument into a pk; a malformed one is a `BAD_USER_INPUT` error. */
export function parseId(raw: string | number, model: string): number {
  try {
    return normalizePk(raw, 'number', model) as number;
  } catch (error) {
    throw toGraphQLError(error);
  }
}

function checkText(text: string, argument: string): string {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.length > 200) {
    throw badUserInput(`${argument} must be 1 to 200 characters`, { argument });
  }
  return trimmed;
}

/** Creates a question and its choices in one flush; returns its id. */
export async function createQuestion(
  em: EntityManager,
  input: { text: string; pubDate: Date; choices: readonly string[] },
): Promise<number> {
  const question = em.create(Question, {
    questionText: checkText(input.text, 'text'),
    pubDate: input.pubDate,
  });
  for (const text of input.choices) em.create(Choice, { choiceText: checkText(text, 'choices'), question });
  await em.flush();
  return question.id;
}

/** Updates a question's text and/or date; false when there is no such question. */
export async function updateQuestion(
  em: EntityManager,
  id: number,
  input: { text?: string | null; pubDate?: Date | null },
): Promise<boolean> {
  const question = await em.findOne(Question, id);
  if (!question) return false;
  if (input.text !== undefined && input.text !== null) question.questionText = checkText(input.text, 'text');
  if (input.pubDate) question.pubDate = input.pubDate;
  await em.flush();
  return true;
}

/** Adds a choice to a question; returns its id, or null when there is no such question. */
export async function addChoice(em: EntityManager, questionId: number, text: string): Promise<number | null> {
  const question = await em.findOne(Question, questionId);
  if (!question) return null;
  const choice = em.create(Choice, { choiceText: checkText(text, 'choiceText'), question });
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

/**
 * Adds or removes a user's vote; false when the choice or the user does not exist (or the user
 * is inactive). Voting twice, or removing a vote that is not there, changes nothing.
 */
export async function setVote(
  em: EntityManager,
  choiceId: number,
  userId: number,
  voted: boolean,
): Promise<boolean> {
  const choice = await em.findOne(Choice, choiceId, { populate: ['voters'] });
  const user = choice ? await em.findOne(User, { id: userId, active: true }) : null;
  if (!choice || !user) return false;
  if (voted) choice.voters.add(user);
  else choice.voters.remove(user);
  await em.flush();
  return true;
}
