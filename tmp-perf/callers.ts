// Scratch: who calls a function (by name regex) in a cpuprofile, weighted by self samples under it.
import { readFileSync } from 'node:fs';
const [file, pattern] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file!, 'utf8'));
const byId = new Map<number, any>();
for (const n of p.nodes) byId.set(n.id, n);
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const hits = new Map<number, number>();
for (const s of p.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
const re = new RegExp(pattern!);
const stacks = new Map<string, number>();
for (const [id, h] of hits) {
  let cur: number | undefined = id;
  const chain: string[] = [];
  let found = false;
  while (cur !== undefined) {
    const n = byId.get(cur);
    const name = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/main\//, '')}:${n.callFrame.lineNumber}`;
    if (!found && re.test(n.callFrame.functionName)) found = true;
    if (found) chain.push(name);
    if (chain.length >= 6) break;
    cur = parent.get(cur);
  }
  if (found) stacks.set(chain.join(' <- '), (stacks.get(chain.join(' <- ')) ?? 0) + h);
}
const total = p.samples.length;
for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(((100 * v) / total).toFixed(1) + '%', k);
