// Budget 1: planning scales linearly. Plans generated fleets of 1,000, 10,000 and 50,000 instances
// against a 50-entry mapping, two ways, each size in a fresh child process so that peak memory and
// CPU time are the process's own:
//   planner  buildPlan() alone, on an inventory built in memory (dist/plan/planner.js), with its
//            per-host grouping read (a deployment needs it; --hotfix-plan does not);
//   cli      `autodbaudit --hotfix-plan --offline --json` on a generated configuration root
//            (load and validate the three files, open history.db, plan, check installers, print).
// Budgets: 10,000 instances in under 1 s of CPU, 50,000 in under 200 MB peak memory.
//
//   node bench/plan-scale.mjs [--sizes 1000,10000,50000] [--repeat 3]
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { planningMapping, planningTargets, removeRoot, tempRoot, writePlanningRoot } from './lib/fleet.mjs';
import {
  argValue,
  CLI,
  describeMachine,
  fixed,
  MEASURE_HOOK,
  machine,
  mb,
  median,
  requireBuild,
  saveResult,
  table,
  verdict,
} from './lib/report.mjs';

const SELF = fileURLToPath(import.meta.url);
const CPU_BUDGET = { instances: 10_000, cpuMs: 1000 };
const MEMORY_BUDGET = { instances: 50_000, rssMb: 200 };

if (process.argv[2] === '--child-planner') {
  await plannerChild(Number(process.argv[3]));
} else {
  await main();
}

/** In a fresh process: build the inventory, then time buildPlan alone. */
async function plannerChild(count) {
  const { buildPlan } = await import('../dist/plan/planner.js');
  const { mappingFileSchema } = await import('../dist/config/schemas.js');
  const mapping = mappingFileSchema.parse(planningMapping().mapping);
  const inventory = planningTargets(count).map((t) => ({
    server: t.server,
    instance: t.instance,
    version: t.version,
    edition: t.edition,
    reachable: true,
    transport: 'winrm',
  }));
  const rssBefore = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = buildPlan({ mapping, inventory, root: '/srv/autodbaudit' });
  const hosts = result.hosts.length;
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  process.stdout.write(
    JSON.stringify({
      cpuMs: (used.user + used.system) / 1000,
      wallMs,
      rssBeforeBytes: rssBefore,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      summary: result.plan.summary,
      hosts,
    }),
  );
}

function runPlannerChild(count) {
  const child = spawnSync(process.execPath, [SELF, '--child-planner', String(count)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`planner child for ${count} failed: ${child.stderr}`);
  return JSON.parse(child.stdout);
}

/** The whole CLI path in a fresh process, measured from inside it by the --import hook. */
function runCliChild(configPath, root, count) {
  const measureFile = path.join(root, `measure-${count}.json`);
  const outFile = path.join(root, `plan-${count}.json`);
  const child = spawnSync(
    'sh',
    ['-c', `exec "$0" --import "$1" "$2" --hotfix-plan --offline --json --config "$3" > "$4"`, process.execPath, MEASURE_HOOK, CLI, configPath, outFile],
    { encoding: 'utf8', env: { ...process.env, BENCH_MEASURE_FILE: measureFile }, cwd: root },
  );
  if (child.status !== 0) throw new Error(`autodbaudit --hotfix-plan on ${count} targets exited ${child.status}: ${child.stderr.slice(0, 2000)}`);
  const measured = JSON.parse(readFileSync(measureFile, 'utf8'));
  return { ...measured, outputBytes: statSync(outFile).size, outFile };
}

async function main() {
  requireBuild();
  const sizes = argValue('--sizes', '1000,10000,50000').split(',').map(Number);
  const repeat = Number(argValue('--repeat', '3'));
  const m = machine();
  console.log('Planning scale: offline plan of generated fleets against a 50-entry mapping');
  console.log(`machine: ${describeMachine(m)}`);
  console.log(`each figure: median of ${repeat} fresh child processes\n`);

  const rows = [];
  for (const count of sizes) {
    const planner = pick(Array.from({ length: repeat }, () => runPlannerChild(count)));
    const root = tempRoot(`plan-${count}`);
    try {
      const configPath = writePlanningRoot(root, count);
      const runs = Array.from({ length: repeat }, () => runCliChild(configPath, root, count));
      const cli = pick(runs);
      // The CLI printed the same plan the planner made: same summary.
      const printed = JSON.parse(readFileSync(cli.outFile, 'utf8'));
      if (JSON.stringify(printed.summary) !== JSON.stringify(planner.summary)) {
        throw new Error(`the CLI's summary ${JSON.stringify(printed.summary)} differs from buildPlan's ${JSON.stringify(planner.summary)}`);
      }
      rows.push({ count, planner, cli, summary: planner.summary });
    } finally {
      removeRoot(root);
    }
  }

  console.log(
    table(
      ['instances', 'path', 'CPU ms', 'CPU µs/instance', 'wall ms', 'peak RSS MB', 'output MB'],
      rows.flatMap(({ count, planner, cli }) => [
        [count.toLocaleString('en-US'), 'buildPlan', fixed(planner.cpuMs), fixed((planner.cpuMs * 1000) / count), fixed(planner.wallMs), fixed(mb(planner.maxRssBytes)), '–'],
        [count.toLocaleString('en-US'), 'CLI --json', fixed(cli.cpuMs), fixed((cli.cpuMs * 1000) / count), fixed(cli.wallMs), fixed(mb(cli.maxRssBytes)), fixed(mb(cli.outputBytes))],
      ]),
    ),
  );
  const last = rows[rows.length - 1];
  if (last) console.log(`\nplan summary at ${last.count.toLocaleString('en-US')}: ${JSON.stringify(last.summary)}`);
  console.log('buildPlan CPU is the planner alone; its peak RSS includes the generated inventory. CLI figures are the whole process.');

  const budgets = [];
  const cpuRow = rows.find((r) => r.count === CPU_BUDGET.instances);
  if (cpuRow) {
    for (const [label, figures] of [['buildPlan', cpuRow.planner], ['CLI', cpuRow.cli]]) {
      budgets.push({
        name: `${label}: 10,000 instances plan in under 1 s of CPU`,
        ok: figures.cpuMs < CPU_BUDGET.cpuMs,
        measured: `${fixed(figures.cpuMs, 0)} ms`,
      });
    }
  }
  const memoryRow = rows.find((r) => r.count === MEMORY_BUDGET.instances);
  if (memoryRow) {
    for (const [label, figures] of [['buildPlan', memoryRow.planner], ['CLI', memoryRow.cli]]) {
      budgets.push({
        name: `${label}: 50,000 instances plan in under 200 MB peak memory`,
        ok: mb(figures.maxRssBytes) < MEMORY_BUDGET.rssMb,
        measured: `${fixed(mb(figures.maxRssBytes), 0)} MB`,
      });
    }
  }
  // Linear means each further instance costs the same: compare the marginal cost between sizes.
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1];
    const b = rows[i];
    const added = b.count - a.count;
    const marginal = (key) => (((b[key].cpuMs - a[key].cpuMs) * 1000) / added).toFixed(1);
    const memory = (key) => ((mb(b[key].maxRssBytes) - mb(a[key].maxRssBytes)) * 1024 * 1024 / added).toFixed(0);
    console.log(
      `from ${a.count.toLocaleString('en-US')} to ${b.count.toLocaleString('en-US')}: each further instance costs buildPlan ${marginal('planner')} µs CPU and ${memory('planner')} bytes peak, the CLI ${marginal('cli')} µs and ${memory('cli')} bytes`,
    );
  }
  console.log('');
  for (const b of budgets) console.log(verdict(b));
  saveResult({ bench: 'plan-scale', machine: m, rows, budgets });
  if (budgets.some((b) => !b.ok)) process.exitCode = 1;
}

/** The run with the median CPU time. */
function pick(runs) {
  const cpu = median(runs.map((r) => r.cpuMs));
  return runs.reduce((best, r) => (Math.abs(r.cpuMs - cpu) < Math.abs(best.cpuMs - cpu) ? r : best));
}
