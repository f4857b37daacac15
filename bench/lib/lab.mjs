// Drives real deployments against a generated lab fleet, and reads back what the lab and
// history.db recorded about them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from '../../dist/store/sqlite.js';
import { CLI, MEASURE_HOOK } from './report.mjs';

/**
 * `autodbaudit --deploy-hotfixes --yes` as an operator runs it (stdout is not a terminal, so the
 * progress is plain lines), measured from inside the process by the --import hook.
 */
export function deployWithCli(root, configPath, extraArgs = []) {
  const measureFile = path.join(root, 'measure-deploy.json');
  const started = performance.now();
  const child = spawnSync(
    process.execPath,
    ['--import', MEASURE_HOOK, CLI, '--deploy-hotfixes', '--yes', '--config', configPath, ...extraArgs],
    { encoding: 'utf8', cwd: root, env: { ...process.env, BENCH_MEASURE_FILE: measureFile }, maxBuffer: 256 << 20 },
  );
  const wallMs = performance.now() - started;
  if (child.status !== 0) {
    throw new Error(`autodbaudit --deploy-hotfixes exited ${child.status}:\n${child.stderr.slice(0, 2000)}\n${child.stdout.slice(-2000)}`);
  }
  return { wallMs, measured: JSON.parse(readFileSync(measureFile, 'utf8')) };
}

/** The lab's execution log: one row per installer execution, real UTC times. */
export function labExecutions(root) {
  const db = new Database(path.join(root, 'output', 'lab', 'world.db'), { readonly: true });
  try {
    return db.prepare('SELECT server, installer, started_at, finished_at, exit_code FROM lab_executions ORDER BY id').all();
  } finally {
    db.close();
  }
}

/** The latest run in history.db, with how its targets ended. */
export function latestRun(root) {
  const db = new Database(path.join(root, 'output', 'history.db'), { readonly: true });
  try {
    const run = db.prepare('SELECT * FROM hotfix_runs ORDER BY id DESC LIMIT 1').get();
    const statuses = db.prepare('SELECT status, COUNT(*) AS n FROM hotfix_targets WHERE hotfix_run_id = ? GROUP BY status').all(run.id);
    return { ...run, targets: Object.fromEntries(statuses.map((s) => [s.status, s.n])) };
  } finally {
    db.close();
  }
}

/** From the first installer start to the last installer finish, in milliseconds. */
export function labMakespanMs(executions) {
  const starts = executions.map((e) => Date.parse(e.started_at));
  const ends = executions.map((e) => Date.parse(e.finished_at));
  return Math.max(...ends) - Math.min(...starts);
}
