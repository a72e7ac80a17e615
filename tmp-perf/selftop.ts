import { readFileSync } from 'node:fs';
const [file, pat] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file!, 'utf8'));
const self = new Map<string, number>();
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
p.samples.forEach((s: number, i: number) => {
  const n = byId.get(s);
  const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*gci-bench\//, '').replace(/.*node_modules\//, '')}:${n.callFrame.lineNumber + 1}`;
  self.set(k, (self.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).filter(([k]) => !pat || new RegExp(pat).test(k)).slice(0, 25)) console.log(((100 * v) / total).toFixed(1) + '%', k);
