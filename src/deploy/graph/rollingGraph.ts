import type { NewAction } from '../../store/history.js';
import { executionId } from '../../store/history.js';
import type { RollingPlanJson } from '../../topology/forPlan.js';
import { type GraphOptions, type HostChainInput, hostChain, NO_RESTARTS } from './hostChain.js';

/**
 * The rolling order of availability groups (AG) and failover cluster instances (FCI) as actions of
 * the run graph. The order (src/topology/rollingOrder.ts) is a list of steps; here each step becomes
 * actions, and each action waits for the last earlier actions that touch the same group, FCI or host
 * (its "resources"), so that every group's order is kept while independent groups go on side by side:
 *
 *   set_failover_mode   → an action of the group (to manual, recorded with the mode it had)
 *   patch HOST          → the host's chain (pre-flight → install … → verify [→ restart …]);
 *                         for an FCI node, the installs of that node within the FCI's chain
 *   wait_healthy HOST   → an action of the group: the host's replicas SYNCHRONIZED again
 *   failover / move_role / restore → actions of the group or FCI
 *
 * Actions of a group or FCI (not of a host) are recorded with the server `ag:NAME` or
 * `fci:VIRTUAL\INSTANCE`: no host is named so (host names have no colon), so they never fall under
 * what happens to one host (a host that fails or is skipped), and a restore runs however the rest ends.
 * Every action of a clustered host or group carries `groups` (its resources' group keys) in its detail.
 */

/** The plan JSON's `rolling` object as recorded with the run (hotfix_rolling). */
export type RecordedRolling = RollingPlanJson;

/** Prefixes of the servers that name a group's or an FCI's own actions. */
export const GROUP_SERVER_PREFIXES = ['ag:', 'fci:'] as const;

/** True for the server of a group's or an FCI's own action (not a host). */
export function isGroupServer(server: string): boolean {
  const lower = server.toLowerCase();
  return GROUP_SERVER_PREFIXES.some((p) => lower.startsWith(p));
}

export const agKey = (name: string): string => `ag:${name.toLowerCase()}`;
export const fciKey = (name: string): string => `fci:${name.toLowerCase()}`;

const hostOf = (replica: string): string => replica.split('\\')[0]!;

interface PlannedGroup {
  readonly name: string;
  readonly replicas: readonly { replica: string; host: string; availability_mode: string; failover_mode: string }[];
}

interface PlannedCluster {
  /** `VIRTUAL\INSTANCE`. */
  readonly name: string;
  readonly server: string;
  readonly instance: string;
  readonly nodes: readonly string[];
}

function plannedGroups(rolling: RecordedRolling): PlannedGroup[] {
  return rolling.availability_groups
    .filter((g) => g.status === 'planned')
    .map((g) => ({
      name: g.name,
      replicas: g.replicas.map((r) => ({ replica: r.replica, host: hostOf(r.replica), availability_mode: r.availability_mode, failover_mode: r.failover_mode })),
    }));
}

function plannedClusters(rolling: RecordedRolling): PlannedCluster[] {
  return rolling.failover_clusters
    .filter((c) => c.status === 'planned')
    .map((c) => {
      const [server = c.name, instance = 'MSSQLSERVER'] = c.name.split('\\');
      return { name: c.name, server, instance, nodes: c.nodes };
    });
}

/** The hosts (lower-case) whose work the rolling order carries out: planned groups' replicas' hosts and planned FCIs' virtual names. */
export function clusteredHosts(rolling: RecordedRolling): Set<string> {
  const hosts = new Set<string>();
  for (const g of plannedGroups(rolling)) for (const r of g.replicas) hosts.add(r.host.toLowerCase());
  for (const c of plannedClusters(rolling)) hosts.add(c.server.toLowerCase());
  return hosts;
}

/** Per planned FCI (lower-case virtual name), its nodes in the order the rolling order patches them. */
export function clusterNodesOf(rolling: RecordedRolling): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const c of plannedClusters(rolling)) {
    const order = rolling.order
      .filter((s) => s.kind === 'patch')
      .map((s) => String(s.host))
      .filter((h) => c.nodes.some((n) => n.toLowerCase() === h.toLowerCase()));
    result.set(c.server.toLowerCase(), order);
  }
  return result;
}

/** The group keys of each clustered host (lower-case): the groups and FCIs it serves, for the scheduler's limits. */
export function serviceGroupsOfRolling(rolling: RecordedRolling): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const add = (host: string, key: string) => {
    const list = result.get(host.toLowerCase()) ?? [];
    if (!list.includes(key)) list.push(key);
    result.set(host.toLowerCase(), list);
  };
  for (const g of plannedGroups(rolling)) for (const r of g.replicas) add(r.host, agKey(g.name));
  for (const c of plannedClusters(rolling)) add(c.server, fciKey(c.name));
  return result;
}

/** The actions of the rolling order, in order, after the standalone hosts' chains. */
export function rollingActions(rolling: RecordedRolling, chains: ReadonlyMap<string, HostChainInput>, options: GraphOptions): NewAction[] {
  const groups = plannedGroups(rolling);
  const clusters = plannedClusters(rolling);
  const actions: NewAction[] = [];
  // The last actions that touched each resource: a group (ag:…), an FCI (fci:…) or a host (host:…).
  const last = new Map<string, string[]>();
  const after = (resources: readonly string[]) => [...new Set(resources.flatMap((r) => last.get(r) ?? []))];
  const touched = (resources: readonly string[], key: string) => {
    for (const r of resources) last.set(r, [key]);
  };
  const groupKeysOf = (resources: readonly string[]) => resources.filter((r) => !r.startsWith('host:'));
  const groupsOnHost = (host: string) => groups.filter((g) => g.replicas.some((r) => r.host.toLowerCase() === host.toLowerCase()));
  const clustersOfNode = (host: string) => clusters.filter((c) => c.nodes.some((n) => n.toLowerCase() === host.toLowerCase()));
  const groupByName = (name: string) => groups.find((g) => g.name.toLowerCase() === name.toLowerCase());
  const replicasOf = (g: PlannedGroup) => g.replicas.map((r) => ({ replica: r.replica, availability_mode: r.availability_mode }));
  // Where each FCI's chain has got to: its pre-flight recorded, the nodes patched, its last action.
  const fciProgress = new Map<string, { previous: string | null; patched: number }>();
  let n = 0;

  for (const step of rolling.order) {
    n++;
    switch (step.kind) {
      case 'set_failover_mode':
      case 'restore': {
        const g = groupByName(String(step.ag));
        if (!g) break;
        const resources = [agKey(g.name)];
        const key = `${agKey(g.name)}/${step.kind}/${n}`;
        actions.push({
          key,
          server: `ag:${g.name}`,
          instance: String(step.replica).split('\\')[1] ?? null,
          kind: step.kind,
          detail: { groups: resources, ag: g.name, replica: step.replica, from: step.from, to: step.to, replicas: replicasOf(g) },
          dependsOn: after(resources),
        });
        touched(resources, key);
        break;
      }
      case 'failover': {
        const g = groupByName(String(step.ag));
        if (!g) break;
        const resources = [agKey(g.name)];
        const key = `${agKey(g.name)}/failover/${n}`;
        actions.push({
          key,
          server: `ag:${g.name}`,
          instance: String(step.to).split('\\')[1] ?? null,
          kind: 'failover',
          reason: String(step.reason),
          detail: { groups: resources, ag: g.name, from: step.from, to: step.to, reason: step.reason, replicas: replicasOf(g) },
          dependsOn: after(resources),
        });
        touched(resources, key);
        break;
      }
      case 'move_role': {
        const c = clusters.find((x) => x.name.toLowerCase() === String(step.fci).toLowerCase());
        if (!c) break;
        const resources = [fciKey(c.name), `host:${String(step.from).toLowerCase()}`, `host:${String(step.to).toLowerCase()}`];
        const key = `${fciKey(c.name)}/move_role/${n}`;
        actions.push({
          key,
          server: `fci:${c.name}`,
          instance: c.instance,
          kind: 'move_role',
          reason: String(step.reason),
          detail: { groups: [fciKey(c.name)], fci: c.name, virtual_server: c.server, from: step.from, to: step.to, reason: step.reason, nodes: c.nodes },
          dependsOn: after(resources),
        });
        touched(resources, key);
        break;
      }
      case 'wait_healthy': {
        const host = String(step.host);
        const replicas = (step.replicas as { ag: string; replica: string }[]).filter((r) => groupByName(r.ag));
        if (replicas.length === 0) break;
        const keys = [...new Set(replicas.map((r) => agKey(r.ag)))];
        const resources = [...keys, `host:${host.toLowerCase()}`];
        const key = `${host.toLowerCase()}/sync/${n}`;
        actions.push({
          key,
          server: `ag:${groupByName(replicas[0]!.ag)!.name}`,
          kind: 'wait_healthy',
          detail: { groups: keys, host, sync: replicas },
          dependsOn: after(resources),
        });
        touched(resources, key);
        break;
      }
      case 'patch': {
        const host = String(step.host);
        const lower = host.toLowerCase();
        const ofNode = clustersOfNode(host);
        if (ofNode.length > 0) {
          for (const c of ofNode) {
            const chain = chains.get(c.server.toLowerCase());
            if (!chain) continue;
            const resources = [fciKey(c.name), `host:${lower}`];
            const progress = fciProgress.get(c.name.toLowerCase()) ?? { previous: null, patched: 0 };
            const runId = chain.targets[0]?.hotfix_run_id ?? 0;
            const nodeExecutions = chain.executions.filter((e) => e.steps.some((s) => s.execution_id === executionId(runId, `${host}.${c.server}`, e.order)));
            progress.patched++;
            const finalNode = progress.patched >= (clusterNodesOf(rolling).get(c.server.toLowerCase())?.length ?? 0);
            // No restarts: a restart after patching would restart the virtual name's owner, not the node.
            const piece = hostChain(chain, NO_RESTARTS, after(resources), {
              extra: { groups: [fciKey(c.name)] },
              executions: nodeExecutions,
              preflight: progress.previous === null,
              verify: finalNode,
              installDetail: { node: host },
              ...(progress.previous ? { previous: progress.previous } : {}),
            });
            actions.push(...piece.actions);
            const lastKey = piece.last;
            progress.previous = lastKey;
            fciProgress.set(c.name.toLowerCase(), progress);
            touched(resources, lastKey);
          }
          break;
        }
        const chain = chains.get(lower);
        if (!chain) break;
        const resources = [...groupsOnHost(host).map((g) => agKey(g.name)), `host:${lower}`];
        const piece = hostChain(chain, options, after(resources), { extra: { groups: groupKeysOf(resources) } });
        actions.push(...piece.actions);
        touched(resources, piece.last);
        break;
      }
      default:
        break;
    }
  }
  return actions;
}
