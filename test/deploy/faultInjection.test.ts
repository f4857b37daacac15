import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../src/deploy/crashPoints.js';
import { processAlive } from '../../src/store/runLock.js';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
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
  ],
  { hotfix: { max_concurrent_servers: 3, step_timeout_minutes: 0.01 }, timeScale: 0.003 },
);

function copyFleet(): { root: string; config: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'ada-fault-'));
  cpSync(template.root, root, { recursive: true });
  return { root, config: path.join(root, 'config/audit_config.json') };
}

function cli(config: string, args: string[], env: Record<string, string> = {}, killAfterMs?: number) {
  return spawnSync(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', config, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: killAfterMs ?? 60_000,
    killSignal: 'SIGKILL',
  });
}

/** Resumes (or, when the crash came before the run was recorded, deploys again) until no run is unfinished. */
function resumeUntilDone(fleet: { root: string; config: string }): number {
  let resumes = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const runs = recordedRuns(fleet.root);
    if (runs.length === 0) {
      cli(fleet.config, []);
      continue;
    }
    if (!runs.some((r) => r.status === 'running' || r.status === 'interrupted')) return resumes;
    const result = cli(fleet.config, ['--resume']);
    resumes++;
    expect(result.signal, result.stdout + result.stderr).toBeNull();
  }
  throw new Error('the run did not finish after 5 resumes');
}

/** The runs recorded so far; none when the kill came before history.db had its tables. */
function recordedRuns(root: string): { status: string }[] {
  if (!existsSync(path.join(root, 'output/history.db'))) return [];
  const tables = readHistory<{ name: string }>(root, "SELECT name FROM sqlite_master WHERE name = 'hotfix_runs'");
  return tables.length === 0 ? [] : readHistory<{ status: string }>(root, 'SELECT status FROM hotfix_runs');
}

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

const scenarios = [
  ...CRASH_POINTS.flatMap((point) => [1, 2, 3].map((n) => ({ name: `${point}:${n}`, env: { AUTODBAUDIT_CRASH_AT: `${point}:${n}` }, killAfterMs: undefined }))),
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
