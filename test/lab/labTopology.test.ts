import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { targetsFileSchema, type TargetEntry } from '../../src/config/schemas.js';
import { labTopologyProblems } from '../../src/config/labTopology.js';
import { LabTopologyError } from '../../src/lab/topology.js';
import { LabWorld } from '../../src/lab/world.js';

// The lab's availability groups and failover cluster instances, driven directly with a hand-moved
// clock: what SQL Server and the cluster allow, and the lab_events rows each change leaves.

const CU30 = Buffer.from(JSON.stringify({ lab_installer: 1, family: '2019', sets_build: '15.0.4395.2', seconds: 100 }));
const PATCH = '/quiet /Action=Patch /AllInstances';

function targets(entries: unknown[]): TargetEntry[] {
  return targetsFileSchema.parse({ schema_version: 1, targets: entries }).targets;
}

const replica = (server: string, role: string, extra: Record<string, unknown> = {}) => ({
  server,
  transport: 'simulated',
  simulation: { version: '15.0.4298.1', edition: 'Enterprise Edition (64-bit)', availability_group: { name: 'AG1', role, resync_seconds: 10, ...extra } },
});

const fci = {
  server: 'SQLFCI',
  instance: 'PROD',
  transport: 'simulated',
  simulation: { version: '15.0.4298.1', edition: 'Enterprise Edition (64-bit)', failover_cluster: { nodes: ['N1', 'N2'], owner: 'N1' } },
};

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function openWorld(entries: unknown[]): { world: LabWorld; clock: { now: number } } {
  const dir = mkdtempSync(path.join(tmpdir(), 'lab-topology-'));
  dirs.push(dir);
  const clock = { now: Date.parse('2026-01-01T00:00:00.000Z') };
  // time_scale 1: simulated seconds are real seconds of the hand-moved clock.
  const world = LabWorld.open(path.join(dir, 'world.db'), targets(entries), { timeScale: 1, clock: () => clock.now });
  return { world, clock };
}

function install(world: LabWorld, server: string, id: string): void {
  world.stageFile(server, 'C:\\Stage\\CU30.exe', CU30);
  world.startExecution(server, id, 'C:\\Stage\\CU30.exe', PATCH);
}

// The availability-group and cluster kinds; the world records other changes (staged files) too.
const TOPOLOGY_KINDS = ['sync_state', 'failover', 'failover_mode', 'role_move'];
const events = (world: LabWorld) =>
  world.topology
    .events()
    .filter((e) => TOPOLOGY_KINDS.includes(e.kind))
    .map((e) => ({ at: e.at, kind: e.kind, ...JSON.parse(e.detail) }));
const stateOf = (world: LabWorld, server: string) => world.topology.replicas('AG1').find((r) => r.server === server)!;

describe('lab availability groups', () => {
  it('a patched replica is SYNCHRONIZING while setup runs and SYNCHRONIZED resync_seconds after it ends', () => {
    const { world, clock } = openWorld([replica('P1', 'primary'), replica('S1', 'secondary')]);
    install(world, 'S1', 'x1');
    expect(stateOf(world, 'S1')).toMatchObject({ sync_state: 'SYNCHRONIZING', connected: 0 });
    clock.now += 100_000 + 9_999;
    world.settle();
    expect(stateOf(world, 'S1')).toMatchObject({ sync_state: 'SYNCHRONIZING', connected: 1 });
    clock.now += 5_000;
    world.settle();
    expect(stateOf(world, 'S1').sync_state).toBe('SYNCHRONIZED');
    expect(events(world)).toEqual([
      { at: '2026-01-01T00:00:00.000Z', kind: 'sync_state', ag: 'AG1', replica: 'S1\\MSSQLSERVER', state: 'SYNCHRONIZING' },
      // Dated when it happened (install end + 10 s), not when someone looked.
      { at: '2026-01-01T00:01:50.000Z', kind: 'sync_state', ag: 'AG1', replica: 'S1\\MSSQLSERVER', state: 'SYNCHRONIZED' },
    ]);
    world.close();
  });

  it('a replica that never resynchronizes stays SYNCHRONIZING', () => {
    const { world, clock } = openWorld([replica('P1', 'primary'), replica('S1', 'secondary', { never_resyncs: true })]);
    install(world, 'S1', 'x1');
    clock.now += 10_000_000;
    world.settle();
    expect(stateOf(world, 'S1')).toMatchObject({ sync_state: 'SYNCHRONIZING', connected: 1 });
    world.close();
  });

  it('an asynchronous-commit replica is SYNCHRONIZING when healthy (never SYNCHRONIZED), NOT SYNCHRONIZING while patched, and never a failover target', () => {
    const async = { availability_mode: 'asynchronous_commit', failover_mode: 'manual' };
    const { world, clock } = openWorld([replica('P1', 'primary'), replica('A1', 'secondary', async), replica('A2', 'secondary', { ...async, never_resyncs: true })]);
    expect(stateOf(world, 'A1')).toMatchObject({ sync_state: 'SYNCHRONIZING', connected: 1 });
    expect(() => world.failover('AG1', { server: 'A1', instance: 'MSSQLSERVER' })).toThrow(/without data loss: both replicas must use synchronous commit/);
    install(world, 'A1', 'x1');
    install(world, 'A2', 'x2');
    expect(stateOf(world, 'A1')).toMatchObject({ sync_state: 'NOT SYNCHRONIZING', connected: 0 });
    clock.now += 100_000 + 10_000;
    world.settle();
    expect(stateOf(world, 'A1')).toMatchObject({ sync_state: 'SYNCHRONIZING', connected: 1 });
    // A replica that never resynchronizes stays in the unhealthy state, connected or not.
    expect(stateOf(world, 'A2')).toMatchObject({ sync_state: 'NOT SYNCHRONIZING', connected: 1 });
    expect(events(world).filter((e) => e.replica === 'A1\\MSSQLSERVER')).toEqual([
      { at: '2026-01-01T00:00:00.000Z', kind: 'sync_state', ag: 'AG1', replica: 'A1\\MSSQLSERVER', state: 'NOT SYNCHRONIZING' },
      { at: '2026-01-01T00:01:50.000Z', kind: 'sync_state', ag: 'AG1', replica: 'A1\\MSSQLSERVER', state: 'SYNCHRONIZING' },
    ]);
    world.close();
  });

  it('fails over only to a SYNCHRONIZED synchronous-commit secondary, and records who was primary', () => {
    const { world, clock } = openWorld([replica('P1', 'primary'), replica('S1', 'secondary'), replica('A1', 'secondary', { availability_mode: 'asynchronous_commit' })]);
    install(world, 'S1', 'x1');
    expect(() => world.failover('AG1', { server: 'S1', instance: 'MSSQLSERVER' })).toThrow(/41142.*SYNCHRONIZING, not SYNCHRONIZED/);
    expect(() => world.failover('AG1', { server: 'A1', instance: 'MSSQLSERVER' })).toThrow(LabTopologyError);
    clock.now += 200_000;
    world.failover('AG1', { server: 'S1', instance: 'MSSQLSERVER' });
    expect(stateOf(world, 'S1').role).toBe('primary');
    expect(stateOf(world, 'P1').role).toBe('secondary');
    expect(events(world).filter((e) => e.kind === 'failover')).toEqual([
      { at: '2026-01-01T00:03:20.000Z', kind: 'failover', ag: 'AG1', from: 'P1\\MSSQLSERVER', to: 'S1\\MSSQLSERVER', to_synchronized: true },
    ]);
    world.close();
  });

  it('changes a failover mode only on the primary, automatic only with synchronous commit', () => {
    const { world } = openWorld([
      replica('P1', 'primary', { failover_mode: 'automatic' }),
      replica('S1', 'secondary', { failover_mode: 'automatic' }),
      replica('A1', 'secondary', { availability_mode: 'asynchronous_commit' }),
    ]);
    const on = (server: string) => ({ server, instance: 'MSSQLSERVER' });
    expect(() => world.setFailoverMode(on('S1'), 'AG1', on('S1'), 'manual')).toThrow(/not its primary replica/);
    expect(() => world.setFailoverMode(on('P1'), 'AG1', on('A1'), 'automatic')).toThrow(/synchronous commit/);
    world.setFailoverMode(on('P1'), 'AG1', on('S1'), 'manual');
    world.setFailoverMode(on('P1'), 'AG1', on('S1'), 'manual');
    expect(events(world)).toEqual([
      { at: expect.any(String), kind: 'failover_mode', ag: 'AG1', replica: 'S1\\MSSQLSERVER', from: 'automatic', to: 'manual' },
    ]);
    world.close();
  });

  it('patching a primary with automatic failover set fails the group over on its own', () => {
    const { world } = openWorld([replica('P1', 'primary', { failover_mode: 'automatic' }), replica('S1', 'secondary', { failover_mode: 'automatic' })]);
    install(world, 'P1', 'x1');
    expect(stateOf(world, 'S1').role).toBe('primary');
    expect(events(world).find((e) => e.kind === 'failover')).toMatchObject({ from: 'P1\\MSSQLSERVER', to: 'S1\\MSSQLSERVER', to_synchronized: true, automatic: true });
    world.close();
  });

  it('shows all replicas to the primary and only itself to a secondary, as the DMVs do', () => {
    const { world } = openWorld([replica('P1', 'primary'), replica('S1', 'secondary')]);
    const fromPrimary = world.topology.groupsSeenBy('P1', 'MSSQLSERVER')[0]!;
    expect(fromPrimary.replicas.map((r) => [r.replicaServerName, r.role, r.synchronizationState])).toEqual([
      ['P1', 'primary', 'SYNCHRONIZED'],
      ['S1', 'secondary', 'SYNCHRONIZED'],
    ]);
    const fromSecondary = world.topology.groupsSeenBy('S1', 'MSSQLSERVER')[0]!;
    expect(fromSecondary.replicas.map((r) => [r.replicaServerName, r.role, r.isLocal])).toEqual([
      ['P1', null, false],
      ['S1', 'secondary', true],
    ]);
    world.close();
  });
});

describe('lab failover cluster instances', () => {
  it('runs setup per node, reports the owning node build, and moves the role', () => {
    const { world, clock } = openWorld([fci]);
    install(world, 'N2', 'n2');
    expect(() => world.moveRole('SQLFCI', 'PROD', 'N2')).toThrow(/setup is running there/);
    clock.now += 100_000;
    expect(world.instances('SQLFCI')[0]!.version).toBe('15.0.4298.1');
    expect(world.instances('N2')[0]!.version).toBe('15.0.4395.2');
    world.moveRole('SQLFCI', 'PROD', 'N2');
    expect(world.instances('SQLFCI')[0]!.version).toBe('15.0.4395.2');
    expect(world.executions().map((e) => e.server)).toEqual(['N2']);
    expect(events(world)).toEqual([{ at: '2026-01-01T00:01:40.000Z', kind: 'role_move', fci: 'SQLFCI\\PROD', from: 'N1', to: 'N2' }]);
    expect(() => world.moveRole('SQLFCI', 'PROD', 'N9')).toThrow(/not a possible owner/);
    world.close();
  });
});

describe('lab topology configuration', () => {
  it('names each impossible group or cluster by file and path', () => {
    const file = targetsFileSchema.parse({
      schema_version: 1,
      targets: [
        replica('P1', 'primary'),
        replica('P2', 'primary'),
        replica('A1', 'secondary', { availability_mode: 'asynchronous_commit', failover_mode: 'automatic' }),
        { ...fci, simulation: { ...fci.simulation, failover_cluster: { nodes: ['N1', 'N2'], owner: 'N3' } } },
      ],
    });
    expect(labTopologyProblems('sql_targets.json', file).map((p) => `${p.path}: ${p.message}`)).toEqual([
      'targets[2].simulation.availability_group.failover_mode: automatic failover needs availability_mode "synchronous_commit" (SQL Server refuses it otherwise)',
      'targets[3].simulation.failover_cluster.owner: N3 is not one of the nodes (N1, N2)',
      'targets[0].simulation.availability_group: availability group AG1 needs exactly one primary replica (found: P1\\MSSQLSERVER, P2\\MSSQLSERVER)',
    ]);
  });
});
