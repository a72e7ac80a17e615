/**
 * The coarse alternative: a whole-response cache (`@apollo/server-plugin-response-cache`) in
 * front of the library's memory-store contestant, measured on hits: a response is looked up by a
 * hash of the query and variables and served without executing anything. The warm-up asks every
 * question once, so Q2 is all hits too.
 *
 * Nothing in schema/v1 carries `@cacheControl` hints, so without help the response cache would
 * store nothing (Apollo's default maxAge is 0); a small plugin gives every response a 1-hour
 * public policy in `willSendResponse`, just before the response cache reads it — the same in both
 * cache-control modes. It has no invalidation: writes refresh the library's records behind it, but
 * the stored responses are served until they expire — the mixed workload counts them as stale.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import type { PollContext } from '../../examples/poll/context.js';
import type { Contestant } from '../lib/contestant.js';
import type { BenchDatabase } from '../lib/databases.js';
import {
  CACHED_INSTANCES_VARIANTS,
  type CachedInstancesRun,
  createCachedInstances,
} from './cached-instances.js';

/** Gives every response a 1-hour public cache policy, longer than any run (what `@cacheControl` hints would do). */
function cacheEveryResponse(): ApolloServerPlugin<PollContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ overallCachePolicy }) {
          overallCachePolicy.replace({ maxAge: 3600, scope: 'PUBLIC' });
        },
      };
    },
  };
}

/** The response cache over the library's memory store (see the file comment). */
export async function createResponseCache(db: BenchDatabase, run: CachedInstancesRun): Promise<Contestant> {
  const memory = CACHED_INSTANCES_VARIANTS.find((v) => v.id === 'gci-memory')!;
  const inner = await createCachedInstances(memory, db, run, () => [
    cacheEveryResponse(),
    responseCachePlugin<PollContext>(),
  ]);
  return {
    ...inner,
    id: 'response-cache',
    label: 'whole-response cache (Apollo response-cache plugin) over the library, hits',
    store: "Apollo's in-memory LRU of whole responses (in front of the library's memory store)",
    notes: 'serves a stored response per query + variables; no invalidation on writes',
  };
}
