import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRollingOrder, type RollingPlan, type RollingStep } from '../../src/topology/rollingOrder.js';
import type { AvailabilityGroupTopology, FailoverClusterTopology, ReplicaFacts, Topology } from '../../src/topology/types.js';

const replica = (server: string, role: 'primary' | 'secondary', mode: 'sync' | 'async' = 'sync', failover: 'automatic' | 'manual' = 'manual'): ReplicaFacts => ({
  server,
  instance: 'MSSQLSERVER',
  role,
  availabilityMode: mode === 'sync' ? 'synchronous_commit' : 'asynchronous_commit',
  failoverMode: failover,
  synchronizationState: 'SYNCHRONIZED',
});
const ag = (name: string, replicas: ReplicaFacts[]): AvailabilityGroupTopology => ({ name, replicas });
const topology = (availabilityGroups: AvailabilityGroupTopology[], failoverClusters: FailoverClusterTopology[] = []): Topology => ({ availabilityGroups, failoverClusters });
const all = () => true;

function describeSteps(steps: readonly RollingStep[]): string[] {
  return steps.map((s) => {
    switch (s.kind) {
      case 'set_failover_mode':
        return `manual ${s.ag} ${s.replica}`;
      case 'patch':
        return `patch ${s.host}`;
      case 'wait_healthy':
        return `wait ${s.host}`;
      case 'failover':
        return `failover ${s.ag} ${s.from} -> ${s.to} (${s.reason})`;
      case 'move_role':
        return `move ${s.fci} ${s.from} -> ${s.to} (${s.reason})`;
      case 'restore':
        return `restore ${s.ag} ${s.replica} ${s.to}`;
      default: {
        const never: never = s;
        return String(never);
      }
    }
  });
}

describe("Microsoft's rolling order for one availability group", () => {
  const group = ag('AG1', [replica('P1', 'primary', 'sync', 'automatic'), replica('S1', 'secondary', 'sync', 'automatic'), replica('DR1', 'secondary', 'async')]);

  it('sets manual failover, patches the async then the sync secondary, fails over, patches the former primary, fails back, restores', () => {
    const plan = planRollingOrder({ topology: topology([group]), needsPatch: all, refusals: new Map(), failback: true });
    expect(describeSteps(plan.steps)).toEqual([
      'manual AG1 P1\\MSSQLSERVER',
      'manual AG1 S1\\MSSQLSERVER',
      'patch DR1',
      'wait DR1',
      'patch S1',
      'wait S1',
      'failover AG1 P1\\MSSQLSERVER -> S1\\MSSQLSERVER (patch_former_primary)',
      'patch P1',
      'wait P1',
      'failover AG1 S1\\MSSQLSERVER -> P1\\MSSQLSERVER (failback)',
      'restore AG1 P1\\MSSQLSERVER automatic',
      'restore AG1 S1\\MSSQLSERVER automatic',
    ]);
    expect(plan.failovers).toBe(2);
    expect(plan.availabilityGroups).toEqual([
      { name: 'AG1', status: 'planned', reasons: [], primaryBefore: 'P1\\MSSQLSERVER', primaryAfter: 'P1\\MSSQLSERVER', failovers: 2 },
    ]);
  });

  it('stays on the new primary when failback is off', () => {
    const plan = planRollingOrder({ topology: topology([group]), needsPatch: all, refusals: new Map(), failback: false });
    expect(plan.failovers).toBe(1);
    expect(plan.availabilityGroups[0]).toMatchObject({ primaryAfter: 'S1\\MSSQLSERVER', failovers: 1 });
    expect(describeSteps(plan.steps).slice(-2)).toEqual(['restore AG1 P1\\MSSQLSERVER automatic', 'restore AG1 S1\\MSSQLSERVER automatic']);
  });

  it('does nothing for a group whose hosts are all up to date', () => {
    const plan = planRollingOrder({ topology: topology([group]), needsPatch: () => false, refusals: new Map(), failback: true });
    expect(plan.steps).toEqual([]);
    expect(plan.availabilityGroups[0]!.status).toBe('up_to_date');
  });

  it('refuses a group with no synchronous-commit secondary, and holds back every host it shares', () => {
    const drOnly = ag('AGDR', [replica('P1', 'primary'), replica('DR1', 'secondary', 'async')]);
    const neighbour = ag('AG2', [replica('DR1', 'primary'), replica('X1', 'secondary')]);
    const plan = planRollingOrder({ topology: topology([drOnly, neighbour]), needsPatch: all, refusals: new Map(), failback: true });
    expect(plan.steps).toEqual([]);
    expect(plan.availabilityGroups.map((g) => [g.name, g.status, g.reasons])).toEqual([
      ['AGDR', 'refused', ['it has no synchronous-commit secondary on another host to fail over to without data loss']],
      ['AG2', 'refused', ['it shares host DR1 with availability group AGDR, which is refused']],
    ]);
    expect(plan.heldBack.map((h) => h.host)).toEqual(['DR1', 'P1', 'X1']);
  });

  it('refuses a group for reasons found by discovery, naming them', () => {
    const plan = planRollingOrder({
      topology: topology([group]),
      needsPatch: all,
      refusals: new Map([['ag1', ['replica S9\\MSSQLSERVER is in availability group AG1 but not in the targets']]]),
      failback: true,
    });
    expect(plan.availabilityGroups[0]).toMatchObject({ status: 'refused', reasons: ['replica S9\\MSSQLSERVER is in availability group AG1 but not in the targets'] });
    expect(plan.steps).toEqual([]);
  });
});

describe('hosts shared by several groups, and failover cluster instances', () => {
  it('frees one of two hosts whose primaries cross by failing over to the unpatched synchronized partner', () => {
    const plan = planRollingOrder({
      topology: topology([ag('AG1', [replica('H1', 'primary'), replica('H2', 'secondary')]), ag('AG2', [replica('H2', 'primary'), replica('H1', 'secondary')])]),
      needsPatch: all,
      refusals: new Map(),
      failback: true,
    });
    expect(describeSteps(plan.steps)).toEqual([
      'failover AG1 H1\\MSSQLSERVER -> H2\\MSSQLSERVER (free_host)',
      'patch H1',
      'wait H1',
      'failover AG1 H2\\MSSQLSERVER -> H1\\MSSQLSERVER (patch_former_primary)',
      'failover AG2 H2\\MSSQLSERVER -> H1\\MSSQLSERVER (patch_former_primary)',
      'patch H2',
      'wait H2',
      'failover AG2 H1\\MSSQLSERVER -> H2\\MSSQLSERVER (failback)',
    ]);
  });

  it('patches an FCI node by node: passive nodes, role move to a patched node, the former owner, then fails back', () => {
    const fci: FailoverClusterTopology = { server: 'SQLFCI', instance: 'PROD', nodes: ['N1', 'N2', 'N3'], owner: 'N1' };
    const plan = planRollingOrder({ topology: topology([], [fci]), needsPatch: all, refusals: new Map(), failback: true });
    expect(describeSteps(plan.steps)).toEqual([
      'patch N2',
      'patch N3',
      'move SQLFCI\\PROD N1 -> N2 (patch_former_primary)',
      'patch N1',
      'move SQLFCI\\PROD N2 -> N1 (failback)',
    ]);
    expect(plan.failoverClusters).toEqual([{ name: 'SQLFCI\\PROD', status: 'planned', reasons: [], ownerBefore: 'N1', ownerAfter: 'N1', roleMoves: 2 }]);
  });
});

// ─── Property: whatever the topology, replaying the order never breaks a rule ─────────────────────

const HOSTS = ['H1', 'H2', 'H3', 'H4', 'H5', 'H6'];

const topologyArbitrary = fc
  .record({
    groups: fc.array(
      fc.record({
        hosts: fc.uniqueArray(fc.constantFrom(...HOSTS), { minLength: 2, maxLength: 5 }),
        modes: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        automatic: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    fcis: fc.array(fc.uniqueArray(fc.constantFrom('N1', 'N2', 'N3', 'N4'), { minLength: 2, maxLength: 3 }), { maxLength: 2 }),
    patchMask: fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
    failback: fc.boolean(),
  })
  .map(({ groups, fcis, patchMask, failback }) => {
    const availabilityGroups = groups.map((g, i) =>
      ag(
        `AG${i + 1}`,
        g.hosts.map((h, j) => {
          const sync = j === 0 || g.modes[j]!;
          return replica(h, j === 0 ? 'primary' : 'secondary', sync ? 'sync' : 'async', sync && g.automatic[j]! ? 'automatic' : 'manual');
        }),
      ),
    );
    const failoverClusters = fcis.map((nodes, i) => ({ server: `FCI${i + 1}`, instance: 'SQL', nodes: nodes.map((n) => `${n}${i}`), owner: `${nodes[0]}${i}` }));
    const all = [...HOSTS, 'N10', 'N20', 'N30', 'N40', 'N11', 'N21', 'N31', 'N41'];
    const needs = new Set(all.filter((_, i) => patchMask[i % patchMask.length]));
    return { topology: topology(availabilityGroups, failoverClusters), needsPatch: (h: string) => needs.has(h), failback };
  });

/** Replays a plan against the topology and returns the rules it breaks. */
function violations(top: Topology, plan: RollingPlan, needsPatch: (h: string) => boolean): string[] {
  const broken: string[] = [];
  const primary = new Map(top.availabilityGroups.map((g) => [g.name, g.replicas.find((r) => r.role === 'primary')!.server]));
  const owner = new Map(top.failoverClusters.map((f) => [`${f.server}\\${f.instance}`, f.owner]));
  const mode = new Map(top.availabilityGroups.flatMap((g) => g.replicas.map((r) => [`${g.name}/${r.server}\\${r.instance}`, r.failoverMode])));
  const patched = new Set<string>();
  for (const step of plan.steps) {
    if (step.kind === 'patch') {
      for (const [name, host] of primary) if (host === step.host) broken.push(`patched ${step.host} while primary of ${name}`);
      for (const [name, node] of owner) if (node === step.host) broken.push(`patched ${step.host} while owner of ${name}`);
      for (const g of top.availabilityGroups) {
        if (!g.replicas.some((r) => r.server === step.host)) continue;
        const automatic = g.replicas.filter((r) => mode.get(`${g.name}/${r.server}\\${r.instance}`) === 'automatic');
        if (automatic.length > 0) broken.push(`patched ${step.host} with automatic failover set in ${g.name}`);
      }
      patched.add(step.host);
    } else if (step.kind === 'failover') {
      const to = top.availabilityGroups.find((g) => g.name === step.ag)!.replicas.find((r) => `${r.server}\\${r.instance}` === step.to)!;
      if (to.availabilityMode !== 'synchronous_commit') broken.push(`failed ${step.ag} over to asynchronous ${step.to}`);
      if (step.reason !== 'free_host' && needsPatch(to.server) && !patched.has(to.server)) broken.push(`failed ${step.ag} over to unpatched ${step.to}`);
      primary.set(step.ag, to.server);
    } else if (step.kind === 'move_role') {
      owner.set(step.fci, step.to);
    } else if (step.kind === 'set_failover_mode' || step.kind === 'restore') {
      mode.set(`${step.ag}/${step.replica}`, step.to);
    }
  }
  for (const g of top.availabilityGroups) {
    for (const r of g.replicas) if (mode.get(`${g.name}/${r.server}\\${r.instance}`) !== r.failoverMode) broken.push(`${g.name}: ${r.server} failover mode not restored`);
  }
  const held = new Set(plan.heldBack.map((h) => h.host));
  const clustered = new Set([...top.availabilityGroups.flatMap((g) => g.replicas.map((r) => r.server)), ...top.failoverClusters.flatMap((f) => f.nodes)]);
  for (const host of clustered) if (needsPatch(host) && !held.has(host) && !patched.has(host)) broken.push(`${host} needs patching but was neither patched nor held back`);
  return broken;
}

describe('the rolling order under generated topologies', () => {
  it('never patches a primary or an FCI owner, fails over only to synchronous replicas, restores every mode, and patches or holds back every host', () => {
    const seed = Number(process.env.ROLLING_SEED ?? Date.now() % 1_000_000);
    console.log(`rolling order property: seed ${seed} (ROLLING_SEED=${seed} repeats it)`);
    fc.assert(
      fc.property(topologyArbitrary, ({ topology: top, needsPatch, failback }) => {
        const plan = planRollingOrder({ topology: top, needsPatch, refusals: new Map(), failback });
        expect(violations(top, plan, needsPatch)).toEqual([]);
      }),
      { numRuns: 300, seed },
    );
  });
});
