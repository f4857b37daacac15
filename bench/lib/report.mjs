// What every benchmark prints: the machine, aligned tables, budget verdicts, and (for run-all.mjs)
// the same figures as JSON in the file named by BENCH_RESULT_FILE.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const MEASURE_HOOK = fileURLToPath(new URL('./measure.mjs', import.meta.url));

/** Stops early with a plain message when dist/ is missing, instead of an import error. */
export function requireBuild() {
  if (!existsSync(CLI)) {
    process.stderr.write('dist/ is missing: run `npm run build` first (or `npm run bench`, which builds).\n');
    process.exit(2);
  }
}

export function machine() {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim() || String(os.availableParallelism());
  return {
    nproc: Number(nproc),
    cpu: model,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    date: new Date().toISOString().slice(0, 10),
  };
}

export function describeMachine(m = machine()) {
  return `${m.nproc} × ${m.cpu}, ${m.memoryGb} GB RAM, Node ${m.node}, ${m.os}, ${m.date}`;
}

/** Right-aligns numbers, left-aligns text. */
export function table(headers, rows) {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const numeric = headers.map((_, i) => cells.every((r) => /^[-\d.,×%]+/.test(r[i]) || r[i] === '–'));
  const line = (r) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function fixed(value, digits = 1) {
  return Number(value).toFixed(digits);
}

export function mb(bytes) {
  return bytes / 1024 ** 2;
}

/** A budget line: `PASS  10,000 instances plan in under 1 s of CPU: 412 ms`. */
export function verdict(budget) {
  return `${budget.ok ? 'PASS' : 'MISS'}  ${budget.name}: ${budget.measured}`;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Hands the figures to run-all.mjs when it asked for them. */
export function saveResult(result) {
  const file = process.env.BENCH_RESULT_FILE;
  if (file) writeFileSync(file, JSON.stringify(result, null, 2));
}

/** Reads `--name value` from argv, with a default. */
export function argValue(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
