/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package or
 * file, and total (inclusive) time of functions whose name matches a pattern.
 *
 *   npx tsx bench/tools/cpuprofile-summary.ts PROFILE.cpuprofile [--top=30] [--match=regex]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: cpuprofile-summary PROFILE.cpuprofile [--top=30] [--match=regex]');
  process.exit(1);
}
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 30);
const matchText = args.find((a) => a.startsWith('--match='))?.slice(8);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

// Paths inside this repository are shown relative to it.
const root = new URL('../../', import.meta.url).href;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// Self time per node from the sample timeline (each sample's delta goes to its node).
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
});
const total = [...self.values()].reduce((a, b) => a + b, 0);

function where(n: ProfileNode): string {
  const url = n.callFrame.url;
  if (!url) return `(${n.callFrame.functionName || 'native'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  return url.startsWith(root) ? url.slice(root.length) : url;
}
const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${where(n)}:${n.callFrame.lineNumber + 1}`;

const pct = (x: number) => `${((100 * x) / total).toFixed(1).padStart(5)}%  ${x.toFixed(0).padStart(6)} ms`;
const sum = (key: (n: ProfileNode) => string) => {
  const out = new Map<string, number>();
  for (const [id, t] of self) {
    const k = key(byId.get(id)!);
    out.set(k, (out.get(k) ?? 0) + t);
  }
  return [...out.entries()].sort((a, b) => b[1] - a[1]);
};

console.log(`total sampled ${total.toFixed(0)} ms`);
console.log('\nself time by package / file:');
for (const [k, t] of sum(where).slice(0, top)) console.log(`${pct(t)}  ${k}`);
console.log('\nself time by function:');
for (const [k, t] of sum(label).slice(0, top)) console.log(`${pct(t)}  ${k}`);
if (matchText) {
  // Inclusive time: a sample counts once for each distinct matching function on its stack.
  const re = new RegExp(matchText);
  const inclusive = new Map<string, number>();
  for (const [id, t] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const l = label(n);
      if (re.test(l) && !seen.has(l)) {
        seen.add(l);
        inclusive.set(l, (inclusive.get(l) ?? 0) + t);
      }
    }
  }
  console.log(`\ninclusive time of functions matching /${matchText}/:`);
  for (const [k, t] of [...inclusive.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${pct(t)}  ${k}`);
  }
}
