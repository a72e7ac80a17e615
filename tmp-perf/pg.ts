import pg from 'pg';
const c = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
await c.connect();
for (let r = 0; r < 3; r++) {
  const t = performance.now();
  for (let i = 0; i < 200; i++) await c.query('select 1');
  console.log('select 1:', ((performance.now() - t) / 200).toFixed(2), 'ms');
}
await c.end();
