import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS, ROLLING_CRASH_POINTS } from '../../src/deploy/crashPoints.js';
import { processAlive } from '../../src/store/runLock.js';
import Database from '../../src/store/sqlite.js';
import { labExecutions, labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { copyFleet as copyFleetOf, deployCli, resumeUntilDone } from '../helpers/crashRuns.js';
import { CLI } from '../helpers/runCli.js';

/**
 * Kills lab deployments with SIGKILL at many moments, resumes until done, and checks that the end is
 * what a run without crashes reaches, with no installer run twice and the history intact.
 */

const template = labFleet(
  [
    { server: 'OK' },
    { server: 'R3010', version: '16.0.4085.0', simulation: { installers: { 'CU16.exe': { exit_codes: [3010] } } } },
    { server: 'F1603', simulation: { installers: { 'CU30.exe': { exit_codes: [1603] } } } },
    { server: 'CHAIN', version: '15.0.2000.5' },
    { server: 'OPT', version: '13.0.6300.2', simulation: { installers: { 'CU17.exe': { exit_codes: [1603] } } } },
    { server: 'MULTI', instance: 'A', version: '15.0.4298.1' },
    { server: 'MULTI', instance: 'B', version: '16.0.4085.0' },
    { server: 'HANG', simulation: { installers: { 'CU30.exe': { hang: true } } } },
    { server: 'REBOOT', simulation: { pending_reboot: true } },
    // An instance no target names, patched alongside by /AllInstances and recorded at pre-flight.
    { server: 'ALONG', simulation: { unlisted_instances: [{ instance: 'SIDE', version: '15.0.4298.1' }] } },
  ],
  { hotfix: { max_concurrent_servers: 3, step_timeout_minutes: 0.01 }, timeScale: 0.003 },
);
const copyFleet = () => copyFleetOf(template, 'ada-fault-');
const cli = deployCli;

interface Outcome {
  targets: string[];
  steps: string[];
}

function outcomeOf(root: string): Outcome {
  return {
    targets: readHistory<{ server: string; instance: string; status: string; post_build: string | null; requires_restart: number }>(
      root,
      'SELECT * FROM hotfix_targets ORDER BY server, instance',
    ).map((t) => `${t.server}\\${t.instance} ${t.status} ${t.post_build} restart=${t.requires_restart}`),
    steps: readHistory<{ server: string; installer_file: string; status: string; exit_code: number | null }>(
      root,
      'SELECT t.server, s.* FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id ORDER BY t.server, t.instance, s.step_order',
    ).map((s) => `${s.server} ${s.installer_file} ${s.status} ${s.exit_code}`),
  };
}

const ROLLING_POINTS = new Set<string>(ROLLING_CRASH_POINTS);

const scenarios = [
  // Points of stage-only runs, wave gates and rolling updates are never reached by this fleet's run:
  // test/deploy/stageOnly.test.ts, waves.test.ts and test/topology/rollingFaults.test.ts kill there.
  ...CRASH_POINTS.filter((point) => point !== 'stage-recorded' && !point.startsWith('wave-') && !ROLLING_POINTS.has(point)).flatMap((point) => [1, 2, 3].map((n) => ({ name: `${point}:${n}`, env: { AUTODBAUDIT_CRASH_AT: `${point}:${n}` }, killAfterMs: undefined }))),
  ...[250, 400, 550, 700, 900].map((ms) => ({ name: `after ${ms} ms`, env: {}, killAfterMs: ms })),
];

describe('fault injection: SIGKILL at many moments, then --resume', () => {
  let baseline: Outcome;

  beforeAll(() => {
    const fleet = copyFleet();
    const result = cli(fleet.config, []);
    expect(result.status, result.stderr).toBe(1);
    baseline = outcomeOf(fleet.root);
  });

  it('covers at least twenty distinct moments, including both sides of starting an installer', () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(20);
    expect(CRASH_POINTS).toContain('step-marked-running');
    expect(CRASH_POINTS).toContain('installer-returned');
  });

  const crashed: string[] = [];

  it.concurrent.each(scenarios)('killed at $name: resumes to the crash-free outcome', async ({ env, killAfterMs, name }) => {
    const fleet = copyFleet();
    const first = cli(fleet.config, [], env, killAfterMs);
    const wasKilled = first.signal === 'SIGKILL';
    if (wasKilled) crashed.push(name);
    const resumes = resumeUntilDone(fleet);

    expect(outcomeOf(fleet.root)).toEqual(baseline);

    // No installer started twice on a host for the same step.
    const executions = labExecutions(fleet.root);
    const keys = executions.map((e) => `${e.server}/${e.installer}`);
    expect(new Set(keys).size, keys.join(', ')).toBe(keys.length);

    // Every folder a package was extracted into is gone, whatever the crash left.
    expect(readLabWorld(fleet.root, 'SELECT server, path FROM lab_extractions WHERE removed_at IS NULL')).toEqual([]);
    expect(readHistory<{ integrity_check: string }>(fleet.root, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const kinds = readHistory<{ kind: string }>(fleet.root, 'SELECT kind FROM hotfix_events').map((e) => e.kind);
    expect(kinds.filter((k) => k === 'run_resumed')).toHaveLength(resumes);
    if (resumes > 0) expect(kinds).toContain('run_interrupted');
    // A lock may remain only when the kill came after the run had finished; its owner is gone, so the next run takes it over.
    for (const lock of readHistory<{ pid: number }>(fleet.root, 'SELECT pid FROM run_lock')) expect(processAlive(lock.pid)).toBe(false);
  });

  it('actually crashed the orchestrator in most scenarios', () => {
    expect(crashed.length).toBeGreaterThanOrEqual(20);
  });
});

/** Everything history.db holds, as text: a snapshot to compare before and after a process wakes up. */
function historySnapshot(root: string): string {
  return ['hotfix_runs', 'hotfix_targets', 'hotfix_steps', 'hotfix_events', 'run_lock', 'servers']
    .map((table) => JSON.stringify(readHistory(root, `SELECT * FROM ${table} ORDER BY rowid`)))
    .join('\n');
}

function runningSteps(root: string): number {
  try {
    return readHistory<{ n: number }>(root, "SELECT count(*) AS n FROM hotfix_steps WHERE status = 'running'")[0]!.n;
  } catch {
    // history.db or its tables do not exist yet.
    return 0;
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function spawnCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, closed, output: () => output };
}

/** Runs a command on a pseudo-terminal (util-linux `script`), so the CLI asks its y/N question for real. */
function spawnTerminal(command: string, env: Record<string, string>) {
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, closed, output: () => output, answer: (text: string) => child.stdin.write(text) };
}

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
// Heartbeats and takeover in about a second instead of a minute.
const FAST_LOCK = { AUTODBAUDIT_LOCK_STALE_SECONDS: '1' };

/** Whether some process holds SQLite's write lock on `file` now (a write transaction under way). */
function writeLockHeld(file: string): boolean {
  const db = new Database(file, { timeout: 0 });
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return false;
  } catch (error) {
    if (/locked|busy/i.test(String(error))) return true;
    throw error;
  } finally {
    db.close();
  }
}

/**
 * SIGSTOPs `child` at a moment it holds no SQLite write transaction. A process paused inside one
 * (a heartbeat, a step's record) blocks every writer, the new owner too, which then gives up with exit
 * 2 naming the lock: another case. This one is an owner paused holding only the run lock.
 */
async function pauseOutsideWriteLock(child: ReturnType<typeof spawn>, historyFile: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    child.kill('SIGSTOP');
    if (!writeLockHeld(historyFile)) return;
    child.kill('SIGCONT');
    if (attempt === 100) throw new Error('the owner held the write lock at each of 100 pauses');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('one run, one owner', () => {
  const slowFleet = () =>
    labFleet([{ server: 'P1' }, { server: 'P2' }, { server: 'P3', version: '16.0.4085.0' }], {
      hotfix: { max_concurrent_servers: 1, step_timeout_minutes: 10 },
      // 30 simulated seconds per installer: 1.5 s of real time each.
      timeScale: 0.05,
    });

  it('a paused owner (SIGSTOP past the staleness) loses the lock: the new owner settles the run, the old one stops without writing', async () => {
    const fleet = slowFleet();
    const first = spawnCli(['--deploy-hotfixes', '--yes', '--config', fleet.config], FAST_LOCK);
    await until('an installer running', () => runningSteps(fleet.root) > 0);
    await pauseOutsideWriteLock(first.child, path.join(fleet.root, 'output', 'history.db'));
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const second = cli(fleet.config, ['--resume'], FAST_LOCK);
      expect(second.stderr).toMatch(/took over a stale run lock/);
      expect([0, 1], second.stdout + second.stderr).toContain(second.status);
    } finally {
      first.child.kill('SIGCONT');
    }
    const settled = historySnapshot(fleet.root);
    const code = await first.closed;
    expect(code, first.output()).toBe(5);
    expect(first.output()).toMatch(/Stopped: this process no longer holds the run lock/);
    // The first process wrote nothing after it woke up.
    expect(historySnapshot(fleet.root)).toBe(settled);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'succeeded' }]);
    expect(readHistory(fleet.root, "SELECT id FROM hotfix_targets WHERE status IN ('pending', 'in_progress')")).toEqual([]);
    expect(readHistory(fleet.root, "SELECT id FROM hotfix_steps WHERE status IN ('pending', 'running', 'interrupted')")).toEqual([]);
    const keys = labExecutions(fleet.root).map((e) => `${e.server}/${e.installer}`);
    expect(keys.sort()).toEqual(['P1/CU30.exe', 'P2/CU30.exe', 'P3/CU16.exe']);
  });

  it.skipIf(!hasScript)('a deploy that waited at its prompt while another run completed plans again under the lock and refuses, naming what changed', async () => {
    const fleet = slowFleet();
    const waiting = spawnTerminal(
      [process.execPath, CLI, '--deploy-hotfixes', '--config', fleet.config].map((a) => `'${a}'`).join(' '),
      FAST_LOCK,
    );
    await until('the prompt', () => /\[y\/N\]/.test(waiting.output()));
    const other = cli(fleet.config, [], FAST_LOCK);
    expect(other.status, other.stderr).toBe(0);
    waiting.answer('y\n');
    const code = await waiting.closed;
    expect(code, waiting.output()).toBe(2);
    expect(waiting.output()).toMatch(/the plan changed while waiting for confirmation, so nothing was started: P1\\MSSQLSERVER is now at build 15\.0\.4395\.2 \(was 15\.0\.4298\.1\), up to date \(was pending\)/);
    expect(readHistory(fleet.root, 'SELECT id FROM hotfix_runs')).toEqual([{ id: 1 }]);
    const keys = labExecutions(fleet.root).map((e) => `${e.server}/${e.installer}`);
    expect(keys.sort()).toEqual(['P1/CU30.exe', 'P2/CU30.exe', 'P3/CU16.exe']);
  });

  it.skipIf(!hasScript)('a deploy that waited at its prompt while another run was killed refuses to start a second run beside the unfinished one', async () => {
    const fleet = slowFleet();
    const waiting = spawnTerminal(
      [process.execPath, CLI, '--deploy-hotfixes', '--config', fleet.config].map((a) => `'${a}'`).join(' '),
      FAST_LOCK,
    );
    await until('the prompt', () => /\[y\/N\]/.test(waiting.output()));
    const killed = cli(fleet.config, [], { ...FAST_LOCK, AUTODBAUDIT_CRASH_AT: 'step-marked-running:1' });
    expect(killed.signal).toBe('SIGKILL');
    waiting.answer('y\n');
    const code = await waiting.closed;
    expect(code, waiting.output()).toBe(2);
    expect(waiting.output()).toMatch(/run 1 \(started .*\) is unfinished \(running\); continue it with --deploy-hotfixes --resume/);
    expect(readHistory(fleet.root, 'SELECT id FROM hotfix_runs')).toEqual([{ id: 1 }]);
    // Killed just before its first installer started; the waiting deploy started none either.
    expect(labExecutions(fleet.root)).toEqual([]);
  });
});
