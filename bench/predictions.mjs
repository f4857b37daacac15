// How well the predicted installer durations match what the lab's installers actually take, on a
// mixed fleet: hosts with one to three instances (setup with /AllInstances takes longer with more),
// each host a little faster or slower than the others, and every run a little different (±10 %).
// The fleet is deployed `--history` times to fill history.db, then once more to be measured: before
// that run, `--hotfix-plan --json` gives each host's predicted duration (the plan's schedule) and the
// fleet's expected makespan; the run gives the actual durations (hotfix_steps.duration_ms) and the
// makespan in the lab's execution log. The same is done once with an empty history, where the
// predictions come from the mapping's expected_minutes.
//
//   node bench/predictions.mjs [--hosts 24] [--concurrency 6] [--history 3] [--seconds 40] [--time-scale 0.01]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from '../dist/store/sqlite.js';
import { random, removeRoot, tempRoot, writeConfigRoot } from './lib/fleet.mjs';
import { labExecutions, labMakespanMs } from './lib/lab.mjs';
import { argValue, CLI, describeMachine, fixed, machine, requireBuild, saveResult, table, verdict } from './lib/report.mjs';

requireBuild();
const hosts = Number(argValue('--hosts', '24'));
const concurrency = Number(argValue('--concurrency', '6'));
const historyRuns = Number(argValue('--history', '3'));
const baseSeconds = Number(argValue('--seconds', '40'));
const timeScale = Number(argValue('--time-scale', '0.01'));
const m = machine();
const FILE = 'SQLServer2019-KB5046859-x64.exe';

console.log(`Predictions against the lab: ${hosts} hosts with 1-3 instances, ${concurrency} at once, ${historyRuns} runs of history, then one measured`);
console.log(`machine: ${describeMachine(m)}`);
console.log(`install time: ${baseSeconds} simulated s × (1 + 0.5 per extra instance) × host factor 0.7-1.3 × run jitter ±10 %, × time_scale ${timeScale}\n`);

const rnd = random(11);
const fleet = Array.from({ length: hosts }, (_, i) => ({ server: `MIX-${String(i).padStart(3, '0')}`, instances: 1 + Math.floor(rnd() * 3), factor: 0.7 + 0.6 * rnd() }));

function writeRoot(root, run) {
  const jitter = random(100 + run);
  const targets = fleet.flatMap((h) => {
    const seconds = Math.round(baseSeconds * (1 + 0.5 * (h.instances - 1)) * h.factor * (0.9 + 0.2 * jitter()));
    return Array.from({ length: h.instances }, (_, k) => ({
      server: h.server,
      instance: k === 0 ? 'MSSQLSERVER' : `I${k + 1}`,
      transport: 'simulated',
      version: '15.0.4298.1',
      simulation: { version: '15.0.4298.1', edition: 'Standard Edition (64-bit)', installers: { [FILE]: { seconds } } },
    }));
  });
  const mapping = {
    schema_version: 1,
    mappings: [
      {
        version_family: '2019',
        edition_filter: null,
        min_build: '15.0.2000.5',
        target_build: '15.0.4395.2',
        description: 'CU30 for SQL Server 2019',
        // What an operator would write without history: the vendor's typical figure for one instance.
        files: [{ filename: FILE, path: 'hotfixes/2019/', order: 1, required: true, parameters: '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch /AllInstances', expected_minutes: (baseSeconds * timeScale) / 60 }],
        requires_restart: false,
      },
    ],
    unsupported_versions: [],
  };
  return writeConfigRoot(root, {
    mapping,
    targets,
    installers: [{ family: '2019', file: FILE, setsBuild: '15.0.4395.2', seconds: baseSeconds }],
    hotfix: { transport: 'simulated', max_concurrent_servers: concurrency, step_timeout_minutes: 5 },
    lab: { time_scale: timeScale },
  });
}

function cli(config, args) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--config', config], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`autodbaudit ${args.join(' ')} exited ${r.status}:\n${r.stderr.slice(0, 2000)}`);
  return r.stdout;
}

function actualDurations(root, runId) {
  const db = new Database(path.join(root, 'output', 'history.db'), { readonly: true });
  try {
    return db
      .prepare(
        `SELECT t.server AS server, MAX(s.duration_ms) AS ms FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id
         WHERE t.hotfix_run_id = ? AND s.status = 'success' GROUP BY s.execution_id`,
      )
      .all(runId);
  } finally {
    db.close();
  }
}

function latestRunId(root) {
  const db = new Database(path.join(root, 'output', 'history.db'), { readonly: true });
  try {
    return db.prepare('SELECT MAX(id) AS id FROM hotfix_runs').get().id;
  } finally {
    db.close();
  }
}

/** Plans, deploys once, and compares the plan's predictions with what happened. */
function measure(root, run) {
  const config = writeRoot(root, run);
  cli(config, ['--lab-reset', '--hotfix-plan', '--offline', '--json']);
  const plan = JSON.parse(cli(config, ['--hotfix-plan', '--json']));
  const predicted = new Map(plan.schedule.hosts.map((h) => [h.server, h.expected_minutes * 60_000]));
  const sources = [...new Set(plan.schedule.hosts.flatMap((h) => h.installers.map((i) => i.source)))];
  cli(config, ['--deploy-hotfixes', '--yes']);
  const actual = actualDurations(root, latestRunId(root));
  const rows = actual.map((a) => ({ server: a.server, actual: a.ms, predicted: predicted.get(a.server) }));
  const errors = rows.map((r) => Math.abs(r.predicted - r.actual) / r.actual).sort((a, b) => a - b);
  const covered = rows.filter((r) => r.actual <= r.predicted).length / rows.length;
  const makespan = labMakespanMs(labExecutions(root));
  return {
    sources,
    executions: rows.length,
    coverage: covered,
    medianError: errors[Math.floor(errors.length / 2)],
    worstError: errors.at(-1),
    predictedMakespanMs: plan.schedule.expected_makespan_minutes * 60_000,
    actualMakespanMs: makespan,
  };
}

const results = [];
const cold = tempRoot('predictions-cold');
try {
  results.push({ name: 'no history (expected_minutes)', ...measure(cold, 0) });
} finally {
  removeRoot(cold);
}
const warm = tempRoot('predictions-warm');
try {
  for (let run = 1; run <= historyRuns; run++) {
    const config = writeRoot(warm, run);
    cli(config, ['--lab-reset', '--deploy-hotfixes', '--yes']);
  }
  results.push({ name: `${historyRuns} runs of history`, ...measure(warm, historyRuns + 1) });
} finally {
  removeRoot(warm);
}

console.log(
  table(
    ['predictions from', 'sources used', 'executions', 'within prediction', 'median |error|', 'worst |error|', 'makespan predicted ms', 'makespan actual ms', 'actual / predicted'],
    results.map((r) => [
      r.name,
      r.sources.join(', '),
      String(r.executions),
      `${fixed(r.coverage * 100, 0)} %`,
      `${fixed(r.medianError * 100, 0)} %`,
      `${fixed(r.worstError * 100, 0)} %`,
      fixed(r.predictedMakespanMs, 0),
      fixed(r.actualMakespanMs, 0),
      fixed(r.actualMakespanMs / r.predictedMakespanMs, 2),
    ]),
  ),
);
console.log('\nwithin prediction: executions that ended within their predicted duration (the 90th percentile aims at about 90 %)');
console.log('makespan: the plan\'s expected makespan for the fleet against the lab\'s first start to last finish');

const warmResult = results[1];
const budgets = [
  {
    name: 'with history, at least 80 % of installers end within their prediction',
    ok: warmResult.coverage >= 0.8,
    measured: `${fixed(warmResult.coverage * 100, 0)} %`,
  },
  {
    name: 'with history, the actual makespan is within 25 % of the plan\'s',
    ok: Math.abs(warmResult.actualMakespanMs / warmResult.predictedMakespanMs - 1) <= 0.25,
    measured: `actual / predicted ${fixed(warmResult.actualMakespanMs / warmResult.predictedMakespanMs, 2)}`,
  },
];
console.log('');
for (const b of budgets) console.log(verdict(b));
saveResult({ budgets, results });
