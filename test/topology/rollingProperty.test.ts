import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ROLLING_CRASH_POINTS } from '../../src/deploy/crashPoints.js';
import { labExecutions, labFleet, type LabTarget, readHistory } from '../helpers/labFleet.js';
import { builds, oracle } from '../helpers/rollingLab.js';
import { CLI } from '../helpers/runCli.js';

// A property test THROUGH THE BUILT CLI: generated lab fleets (1–4 availability groups of 2–5
// replicas on shared hosts, mixed availability and failover modes, failover cluster instances, a
// standalone host) with generated faults (an installer that fails, a replica that never
// resynchronizes, an unreachable host, the orchestrator killed with SIGKILL at a random crash point
// and then --resume'd until the run is finished). After every case the safety oracle replays the
// lab's lab_events and lab_executions; groups untouched by any fault end fully patched; no installer
// ran twice. A fixed number of cases; the seed is printed (ROLLING_DEPLOY_SEED=… repeats a case).

const HOSTS = ['H1', 'H2', 'H3', 'H4', 'H5'] as const;
const KILL_POINTS = [...ROLLING_CRASH_POINTS, 'step-marked-running', 'installer-returned'] as const;
// Fixed; ROLLING_DEPLOY_RUNS may raise it for a longer search by hand.
const RUNS = Number(process.env.ROLLING_DEPLOY_RUNS ?? 16);
const TARGET = '15.0.4395.2';

interface Spec {
  readonly groups: { hosts: string[]; sync: boolean[]; automatic: boolean[] }[];
  readonly fcis: string[][];
  readonly failing: string | null;
  /** The first FCI's installer fails (on the first node it runs on). */
  readonly failingFci: boolean;
  readonly neverResyncs: string | null;
  readonly unreachable: string | null;
  readonly kill: { point: string; pass: number } | null;
  readonly failback: boolean;
}

/** `value` in one case of `1 + nullWeight`, else null. */
function sometimes<T>(value: fc.Arbitrary<T>, nullWeight: number): fc.Arbitrary<T | null> {
  return fc.oneof({ arbitrary: fc.constant(null), weight: nullWeight }, { arbitrary: value, weight: 1 });
}

const specArbitrary: fc.Arbitrary<Spec> = fc.record({
  groups: fc.array(
    fc.record({
      hosts: fc.uniqueArray(fc.constantFrom(...HOSTS), { minLength: 2, maxLength: 5 }),
      // Mostly synchronous: a group whose secondaries are all asynchronous is refused (nothing to fail over to).
      sync: fc.array(fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }), { minLength: 5, maxLength: 5 }),
      automatic: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  fcis: fc
    .array(fc.constantFrom(['N1', 'N2'], ['N3', 'N4', 'N5']), { maxLength: 2 })
    .map((list): string[][] => [...new Map(list.map((l) => [l.join(), [...l]])).values()]),
  // Each fault in about one case of three or four, the kill in one of two: most cases keep some groups untouched.
  failing: sometimes(fc.constantFrom(...HOSTS, 'SOLO'), 2),
  failingFci: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
  neverResyncs: sometimes(fc.constantFrom(...HOSTS), 2),
  unreachable: sometimes(fc.constantFrom(...HOSTS, 'SOLO'), 3),
  kill: sometimes(fc.record({ point: fc.constantFrom(...KILL_POINTS), pass: fc.integer({ min: 1, max: 2 }) }), 1),
  failback: fc.boolean(),
});

function targetsOf(spec: Spec): LabTarget[] {
  const replicas = new Map<string, Record<string, unknown>[]>();
  spec.groups.forEach((g, i) => {
    g.hosts.forEach((h, j) => {
      const sync = j === 0 || g.sync[j]!;
      replicas.set(h, [
        ...(replicas.get(h) ?? []),
        {
          name: `AG${i + 1}`,
          role: j === 0 ? 'primary' : 'secondary',
          availability_mode: sync ? 'synchronous_commit' : 'asynchronous_commit',
          failover_mode: sync && g.automatic[j]! ? 'automatic' : 'manual',
          resync_seconds: 30,
          never_resyncs: spec.neverResyncs === h,
        },
      ]);
    });
  });
  const faults = (h: string): Record<string, unknown> => ({
    ...(spec.failing === h ? { installers: { 'CU30.exe': { exit_codes: [1603] } } } : {}),
    ...(spec.unreachable === h ? { reachable: false } : {}),
  });
  const targets: LabTarget[] = [...replicas].map(([server, groups]) => ({ server, edition: 'Enterprise Edition (64-bit)', simulation: { availability_group: groups, ...faults(server) } }));
  spec.fcis.forEach((nodes, i) => {
    const failing = spec.failingFci && i === 0 ? { installers: { 'CU30.exe': { exit_codes: [1603] } } } : {};
    targets.push({ server: `FCI${i}`, instance: 'SQL', edition: 'Enterprise Edition (64-bit)', simulation: { failover_cluster: { nodes, owner: nodes[0] }, ...failing } });
  });
  targets.push({ server: 'SOLO', simulation: faults('SOLO') });
  return targets;
}

function cli(config: string, args: readonly string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, '--deploy-hotfixes', '--yes', '--sync-timeout-minutes', '0.05', '--config', config, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 90_000,
    killSignal: 'SIGKILL',
  });
}

/** Groups connected to a faulted host through shared hosts may stop part-way; the others must finish. */
function cleanGroups(spec: Spec): Set<string> {
  const faulted = new Set([spec.failing, spec.neverResyncs, spec.unreachable].filter((h): h is string => h !== null));
  const tainted = new Set<number>();
  for (let changed = true; changed; ) {
    changed = false;
    spec.groups.forEach((g, i) => {
      if (tainted.has(i)) return;
      const touchesTainted = spec.groups.some((o, j) => tainted.has(j) && o.hosts.some((h) => g.hosts.includes(h)));
      if (g.hosts.some((h) => faulted.has(h)) || touchesTainted) {
        tainted.add(i);
        changed = true;
      }
    });
  }
  return new Set(spec.groups.map((_, i) => `AG${i + 1}`).filter((_, i) => !tainted.has(i)));
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('rolling updates through the CLI on generated fleets and faults', () => {
  it('keeps every safety rule, restores every failover mode, and patches every group no fault touches', { timeout: 600_000 }, () => {
    const seed = Number(process.env.ROLLING_DEPLOY_SEED ?? Date.now() % 1_000_000);
    console.log(`rolling deployment property: seed ${seed}, ${RUNS} runs (ROLLING_DEPLOY_SEED=${seed} repeats them)`);
    fc.assert(
      fc.property(specArbitrary, (spec) => {
        const { root, config } = labFleet(targetsOf(spec), { timeScale: 0.004, hotfix: { availability_groups: { failback: spec.failback } } });
        roots.push(root);
        const first = cli(config, [], spec.kill ? { AUTODBAUDIT_CRASH_AT: `${spec.kill.point}:${spec.kill.pass}` } : {});
        expect(first.error, first.stderr).toBeUndefined();
        for (let attempt = 0; attempt < 4; attempt++) {
          const unfinished = readHistory<{ n: number }>(root, "SELECT COUNT(*) AS n FROM hotfix_runs WHERE status IN ('running', 'interrupted')")[0]!.n;
          if (unfinished === 0) break;
          const resumed = cli(config, ['--resume']);
          expect(resumed.signal, resumed.stdout + resumed.stderr).toBeNull();
        }
        const runs = readHistory<{ status: string }>(root, 'SELECT status FROM hotfix_runs');
        expect(runs.every((r) => r.status === 'succeeded' || r.status === 'failed'), JSON.stringify(runs)).toBe(true);
        // The oracle: no primary or owner patched, no failover to an unsynchronized replica, one
        // replica per group and one node per FCI out of service at once, every failover mode back.
        expect(oracle(root)).toEqual([]);
        const keys = labExecutions(root).map((e) => `${e.server}/${e.installer}`);
        expect(new Set(keys).size, keys.join(', ')).toBe(keys.length);
        // Groups no fault touches (and that the planner did not refuse) end fully patched.
        const rolling = readHistory<{ plan: string }>(root, 'SELECT plan FROM hotfix_rolling')[0];
        const planned = new Set(
          rolling ? (JSON.parse(rolling.plan) as { availability_groups: { name: string; status: string }[] }).availability_groups.filter((g) => g.status === 'planned').map((g) => g.name) : [],
        );
        const after = builds(root);
        for (const name of cleanGroups(spec)) {
          if (!planned.has(name)) continue;
          const group = spec.groups[Number(name.slice(2)) - 1]!;
          for (const h of group.hosts) expect(after[`${h}\\MSSQLSERVER`], `${name} on ${h}`).toBe(TARGET);
        }
        if (spec.failing !== 'SOLO' && spec.unreachable !== 'SOLO') expect(after['SOLO\\MSSQLSERVER']).toBe(TARGET);
        spec.fcis.forEach((nodes, i) => {
          if (spec.failingFci && i === 0) {
            // Its first node's installer failed: the role never moved and the owner was never patched.
            expect(after[`${nodes[0]}\\SQL`], nodes[0]).not.toBe(TARGET);
            return;
          }
          for (const n of nodes) expect(after[`${n}\\SQL`], n).toBe(TARGET);
        });
      }),
      { numRuns: RUNS, seed },
    );
  });
});
