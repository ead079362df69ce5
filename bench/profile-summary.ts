/**
 * Summarise a V8 .cpuprofile (from `npm run bench -- --profile`): self time by function and by package,
 * and inclusive time of the project's own functions. Usage: npx tsx bench/profile-summary.ts <file> [top] [--busiest <s>]
 * `--busiest <s>`: only the samples of the busiest <s>-second window (a bench profile spans the whole life of
 * the service, mostly idle while the floors run; the window is the measured load).
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

const argv = process.argv.slice(2);
const busiestAt = argv.indexOf('--busiest');
const busiestS = busiestAt >= 0 ? Number(argv.splice(busiestAt, 2)[1]) : null;
// `--window <a>,<b>`: only the samples from a to b seconds before the profile's end (bench/purchase-cpu.ts prints it).
const windowAt = argv.indexOf('--window');
const windowS = windowAt >= 0 ? argv.splice(windowAt, 2)[1].split(',').map(Number) : null;
const [file, topArg] = argv;
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
if (busiestS !== null) {
  // Recount hitCount from the samples of the busiest window only.
  const times: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) times.push((t += d));
  const isIdle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)';
  let best = 0;
  let bestStart = 0;
  let busy = 0;
  for (let lo = 0, hi = 0; hi < times.length; hi++) {
    if (!isIdle(profile.samples[hi])) busy++;
    while (times[hi] - times[lo] > busiestS * 1e6) if (!isIdle(profile.samples[lo++])) busy--;
    if (busy > best) [best, bestStart] = [busy, lo];
  }
  for (const n of profile.nodes) n.hitCount = 0;
  let count = 0;
  for (let i = bestStart; i < times.length && times[i] - times[bestStart] <= busiestS * 1e6; i++, count++) byId.get(profile.samples[i])!.hitCount++;
  console.log(`busiest ${busiestS} s: ${count} samples from ${(times[bestStart] / 1e6).toFixed(1)} s, ${((best / count) * 100).toFixed(0)} % busy`);
}
if (windowS) {
  const times: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) times.push((t += d));
  const end = times[times.length - 1];
  for (const n of profile.nodes) n.hitCount = 0;
  let count = 0;
  for (let i = 0; i < times.length; i++) {
    const before = (end - times[i]) / 1e6;
    if (before > windowS[0] || before < windowS[1]) continue;
    byId.get(profile.samples[i])!.hitCount++;
    count++;
  }
  console.log(`window ${windowS[0]}..${windowS[1]} s before the end: ${count} samples`);
}
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const totalHits = profile.nodes.reduce((s, n) => s + n.hitCount, 0);

const where = (n: Node) => {
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/src/')) return 'src/' + url.split('/src/')[1];
  if (!url) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
  return url.startsWith('node:') ? url : url.split('/').slice(-2).join('/');
};

const self = new Map<string, number>();
const pkgs = new Map<string, number>();
for (const n of profile.nodes) {
  const key = `${n.callFrame.functionName || '(anonymous)'} ${where(n)}:${n.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + n.hitCount);
  const p = where(n).startsWith('src/') ? where(n) : where(n);
  pkgs.set(p, (pkgs.get(p) ?? 0) + n.hitCount);
}

// Inclusive time per project function (each sample counted once per distinct frame on its stack).
const inclusive = new Map<string, number>();
for (const n of profile.nodes) {
  if (!n.hitCount) continue;
  const seen = new Set<string>();
  for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
    const f = byId.get(id)!;
    const w = where(f);
    if (!w.startsWith('src/')) continue;
    const key = `${f.callFrame.functionName || '(anonymous)'} ${w}:${f.callFrame.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + n.hitCount);
  }
}

const pct = (h: number) => `${((h / totalHits) * 100).toFixed(1).padStart(5)} %`;
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
};
print('self time by function', self);
print('self time by package / file', pkgs);
print('inclusive time of project functions', inclusive);
