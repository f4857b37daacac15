import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { targetsFileSchema } from '../../src/config/schemas.js';
import { LabWorld } from '../../src/lab/world.js';
import { labExecutions, labFleet, readHistory } from '../helpers/labFleet.js';
import { runCli } from '../helpers/runCli.js';

// --hotfix-plan for availability groups and a failover cluster instance in the lab, through the
// built CLI: the order and the failovers before anything happens, the topology recorded for
// --offline, and refusals where the targets or the record disagree with what the instances say.

const ENTERPRISE = 'Enterprise Edition (64-bit)';
const agReplica = (server: string, role: string, extra: Record<string, unknown> = {}) => ({
  server,
  edition: ENTERPRISE,
  simulation: { availability_group: { name: 'AG1', role, ...extra } },
});

function fleet() {
  return labFleet([
    agReplica('SQL1', 'primary', { failover_mode: 'automatic' }),
    agReplica('SQL2', 'secondary', { failover_mode: 'automatic' }),
    agReplica('DR1', 'secondary', { availability_mode: 'asynchronous_commit' }),
    { server: 'SQLFCI', instance: 'PROD', edition: ENTERPRISE, simulation: { failover_cluster: { nodes: ['NODE1', 'NODE2'], owner: 'NODE1' } } },
    { server: 'SOLO1' },
  ]);
}

interface RollingJson {
  failovers: number;
  availability_groups: { name: string; status: string; reasons: string[]; primary_before: string; primary_after: string; failovers: number }[];
  failover_clusters: { name: string; status: string; owner_before: string; owner_after: string; role_moves: number; nodes: string[] }[];
  order: { step: number; kind: string; [key: string]: unknown }[];
  held_back: { host: string; reason: string }[];
}

function planJson(config: string, ...extra: string[]): { rolling: RollingJson | undefined; stderr: string } {
  const result = runCli(['--hotfix-plan', '--json', '--config', config, ...extra]);
  expect(result.code, result.stderr).toBe(0);
  const plan = JSON.parse(result.stdout) as { rolling?: RollingJson };
  return { rolling: plan.rolling, stderr: result.stderr };
}

const orderText = (rolling: RollingJson) =>
  rolling.order.map((s) => {
    switch (s.kind) {
      case 'patch':
      case 'wait_healthy':
        return `${s.kind} ${s.host}`;
      case 'failover':
        return `failover ${s.ag} ${s.from} -> ${s.to}`;
      case 'move_role':
        return `move_role ${s.fci} ${s.from} -> ${s.to}`;
      default:
        return `${s.kind} ${s.ag} ${s.replica} ${s.to}`;
    }
  });

describe('--hotfix-plan for availability groups and failover cluster instances', () => {
  it('shows the rolling order and the number of failovers, records the topology, and plans from it --offline', () => {
    const { config, root } = fleet();
    const live = planJson(config);
    expect(live.rolling).toBeDefined();
    const rolling = live.rolling!;
    expect(orderText(rolling)).toEqual([
      'set_failover_mode AG1 SQL1\\MSSQLSERVER manual',
      'set_failover_mode AG1 SQL2\\MSSQLSERVER manual',
      'patch DR1',
      'wait_healthy DR1',
      'patch NODE2',
      'patch SQL2',
      'wait_healthy SQL2',
      'move_role SQLFCI\\PROD NODE1 -> NODE2',
      'patch NODE1',
      'move_role SQLFCI\\PROD NODE2 -> NODE1',
      'failover AG1 SQL1\\MSSQLSERVER -> SQL2\\MSSQLSERVER',
      'patch SQL1',
      'wait_healthy SQL1',
      'failover AG1 SQL2\\MSSQLSERVER -> SQL1\\MSSQLSERVER',
      'restore AG1 SQL1\\MSSQLSERVER automatic',
      'restore AG1 SQL2\\MSSQLSERVER automatic',
    ]);
    expect(rolling.failovers).toBe(4);
    expect(rolling.availability_groups).toEqual([
      expect.objectContaining({ name: 'AG1', status: 'planned', primary_before: 'SQL1\\MSSQLSERVER', primary_after: 'SQL1\\MSSQLSERVER', failovers: 2 }),
    ]);
    expect(rolling.failover_clusters).toEqual([
      expect.objectContaining({ name: 'SQLFCI\\PROD', status: 'planned', nodes: ['NODE1', 'NODE2'], owner_before: 'NODE1', owner_after: 'NODE1', role_moves: 2 }),
    ]);
    expect(readHistory<{ ag_name: string; server: string; role: string }>(root, 'SELECT ag_name, server, role FROM availability_replicas ORDER BY server')).toEqual([
      { ag_name: 'AG1', server: 'DR1', role: 'secondary' },
      { ag_name: 'AG1', server: 'SQL1', role: 'primary' },
      { ag_name: 'AG1', server: 'SQL2', role: 'secondary' },
    ]);

    const offline = planJson(config, '--offline');
    expect(offline.rolling!.order).toEqual(rolling.order);

    const text = runCli(['--hotfix-plan', '--offline', '--config', config]);
    expect(text.stdout).toContain('Availability groups and clusters: 4 failover(s) and role move(s) in this order');
    expect(text.stdout).toContain('Availability group AG1: primary SQL1\\MSSQLSERVER, 2 failover(s)');
    expect(text.stdout).toContain('11. AG1: fail over SQL1\\MSSQLSERVER → SQL2\\MSSQLSERVER (to a patched replica, so the former primary can be patched)');
  });

  it('stays on the new primary when availability_groups.failback is false', () => {
    const { config } = fleet();
    const audit = JSON.parse(readFileSync(config, 'utf8'));
    audit.hotfix.availability_groups = { failback: false };
    writeFileSync(config, JSON.stringify(audit));
    const { rolling } = planJson(config);
    expect(rolling!.availability_groups[0]).toMatchObject({ primary_after: 'SQL2\\MSSQLSERVER', failovers: 1 });
    expect(rolling!.failovers).toBe(2);
  });

  it('refuses a group whose replica is missing from the targets, or whose primary is not the recorded one, naming what differs', () => {
    const { config, root } = fleet();
    const targetsPath = path.join(root, 'config/sql_targets.json');
    const original = readFileSync(targetsPath, 'utf8');
    const worldFile = path.join(root, 'output/lab/world.db');
    const allTargets = targetsFileSchema.parse(JSON.parse(original)).targets;
    LabWorld.open(worldFile, allTargets, { timeScale: 0.005 }).close();

    // DR1 is in the group (the lab world has it) but not in the targets file, and was never recorded.
    const file = JSON.parse(original);
    file.targets = file.targets.filter((t: { server: string }) => t.server !== 'DR1');
    writeFileSync(targetsPath, JSON.stringify(file));
    const missing = planJson(config);
    expect(missing.rolling!.availability_groups[0]).toMatchObject({
      status: 'refused',
      reasons: ['replica DR1\\MSSQLSERVER is in availability group AG1 but not in the targets'],
    });
    // Nothing of the group is touched; the FCI goes on.
    expect(missing.rolling!.order.filter((s) => s.kind === 'patch').map((s) => s.host)).toEqual(['NODE2', 'NODE1']);
    expect(missing.rolling!.held_back.map((h) => h.host)).toEqual(['DR1', 'SQL1', 'SQL2']);
    expect(missing.stderr).toContain('warning: availability group AG1 is refused: replica DR1\\MSSQLSERVER is in availability group AG1 but not in the targets');
    writeFileSync(targetsPath, original);
    planJson(config);

    // Someone failed the group over since the topology was recorded.
    const world = LabWorld.open(worldFile, allTargets, { timeScale: 0.005 });
    world.failover('AG1', { server: 'SQL2', instance: 'MSSQLSERVER' });
    world.close();
    const moved = planJson(config);
    expect(moved.rolling!.availability_groups[0]).toMatchObject({
      status: 'refused',
      reasons: ['primary is SQL2\\MSSQLSERVER, but SQL1\\MSSQLSERVER was recorded'],
    });
    expect(moved.rolling!.held_back.map((h) => h.host)).toEqual(['DR1', 'SQL1', 'SQL2']);

    // The operator checked it and accepts what the instances say now.
    planJson(config, '--accept-topology');
    const accepted = planJson(config);
    expect(accepted.rolling!.availability_groups[0]).toMatchObject({ status: 'planned', primary_before: 'SQL2\\MSSQLSERVER' });
  });

  it('deploys the standalone hosts --server selects, and holds back a group --server selects only part of', () => {
    const { config, root } = fleet();
    const solo = runCli(['--deploy-hotfixes', '--yes', '--server', 'SOLO1', '--config', config]);
    expect(solo.code, solo.stderr).toBe(0);
    expect(labExecutions(root).map((e) => e.server)).toEqual(['SOLO1']);
    const part = runCli(['--deploy-hotfixes', '--yes', '--server', 'SQL1', '--config', config]);
    expect(part.code, part.stderr).toBe(1);
    expect(part.stderr).toContain('availability group AG1 is refused: --server selects some of its replicas but not DR1\\MSSQLSERVER, SQL2\\MSSQLSERVER');
    expect(readHistory<{ status: string; error_message: string }>(root, "SELECT status, error_message FROM hotfix_targets WHERE server = 'SQL1' AND hotfix_run_id = 2")).toEqual([
      { status: 'skipped', error_message: expect.stringContaining('not patched: availability group AG1, which is refused') },
    ]);
    expect(labExecutions(root).map((e) => e.server)).toEqual(['SOLO1']);
  });
});
