import { spawn, } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROLLING_CRASH_POINTS } from '../../src/deploy/crashPoints.js';
import { labExecutions, labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { oracle, replicaModes } from '../helpers/rollingLab.js';
import { copyFleet as copyFleetOf, deployCli, resumeUntilDone } from '../helpers/crashRuns.js';
import { CLI } from '../helpers/runCli.js';

/**
 * Kills a rolling deployment (an availability group with synchronous and asynchronous secondaries,
 * a failover cluster instance, a standalone host) with SIGKILL at each crash point of the group
 * actions, resumes until done, and checks the end against a run without crashes: the same targets,
 * steps and actions, no installer run twice, no failover or role move done twice, failover modes
 * restored, and the safety oracle holding on the lab's whole history.
 */

const ROLLING_POINTS = ROLLING_CRASH_POINTS;

const ENTERPRISE = 'Enterprise Edition (64-bit)';
const template = labFleet(
  [
    { server: 'SQL1', edition: ENTERPRISE, simulation: { availability_group: { name: 'AG1', role: 'primary', failover_mode: 'automatic', resync_seconds: 40 } } },
    { server: 'SQL2', edition: ENTERPRISE, simulation: { availability_group: { name: 'AG1', role: 'secondary', failover_mode: 'automatic', resync_seconds: 40 } } },
    { server: 'DR1', edition: ENTERPRISE, simulation: { availability_group: { name: 'AG1', role: 'secondary', availability_mode: 'asynchronous_commit', resync_seconds: 40 } } },
    { server: 'SQLFCI', instance: 'PROD', edition: ENTERPRISE, simulation: { failover_cluster: { nodes: ['NODE1', 'NODE2'], owner: 'NODE1' } } },
    { server: 'SOLO1' },
  ],
  { timeScale: 0.004 },
);
const copyFleet = () => copyFleetOf(template, 'ada-rolling-fault-');
const cli = deployCli;

interface Outcome {
  targets: string[];
  steps: string[];
  actions: string[];
  changes: string[];
  modes: Record<string, string>;
}

function outcomeOf(root: string): Outcome {
  return {
    targets: readHistory<{ server: string; status: string; post_build: string | null }>(root, 'SELECT * FROM hotfix_targets ORDER BY server').map((t) => `${t.server} ${t.status} ${t.post_build}`),
    steps: readHistory<{ server: string; installer_file: string; description: string; status: string; exit_code: number | null }>(
      root,
      'SELECT t.server, s.* FROM hotfix_steps s JOIN hotfix_targets t ON t.id = s.hotfix_target_id ORDER BY t.server, s.step_order',
    ).map((s) => `${s.server} ${s.installer_file} ${s.description} ${s.status} ${s.exit_code}`),
    actions: readHistory<{ server: string; kind: string; status: string | null }>(root, 'SELECT server, kind, status FROM hotfix_actions ORDER BY seq').map(
      (a) => `${a.server} ${a.kind} ${a.status ?? 'steps'}`,
    ),
    // Every failover, role move and failover-mode change the world saw, in order: none twice.
    changes: readLabWorld<{ kind: string; detail: string }>(root, "SELECT kind, detail FROM lab_events WHERE kind IN ('failover', 'role_move', 'failover_mode') ORDER BY id").map(
      (e) => `${e.kind} ${e.detail}`,
    ),
    modes: replicaModes(root),
  };
}

const scenarios = [...ROLLING_POINTS.map((point) => `${point}:1`), 'failover-recorded:2', 'restore-recorded:2', 'sync-wait-polling:3'];

describe('fault injection in rolling updates: SIGKILL at each group action, then --resume', () => {
  let baseline: Outcome;

  beforeAll(() => {
    const fleet = copyFleet();
    const result = cli(fleet.config, []);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    baseline = outcomeOf(fleet.root);
    expect(oracle(fleet.root)).toEqual([]);
    expect(baseline.modes).toEqual({ 'AG1 DR1': 'secondary manual', 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic' });
    expect(baseline.changes.filter((c) => c.startsWith('failover '))).toHaveLength(2);
    expect(baseline.changes.filter((c) => c.startsWith('role_move '))).toHaveLength(2);
  }, 120_000);

  const crashed: string[] = [];

  it.each(scenarios)('killed at %s: resumes to the crash-free outcome, nothing done twice, the oracle holding', { timeout: 120_000 }, (point) => {
    const fleet = copyFleet();
    const first = cli(fleet.config, [], { AUTODBAUDIT_CRASH_AT: point });
    if (first.signal === 'SIGKILL') crashed.push(point);
    resumeUntilDone(fleet);
    expect(outcomeOf(fleet.root)).toEqual(baseline);
    expect(oracle(fleet.root)).toEqual([]);
    const keys = labExecutions(fleet.root).map((e) => `${e.server}/${e.installer}`);
    expect(new Set(keys).size, keys.join(', ')).toBe(keys.length);
  });

  it('actually crashed the orchestrator at every rolling crash point', () => {
    for (const point of ROLLING_POINTS) expect(crashed).toContain(`${point}:1`);
  });
});

describe('Ctrl+C during a rolling update', () => {
  it('restores the failover modes before the process ends (exit 130); --resume sets them to manual again, finishes, and restores them', { timeout: 120_000 }, async () => {
    const fleet = copyFleet();
    const child = spawn(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--config', fleet.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Once both modes are manual and the group's first secondary is being patched.
      if (!sent && out.includes('failover mode of SQL2\\MSSQLSERVER is manual')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(sent, out).toBe(true);
    expect(code, out).toBe(130);
    expect(out).toContain('while the run stops; --resume sets it to manual again before the group goes on');
    expect(replicaModes(fleet.root)).toMatchObject({ 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic' });
    expect(oracle(fleet.root)).toEqual([]);
    expect(readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_runs')).toEqual([{ status: 'interrupted' }]);

    const resumed = cli(fleet.config, ['--resume']);
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('set to manual again before the group');
    expect(oracle(fleet.root)).toEqual([]);
    expect(replicaModes(fleet.root)).toEqual({ 'AG1 DR1': 'secondary manual', 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic' });
    const targets = readHistory<{ status: string }>(fleet.root, 'SELECT status FROM hotfix_targets');
    expect(targets.every((t) => t.status === 'success'), JSON.stringify(targets)).toBe(true);
    // Every change of SQL2's mode: to manual, back when stopped, to manual again on resume, back at the end.
    const sql2 = readLabWorld<{ detail: string }>(fleet.root, "SELECT detail FROM lab_events WHERE kind = 'failover_mode' AND detail LIKE '%SQL2%' ORDER BY id").map(
      (e) => (JSON.parse(e.detail) as { to: string }).to,
    );
    expect(sql2).toEqual(['manual', 'automatic', 'manual', 'automatic']);
  });
});
