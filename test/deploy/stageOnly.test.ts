import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { CLI } from '../helpers/runCli.js';

/** Pre-staging on the lab through the built CLI: --stage-only, then a deployment that copies nothing again. */

function deploy(config: string, args: string[] = [], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', config, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
}

/** Every copy onto a lab host (the lab records one `file_staged` event per file actually written). */
function copies(root: string): string[] {
  return readLabWorld<{ server: string; detail: string }>(root, "SELECT server, detail FROM lab_events WHERE kind = 'file_staged' ORDER BY id").map(
    (e) => `${e.server} ${path.win32.basename(JSON.parse(e.detail).path)}`,
  );
}

function logText(root: string): string {
  const dir = path.join(root, 'output/logs');
  return readdirSync(dir)
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

const fleet = () =>
  labFleet(
    [
      { server: 'A' },
      { server: 'B', version: '16.0.4085.0' },
      { server: 'M', instance: 'X', version: '15.0.2000.5' },
      { server: 'M', instance: 'Y', version: '16.0.4085.0' },
      { server: 'R', simulation: { pending_reboot: true } },
    ],
    { hotfix: { max_concurrent_servers: 3, max_concurrent_staging: 1 } },
  );

describe('--stage-only', () => {
  it('stages and verifies every planned installer with pre-flight, installs nothing, and a later deployment copies nothing again', () => {
    const f = fleet();
    const staged = deploy(f.config, ['--stage-only']);
    // R is refused by pre-flight (a reboot is pending): a problem, so exit 1 as for a deployment.
    expect(staged.status, staged.stdout + staged.stderr).toBe(1);
    expect(labExecutions(f.root)).toEqual([]);
    expect(copies(f.root).sort()).toEqual(['A CU30.exe', 'B CU16.exe', 'M CU16.exe', 'M CU19.exe', 'M CU30.exe']);
    expect(readHistory<{ mode: string; status: string }>(f.root, 'SELECT mode, status FROM hotfix_runs')).toEqual([{ mode: 'stage', status: 'failed' }]);
    const targets = readHistory<{ server: string; instance: string; status: string; post_build: string | null }>(f.root, 'SELECT * FROM hotfix_targets ORDER BY server, instance');
    expect(targets.map((t) => `${t.server}\\${t.instance} ${t.status} ${t.post_build}`)).toEqual([
      'A\\MSSQLSERVER success null',
      'B\\MSSQLSERVER success null',
      'M\\X success null',
      'M\\Y success null',
      'R\\MSSQLSERVER skipped null',
    ]);
    const steps = readHistory<{ status: string; error_message: string }>(f.root, "SELECT status, error_message FROM hotfix_steps WHERE status <> 'skipped' OR error_message NOT LIKE '%not installed (stage-only run)%'");
    expect(steps.filter((s) => !/skipped by pre-flight/.test(s.error_message ?? ''))).toEqual([]);
    // max_concurrent_staging 1: one host at a time, so each host's last event comes before the next host's first.
    const events = readHistory<{ server: string | null }>(f.root, 'SELECT server FROM hotfix_events WHERE hotfix_run_id = 1 AND server IS NOT NULL ORDER BY id').map((e) => e.server!);
    const runs = events.filter((server, i) => i === 0 || events[i - 1] !== server);
    expect(runs).toEqual([...new Set(runs)]);
    expect(staged.stdout).toContain('stage-only run 1 failed: 4 success, 1 skipped; nothing was installed');

    const deployed = deploy(f.config);
    expect(deployed.status, deployed.stdout).toBe(1);
    expect(copies(f.root)).toHaveLength(5);
    expect(logText(f.root)).toMatch(/A: CU30\.exe already staged \(by run 1, stage-only, .*\), not copied again, at C:\\ProgramData\\AutoDBAudit\\staging\\CU30\.exe \(SHA-256 [0-9a-f]{12}… verified; Authenticode Valid/);
    expect(labExecutions(f.root).map((e) => `${e.server} ${e.installer}`).sort()).toEqual(['A CU30.exe', 'B CU16.exe', 'M CU16.exe', 'M CU19.exe', 'M CU30.exe']);
    expect(readHistory<{ copied: number; n: number }>(f.root, 'SELECT copied, COUNT(*) AS n FROM hotfix_staged_files WHERE hotfix_run_id = 2 GROUP BY copied')).toEqual([{ copied: 0, n: 5 }]);
    expect(readHistory<{ status: string }>(f.root, "SELECT status FROM hotfix_targets WHERE hotfix_run_id = 2 AND server <> 'R'").map((t) => t.status)).toEqual([
      'success',
      'success',
      'success',
      'success',
    ]);
  });

  it.each(['staged:2', 'stage-recorded:3'])('killed at %s, resumed, then deployed: no file is copied twice and nothing was installed by the stage run', (point) => {
    const f = fleet();
    const killed = deploy(f.config, ['--stage-only'], { AUTODBAUDIT_CRASH_AT: point });
    expect(killed.signal).toBe('SIGKILL');
    expect(readHistory<{ status: string }>(f.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'running' }]);
    const resumed = deploy(f.config, ['--resume']);
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(1);
    expect(readHistory<{ mode: string; status: string }>(f.root, 'SELECT mode, status FROM hotfix_runs')).toEqual([{ mode: 'stage', status: 'failed' }]);
    expect(labExecutions(f.root)).toEqual([]);
    expect(copies(f.root).sort()).toEqual(['A CU30.exe', 'B CU16.exe', 'M CU16.exe', 'M CU19.exe', 'M CU30.exe']);
    expect(deploy(f.config).status).toBe(1);
    expect(copies(f.root)).toHaveLength(5);
    expect(labExecutions(f.root)).toHaveLength(5);
  });

  it('is refused with --retry-failed, and --retry-failed passes over a stage-only run to the latest deployment', () => {
    const f = labFleet([{ server: 'A', simulation: { installers: { 'CU30.exe': { exit_codes: [1603] } } } }]);
    expect(deploy(f.config, ['--stage-only', '--retry-failed']).status).toBe(2);
    expect(deploy(f.config).status).toBe(1);
    expect(deploy(f.config, ['--stage-only']).status).toBe(0);
    const retry = deploy(f.config, ['--retry-failed']);
    expect(retry.stdout).toContain('Retrying 1 failed, partial or deferred target(s) of run 1');
    expect(retry.status).toBe(0);
  });
});
