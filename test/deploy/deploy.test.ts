import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, peakConcurrency, readHistory } from '../helpers/labFleet.js';
import { runCli, runCliAsync } from '../helpers/runCli.js';

interface TargetRow {
  server: string;
  instance: string;
  status: string;
  plan_status: string;
  pre_build: string | null;
  post_build: string | null;
  target_build: string | null;
  requires_restart: number;
  error_message: string | null;
  patched_alongside: number;
}
interface StepRow {
  server: string;
  instance: string;
  installer_file: string;
  status: string;
  exit_code: number | null;
  exit_meaning: string | null;
  required: number;
  error_message: string | null;
}

const targetsOf = (root: string) => readHistory<TargetRow>(root, 'SELECT * FROM hotfix_targets ORDER BY server, instance');
const stepsOf = (root: string) =>
  readHistory<StepRow>(
    root,
    'SELECT t.server, t.instance, s.* FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id ORDER BY t.server, s.step_order',
  );
const byName = <T extends { server: string; instance: string }>(rows: T[]) => new Map(rows.map((r) => [`${r.server}\\${r.instance}`, r]));
const logText = (root: string) => {
  const dir = path.join(root, 'output/logs');
  return readdirSync(dir)
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
};

describe('a deployment with a failure mix', () => {
  const fleet = labFleet([
    { server: 'OK1' },
    { server: 'RESTART', version: '16.0.4085.0', simulation: { installers: { 'CU16.exe': { exit_codes: [3010] } } } },
    { server: 'FAIL1603', simulation: { installers: { 'CU30.exe': { exit_codes: [1603] } } } },
    { server: 'HANG', simulation: { installers: { 'CU30.exe': { hang: true } } } },
    { server: 'NOEFFECT', simulation: { installers: { 'CU30.exe': { no_effect: true } } } },
    { server: 'REBOOT', simulation: { pending_reboot: true } },
    { server: 'DOWN', simulation: { reachable: false } },
    { server: 'DISK', simulation: { free_disk_gb: 1 } },
    { server: 'STOPPED', simulation: { services_running: false } },
    { server: 'OPTIONAL', version: '13.0.6300.2', simulation: { installers: { 'CU17.exe': { exit_codes: [1603] } } } },
    { server: 'CHAIN', version: '15.0.2000.5', simulation: { installers: { 'CU19.exe': { exit_codes: [1603] } } } },
    { server: 'MULTI', instance: 'A', version: '15.0.2000.5' },
    { server: 'MULTI', instance: 'B', version: '16.0.4085.0' },
    { server: 'MULTI', instance: 'C', version: '15.0.4298.1' },
    { server: 'CURRENT', version: '15.0.4395.2' },
  ], { hotfix: { max_concurrent_servers: 3, step_timeout_minutes: 0.01 } });
  const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
  const targets = byName(targetsOf(fleet.root));
  const steps = stepsOf(fleet.root);
  const executions = labExecutions(fleet.root);

  it('exits 1 because some targets failed', () => {
    expect(result.code, result.stderr).toBe(1);
  });

  it('succeeds where the installer works, recording builds before and after', () => {
    expect(targets.get('OK1\\MSSQLSERVER')).toMatchObject({ status: 'success', pre_build: '15.0.4298.1', post_build: '15.0.4395.2', requires_restart: 0 });
  });

  it('treats 3010 as success with a restart required', () => {
    expect(targets.get('RESTART\\MSSQLSERVER')).toMatchObject({ status: 'success', post_build: '16.0.4165.4', requires_restart: 1 });
    expect(steps.find((s) => s.server === 'RESTART')).toMatchObject({ status: 'success', exit_code: 3010 });
    expect(steps.find((s) => s.server === 'RESTART')!.exit_meaning).toContain('restart required');
  });

  it('fails on 1603, naming the code and its meaning', () => {
    const t = targets.get('FAIL1603\\MSSQLSERVER')!;
    expect(t.status).toBe('failed');
    expect(t.error_message).toContain('exited 1603 (fatal error during installation');
    expect(steps.find((s) => s.server === 'FAIL1603')).toMatchObject({ status: 'failed', exit_code: 1603 });
  });

  it('stops a hanging installer at the step timeout and fails the target', () => {
    const t = targets.get('HANG\\MSSQLSERVER')!;
    expect(t.status).toBe('failed');
    expect(t.error_message).toContain('timed out after');
    const hang = executions.find((e) => e.server === 'HANG')!;
    expect(hang.killed).toBe(1);
  });

  it('fails a target whose installer exited 0 but left the build unchanged, and says so', () => {
    const t = targets.get('NOEFFECT\\MSSQLSERVER')!;
    expect(t.status).toBe('failed');
    expect(t.post_build).toBe('15.0.4298.1');
    expect(t.error_message).toContain('reported success (exit 0) but the build is still 15.0.4298.1; expected 15.0.4395.2');
    expect(steps.find((s) => s.server === 'NOEFFECT')).toMatchObject({ status: 'success', exit_code: 0 });
  });

  it('skips hosts that fail pre-flight, with the reason, and runs nothing there', () => {
    expect(targets.get('REBOOT\\MSSQLSERVER')).toMatchObject({ status: 'skipped' });
    expect(targets.get('REBOOT\\MSSQLSERVER')!.error_message).toContain('a reboot is pending');
    expect(targets.get('DISK\\MSSQLSERVER')!.error_message).toContain('too little free disk');
    for (const server of ['REBOOT', 'DISK', 'DOWN']) {
      expect(executions.filter((e) => e.server === server)).toEqual([]);
      expect(steps.filter((s) => s.server === server).every((s) => s.status === 'skipped')).toBe(true);
    }
  });

  it('patches a host whose SQL Server services are stopped, as setup does, and says so', () => {
    expect(targets.get('STOPPED\\MSSQLSERVER')).toMatchObject({ status: 'success', post_build: '15.0.4395.2' });
    expect(result.stdout).toContain('STOPPED: database engine MSSQLSERVER is Stopped: setup patches it as it is');
  });

  it('records an unreachable host as unreachable and skipped', () => {
    expect(targets.get('DOWN\\MSSQLSERVER')).toMatchObject({ status: 'skipped', plan_status: 'unreachable' });
  });

  it('ends partial when only an optional step failed', () => {
    const t = targets.get('OPTIONAL\\MSSQLSERVER')!;
    expect(t.status).toBe('partial');
    expect(steps.filter((s) => s.server === 'OPTIONAL').map((s) => [s.installer_file, s.required, s.status])).toEqual([
      ['SP3.exe', 1, 'success'],
      ['CU17.exe', 0, 'failed'],
    ]);
  });

  it('stops a host after a failed required step, skipping its later steps', () => {
    expect(targets.get('CHAIN\\MSSQLSERVER')!.status).toBe('failed');
    expect(steps.filter((s) => s.server === 'CHAIN').map((s) => [s.installer_file, s.status])).toEqual([
      ['CU19.exe', 'failed'],
      ['CU30.exe', 'skipped'],
    ]);
    expect(executions.filter((e) => e.server === 'CHAIN').map((e) => e.installer)).toEqual(['CU19.exe']);
  });

  it('patches every instance of a host, one installer at a time, each installer once', () => {
    expect(targets.get('MULTI\\A')).toMatchObject({ status: 'success', post_build: '15.0.4395.2' });
    expect(targets.get('MULTI\\B')).toMatchObject({ status: 'success', post_build: '16.0.4165.4' });
    expect(targets.get('MULTI\\C')).toMatchObject({ status: 'success', post_build: '15.0.4395.2' });
    expect(executions.filter((e) => e.server === 'MULTI').map((e) => e.installer)).toEqual(['CU19.exe', 'CU30.exe', 'CU16.exe']);
  });

  it('skips an instance that is already up to date', () => {
    expect(targets.get('CURRENT\\MSSQLSERVER')).toMatchObject({ status: 'skipped', plan_status: 'up_to_date' });
  });

  it('never exceeds the concurrency limit nor runs two installers at once on one host', () => {
    const peak = peakConcurrency(executions);
    expect(peak.overall).toBeLessThanOrEqual(3);
    expect(peak.overall).toBeGreaterThan(1);
    expect(peak.perHost).toBe(1);
    expect(executions.every((e) => e.exit_code !== 1618)).toBe(true);
  });

  it('runs no installer twice on a host in one run', () => {
    const keys = executions.map((e) => `${e.server}/${e.installer}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('reaches every target and step state a finished run can have', () => {
    expect(new Set([...targets.values()].map((t) => t.status))).toEqual(new Set(['success', 'partial', 'failed', 'skipped']));
    expect(new Set(steps.map((s) => s.status))).toEqual(new Set(['success', 'failed', 'skipped']));
  });

  it('writes every transition as an event, and finishes the run', () => {
    const runs = readHistory<{ status: string; exit_code: number; finished_at: string }>(fleet.root, 'SELECT * FROM hotfix_runs');
    expect(runs).toEqual([expect.objectContaining({ status: 'failed', exit_code: 1, finished_at: expect.any(String) })]);
    const kinds = readHistory<{ kind: string }>(fleet.root, 'SELECT kind FROM hotfix_events').map((e) => e.kind);
    for (const kind of ['run_started', 'host_started', 'step_running', 'step_success', 'step_failed', 'target_success', 'target_failed', 'preflight_failed', 'target_skipped', 'run_failed']) {
      expect(kinds).toContain(kind);
    }
  });

  it('writes a log with timestamps, servers, installers, exit codes and their meaning', () => {
    const log = logText(fleet.root);
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARN|ERROR|DEBUG)/m);
    expect(log).toMatch(/ERROR +FAIL1603 \(MSSQLSERVER\): CU30\.exe exited 1603 \(fatal error during installation/);
    expect(log).toMatch(/RESTART \(MSSQLSERVER\): CU16\.exe exited 3010 \(success, restart required/);
    expect(readdirSync(path.join(fleet.root, 'output/logs'))).toEqual([expect.stringMatching(/^hotfix_\d{8}_\d{6}\.log$/)]);
  });

  it('prints plain timestamped lines without a terminal, and a summary table', () => {
    expect(result.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}OK1: started/m);
    expect(result.stdout).toMatch(/^FAIL1603\\MSSQLSERVER +failed +15\.0\.4298\.1 → 15\.0\.4298\.1/m);
    expect(result.stdout).toContain('Retry the failed and partial targets with --deploy-hotfixes --retry-failed');
  });
});

describe('deployment exit codes and refusals', () => {
  it('exits 0 when every target succeeds or needs nothing', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B', version: '15.0.4395.2' }, { server: 'C', version: '10.50.6000.34' }]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(targetsOf(fleet.root).map((t) => t.status)).toEqual(['success', 'skipped', 'skipped']);
  });

  it('exits 3 when no host can be reached', () => {
    const fleet = labFleet([
      { server: 'A', simulation: { reachable: false } },
      { server: 'B', simulation: { reachable: false } },
    ]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(3);
  });

  it('refuses without a terminal unless --yes, saying why, and changes nothing', () => {
    const fleet = labFleet([{ server: 'A' }]);
    const result = runCli(['--deploy-hotfixes', '--config', fleet.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes');
    expect(readHistory(fleet.root, 'SELECT * FROM hotfix_runs')).toEqual([]);
  });

  it('refuses an installer whose SHA-256 differs from the mapping before anything runs, said once however many hosts need it', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }, { server: 'C' }], {
      mappings: [{ family: '2019', min: '15.0.4298.1', target: '15.0.4395.2', files: [{ name: 'CU30.exe', sha256: 'a'.repeat(64) }] }],
    });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/hotfix_mapping\.json: mappings\[0\]\.files\[0\]\.sha256: .*CU30\.exe has SHA-256 [0-9a-f]{64}, but the mapping pins a{64}/);
    expect(result.stderr).toContain('Configuration error (1 problem):');
    expect(result.stderr.match(/but the mapping pins/g)).toHaveLength(1);
    expect(readHistory(fleet.root, 'SELECT * FROM hotfix_runs')).toEqual([]);
  });

  it('refuses to run a staged installer that is not validly signed, unless told otherwise', () => {
    const unsigned = JSON.stringify({ lab_installer: 1, family: '2019', sets_build: '15.0.4395.2', seconds: 10, signature: 'NotSigned' });
    const fleet = labFleet([{ server: 'A' }], { extraFiles: { 'hotfixes/2019/CU30.exe': unsigned } });
    const refused = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(refused.code).toBe(1);
    expect(targetsOf(fleet.root)[0]!.error_message).toContain('CU30.exe at C:\\ProgramData\\AutoDBAudit\\staging\\CU30.exe is not validly signed (Authenticode NotSigned); refusing to run it');
    expect(labExecutions(fleet.root)).toEqual([]);

    const allowed = labFleet([{ server: 'A' }], { extraFiles: { 'hotfixes/2019/CU30.exe': unsigned }, hotfix: { require_signed_installers: false } });
    const ran = runCli(['--deploy-hotfixes', '--yes', '--config', allowed.config]);
    expect(ran.code, ran.stdout).toBe(0);
    expect(ran.stdout).toContain('verified; Authenticode NotSigned)');
  });

  it('stops the plan when a needed installer is missing, naming the mapping entry and the path', () => {
    const fleet = labFleet([{ server: 'A', version: '16.0.4085.0' }], {
      mappings: [{ family: '2022', min: '16.0.4085.0', target: '16.0.4165.4', files: [{ name: 'CU99.exe' }] }],
    });
    const result = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('hotfix_mapping.json: mappings[0].files[0]: installer CU99.exe not found; looked at');
    expect(result.stderr).toContain(path.join(fleet.root, 'hotfixes/2022/CU99.exe'));
  });

  it('limits a deployment to --server', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }, { server: 'C', instance: 'X' }, { server: 'C', instance: 'Y' }]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--server', 'a', '--server', 'C\\Y', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    // Setup runs with /AllInstances, so C\\X, not selected, is patched too: recorded as patched alongside.
    expect(targetsOf(fleet.root).map((t) => `${t.server}\\${t.instance}${t.patched_alongside ? ' (alongside)' : ''}`)).toEqual(['A\\MSSQLSERVER', 'C\\X (alongside)', 'C\\Y']);
    expect(runCli(['--deploy-hotfixes', '--yes', '--server', 'NOPE', '--config', fleet.config]).code).toBe(2);
  });

  it('honours --max-concurrent over the configuration', () => {
    const fleet = labFleet(['A', 'B', 'C', 'D', 'E', 'F'].map((server) => ({ server })), { hotfix: { max_concurrent_servers: 6 } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--max-concurrent', '2', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(peakConcurrency(labExecutions(fleet.root)).overall).toBeLessThanOrEqual(2);
  });
});

describe('Ctrl+C', () => {
  const slowFleet = () =>
    labFleet(['A', 'B', 'C', 'D', 'E', 'F'].map((server) => ({ server })), {
      hotfix: { max_concurrent_servers: 2, step_timeout_minutes: 5 },
      timeScale: 0.05,
    });

  it('once: starts nothing new, lets running installers finish, exits 130', async () => {
    const fleet = slowFleet();
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/runCli.js');
    const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', fleet.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/started \(step 1\/1\)/.test(out) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    const executions = labExecutions(fleet.root);
    expect(executions.length).toBeGreaterThan(0);
    expect(executions.length).toBeLessThanOrEqual(2);
    expect(executions.every((e) => e.finished_at !== null && e.exit_code === 0)).toBe(true);
    const targets = targetsOf(fleet.root);
    expect(targets.filter((t) => t.status === 'success')).toHaveLength(executions.length);
    expect(targets.filter((t) => t.status === 'pending').length).toBe(6 - executions.length);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'interrupted' }]);
    expect(out).toContain('No new installer will start');
  });

  it('twice: stops waiting, records the running steps as interrupted, exits 130', async () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }], { hotfix: { max_concurrent_servers: 2, step_timeout_minutes: 5 }, timeScale: 1 });
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/runCli.js');
    const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', fleet.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (sent === 0 && (out.match(/started \(step 1\/1\)/g) ?? []).length === 2) {
        sent = 2;
        child.kill('SIGINT');
        setTimeout(() => child.kill('SIGINT'), 200);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    const steps = stepsOf(fleet.root);
    expect(steps.map((s) => s.status)).toEqual(['interrupted', 'interrupted']);
    expect(targetsOf(fleet.root).map((t) => t.status)).toEqual(['in_progress', 'in_progress']);
    // The installers go on on the targets.
    expect(labExecutions(fleet.root).every((e) => e.finished_at === null)).toBe(true);
    const integrity = readHistory<{ integrity_check: string }>(fleet.root, 'PRAGMA integrity_check');
    expect(integrity).toEqual([{ integrity_check: 'ok' }]);
    expect(out).toContain('resume');
  });

  it('after the run has ended: the summary and the workbook are finished, the exit code stays the run\'s', async () => {
    const fleet = labFleet([{ server: 'A' }]);
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers/runCli.js');
    const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', fleet.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // The summary is printed just before the workbook is written.
      if (/^Run 1: /m.test(out) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toContain('Ctrl+C: run 1 has already ended and is recorded; finishing its summary and report (a moment)');
    expect(code, err).toBe(0);
    const report = /^Report: (.+\.xlsx)$/m.exec(out)?.[1];
    expect(report, out).toBeDefined();
    expect(existsSync(report!)).toBe(true);
    expect(readdirSync(path.dirname(report!)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});

describe('live discovery for --hotfix-plan', () => {
  it('asks the hosts, records what it found, and marks unreachable hosts', async () => {
    const fleet = labFleet([{ server: 'A', version: '15.0.4298.1' }, { server: 'DOWN', simulation: { reachable: false } }]);
    const result = await runCliAsync(['--hotfix-plan', '--json', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan.targets.map((t: { server: string; status: string }) => [t.server, t.status])).toEqual([
      ['A', 'pending'],
      ['DOWN', 'unreachable'],
    ]);
    expect(result.stderr).toContain('DOWN\\MSSQLSERVER: could not be reached');
    const servers = readHistory<{ server: string; version: string; last_seen_at: string | null }>(fleet.root, 'SELECT * FROM servers ORDER BY server');
    expect(servers).toEqual([expect.objectContaining({ server: 'A', version: '15.0.4298.1', last_seen_at: expect.any(String) })]);
  });
});
