/**
 * The coarse alternative: a whole-response cache (`@apollo/server-plugin-response-cache`) in
 * front of the library's resolvers, measured on warm hits: the response is looked up by a hash of
 * the query and variables and served without executing anything.
 *
 * With Apollo's cache-control plugin disabled nothing gives a response a cache policy, and the
 * response cache stores only responses that have one; a two-line plugin sets `maxAge` on every
 * operation instead of wrapping every resolver. Not equivalent to the instance cache: no
 * invalidation on writes (served until maxAge passes), one entry per distinct query × variables,
 * and a shared response ignores per-viewer read rules unless keyed by session.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import type { PollContext } from '../../examples/poll/context.js';
import type { BenchDatabase } from '../lib/services.js';
import type { BenchVariables, Variant } from '../lib/variant.js';
import { createCachedInstancesVariant } from './cached-instances.js';

/** Gives every operation a 5-minute public cache policy (what `@cacheControl` hints would do). */
function cacheEveryOperation(): ApolloServerPlugin<PollContext> {
  return {
    async requestDidStart() {
      return {
        async executionDidStart({ overallCachePolicy }) {
          overallCachePolicy.replace({ maxAge: 300, scope: 'PUBLIC' });
        },
      };
    },
  };
}

/** The response cache over the library's memory-store variant (see the file comment). */
export async function createResponseCacheVariant(
  db: BenchDatabase,
  variables: BenchVariables,
): Promise<Variant> {
  const inner = await createCachedInstancesVariant(db, 'memory', variables, [
    cacheEveryOperation(),
    responseCachePlugin<PollContext>(),
  ]);
  return {
    ...inner,
    id: 'response-cache',
    label: 'whole-response cache (Apollo response-cache plugin), warm hits',
    database: 'none',
    store: "Apollo's in-memory LRU (whole responses)",
    baseline: `dataloader-${db.kind}`,
    notes: 'serves a stored response for the same query + variables; no invalidation on writes',
  };
}
