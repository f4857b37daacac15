import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from '../../src/store/sqlite.js';
import { describe, expect, it } from 'vitest';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { CLI, runCli } from '../helpers/runCli.js';

/**
 * What a careful operator does around one deployment, through the built CLI: narrowing a resume or a
 * retry, odd host names, closed pipes and terminals, a busy or unusable history.db, absurd time
 * limits, devices named as configuration files, and missing secrets.
 */

const deploy = (config: string, ...extra: string[]) => runCli(['--deploy-hotfixes', '--yes', '--config', config, ...extra]);

function spawnDeploy(config: string, extra: string[] = [], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', config, ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, closed, stdout: () => stdout, stderr: () => stderr };
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const runningSteps = (root: string) => {
  try {
    return readHistory<{ n: number }>(root, "SELECT count(*) AS n FROM hotfix_steps WHERE status = 'running'")[0]!.n;
  } catch {
    return 0;
  }
};

function setTargets(root: string, change: (targets: Record<string, unknown>[]) => void): void {
  const file = path.join(root, 'config/sql_targets.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { targets: Record<string, unknown>[] };
  change(json.targets);
  writeFileSync(file, JSON.stringify(json));
}

function setAudit(root: string, change: (audit: { hotfix: Record<string, unknown> }) => void): void {
  const file = path.join(root, 'config/audit_config.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { hotfix: Record<string, unknown> };
  change(json);
  writeFileSync(file, JSON.stringify(json));
}

describe('--server narrows --resume and --retry-failed', () => {
  it('--resume --server resumes only the named host; the run stays interrupted until the others are done', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }, { server: 'C' }], { hotfix: { max_concurrent_servers: 1 } });
    const killed = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config], { env: { AUTODBAUDIT_CRASH_AT: 'target-started:1' } });
    expect(killed.code).toBe(-1);

    const unknown = deploy(fleet.config, '--resume', '--server', 'NOPE');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--server NOPE: no target unfinished in run 1 \(those are: A\\MSSQLSERVER, B\\MSSQLSERVER, C\\MSSQLSERVER\)/);

    const b = deploy(fleet.config, '--resume', '--server', 'b');
    expect(b.stdout).toContain('resuming only B, as --server asks');
    expect(labExecutions(fleet.root).map((e) => e.server)).toEqual(['B']);
    const status = () => Object.fromEntries(readHistory<{ server: string; status: string }>(fleet.root, 'SELECT server, status FROM hotfix_targets').map((t) => [t.server, t.status]));
    expect(status()).toMatchObject({ B: 'success' });
    expect(readHistory(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'interrupted' }]);

    expect(deploy(fleet.config, '--resume').code).toBe(0);
    expect(status()).toEqual({ A: 'success', B: 'success', C: 'success' });
    expect(readHistory(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'succeeded' }]);
    expect(labExecutions(fleet.root).map((e) => e.server).sort()).toEqual(['A', 'B', 'C']);
  });

  it('--retry-failed --server retries only the named failed targets, and refuses a name that did not fail', () => {
    const failing = { installers: { 'CU30.exe': { exit_codes: [1603] } } };
    const fleet = labFleet([{ server: 'F1', simulation: failing }, { server: 'F2', simulation: failing }, { server: 'OK' }]);
    expect(deploy(fleet.config).code).toBe(1);

    const notFailed = deploy(fleet.config, '--retry-failed', '--server', 'OK');
    expect(notFailed.code).toBe(2);
    expect(notFailed.stderr).toContain('--server OK: not a failed, partial or deferred target of run 1 (those are: F1\\MSSQLSERVER, F2\\MSSQLSERVER)');

    const retry = deploy(fleet.config, '--retry-failed', '--server', 'F2');
    expect(retry.code, retry.stderr).toBe(0);
    expect(readHistory(fleet.root, 'SELECT server, status FROM hotfix_targets WHERE hotfix_run_id = 2')).toEqual([{ server: 'F2', status: 'success' }]);
  });
});

describe('a partial target retried', () => {
  it('runs only the installers that did not succeed for it in the run retried', () => {
    const fleet = labFleet([{ server: 'OPT', version: '13.0.6300.2', simulation: { installers: { 'CU17.exe': { exit_codes: [1603] } } } }]);
    expect(deploy(fleet.config).code).toBe(1);
    expect(readHistory(fleet.root, 'SELECT status FROM hotfix_targets')).toEqual([{ status: 'partial' }]);
    const retry = deploy(fleet.config, '--retry-failed');
    expect(retry.code, retry.stdout + retry.stderr).toBe(0);
    expect(readHistory(fleet.root, 'SELECT s.installer_file FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id WHERE t.hotfix_run_id = 2')).toEqual([
      { installer_file: 'CU17.exe' },
    ]);
    expect(labExecutions(fleet.root).map((e) => e.installer)).toEqual(['SP3.exe', 'CU17.exe', 'CU17.exe']);
  });
});

describe('--hotfix-plan --offline after a deployment', () => {
  it('plans from the builds the deployment verified', () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(deploy(fleet.config).code).toBe(0);
    const plan = runCli(['--hotfix-plan', '--offline', '--json', '--config', fleet.config]);
    expect(plan.code).toBe(0);
    const json = JSON.parse(plan.stdout) as { targets: { current_build: string; status: string }[] };
    expect(json.targets[0]).toMatchObject({ current_build: '15.0.4395.2', status: 'up_to_date' });
  });
});

describe('host names', () => {
  it('hosts whose names differ only outside [a-z0-9.-] keep their own execution ids and both finish', () => {
    const fleet = labFleet([{ server: 'SQLÉ1' }, { server: 'SQLÈ1' }], { hotfix: { max_concurrent_servers: 2 } });
    const result = deploy(fleet.config);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(readHistory(fleet.root, 'SELECT server, status FROM hotfix_targets ORDER BY server')).toEqual([
      { server: 'SQLÈ1', status: 'success' },
      { server: 'SQLÉ1', status: 'success' },
    ]);
    const ids = readHistory<{ execution_id: string }>(fleet.root, 'SELECT execution_id FROM hotfix_steps').map((s) => s.execution_id);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
  });

  it('a server name Windows does not allow is a configuration error with file and JSON path', () => {
    const fleet = labFleet([{ server: 'GOOD' }, { server: 'bad$(x);' }, { server: 'a..b' }, { server: '12345' }]);
    const result = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sql_targets.json: targets[1].server: "bad$(x);" is not a valid host name: "$", "(", ")", ";" cannot appear in a Windows host name');
    expect(result.stderr).toContain('sql_targets.json: targets[2].server: "a..b" is not a valid host name: an empty label');
    expect(result.stderr).toContain('sql_targets.json: targets[3].server: "12345" is not a valid host name: a computer name cannot be only digits');
    expect(result.stderr).not.toContain('targets[0]');
  });
});

describe('pipes and signals', () => {
  it('a closed stdout pipe (| head) does not stop the deployment; the log and history get everything', async () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }], { hotfix: { max_concurrent_servers: 1 }, timeScale: 0.02 });
    const run = spawnDeploy(fleet.config);
    await until('the first output', () => run.stdout().length > 0);
    run.child.stdout.destroy();
    const end = await run.closed;
    expect(end, run.stderr()).toEqual({ code: 0, signal: null });
    expect(readHistory(fleet.root, 'SELECT status, exit_code FROM hotfix_runs')).toEqual([{ status: 'succeeded', exit_code: 0 }]);
    expect(readHistory(fleet.root, 'SELECT * FROM run_lock')).toEqual([]);
    const logs = readdirSync(path.join(fleet.root, 'output/logs'));
    expect(readFileSync(path.join(fleet.root, 'output/logs', logs[0]!), 'utf8')).toContain('run 1 ended with exit code 0');
  });

  it.skipIf(process.platform === 'win32').each(['SIGHUP', 'SIGQUIT'] as const)(
    '%s acts like the first Ctrl+C: nothing new starts, the running installer finishes, exit 130',
    async (signal) => {
      const fleet = labFleet([{ server: 'A' }, { server: 'B' }], { hotfix: { max_concurrent_servers: 1, step_timeout_minutes: 5 }, timeScale: 0.05 });
      const run = spawnDeploy(fleet.config);
      await until('an installer running', () => runningSteps(fleet.root) > 0);
      run.child.kill(signal);
      // A second one changes nothing: nobody is there to mean "stop waiting".
      await new Promise((resolve) => setTimeout(resolve, 200));
      run.child.kill(signal);
      const end = await run.closed;
      expect(end, run.stderr()).toEqual({ code: 130, signal: null });
      expect(run.stdout()).toContain(`${signal}`);
      const executions = labExecutions(fleet.root);
      expect(executions).toHaveLength(1);
      expect(executions[0]!.finished_at).not.toBeNull();
      expect(readHistory(fleet.root, 'SELECT status FROM hotfix_steps ORDER BY id')).toEqual([{ status: 'success' }, { status: 'pending' }]);
      expect(readHistory(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'interrupted' }]);
    },
  );
});

describe('an unusable history.db or logs folder', () => {
  it('a history.db busy for a moment is waited for', async () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--hotfix-plan', '--offline', '--config', fleet.config]).code).toBe(0);
    const db = new Database(path.join(fleet.root, 'output/history.db'));
    db.exec('BEGIN EXCLUSIVE');
    const run = spawnDeploy(fleet.config);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    db.exec('COMMIT');
    db.close();
    const end = await run.closed;
    expect(end.code, run.stderr()).toBe(0);
  });

  it('a history.db held busy past the wait is reported plainly, exit 2, with no run recorded', async () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--hotfix-plan', '--offline', '--config', fleet.config]).code).toBe(0);
    const db = new Database(path.join(fleet.root, 'output/history.db'));
    db.exec('BEGIN EXCLUSIVE');
    try {
      const run = spawnDeploy(fleet.config);
      const end = await run.closed;
      expect(end.code).toBe(2);
      expect(run.stderr()).toMatch(/history\.db: it stayed locked by another process for more than 10 s/);
      expect(run.stderr()).not.toContain('Internal error');
    } finally {
      db.exec('COMMIT');
      db.close();
    }
    expect(readHistory(fleet.root, 'SELECT id FROM hotfix_runs')).toEqual([]);
  });

  it('a history.db written by a newer version is refused, exit 2, and left as it was', () => {
    const fleet = labFleet([{ server: 'A' }]);
    expect(runCli(['--hotfix-plan', '--offline', '--config', fleet.config]).code).toBe(0);
    const file = path.join(fleet.root, 'output/history.db');
    const db = new Database(file);
    db.pragma('user_version = 999');
    db.close();
    const result = deploy(fleet.config);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/history\.db: its schema is version 999, newer than this version of autodbaudit knows \(\d+\)/);
    const after = new Database(file, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(999);
    expect(after.prepare('SELECT count(*) AS n FROM hotfix_runs').get()).toEqual({ n: 0 });
    after.close();
  });

  it('a logs folder that cannot be created is refused before the run is recorded', () => {
    const fleet = labFleet([{ server: 'A' }]);
    mkdirSync(path.join(fleet.root, 'output'), { recursive: true });
    // A file where the folder should be: as a read-only folder would, it refuses the log file.
    writeFileSync(path.join(fleet.root, 'output/logs'), 'not a folder');
    const result = deploy(fleet.config);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/logs: cannot create the deployment log/);
    expect(readHistory(fleet.root, 'SELECT id FROM hotfix_runs')).toEqual([]);
    expect(readHistory(fleet.root, 'SELECT * FROM run_lock')).toEqual([]);
    expect(labExecutions(fleet.root)).toEqual([]);
  });
});

describe('limits checked at load', () => {
  it('refuses step timeouts a timer cannot hold or that would kill every installer at once, from the CLI and the file', () => {
    const fleet = labFleet([{ server: 'A' }]);
    for (const value of ['40000', '1e-300', 'NaN']) {
      const result = deploy(fleet.config, '--step-timeout-minutes', value);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('expected a number of minutes from 0.01 (0.6 s) to 10080 (one week)');
    }
    setAudit(fleet.root, (a) => {
      a.hotfix.step_timeout_minutes = 40000;
    });
    const file = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('audit_config.json: hotfix.step_timeout_minutes: expected at most 10080 minutes (one week)');
    expect(file.stderr).not.toContain('TimeoutOverflowWarning');
  });

  it.skipIf(process.platform === 'win32')('refuses a device named as a configuration file instead of reading it', () => {
    const fleet = labFleet([{ server: 'A' }]);
    setAudit(fleet.root, (a) => {
      a.hotfix.mapping = '/dev/zero';
    });
    const result = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/dev/zero: is not a regular file (a device, pipe or socket)');
  });

  it('refuses installer file names no target accepts, naming the mapping entry', () => {
    const fleet = labFleet([{ server: 'A' }]);
    const file = path.join(fleet.root, 'config/hotfix_mapping.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { mappings: { files: { filename: string }[] }[] };
    json.mappings[1]!.files[0]!.filename = 'a b$(x);.exe';
    writeFileSync(file, JSON.stringify(json));
    const result = runCli(['--hotfix-plan', '--offline', '--config', fleet.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('hotfix_mapping.json: mappings[1].files[0].filename: "a b$(x);.exe" is not a plain file name the targets accept');
  });

  it('a credential whose password variable is not set is a configuration error naming both, before any host is asked', () => {
    const fleet = labFleet([{ server: 'A' }]);
    setAudit(fleet.root, (a) => {
      a.hotfix.credentials = { lab_admin: { username: 'LAB\\admin', password_env: 'ADA_TEST_MISSING_PASSWORD' } };
    });
    setTargets(fleet.root, (targets) => {
      targets[0]!.credential = 'lab_admin';
    });
    const env = { ...process.env };
    delete env.ADA_TEST_MISSING_PASSWORD;
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', fleet.config], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'audit_config.json: hotfix.credentials.lab_admin.password_env: credential "lab_admin" reads its password from the environment variable ADA_TEST_MISSING_PASSWORD, which is not set',
    );
    expect(readHistory(fleet.root, 'SELECT id FROM hotfix_runs')).toEqual([]);
  });
});

describe('history.db failing mid-run', () => {
  it('stops starting, waits for the running installers, says so plainly (exit 2), and --resume settles the rest', async () => {
    // CHAIN needs two installers in a row; the second must not start once history.db refuses writes.
    const fleet = labFleet([{ server: 'CHAIN', version: '15.0.2000.5' }, { server: 'B' }], {
      hotfix: { max_concurrent_servers: 2, step_timeout_minutes: 5 },
      timeScale: 0.05,
    });
    const run = spawnDeploy(fleet.config);
    await until('both first installers running', () => runningSteps(fleet.root) >= 2);
    const db = new Database(path.join(fleet.root, 'output/history.db'));
    db.exec('BEGIN EXCLUSIVE');
    let end: { code: number | null; signal: NodeJS.Signals | null };
    try {
      end = await run.closed;
    } finally {
      db.exec('COMMIT');
      db.close();
    }
    expect(end, run.stderr()).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toMatch(/history\.db: it stayed locked by another process for more than 10 s .*Nothing new was started after that; installers already running were waited for/);
    expect(run.stderr()).not.toContain('Internal error');
    // Both installers ran to their end on the targets; the second of CHAIN never started.
    const executions = labExecutions(fleet.root);
    expect(executions.map((e) => `${e.server}/${e.installer}`).sort()).toEqual(['B/CU30.exe', 'CHAIN/CU19.exe']);
    for (const e of executions) expect(e.finished_at).not.toBeNull();

    const resumed = deploy(fleet.config, '--resume');
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(readHistory(fleet.root, 'SELECT server, status FROM hotfix_targets ORDER BY server')).toEqual([
      { server: 'B', status: 'success' },
      { server: 'CHAIN', status: 'success' },
    ]);
    const keys = labExecutions(fleet.root).map((e) => `${e.server}/${e.installer}`);
    expect(keys.sort()).toEqual(['B/CU30.exe', 'CHAIN/CU19.exe', 'CHAIN/CU30.exe']);
  });
});
