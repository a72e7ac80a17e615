/**
 * One MikroORM subscriber registered on a test ORM for a whole file, forwarding every event to
 * the current test's `CacheSubscriber` (a test's "process"): MikroORM takes subscribers at init,
 * while each test builds its own cache, journal and runner.
 */
import type { EventArgs, EventSubscriber, FlushEventArgs, TransactionEventArgs } from '@mikro-orm/core';
import type { CacheSubscriber } from '../../src/mikro-orm/index.js';

/** Forwards to {@link ForwardingSubscriber.current}; nothing while it is `undefined`. */
export class ForwardingSubscriber implements EventSubscriber {
  current: CacheSubscriber | undefined;
  onFlush = (args: FlushEventArgs) => this.current?.onFlush(args);
  afterFlush = (args: FlushEventArgs) => this.current?.afterFlush(args);
  afterUpsert = (args: EventArgs<object>) => this.current?.afterUpsert(args);
  afterTransactionStart = (args: TransactionEventArgs) => this.current?.afterTransactionStart(args);
  beforeTransactionCommit = (args: TransactionEventArgs) => this.current?.beforeTransactionCommit(args);
  afterTransactionCommit = (args: TransactionEventArgs) => this.current?.afterTransactionCommit(args);
  beforeTransactionRollback = (args: TransactionEventArgs) => this.current?.beforeTransactionRollback(args);
  afterTransactionRollback = (args: TransactionEventArgs) => this.current?.afterTransactionRollback(args);
}
