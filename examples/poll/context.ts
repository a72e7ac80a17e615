import type { IncomingMessage } from 'node:http';
import type { EntityManager } from '@mikro-orm/core';
import type { CachedContext } from '../../src/apollo/index.js';
import type { PollStrategy } from './strategy.js';

/** Who is asking. A stand-in for real authentication: the `x-viewer-role: staff` header. */
export interface PollViewer {
  /** Staff see questions scheduled for the future; everyone else only published ones. */
  readonly staff: boolean;
}

/** What the poll app adds to each request's context, before the cache's fields. */
export interface PollRequestContext {
  /** A fork of the ORM's entity manager for this request (mutations write through it). */
  readonly em: EntityManager;
  readonly viewer: PollViewer;
  /** The request's clock: "published" means `pubDate <= now`, one instant for the whole request. */
  readonly now: Date;
}

/** The record types of the poll cache, across versions (what its loaders are typed with). */
export type PollCacheRecords = NonNullable<PollStrategy['__records']>;

/** A poll request's full context: the app's fields plus `loaders`, `cacheVersion`, `cacheStats`, `sql`. */
export type PollContext = PollRequestContext & CachedContext<PollCacheRecords>;

/** The app's context function (the base that `cachedContext` wraps). */
export function createPollRequestContext(orm: { em: EntityManager }) {
  return async ({ req }: { req: IncomingMessage }): Promise<PollRequestContext> =>
    pollRequestContext(orm, req.headers['x-viewer-role'] === 'staff');
}

/**
 * One request's context. Its `em` is forked on first use: a request answered from the cache (a
 * warm read) never forks one, which is a measurable share of such a request.
 */
export function pollRequestContext(
  orm: { em: EntityManager },
  staff: boolean,
  now: Date = new Date(),
): PollRequestContext {
  return new PollRequest(orm, { staff }, now);
}

/**
 * The lazy `em` is a getter on the prototype, its state in plain own properties: Apollo copies a
 * context's own properties for each operation (Object.assign), which keeps a prototype getter
 * lazy and would call an own one.
 */
class PollRequest implements PollRequestContext {
  private forked: EntityManager | undefined = undefined;
  constructor(
    private readonly orm: { em: EntityManager },
    readonly viewer: PollViewer,
    readonly now: Date,
  ) {}
  get em(): EntityManager {
    this.forked ??= this.orm.em.fork();
    return this.forked;
  }
}

/** The read rule of questions: published (`pubDate <= now`), or the viewer is staff. */
export function canReadQuestion(question: { readonly pubDate: Date }, context: PollRequestContext): boolean {
  return context.viewer.staff || question.pubDate.getTime() <= context.now.getTime();
}
