import { LRUCache } from 'lru-cache';
const N = 10_000;
const lru = new LRUCache<string, object>({ max: 10_000, maxSize: 64 * 1024 * 1024 });
const map = new Map<string, object>();
const keys = Array.from({ length: 2000 }, (_, i) => `gci:v1:Choice:${i}`);
for (const k of keys) { lru.set(k, { k }, { size: 200 }); map.set(k, { k }); }
for (const [name, get] of [['lru', (k: string) => lru.get(k)], ['map', (k: string) => map.get(k)]] as const) {
  let x = 0;
  const t0 = performance.now();
  for (let r = 0; r < 500; r++) for (let i = 0; i < keys.length; i++) if (get(keys[(i * 7919) % keys.length]!)) x++;
  console.log(name, (((performance.now() - t0) * 1e6) / (500 * keys.length)).toFixed(1), 'ns/get', x);
}
