import { codecs, defineModel, defineStrategy, InstanceCache, type Pk } from '../src/index.js';
import { createRedisStore } from '../src/redis.js';
const user = defineModel('User', {
  load: async (pks: readonly Pk[]) => pks.map((pk) => ({ id: pk as number, username: `user${pk}`, dateJoined: new Date(1700000000000), voteIds: [1, 2, 3, 4, 5] })),
  serialize: (u: { id: number; username: string; dateJoined: Date; voteIds: number[] }) => ({ id: u.id, username: u.username, dateJoined: u.dateJoined, voteIds: u.voteIds }),
  codecs: { dateJoined: codecs.datetime, voteIds: codecs.pkList },
  invalidate: () => [],
});
const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', namespace: `perf-${process.pid}` });
const cache = new InstanceCache(defineStrategy({ versions: ['v1'], models: [user] }), { store });
for (const n of [1, 4]) {
  const pks = Array.from({ length: n }, (_, i) => i + 1);
  await cache.getInstances('User', pks);
  const keys = pks.map((pk) => `perf-${process.pid}::gci:v1:User:${pk}`);
  const client = store.client as any;
  for (const [label, fn] of [['getInstances', () => cache.getInstances('User', pks)], ['raw mGet', () => client.mGet(keys)]] as const) {
    for (let i = 0; i < 2000; i++) await fn();
    const t = performance.now();
    for (let i = 0; i < 20000; i++) await fn();
    console.log(n, label, ((performance.now() - t) / 20000 * 1000).toFixed(1), 'µs');
  }
}
await store.deleteByPrefix(''); await cache.close();
