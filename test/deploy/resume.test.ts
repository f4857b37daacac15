import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from '../../src/store/sqlite.js';
import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { CLI, runCli } from '../helpers/runCli.js';

interface Row {
  server: string;
  instance: string;
  status: string;
  post_build: string | null;
}

function startDeploy(config: string, extra: string[] = []) {
  const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', config, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`)), 30_000);
      const check = () => {
        if (pattern.test(out)) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
  return { child, closed, waitFor, output: () => out };
}

describe('--resume', () => {
  it('says so and exits 0 when there is nothing to resume', () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]).code).toBe(0);
    const result = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Nothing to resume');
  });

  it('settles installers left running by a killed orchestrator without running them again', async () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B', version: '16.0.4085.0' }], {
      hotfix: { max_concurrent_servers: 2, step_timeout_minutes: 5 },
      timeScale: 0.03,
    });
    const run = startDeploy(fleet.config);
    await run.waitFor(/B \(MSSQLSERVER\): CU16\.exe: started/);
    await run.waitFor(/A \(MSSQLSERVER\): CU30\.exe: started/);
    run.child.kill('SIGKILL');
    await run.closed;
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_steps').map((s) => s.status)).toEqual(['running', 'running']);

    const resumed = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('took over a stale run lock');
    expect(resumed.stdout).toMatch(/still running on the target; waiting for it|found finished on the target/);
    const targets = readHistory<Row>(fleet.root, 'SELECT * FROM hotfix_targets ORDER BY server');
    expect(targets.map((t) => [t.server, t.status, t.post_build])).toEqual([
      ['A', 'success', '15.0.4395.2'],
      ['B', 'success', '16.0.4165.4'],
    ]);
    expect(labExecutions(fleet.root)).toHaveLength(2);
    const kinds = readHistory<{ kind: string }>(fleet.root, 'SELECT kind FROM hotfix_events').map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['run_interrupted', 'run_resumed', 'step_settled', 'run_succeeded']));
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'succeeded' }]);
  });

  it('continues after a double Ctrl+C: interrupted steps are settled, pending hosts are deployed', async () => {
    const fleet = labFleet(['A', 'B', 'C'].map((server) => ({ server })), {
      hotfix: { max_concurrent_servers: 1, step_timeout_minutes: 5 },
      timeScale: 0.03,
    });
    const run = startDeploy(fleet.config);
    await run.waitFor(/CU30\.exe: started/);
    run.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    run.child.kill('SIGINT');
    expect(await run.closed).toBe(130);
    const before = readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_targets ORDER BY server').map((t) => t.status);
    expect(before).toEqual(['in_progress', 'pending', 'pending']);

    const resumed = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(resumed.code, resumed.stdout).toBe(0);
    expect(readHistory<Row>(fleet.root, 'SELECT * FROM hotfix_targets ORDER BY server').map((t) => t.status)).toEqual(['success', 'success', 'success']);
    expect(labExecutions(fleet.root).map((e) => e.server)).toEqual(['A', 'B', 'C']);
  });

  it('keeps unsettled steps open while their host cannot be reached, and settles them once it answers', async () => {
    const fleet = labFleet([{ server: 'A' }], { timeScale: 0.05 });
    const run = startDeploy(fleet.config);
    await run.waitFor(/CU30\.exe: started/);
    run.child.kill('SIGKILL');
    await run.closed;
    const world = new Database(path.join(fleet.root, 'output/lab/world.db'));
    world.prepare("UPDATE lab_hosts SET reachable = 0 WHERE server = 'A'").run();
    const whileDown = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(whileDown.code).toBe(1);
    expect(whileDown.stdout).toContain('its unsettled steps stay open');
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_targets')).toEqual([{ status: 'in_progress' }]);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'interrupted' }]);
    world.prepare("UPDATE lab_hosts SET reachable = 1 WHERE server = 'A'").run();
    world.close();
    const back = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(back.code, back.stdout).toBe(0);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_targets')).toEqual([{ status: 'success' }]);
    expect(labExecutions(fleet.root)).toHaveLength(1);
  });

  it('refuses a new deployment while a run is unfinished, pointing to --resume', async () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }], { hotfix: { max_concurrent_servers: 1 }, timeScale: 0.05 });
    const run = startDeploy(fleet.config);
    await run.waitFor(/CU30\.exe: started/);
    run.child.kill('SIGKILL');
    await run.closed;
    const again = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/run 1 \(started .*\) is unfinished \(running\); continue it with --deploy-hotfixes --resume/);
    expect(readHistory(fleet.root, 'SELECT id FROM hotfix_runs')).toHaveLength(1);
  });

  it('resumes a run picked with --run-id, and refuses one that does not exist', () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--deploy-hotfixes', '--resume', '--run-id', '7', '--yes', '--config', fleet.config]).code).toBe(2);
  });
});

describe('--retry-failed', () => {
  it("starts a new run linked to the last one, for its failed and partial targets, planned from live versions", () => {
    const fleet = labFleet([
      { server: 'OK' },
      { server: 'FLAKY', simulation: { installers: { 'CU30.exe': { exit_codes: [1603] } } } },
      { server: 'OPT', version: '13.0.6300.2', simulation: { installers: { 'CU17.exe': { exit_codes: [1603] } } } },
      { server: 'REBOOT', simulation: { pending_reboot: true } },
    ]);
    expect(runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]).code).toBe(1);
    const retry = runCli(['--deploy-hotfixes', '--retry-failed', '--yes', '--config', fleet.config]);
    expect(retry.code, retry.stdout).toBe(0);
    expect(retry.stdout).toContain('Retrying 2 failed, partial or deferred target(s) of run 1');
    expect(retry.stdout).toContain('REBOOT\\MSSQLSERVER');
    const runs = readHistory<{ id: number; mode: string; parent_run_id: number | null }>(fleet.root, 'SELECT id, mode, parent_run_id FROM hotfix_runs');
    expect(runs).toEqual([
      { id: 1, mode: 'deploy', parent_run_id: null },
      { id: 2, mode: 'retry', parent_run_id: 1 },
    ]);
    const second = readHistory<Row & { pre_build: string }>(fleet.root, 'SELECT * FROM hotfix_targets WHERE hotfix_run_id = 2 ORDER BY server');
    // FLAKY's second execution exits 0; OPT's SP3 already applied (planned afresh: only CU17 remains, which now succeeds).
    expect(second.map((t) => [t.server, t.status, t.pre_build, t.post_build])).toEqual([
      ['FLAKY', 'success', '15.0.4298.1', '15.0.4395.2'],
      ['OPT', 'success', '13.0.6404.1', '13.0.6441.1'],
    ]);
  });

  it('refuses while the last run is unfinished', async () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }], { hotfix: { max_concurrent_servers: 1 }, timeScale: 0.05 });
    const run = startDeploy(fleet.config);
    await run.waitFor(/CU30\.exe: started/);
    run.child.kill('SIGKILL');
    await run.closed;
    const retry = runCli(['--deploy-hotfixes', '--retry-failed', '--yes', '--config', fleet.config]);
    expect(retry.code).toBe(2);
    expect(retry.stderr).toContain('--resume');
  });
});

describe('run lock', () => {
  it('refuses a second deployment with who holds the lock, exit 2', async () => {
    const fleet = labFleet([{ server: 'A' }], { timeScale: 0.1 });
    const run = startDeploy(fleet.config);
    await run.waitFor(/CU30\.exe: started/);
    const second = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`holds the run lock .* on host .+, pid ${run.child.pid}, since \\d{4}-\\d\\d-\\d\\dT`));
    const resume = runCli(['--deploy-hotfixes', '--resume', '--yes', '--config', fleet.config]);
    expect(resume.code).toBe(2);
    expect(await run.closed).toBe(0);
  });

  it('takes over a lock whose heartbeat is stale, with a warning', () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--hotfix-plan', '--offline', '--config', fleet.config]).code).toBe(0);
    const db = new Database(path.join(fleet.root, 'output/history.db'));
    const old = new Date(Date.now() - 10 * 60_000).toISOString();
    db.prepare("INSERT INTO run_lock (id, token, host, pid, operator, acquired_at, heartbeat_at) VALUES (1, 't', 'OTHER-PC', 4242, 'alice', ?, ?)").run(old, old);
    db.close();
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('took over a stale run lock held by alice on OTHER-PC (pid 4242');
    expect(result.stderr).toMatch(/heartbeat is \d+ s old/);
  });

  it('takes over a lock whose owner process on this machine is gone', () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--hotfix-plan', '--offline', '--config', fleet.config]).code).toBe(0);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const db = new Database(path.join(fleet.root, 'output/history.db'));
    const now = new Date().toISOString();
    const host = hostname();
    db.prepare("INSERT INTO run_lock (id, token, host, pid, operator, acquired_at, heartbeat_at) VALUES (1, 't', ?, ?, 'bob', ?, ?)").run(host, Number(dead.stdout), now, now);
    db.close();
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`its process ${dead.stdout} on ${host} is gone`);
  });
});

describe('SIGTERM', () => {
  it('once is treated like one Ctrl+C; a second SIGTERM like the second', async () => {
    const fleet = labFleet(['A', 'B', 'C'].map((server) => ({ server })), { hotfix: { max_concurrent_servers: 1 }, timeScale: 0.05 });
    const run = startDeploy(fleet.config);
    await run.waitFor(/CU30\.exe: started/);
    run.child.kill('SIGTERM');
    expect(await run.closed).toBe(130);
    expect(run.output()).toContain('SIGTERM: stopping');
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_targets ORDER BY server').map((t) => t.status)).toEqual([
      'success',
      'pending',
      'pending',
    ]);

    const fleet2 = labFleet([{ server: 'A' }], { timeScale: 1 });
    const run2 = startDeploy(fleet2.config);
    await run2.waitFor(/CU30\.exe: started/);
    run2.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    run2.child.kill('SIGINT');
    expect(await run2.closed).toBe(130);
    expect(readHistory<{ status: string }>(fleet2.root, 'SELECT status FROM hotfix_steps').map((s) => s.status)).toEqual(['interrupted']);
  });
});
