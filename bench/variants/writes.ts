/**
 * The mixed workload's write path for the contestants other than the library: the example app's
 * own `setVote` (examples/poll/mutations.ts: MikroORM, one flush) as the `vote`/`unvote`
 * mutations, followed by the contestant's own invalidation, if it has one. The library's
 * contestants use the example's v1 mutations instead, refreshed by its CacheSubscriber.
 */
import type { ApolloServer, BaseContext } from '@apollo/server';
import type { EntityManager } from '@mikro-orm/core';
import { setVote } from '../../examples/poll/mutations.js';
import { checkMutation, execute, UNVOTE, VOTE } from '../lib/apollo.js';

interface VoteArgs {
  readonly choiceId: string;
  readonly userId: string;
}

/**
 * `Mutation.vote` and `Mutation.unvote`: the write, then `afterCommit` (the contestant's
 * invalidation), awaited before the mutation answers.
 */
export function voteMutations<Context extends { readonly em: EntityManager }>(
  afterCommit?: (choiceId: number, userId: number) => Promise<void>,
) {
  const run = async (args: VoteArgs, context: Context, voted: boolean) => {
    const choiceId = Number(args.choiceId);
    const userId = Number(args.userId);
    if (!(await setVote(context.em, choiceId, userId, voted))) return null;
    await afterCommit?.(choiceId, userId);
    return { id: choiceId };
  };
  return {
    vote: (_parent: unknown, args: VoteArgs, context: Context) => run(args, context, true),
    unvote: (_parent: unknown, args: VoteArgs, context: Context) => run(args, context, false),
  };
}

/** Sends one `vote`/`unvote` mutation; fails unless it answered with the choice. */
export async function sendVote<Context extends BaseContext>(
  server: ApolloServer<Context>,
  context: Context,
  choiceId: number,
  userId: number,
  voted: boolean,
): Promise<void> {
  const field = voted ? 'vote' : 'unvote';
  const outcome = await execute(
    server,
    voted ? VOTE : UNVOTE,
    { choiceId: String(choiceId), userId: String(userId) },
    context,
  );
  checkMutation(outcome, `${field}(${choiceId}, ${userId})`);
  const data = outcome.data as Record<string, { id: string } | null> | null;
  if (!data?.[field]) throw new Error(`bench: ${field}(${choiceId}, ${userId}) found no such choice or user`);
}
