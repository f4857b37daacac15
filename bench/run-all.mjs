// Runs every benchmark, one child process each, shows their output as it comes, then the budgets
// in one list. Exit code 1 when a budget is missed.
//
//   npm run bench                              (builds first)
//   node bench/run-all.mjs [--only plan-scale,startup] [--write-readme]
//
// --write-readme replaces the figures in bench/README.md (between its figures markers) with
// this run's output and the machine it ran on.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { argValue, describeMachine, machine, requireBuild, verdict } from './lib/report.mjs';

const BENCHES = ['plan-scale', 'schedule', 'overhead', 'startup', 'sftp-staging', 'predictions', 'catalog-lookup'];
const HERE = path.dirname(fileURLToPath(import.meta.url));
const README = path.join(HERE, 'README.md');
const BEGIN = '<!-- figures:begin -->';
const END = '<!-- figures:end -->';

requireBuild();
const only = argValue('--only', BENCHES.join(',')).split(',');
const writeReadme = process.argv.includes('--write-readme');
const m = machine();
const started = Date.now();

function run(name) {
  return new Promise((resolve, reject) => {
    const resultFile = path.join(os.tmpdir(), `autodbaudit-bench-${name}-${process.pid}.json`);
    const child = spawn(process.execPath, [path.join(HERE, `${name}.mjs`)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_RESULT_FILE: resultFile },
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      let result = null;
      try {
        result = JSON.parse(readFileSync(resultFile, 'utf8'));
      } catch {
        // The script failed before it had figures; its exit code says so.
      }
      resolve({ name, code, output, result });
    });
  });
}

const outcomes = [];
for (const name of only) {
  if (!BENCHES.includes(name)) throw new Error(`unknown benchmark ${name} (known: ${BENCHES.join(', ')})`);
  console.log(`\n━━ bench/${name}.mjs ━━`);
  outcomes.push(await run(name));
}

const budgets = outcomes.flatMap((o) => o.result?.budgets ?? []);
const failed = outcomes.filter((o) => !o.result);
console.log(`\n━━ budgets (${describeMachine(m)}; ${Math.round((Date.now() - started) / 1000)} s) ━━`);
for (const b of budgets) console.log(verdict(b));
for (const o of failed) console.log(`FAIL  bench/${o.name}.mjs exited ${o.code} without figures`);

if (writeReadme) {
  const text = readFileSync(README, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${README} has no ${BEGIN} … ${END} section`);
  const figures = [
    `Machine: ${m.nproc} × ${m.cpu} (nproc ${m.nproc}), ${m.memoryGb} GB RAM, Node ${m.node}, ${m.os}; run on ${m.date}.`,
    '',
    ...outcomes.flatMap((o) => [`\`node bench/${o.name}.mjs\`:`, '', '```text', o.output.trimEnd(), '```', '']),
  ].join('\n');
  writeFileSync(README, `${text.slice(0, begin + BEGIN.length)}\n${figures}\n${text.slice(end)}`);
  console.log(`\nfigures written to ${path.relative(process.cwd(), README)}`);
}

if (failed.length > 0 || budgets.some((b) => !b.ok)) process.exitCode = 1;
