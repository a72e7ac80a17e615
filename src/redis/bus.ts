import { randomBytes } from 'node:crypto';
import type { BusListener, InvalidationBus } from '../core/store.js';
import { StoreError } from '../errors.js';

/** The part of a node-redis client the bus uses for its own subscriber connection. */
export interface SubscriberClient {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: 'ready' | 'end' | 'error' | 'reconnecting', listener: (...args: unknown[]) => void): unknown;
  destroy(): void;
  readonly isOpen: boolean;
}

/**
 * Announcements of invalidations over Redis pub/sub. Publishing happens inside the store's write
 * script (see `scripts.ts`), so a write and its announcement are one atomic step. Each message
 * carries its publisher's stream id and a sequence number; a subscriber that sees a stream skip a
 * number, or that lost its connection, tells its listeners to reset (drop everything), because an
 * announcement may have been missed.
 *
 * Message: `{stream} {seq}\n{key}\n{key}…`, or `{stream} {seq}\n*` for "reset everything".
 */
export class RedisBus implements InvalidationBus {
  /** This process's publisher id; streams are this id plus the node the script ran on. */
  readonly publisherId = randomBytes(9).toString('base64url');
  readonly channel: string;
  readonly #listeners = new Set<BusListener>();
  readonly #lastSeq = new Map<string, number>();
  readonly #nextSeq = new Map<string, number>();
  readonly #createSubscriber: () => SubscriberClient;
  #subscriber: SubscriberClient | undefined;
  #started: Promise<void> | undefined;
  #live = false;
  #closed = false;

  constructor(channel: string, createSubscriber: () => SubscriberClient) {
    this.channel = channel;
    this.#createSubscriber = createSubscriber;
  }

  get live(): boolean {
    return this.#live;
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener);
    this.#start().catch(() => {});
    return () => this.#listeners.delete(listener);
  }

  ready(): Promise<void> {
    return this.#start();
  }

  /** The next message of `stream` (one per node a script runs on): header plus keys. */
  message(stream: string, keys: readonly string[] | '*'): string {
    const seq = (this.#nextSeq.get(stream) ?? 0) + 1;
    this.#nextSeq.set(stream, seq);
    return `${this.publisherId}${stream} ${seq}\n${keys === '*' ? '*' : keys.join('\n')}`;
  }

  /** Closes the subscriber connection. */
  close(): void {
    this.#closed = true;
    this.#live = false;
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber?.isOpen) subscriber.destroy();
  }

  #start(): Promise<void> {
    this.#started ??= (async () => {
      const subscriber = this.#createSubscriber();
      this.#subscriber = subscriber;
      let subscribed = false;
      // node-redis re-subscribes before it reports 'ready' again: from then on nothing is missed,
      // but what was published while the connection was down is lost, so listeners reset.
      subscriber.on('ready', () => {
        if (!subscribed || this.#closed || this.#live) return;
        this.#lastSeq.clear();
        this.#live = true;
        for (const listener of this.#listeners) listener.reset();
      });
      const down = () => {
        this.#live = false;
      };
      subscriber.on('end', down);
      subscriber.on('reconnecting', down);
      // Errors come with 'reconnecting' when they matter; node-redis needs a listener regardless.
      subscriber.on('error', () => {});
      try {
        await subscriber.connect();
        await subscriber.subscribe(this.channel, (message) => this.#receive(message));
      } catch (error) {
        // Try again later (L1 stays off meanwhile): Redis may be down at startup.
        subscriber.destroy();
        this.#started = undefined;
        if (!this.#closed && this.#listeners.size > 0) {
          setTimeout(() => this.#start().catch(() => {}), 1000).unref();
        }
        throw new StoreError(`RedisBus: cannot subscribe to ${this.channel}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      subscribed = true;
      if (!this.#closed) this.#live = true;
    })();
    return this.#started;
  }

  #receive(message: string): void {
    const newline = message.indexOf('\n');
    const space = message.lastIndexOf(' ', newline);
    if (newline < 0 || space < 0) return;
    const stream = message.slice(0, space);
    const seq = Number(message.slice(space + 1, newline));
    const last = this.#lastSeq.get(stream);
    this.#lastSeq.set(stream, seq);
    const body = message.slice(newline + 1);
    if ((last !== undefined && seq !== last + 1) || body === '*') {
      for (const listener of this.#listeners) listener.reset();
      return;
    }
    const keys = body.split('\n');
    for (const listener of this.#listeners) listener.keys(keys);
  }
}
