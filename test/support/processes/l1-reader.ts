/**
 * A reader process for the multi-process L1 suite: a cache with L1 on the shared Redis, driven
 * over IPC. Messages in: { read: pk } → { read, record, l1Hit }, { live: true } → { live }.
 * Messages out, unasked: { heard: keys, at } whenever its bus announces keys, { reset: at }.
 */
import { createStats } from '../../../src/index.js';
import { openThingCache } from './thing-world.js';

const [path, redisUrl, namespace] = process.argv.slice(2) as [string, string, string];
const { cache, store } = await openThingCache(path, redisUrl, namespace, { l1: true });
const now = () => performance.timeOrigin + performance.now();
store.bus!.subscribe({
  keys: (keys) => process.send!({ heard: keys, at: now() }),
  reset: () => process.send!({ reset: now() }),
});
await store.bus!.ready();
process.on('message', async (message: { read?: number; live?: boolean; stop?: boolean }) => {
  if (message.read !== undefined) {
    const stats = createStats();
    const [record] = await cache.getInstances('Thing', [message.read], { stats });
    process.send!({ read: message.read, record, l1Hit: stats.l1Hits > 0 });
  } else if (message.live) {
    process.send!({ live: store.bus!.live });
  } else if (message.stop) {
    await cache.close();
    process.exit(0);
  }
});
process.send!({ ready: true });
