import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { CLI } from '../helpers/runCli.js';

/** Waves on the lab through the built CLI: a canary wave that fails halts the fleet, across SIGKILLs and --resume. */

const template = labFleet(
  [
    { server: 'CAN1', simulation: { installers: { 'CU30.exe': { exit_codes: [1603] } } } },
    { server: 'CAN2' },
    { server: 'REST1' },
    { server: 'REST2', version: '16.0.4085.0' },
    { server: 'REST3' },
  ],
  {
    hotfix: {
      max_concurrent_servers: 2,
      waves: [
        { name: 'canary', servers: ['CAN1', 'CAN2'], max_failed: 0, soak_minutes: 0.02 },
        { name: 'rest', max_failed: 1 },
      ],
    },
  },
);

function copyFleet(): { root: string; config: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'ada-waves-'));
  cpSync(template.root, root, { recursive: true });
  return { root, config: path.join(root, 'config/audit_config.json') };
}

function deploy(config: string, args: string[] = [], env: Record<string, string> = {}, killAfterMs?: number) {
  return spawnSync(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', config, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: killAfterMs ?? 60_000,
    killSignal: 'SIGKILL',
  });
}

const laterWave = (root: string) => labExecutions(root).filter((e) => e.server.startsWith('REST'));

function expectHalted(root: string): void {
  expect(laterWave(root)).toEqual([]);
  expect(labExecutions(root).map((e) => e.server).sort()).toEqual(['CAN1', 'CAN2']);
  const waves = readHistory<{ name: string; status: string; hosts_failed: number | null; reason: string | null }>(root, 'SELECT * FROM hotfix_waves ORDER BY position');
  expect(waves.map((w) => [w.name, w.status, w.hosts_failed])).toEqual([
    ['canary', 'halted', 1],
    ['rest', 'pending', null],
  ]);
  expect(waves[0]!.reason).toBe('1 host(s) failed (CAN1), more than max_failed 0');
  expect(readHistory<{ status: string; exit_code: number }>(root, 'SELECT status, exit_code FROM hotfix_runs')).toEqual([{ status: 'failed', exit_code: 1 }]);
  const held = readHistory<{ status: string; error_message: string }>(root, "SELECT status, error_message FROM hotfix_targets WHERE server LIKE 'REST%' ORDER BY server");
  expect(held.map((t) => t.status)).toEqual(['skipped', 'skipped', 'skipped']);
  for (const t of held) expect(t.error_message).toContain('not started: the run halted after wave canary (1 host(s) failed (CAN1), more than max_failed 0)');
  const halts = readHistory<{ message: string }>(root, "SELECT message FROM hotfix_events WHERE kind = 'run_halted'");
  expect(halts).toHaveLength(1);
  expect(halts[0]!.message).toContain('wave canary: 1 host(s) failed (CAN1), more than max_failed 0; the run halts');
}

/** Resumes until no run is unfinished; a halted run is finished. */
function resumeUntilDone(fleet: { root: string; config: string }): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    const runs = readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_runs');
    if (runs.length > 0 && !runs.some((r) => r.status === 'running' || r.status === 'interrupted')) return;
    const result = runs.length === 0 ? deploy(fleet.config) : deploy(fleet.config, ['--resume']);
    expect(result.signal, result.stdout + result.stderr).toBeNull();
  }
  throw new Error('the run did not finish after 5 resumes');
}

describe('waves', () => {
  it('a canary wave over its failure budget halts the run: no later-wave host starts, exit 1; --resume does not pass the halt; --continue-after-halt does', () => {
    const fleet = copyFleet();
    const first = deploy(fleet.config);
    expect(first.status, first.stdout + first.stderr).toBe(1);
    expect(first.stdout).toMatch(/wave canary: all its hosts finished; soaking 0\.02 min before its outcome is judged/);
    expect(first.stdout).toMatch(/ETA: run expected to end about .*; wave canary expected to end about .* \(\d installer\(s\) left\)/);
    expectHalted(fleet.root);
    // The canary's hosts all finished before the gate: both executions ended before the halt was decided.
    const decided = readHistory<{ decided_at: string; soak_started_at: string }>(fleet.root, 'SELECT decided_at, soak_started_at FROM hotfix_waves WHERE position = 0')[0]!;
    for (const e of labExecutions(fleet.root)) expect(Date.parse(e.finished_at!)).toBeLessThanOrEqual(Date.parse(decided.soak_started_at));
    expect(Date.parse(decided.decided_at) - Date.parse(decided.soak_started_at)).toBeGreaterThanOrEqual(0.02 * 60_000);

    const resumed = deploy(fleet.config, ['--resume']);
    expect(resumed.status).toBe(1);
    expect(resumed.stdout).toContain('Nothing to resume: run 1 halted after wave canary: 1 host(s) failed (CAN1), more than max_failed 0; 3 target(s) of its later waves were not started. --resume does not go past a halt');
    expectHalted(fleet.root);

    expect(deploy(fleet.config, ['--resume', '--continue-after-halt']).status).toBe(2);
    const past = deploy(fleet.config, ['--retry-failed', '--continue-after-halt']);
    expect(past.stdout).toContain('3 target(s) of run 1 were held back by its halt after wave canary; --continue-after-halt takes them now.');
    // CAN1's injected 1603 was consumed by its first execution: retried, it succeeds.
    expect(past.status, past.stdout).toBe(0);
    expect(laterWave(fleet.root).map((e) => e.server).sort()).toEqual(['REST1', 'REST2', 'REST3']);
    expect(readHistory<{ mode: string; status: string }>(fleet.root, 'SELECT mode, status FROM hotfix_runs ORDER BY id')).toEqual([
      { mode: 'deploy', status: 'failed' },
      { mode: 'retry', status: 'succeeded' },
    ]);
    expect(readHistory<{ name: string; status: string }>(fleet.root, 'SELECT name, status FROM hotfix_waves WHERE hotfix_run_id = 2 ORDER BY position').map((w) => [w.name, w.status])).toEqual([
      ['canary', 'passed'],
      ['rest', 'passed'],
    ]);
    // Nothing that succeeded ran twice: CAN1 again (it had failed), every other host once.
    expect(labExecutions(fleet.root).map((e) => e.server).sort()).toEqual(['CAN1', 'CAN1', 'CAN2', 'REST1', 'REST2', 'REST3']);
  });

  it('a wave within its budget lets the next one start, after every host of it finished', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }, { server: 'C' }], {
      hotfix: { max_concurrent_servers: 3, waves: [{ name: 'first', servers: ['A'], soak_minutes: 0.01 }, { name: 'second' }] },
    });
    expect(deploy(fleet.config).status).toBe(0);
    const [a, ...later] = labExecutions(fleet.root);
    expect(a!.server).toBe('A');
    for (const e of later) expect(Date.parse(e.started_at)).toBeGreaterThanOrEqual(Date.parse(a!.finished_at!) + 0.01 * 60_000);
  });

  it.each(['wave-started:1', 'wave-finished:1', 'wave-decided:1'])('killed at %s, then --resume: halted as without the kill, no later-wave host started, nothing run twice', (point) => {
    const fleet = copyFleet();
    expect(deploy(fleet.config, [], { AUTODBAUDIT_CRASH_AT: point }).signal).toBe('SIGKILL');
    resumeUntilDone(fleet);
    expectHalted(fleet.root);
    expect(readHistory<{ integrity_check: string }>(fleet.root, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  });

  it('killed during the soak, then --resume: soaks only what is left of it, then halts', async () => {
    const fleet = copyFleet();
    const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', fleet.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('soaking 0.02 min')) child.kill('SIGKILL');
    });
    await new Promise((resolve) => child.on('close', resolve));
    expect(child.signalCode).toBe('SIGKILL');
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_waves ORDER BY position').map((w) => w.status)).toEqual(['soaking', 'pending']);
    resumeUntilDone(fleet);
    expectHalted(fleet.root);
  });
});
