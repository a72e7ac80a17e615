import { startPollServer } from '../examples/poll/server.js';
const s = await startPollServer({ port: 0, cacheStats: true, journal: process.env.NOJ ? false : undefined });
const post = async (query: string, variables = {}) => {
  const r = await fetch(s.urls.v1, { method: 'POST', headers: { 'content-type': 'application/json', 'x-viewer-role': 'staff' }, body: JSON.stringify({ query, variables }) });
  return (await r.json()) as any;
};
// warm: the choice, its question and the user in both versions
await post('{ choice(id: 5) { id voters { id } question { id } } user(id: 7) { id } }');
await fetch(s.urls.v2, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ choice(id: 5) { id voteCount } user(id: 7) { id votes { id } } }' }) });
let log = false;
(s.orm.em.getConnection() as any).getKnex().on('query', (q: any) => { if (log) console.log('   SQL', q.sql.slice(0, 150)); });
for (const m of ['vote', 'unvote', 'vote']) {
  log = m === 'unvote';
  const r = await post(`mutation { ${m}(choiceId: 5, userId: 7) { id } }`);
  const t0 = performance.now();
  console.log(m, JSON.stringify(r.extensions?.cache));
}
const r = await post('mutation { updateQuestion(id: 2, questionText: "x") { id } }');
console.log('updateQuestion', JSON.stringify(r.extensions?.cache));
await s.close();
