import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LAB_MAPPINGS, labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { CLI } from '../helpers/runCli.js';

/** A maintenance window that closes mid-fleet, on the lab through the built CLI, with a SIGKILL and --resume in between. */

const PREDICTED_MS = 0.08 * 60_000; // expected_minutes of CU30.exe in the mapping below
const MAPPINGS = LAB_MAPPINGS.map((m) => ({ ...m, files: m.files.map((f) => (f.name === 'CU30.exe' ? { ...f, expected_minutes: 0.08 } : f)) }));
// 800 simulated seconds × time_scale 0.005 = 4 s real: a little less than predicted, as a high percentile would be.
const SLOW = { installers: { 'CU30.exe': { seconds: 800 } } };

function deploy(config: string, args: string[] = []) {
  return spawnSync(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', config, ...args], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
}

interface Target {
  server: string;
  status: string;
  deferred_ms: number | null;
  error_message: string | null;
}

describe('maintenance window', () => {
  it('starts no installer that would end past the window, defers the other hosts with the time they needed, and --retry-failed takes them in the next window', async () => {
    const servers = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8'];
    const fleet = labFleet(
      servers.map((server) => ({ server, simulation: SLOW })),
      { mappings: MAPPINGS, hotfix: { max_concurrent_servers: 1, step_timeout_minutes: 1 } },
    );
    // 38 s of predicted work, one host at a time, in a 25 s window: room for the CLI's start on a busy
    // machine, and never for all eight.
    const windowEnd = Date.now() + 25_000;
    const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--window-end', new Date(windowEnd).toISOString(), '--config', fleet.config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/CU30\.exe: started/.test(out)) child.kill('SIGKILL');
    });
    await new Promise((resolve) => child.on('close', resolve));
    expect(child.signalCode).toBe('SIGKILL');
    const resumed = deploy(fleet.config, ['--resume']);
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(1);

    const executions = labExecutions(fleet.root);
    expect(executions.length).toBeGreaterThanOrEqual(1);
    // No installer started after the last moment at which it could still finish inside the window.
    for (const e of executions) expect(Date.parse(e.started_at) + PREDICTED_MS, `${e.server} started ${e.started_at}`).toBeLessThanOrEqual(windowEnd);
    const targets = readHistory<Target>(fleet.root, 'SELECT server, status, deferred_ms, error_message FROM hotfix_targets ORDER BY server');
    const ran = new Set(executions.map((e) => e.server));
    const deferred = targets.filter((t) => !ran.has(t.server));
    expect(deferred.length).toBeGreaterThanOrEqual(1);
    expect(ran.size + deferred.length).toBe(servers.length);
    for (const t of targets.filter((t) => ran.has(t.server))) expect(t.status).toBe('success');
    for (const t of deferred) {
      expect(t.status).toBe('skipped');
      expect(t.deferred_ms).toBe(PREDICTED_MS);
      expect(t.error_message).toMatch(
        new RegExp(`^${t.server}: not started: the maintenance window ends at ${new Date(windowEnd).toISOString().replace(/\./g, '\\.')}, .* from now, and its work needs about 4\\.8 s \\(CU30\\.exe about 4\\.8 s \\(expected_minutes\\)\\); deferred to the next window`),
      );
    }
    // Each deferral is an event of its own, and the screen says so.
    expect(readHistory<{ server: string }>(fleet.root, "SELECT server FROM hotfix_events WHERE kind = 'window_deferred'").map((e) => e.server).sort()).toEqual(
      deferred.map((t) => t.server).sort(),
    );
    expect(labExecutions(fleet.root)).toHaveLength(ran.size);

    const next = deploy(fleet.config, ['--retry-failed', '--window-end', new Date(Date.now() + 3_600_000).toISOString()]);
    expect(next.status, next.stdout + next.stderr).toBe(0);
    expect(next.stdout).toContain(`${deferred.length} target(s) of run 1 were deferred by its maintenance window; they are taken now.`);
    expect(labExecutions(fleet.root).map((e) => e.server).sort()).toEqual(servers);
  }, 150_000);

  it('a new run whose window has already closed is refused (exit 2, naming where the time came from), before anything is recorded', () => {
    const fleet = labFleet([{ server: 'W1' }], { hotfix: { maintenance_window: { end: '2020-01-01T00:00:00Z' } } });
    const fromConfig = deploy(fleet.config);
    expect(fromConfig.status, fromConfig.stderr).toBe(2);
    expect(fromConfig.stderr).toMatch(/^Refused: .*audit_config\.json: hotfix\.maintenance_window\.end: the maintenance window ended at 2020-01-01T00:00:00\.000Z, \d+ days ago; give the end of this window/m);
    const fromFlag = deploy(fleet.config, ['--window-end', '2021-06-01T02:00:00+02:00']);
    expect(fromFlag.status).toBe(2);
    expect(fromFlag.stderr).toContain('Refused: --window-end: the maintenance window ended at 2021-06-01T00:00:00.000Z');
    expect(readHistory<{ n: number }>(fleet.root, 'SELECT count(*) AS n FROM hotfix_runs')).toEqual([{ n: 0 }]);
  });

  it('without a window, or with one that fits, nothing is deferred', () => {
    const fleet = labFleet([{ server: 'A' }, { server: 'B' }], { mappings: MAPPINGS, hotfix: { maintenance_window: { end: '2999-01-01T00:00:00Z' } } });
    const result = deploy(fleet.config);
    expect(result.status, result.stdout).toBe(0);
    expect(readHistory<{ n: number }>(fleet.root, 'SELECT COUNT(*) AS n FROM hotfix_targets WHERE deferred_ms IS NOT NULL')).toEqual([{ n: 0 }]);
  });
});
