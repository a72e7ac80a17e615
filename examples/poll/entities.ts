import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * drf-cached-instances' sample poll app, declared with MikroORM's `defineEntity` and the `p`
 * property builders (no decorators, so it runs unchanged under tsx, vitest and tsc).
 *
 * - `User` — Django's `auth.User`, reduced to what the app uses; `votes` is the inverse side of
 *   `Choice.voters`.
 * - `Question` — `questionText`, `pubDate`, and its `choices` (one-to-many).
 * - `Choice` — belongs to one `Question` (deleted with it), and has many `voters` (the owning side
 *   of the many-to-many, pivot table `choice_voters`).
 *
 * Relations are declared as thunks (`() => p.manyToOne(Question)`) because the schemas refer to
 * each other.
 */
export const User = defineEntity({
  name: 'User',
  properties: {
    id: p.integer().primary().autoincrement(),
    username: p.string().unique(),
    dateJoined: p.datetime(),
    active: p.boolean().default(true),
    votes: () => p.manyToMany(Choice).mappedBy('voters'),
  },
});

/** A poll question: the parent of its choices. */
export const Question = defineEntity({
  name: 'Question',
  properties: {
    id: p.integer().primary().autoincrement(),
    questionText: p.string().length(200),
    pubDate: p.datetime(),
    choices: () => p.oneToMany(Choice).mappedBy('question'),
  },
});

/** One answer to a question; users vote for it. */
export const Choice = defineEntity({
  name: 'Choice',
  properties: {
    id: p.integer().primary().autoincrement(),
    choiceText: p.string().length(200),
    question: () => p.manyToOne(Question).deleteRule('cascade'),
    voters: () => p.manyToMany(User).inversedBy('votes').owner(),
  },
});

/** A poll user (Django's `auth.User`, as the sample app uses it). */
export interface IUser extends InferEntity<typeof User> {}
/** A poll question. */
export interface IQuestion extends InferEntity<typeof Question> {}
/** A choice of a question. */
export interface IChoice extends InferEntity<typeof Choice> {}

/** Every entity schema of the poll app, for `MikroORM.init({ entities })`. */
export const pollEntities = [User, Question, Choice];
