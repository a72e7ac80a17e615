import { createClient } from '@keyv/redis';
import IORedis from 'ioredis';

const n = 630;
const keys = Array.from({ length: n }, (_, i) => `perf-test::poll:v1:User:${i}`);
const value =
  '#abcdef01{"id":123,"username":"user123","dateJoined":"2024-01-01T00:00:00.000Z","voteIds":[1,2,3,4,5]}';
const nr = createClient({ url: 'redis://127.0.0.1:6379' });
await nr.connect();
const io = new IORedis('redis://127.0.0.1:6379');
await nr.mSet(Object.fromEntries(keys.map((k) => [k, value])));
async function time(label: string, fn: () => Promise<unknown>, N = 2000) {
  for (let i = 0; i < 200; i++) await fn();
  const t = performance.now();
  for (let i = 0; i < N; i++) await fn();
  console.log(label, (((performance.now() - t) / N) * 1000).toFixed(1), 'µs');
}
await time('node-redis mGet 630', () => nr.mGet(keys));
await time('ioredis mget 630', () => io.mget(keys));
await time('node-redis mGet 10', () => nr.mGet(keys.slice(0, 10)), 10000);
await time('ioredis mget 10', () => io.mget(keys.slice(0, 10)), 10000);
await nr.del(keys);
nr.destroy();
io.disconnect();
