import { readdirSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import type { RollingSequence } from '../../src/report/rollingData.js';
import { labExecutions, labFleet, readHistory, readLabWorld } from '../helpers/labFleet.js';
import { builds, oracle, replicaModes } from '../helpers/rollingLab.js';
import { runCli } from '../helpers/runCli.js';

// Rolling updates carried out by --deploy-hotfixes through the built CLI on the lab: availability
// groups (asynchronous and synchronous secondaries), a failover cluster instance and standalone hosts;
// after every run the safety oracle replays the lab's lab_events and lab_executions.

const ENTERPRISE = 'Enterprise Edition (64-bit)';
const replica = (server: string, role: string, extra: Record<string, unknown> = {}) => ({
  server,
  edition: ENTERPRISE,
  simulation: { availability_group: { name: 'AG1', role, resync_seconds: 40, ...extra } },
});

describe('--deploy-hotfixes carries out the rolling order', () => {
  it('patches an availability group (async, then sync secondaries, failover, former primary, failback), an FCI node by node, and a standalone host', async () => {
    const { config, root } = labFleet([
      replica('SQL1', 'primary', { failover_mode: 'automatic' }),
      replica('SQL2', 'secondary', { failover_mode: 'automatic' }),
      replica('DR1', 'secondary', { availability_mode: 'asynchronous_commit' }),
      { server: 'SQLFCI', instance: 'PROD', edition: ENTERPRISE, simulation: { failover_cluster: { nodes: ['NODE1', 'NODE2'], owner: 'NODE1' } } },
      { server: 'SOLO1' },
    ]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(oracle(root)).toEqual([]);
    const after = builds(root);
    for (const name of ['SQL1\\MSSQLSERVER', 'SQL2\\MSSQLSERVER', 'DR1\\MSSQLSERVER', 'NODE1\\PROD', 'NODE2\\PROD', 'SOLO1\\MSSQLSERVER']) {
      expect(after[name], name).toBe('15.0.4395.2');
    }
    // Back where it began: SQL1 primary (failback), automatic failover restored on both synchronous replicas.
    expect(replicaModes(root)).toEqual({ 'AG1 DR1': 'secondary manual', 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic' });
    expect(readLabWorld<{ owner: string }>(root, 'SELECT owner FROM lab_fcis')).toEqual([{ owner: 'NODE1' }]);
    // The order the lab saw: DR1 (async) before SQL2, SQL1 only after the failover to SQL2; NODE2 before NODE1.
    const order = labExecutions(root).map((e) => e.server);
    expect(order.indexOf('DR1')).toBeLessThan(order.indexOf('SQL2'));
    expect(order.indexOf('SQL2')).toBeLessThan(order.indexOf('SQL1'));
    expect(order.indexOf('NODE2')).toBeLessThan(order.indexOf('NODE1'));
    expect(order.filter((s) => s === 'SOLO1')).toHaveLength(1);
    const actions = readHistory<{ server: string; kind: string; status: string }>(root, "SELECT server, kind, status FROM hotfix_actions WHERE server LIKE 'ag:%' OR server LIKE 'fci:%' ORDER BY seq");
    expect(actions.every((a) => a.status === 'success'), JSON.stringify(actions)).toBe(true);
    expect(actions.filter((a) => a.kind === 'failover')).toHaveLength(2);
    expect(actions.filter((a) => a.kind === 'move_role')).toHaveLength(2);
    expect(readHistory<{ status: string }>(root, 'SELECT status FROM hotfix_targets ORDER BY server').every((t) => t.status === 'success')).toBe(true);

    // Each sequence in the run summary, --hotfix-history (text and JSON) and the workbook.
    expect(result.stdout).toContain('Availability groups and clusters:');
    expect(result.stdout).toMatch(/^ {2}Availability group AG1: completed; primary SQL1\\MSSQLSERVER; 2 failover\(s\)$/m);
    expect(result.stdout).toMatch(/^ {6}\S+Z {2}SQL1\\MSSQLSERVER → SQL2\\MSSQLSERVER \(so the former primary could be patched\)$/m);
    const history = runCli(['--hotfix-history', '--run-id', '1', '--json', '--config', config]);
    const rolling = (JSON.parse(history.stdout) as { rolling: RollingSequence[] }).rolling;
    expect(rolling.map((r) => [r.name, r.outcome, r.before, r.after, r.moves.map((m) => `${m.from} -> ${m.to} ${m.why} ${m.status}`)])).toEqual([
      ['AG1', 'completed', 'SQL1\\MSSQLSERVER', 'SQL1\\MSSQLSERVER', ['SQL1\\MSSQLSERVER -> SQL2\\MSSQLSERVER patch_former_primary success', 'SQL2\\MSSQLSERVER -> SQL1\\MSSQLSERVER failback success']],
      ['SQLFCI\\PROD', 'completed', 'NODE1', 'NODE1', ['NODE1 -> NODE2 patch_former_primary success', 'NODE2 -> NODE1 failback success']],
    ]);
    const failovers = readLabWorld<{ at: string }>(root, "SELECT at FROM lab_events WHERE kind = 'failover' ORDER BY id");
    const times = rolling[0]!.moves.map((m) => Date.parse(m.at!));
    // Each recorded time is the moment the failover was done: not before the world's event.
    expect(times[0]).toBeGreaterThanOrEqual(Date.parse(failovers[0]!.at));
    expect(times[1]).toBeGreaterThanOrEqual(Date.parse(failovers[1]!.at));
    expect(rolling[0]!.modes).toEqual([
      { replica: 'SQL1\\MSSQLSERVER', original: 'automatic', restored: true },
      { replica: 'SQL2\\MSSQLSERVER', original: 'automatic', restored: true },
    ]);
    const text = runCli(['--hotfix-history', '--run-id', '1', '--config', config]);
    expect(text.stdout).toContain('  Failover cluster instance SQLFCI\\PROD: completed; owner NODE1; 2 role move(s)');
    expect(text.stdout).toContain('    failover modes set to manual for the run: restored on SQL1\\MSSQLSERVER, SQL2\\MSSQLSERVER');
    const reports = path.join(root, 'output', 'reports');
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(path.join(reports, readdirSync(reports)[0]!));
    const rows: string[][] = [];
    workbook.getWorksheet('Failovers')!.eachRow((row) => rows.push([1, 3, 6, 7, 10].map((c) => String(row.getCell(c).value))));
    expect(rows).toEqual([
      ['Group or FCI', 'Outcome', 'From', 'To', 'Status'],
      ['AG1', 'Completed', 'SQL1\\MSSQLSERVER', 'SQL2\\MSSQLSERVER', 'success'],
      ['AG1', 'Completed', 'SQL2\\MSSQLSERVER', 'SQL1\\MSSQLSERVER', 'success'],
      ['SQLFCI\\PROD', 'Completed', 'NODE1', 'NODE2', 'success'],
      ['SQLFCI\\PROD', 'Completed', 'NODE2', 'NODE1', 'success'],
    ]);
  });
});

/** Two groups and a standalone host; `faults` adds simulation keys per host. */
function twoGroups(faults: Record<string, Record<string, unknown>> = {}, hotfix: Record<string, unknown> = {}) {
  const member = (server: string, ag: string, role: string, extra: Record<string, unknown> = {}) => ({
    server,
    edition: ENTERPRISE,
    simulation: { availability_group: { name: ag, role, resync_seconds: 40, ...extra }, ...(faults[server] ?? {}) },
  });
  return labFleet(
    [
      member('SQL1', 'AG1', 'primary', { failover_mode: 'automatic' }),
      member('SQL2', 'AG1', 'secondary', { failover_mode: 'automatic', ...(faults.SQL2?.replica as object) }),
      member('DR1', 'AG1', 'secondary', { availability_mode: 'asynchronous_commit', ...(faults.DR1?.replica as object) }),
      member('SQLA', 'AG2', 'primary', { failover_mode: 'automatic' }),
      member('SQLB', 'AG2', 'secondary', { failover_mode: 'automatic' }),
      { server: 'SOLO1', simulation: faults.SOLO1 ?? {} },
    ].map((t) => {
      const sim = { ...(t.simulation as Record<string, unknown>) };
      delete sim.replica;
      return { ...t, simulation: sim };
    }),
    { hotfix },
  );
}

const targetStatus = (root: string) =>
  Object.fromEntries(readHistory<{ server: string; status: string }>(root, 'SELECT server, status FROM hotfix_targets ORDER BY server').map((t) => [t.server, t.status]));

describe('a rolling update under faults', () => {
  it('an installer that fails on a secondary stops its group (no failover, the primary untouched, modes restored); the other group and the standalone host go on', () => {
    const { config, root } = twoGroups({ SQL2: { installers: { 'CU30.exe': { exit_codes: [1603] } } } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', config]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(oracle(root)).toEqual([]);
    expect(targetStatus(root)).toEqual({ DR1: 'success', SOLO1: 'success', SQL1: 'skipped', SQL2: 'failed', SQLA: 'success', SQLB: 'success' });
    const sql1 = readHistory<{ error_message: string }>(root, "SELECT error_message FROM hotfix_targets WHERE server = 'SQL1'")[0]!;
    expect(sql1.error_message).toContain('SQL1: not patched: SQL2\\MSSQLSERVER failed');
    expect(replicaModes(root)).toMatchObject({ 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic', 'AG2 SQLA': 'primary automatic', 'AG2 SQLB': 'secondary automatic' });
    expect(labExecutions(root).filter((e) => e.server === 'SQL1')).toEqual([]);
    expect(readLabWorld(root, "SELECT 1 FROM lab_events WHERE kind = 'failover' AND detail LIKE '%AG1%'")).toEqual([]);

    // Once the cause is gone (the lab's failing exit code was consumed), --retry-failed takes the group whole.
    const retry = runCli(['--deploy-hotfixes', '--retry-failed', '--yes', '--config', config]);
    expect(retry.code, retry.stdout + retry.stderr).toBe(0);
    expect(retry.stdout).toContain('Availability groups and FCIs are rolled whole: their other replicas are taken too');
    expect(oracle(root)).toEqual([]);
    expect(builds(root)).toMatchObject({ 'SQL1\\MSSQLSERVER': '15.0.4395.2', 'SQL2\\MSSQLSERVER': '15.0.4395.2' });
    expect(replicaModes(root)).toMatchObject({ 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic' });
  });

  it('a host lost mid-run (it never comes back from its restart) stops its group with the reason; modes restored, the other group goes on', () => {
    const { config, root } = twoGroups({ DR1: { comes_back: false } }, { restart: 'always', restart_timeout_minutes: 0.03 });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', config]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(oracle(root)).toEqual([]);
    expect(targetStatus(root)).toEqual({ DR1: 'failed', SOLO1: 'success', SQL1: 'skipped', SQL2: 'skipped', SQLA: 'success', SQLB: 'success' });
    expect(replicaModes(root)).toMatchObject({ 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic', 'AG2 SQLA': 'primary automatic' });
    expect(result.stdout).toMatch(/Availability group AG1: stopped \(DR1\\MSSQLSERVER failed: DR1: did not come back healthy/);
  });

  it('an instance the plan leaves out (an unreadable version) beside a replica does not stop the group', () => {
    const { config, root } = labFleet([
      replica('SQL1', 'primary', { failover_mode: 'automatic' }),
      replica('SQL2', 'secondary', { failover_mode: 'automatic' }),
      { server: 'SQL2', instance: 'ODD', version: 'not-a-build', simulation: { version: 'not-a-build' } },
    ]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', config]);
    // 1 for the unreadable version alone: the group itself completed.
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(oracle(root)).toEqual([]);
    expect(result.stdout).toMatch(/Availability group AG1: completed/);
    expect(builds(root)).toMatchObject({ 'SQL1\\MSSQLSERVER': '15.0.4395.2', 'SQL2\\MSSQLSERVER': '15.0.4395.2' });
  });

  it('keeps a group in one wave: the earliest any of its hosts falls in', () => {
    const { config, root } = twoGroups({}, { waves: [{ name: 'canary', servers: ['SQL2', 'SOLO1'], max_failed: 0, soak_minutes: 0.01 }, { name: 'rest' }] });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(oracle(root)).toEqual([]);
    const waveOf = Object.fromEntries(readHistory<{ server: string; wave: number }>(root, 'SELECT server, wave FROM hotfix_targets').map((t) => [t.server, t.wave]));
    // SQL2 brings all of AG1 into the canary wave; AG2 stays in the rest.
    expect(waveOf).toEqual({ DR1: 0, SOLO1: 0, SQL1: 0, SQL2: 0, SQLA: 1, SQLB: 1 });
    expect(Object.values(targetStatus(root)).every((s) => s === 'success')).toBe(true);
  });

  it('orders hosts holding replicas of several groups whose primaries cross, freeing a host through a synchronized secondary', () => {
    const member = (server: string, groups: [string, string][]) => ({
      server,
      edition: ENTERPRISE,
      simulation: { availability_group: groups.map(([name, role]) => ({ name, role, failover_mode: 'automatic', resync_seconds: 40 })) },
    });
    const { config, root } = labFleet([
      member('H1', [['AG1', 'primary'], ['AG2', 'secondary']]),
      member('H2', [['AG1', 'secondary'], ['AG2', 'primary']]),
    ]);
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', config]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(oracle(root)).toEqual([]);
    expect(builds(root)).toEqual({ 'H1\\MSSQLSERVER': '15.0.4395.2', 'H2\\MSSQLSERVER': '15.0.4395.2' });
    expect(replicaModes(root)).toEqual({ 'AG1 H1': 'primary automatic', 'AG1 H2': 'secondary automatic', 'AG2 H1': 'secondary automatic', 'AG2 H2': 'primary automatic' });
    const reasons = readHistory<{ reason: string }>(root, "SELECT reason FROM hotfix_actions WHERE kind = 'failover' AND status = 'success' ORDER BY seq").map((a) => a.reason);
    expect(reasons).toContain('free_host');
  });

  it('a replica that never resynchronizes stops its group within sync_timeout_minutes, with the reason; the other group and the standalone host go on', () => {
    const { config, root } = twoGroups({ DR1: { replica: { never_resyncs: true } } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--sync-timeout-minutes', '0.02', '--config', config]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toContain('DR1\\MSSQLSERVER (AG1) on DR1 did not resynchronize within 1.2 s (sync_timeout_minutes');
    expect(oracle(root)).toEqual([]);
    expect(targetStatus(root)).toEqual({ DR1: 'success', SOLO1: 'success', SQL1: 'skipped', SQL2: 'skipped', SQLA: 'success', SQLB: 'success' });
    expect(replicaModes(root)).toMatchObject({ 'AG1 SQL1': 'primary automatic', 'AG1 SQL2': 'secondary automatic' });
    const failed = readHistory<{ kind: string; error_message: string }>(root, "SELECT kind, error_message FROM hotfix_actions WHERE status = 'failed'");
    expect(failed.map((a) => a.kind)).toEqual(['wait_healthy']);
    expect(result.stdout).toMatch(/^ {2}Availability group AG1: stopped \(availability group AG1: DR1\\MSSQLSERVER \(AG1\) on DR1 did not resynchronize within .*; primary SQL1\\MSSQLSERVER; 0 failover\(s\)$/m);
    expect(result.stdout).toMatch(/^ {2}Availability group AG2: completed; primary SQLA\\MSSQLSERVER; 2 failover\(s\)$/m);
  });

  it('a group with an unreachable replica is refused and held back whole; the other group and the standalone host go on', () => {
    const { config, root } = twoGroups({ SQLB: { reachable: false } });
    const result = runCli(['--deploy-hotfixes', '--yes', '--config', config]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stderr).toContain('availability group AG2 is refused: replica SQLB\\MSSQLSERVER could not be reached');
    expect(oracle(root)).toEqual([]);
    expect(targetStatus(root)).toEqual({ DR1: 'success', SOLO1: 'success', SQL1: 'success', SQL2: 'success', SQLA: 'skipped', SQLB: 'skipped' });
    expect(labExecutions(root).map((e) => e.server).filter((s) => s.startsWith('SQLA') || s.startsWith('SQLB'))).toEqual([]);
  });
});
