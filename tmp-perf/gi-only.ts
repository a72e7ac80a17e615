import { codecs, defineModel, defineStrategy, InstanceCache, type Pk } from '../src/index.js';
import { createRedisStore } from '../src/redis.js';
const n = 630;
const user = defineModel('User', {
  load: async (pks: readonly Pk[]) => pks.map((pk) => ({ id: pk as number, username: `user${pk}`, dateJoined: new Date(1700000000000), voteIds: [1, 2, 3, 4, 5] })),
  serialize: (u: { id: number; username: string; dateJoined: Date; voteIds: number[] }) => ({ id: u.id, username: u.username, dateJoined: u.dateJoined, voteIds: u.voteIds }),
  codecs: { dateJoined: codecs.datetime, voteIds: codecs.pkList },
  invalidate: () => [],
});
const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', namespace: `perf-${process.pid}` });
const cache = new InstanceCache(defineStrategy({ versions: ['v1'], models: [user] }), { store });
const pks = Array.from({ length: n }, (_, i) => i + 1);
await cache.getInstances('User', pks);
const t = performance.now();
for (let i = 0; i < 6000; i++) await cache.getInstances('User', pks);
console.log(((performance.now() - t) / 6000 * 1000).toFixed(1), 'µs');
await store.deleteByPrefix(''); await cache.close();
