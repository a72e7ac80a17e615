import { createClient } from '@keyv/redis';
import { codecs, defineModel, defineStrategy, InstanceCache, type Pk } from '../src/index.js';
import { createRedisStore } from '../src/redis.js';

const n = 630;
const user = defineModel('User', {
  load: async (pks: readonly Pk[]) =>
    pks.map((pk) => ({
      id: pk as number,
      username: `user${pk}`,
      dateJoined: new Date(1700000000000),
      voteIds: [1, 2, 3, 4, 5],
    })),
  serialize: (u: { id: number; username: string; dateJoined: Date; voteIds: number[] }) => ({
    id: u.id,
    username: u.username,
    dateJoined: u.dateJoined,
    voteIds: u.voteIds,
  }),
  codecs: { dateJoined: codecs.datetime, voteIds: codecs.pkList },
  invalidate: () => [],
});
const store = await createRedisStore({ url: 'redis://127.0.0.1:6379', namespace: `perf-${process.pid}` });
const cache = new InstanceCache(defineStrategy({ versions: ['v1'], models: [user] }), { store });
const pks = Array.from({ length: n }, (_, i) => i + 1);
await cache.getInstances('User', pks);
const raw = createClient({ url: 'redis://127.0.0.1:6379' });
await raw.connect();
const keys = pks.map((pk) => `perf-${process.pid}::${cache.keyOf('User', pk)}`);
async function time(label: string, fn: () => Promise<unknown>, N = 2000) {
  for (let i = 0; i < 200; i++) await fn();
  const t = performance.now();
  for (let i = 0; i < N; i++) await fn();
  console.log(label, (((performance.now() - t) / N) * 1000).toFixed(1), 'µs');
}
await time('getInstances 630 warm', () => cache.getInstances('User', pks));
await time('raw mGet + JSON.parse 630', async () =>
  (await raw.mGet(keys)).map((v) => JSON.parse(v!.slice(9))),
);
await time('raw mGet + parse + Date 630', async () =>
  (await raw.mGet(keys)).map((v) => {
    const r = JSON.parse(v!.slice(9));
    r.dateJoined = new Date(r.dateJoined);
    return r;
  }),
);
await store.deleteByPrefix('');
await cache.close();
raw.destroy();
