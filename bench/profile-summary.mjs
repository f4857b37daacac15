// Summarises a V8 CPU profile (from `node --cpu-prof`): the functions with the most self time and
// the most total time, one line each, with the file they are in.
//
//   node --cpu-prof --cpu-prof-dir=bench/out bench/overhead.mjs
//   node bench/profile-summary.mjs bench/out/CPU.*.cpuprofile [--top 30]
import { readFileSync } from 'node:fs';
import { argValue } from './lib/report.mjs';

const file = process.argv[2];
if (!file || file.startsWith('--')) {
  process.stderr.write('usage: node bench/profile-summary.mjs <file.cpuprofile> [--top 30]\n');
  process.exit(2);
}
const top = Number(argValue('--top', '30'));
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);

// Time per node: each sample is credited with the time since the one before it.
const timeOf = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

function label(node) {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*\/(node_modules\/(?:@[^/]+\/)?[^/]+|dist|bench)\//, '$1/');
  return `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
}

const self = new Map();
const total = new Map();
let all = 0;
for (const [id, us] of timeOf) {
  all += us;
  const own = label(nodes.get(id));
  self.set(own, (self.get(own) ?? 0) + us);
  // Count each function once per sample, however deep its recursion.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const name = label(nodes.get(at));
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + us);
  }
}

const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / all).toFixed(1).padStart(5)}%  ${name}`);
  }
};
console.log(`${file}: ${(all / 1000).toFixed(0)} ms sampled`);
show('self time', self);
show('total time (including callees)', total);
