import {
  type AvailabilityGroupTopology,
  type FailoverClusterTopology,
  type InstanceRef,
  instanceName,
  primaryOf,
  type ReplicaFacts,
  sameHost,
  sameInstance,
  type Topology,
} from './types.js';

/**
 * Microsoft's rolling update of availability groups and failover cluster instances, as an ordered
 * list of steps (docs: "Upgrading Always On Availability Group Replica Instances"):
 *
 *  1. set automatic failover to manual on the group's replicas (no unplanned failover mid-way);
 *  2. patch asynchronous-commit secondaries, then synchronous-commit ones, one host at a time, each
 *     followed by a wait until its replicas are SYNCHRONIZED again;
 *  3. fail over to a patched, synchronized synchronous-commit secondary;
 *  4. patch the former primary; 5. fail back when asked; 6. restore the failover modes.
 *
 * A host is patched only when none of its replicas is a primary and it owns no FCI role, so every
 * group's rules hold on hosts shared by several groups. When every unpatched host still holds a
 * primary (groups whose primaries and secondaries cross between hosts), one group is failed over to
 * an unpatched synchronized synchronous-commit secondary to free a host, as Microsoft's
 * "multiple availability groups" sequence does. An FCI goes node by node: passive nodes first, then
 * its role moves to a patched node, then the former owner is patched.
 *
 * Pure: the same input gives the same order.
 */

export type RollingStep =
  | { readonly kind: 'set_failover_mode'; readonly ag: string; readonly replica: string; readonly from: string; readonly to: string }
  | { readonly kind: 'patch'; readonly host: string; readonly holds: readonly string[] }
  | { readonly kind: 'wait_healthy'; readonly host: string; readonly replicas: readonly { readonly ag: string; readonly replica: string }[] }
  | { readonly kind: 'failover'; readonly ag: string; readonly from: string; readonly to: string; readonly reason: FailoverReason }
  | { readonly kind: 'move_role'; readonly fci: string; readonly from: string; readonly to: string; readonly reason: FailoverReason }
  | { readonly kind: 'restore'; readonly ag: string; readonly replica: string; readonly from: string; readonly to: string };

/** Why a failover or role move is in the order. */
export type FailoverReason = 'patch_former_primary' | 'free_host' | 'failback';

export type SequenceStatus = 'planned' | 'refused' | 'up_to_date';

export interface GroupSequence {
  readonly name: string;
  readonly status: SequenceStatus;
  /** Why it was refused (what differs, or what makes it unsafe). */
  readonly reasons: readonly string[];
  readonly primaryBefore: string | null;
  readonly primaryAfter: string | null;
  readonly failovers: number;
}

export interface ClusterSequence {
  /** `VIRTUALNAME\INSTANCE`. */
  readonly name: string;
  readonly status: SequenceStatus;
  readonly reasons: readonly string[];
  readonly ownerBefore: string;
  readonly ownerAfter: string;
  readonly roleMoves: number;
}

export interface RollingPlan {
  readonly steps: readonly RollingStep[];
  readonly availabilityGroups: readonly GroupSequence[];
  readonly failoverClusters: readonly ClusterSequence[];
  /** Failovers and role moves in all. */
  readonly failovers: number;
  /** Hosts of clustered instances that are not patched because their group or FCI was refused, with why. */
  readonly heldBack: readonly { readonly host: string; readonly reason: string }[];
}

export interface RollingInput {
  readonly topology: Topology;
  /** Does this host (a replica's host or an FCI node) have installers to run? */
  readonly needsPatch: (host: string) => boolean;
  /** Per group or FCI (lower-case name), reasons to refuse it found elsewhere (disagreements, unreachable hosts). */
  readonly refusals: ReadonlyMap<string, readonly string[]>;
  /** `availability_groups.failback`: fail each group (and FCI role) back to where it was. */
  readonly failback: boolean;
}

const key = (host: string) => host.toLowerCase();
const isSync = (r: ReplicaFacts) => r.availabilityMode === 'synchronous_commit';

interface GroupState {
  readonly group: AvailabilityGroupTopology;
  readonly originalPrimary: InstanceRef;
  primary: InstanceRef;
  prepared: boolean;
  finished: boolean;
  failovers: number;
}

interface ClusterState {
  readonly fci: FailoverClusterTopology;
  owner: string;
  finished: boolean;
  moves: number;
}

/** Reasons a group cannot be rolled safely whatever the order. */
function groupProblems(group: AvailabilityGroupTopology, fciNames: readonly InstanceRef[]): string[] {
  const problems: string[] = [];
  const primary = primaryOf(group);
  if (!primary) problems.push('no instance reported itself as its primary replica');
  if (group.replicas.filter((r) => r.role === 'primary').length > 1) problems.push('more than one replica reports itself as primary');
  const partners = group.replicas.filter((r) => r !== primary && isSync(r) && !(primary && sameHost(r.server, primary.server)));
  if (primary && (!isSync(primary) || partners.length === 0)) {
    problems.push('it has no synchronous-commit secondary on another host to fail over to without data loss');
  }
  for (const replica of group.replicas) {
    if (fciNames.some((f) => sameInstance(f, replica))) {
      problems.push(`replica ${instanceName(replica)} is a failover cluster instance, which this tool does not sequence inside a group`);
    }
  }
  return problems;
}

export function planRollingOrder(input: RollingInput): RollingPlan {
  const { topology } = input;
  const steps: RollingStep[] = [];
  const refused = new Map<string, string[]>();
  for (const [name, reasons] of input.refusals) if (reasons.length > 0) refused.set(name, [...reasons]);
  for (const group of topology.availabilityGroups) {
    const problems = groupProblems(group, topology.failoverClusters);
    if (problems.length > 0) refused.set(group.name.toLowerCase(), [...(refused.get(group.name.toLowerCase()) ?? []), ...problems]);
  }

  // A refused group's hosts are held back; every other group or FCI on a held host is refused too,
  // since patching that host would take the refused group's replica out of service.
  const held = new Map<string, string>();
  const hostsOfGroup = (g: AvailabilityGroupTopology) => g.replicas.map((r) => r.server);
  const hostsOfFci = (f: FailoverClusterTopology) => [...f.nodes];
  for (let changed = true; changed; ) {
    changed = false;
    for (const group of topology.availabilityGroups) {
      const name = group.name.toLowerCase();
      const heldHost = hostsOfGroup(group).find((h) => held.has(key(h)));
      if (!refused.has(name) && heldHost) {
        refused.set(name, [`it shares host ${heldHost} with ${held.get(key(heldHost))}`]);
      }
      if (refused.has(name)) {
        for (const h of hostsOfGroup(group)) {
          if (!held.has(key(h))) {
            held.set(key(h), `availability group ${group.name}, which is refused`);
            changed = true;
          }
        }
      }
    }
    for (const fci of topology.failoverClusters) {
      const name = instanceName(fci).toLowerCase();
      const heldHost = hostsOfFci(fci).find((h) => held.has(key(h)));
      if (!refused.has(name) && heldHost) refused.set(name, [`it shares node ${heldHost} with ${held.get(key(heldHost))}`]);
      if (refused.has(name)) {
        for (const h of hostsOfFci(fci)) {
          if (!held.has(key(h))) {
            held.set(key(h), `failover cluster instance ${instanceName(fci)}, which is refused`);
            changed = true;
          }
        }
      }
    }
  }

  const groups: GroupState[] = topology.availabilityGroups
    .filter((g) => !refused.has(g.name.toLowerCase()) && hostsOfGroup(g).some(input.needsPatch))
    .map((group) => {
      const primary = primaryOf(group)!;
      return { group, originalPrimary: primary, primary, prepared: false, finished: false, failovers: 0 };
    });
  const clusters: ClusterState[] = topology.failoverClusters
    .filter((f) => !refused.has(instanceName(f).toLowerCase()) && hostsOfFci(f).some(input.needsPatch))
    .map((fci) => ({ fci, owner: fci.owner, finished: false, moves: 0 }));

  const patched = new Set<string>();
  const toPatch = new Set<string>();
  for (const g of groups) for (const h of hostsOfGroup(g.group)) if (input.needsPatch(h)) toPatch.add(key(h));
  for (const c of clusters) for (const h of hostsOfFci(c.fci)) if (input.needsPatch(h)) toPatch.add(key(h));
  const hostName = new Map<string, string>();
  for (const g of groups) for (const h of hostsOfGroup(g.group)) hostName.set(key(h), hostName.get(key(h)) ?? h);
  for (const c of clusters) for (const h of hostsOfFci(c.fci)) hostName.set(key(h), hostName.get(key(h)) ?? h);
  const isPatched = (host: string) => patched.has(key(host)) || !toPatch.has(key(host));

  const replicasOn = (host: string) =>
    groups.flatMap((g) => g.group.replicas.filter((r) => sameHost(r.server, host)).map((replica) => ({ state: g, replica })));
  const clustersOn = (host: string) => clusters.filter((c) => c.fci.nodes.some((n) => sameHost(n, host)));

  const prepare = (g: GroupState) => {
    if (g.prepared) return;
    g.prepared = true;
    for (const r of g.group.replicas) {
      if (r.failoverMode === 'automatic') steps.push({ kind: 'set_failover_mode', ag: g.group.name, replica: instanceName(r), from: 'automatic', to: 'manual' });
    }
  };
  const failover = (g: GroupState, to: InstanceRef, reason: FailoverReason) => {
    prepare(g);
    steps.push({ kind: 'failover', ag: g.group.name, from: instanceName(g.primary), to: instanceName(to), reason });
    g.primary = to;
    g.failovers += 1;
  };
  const moveRole = (c: ClusterState, to: string, reason: FailoverReason) => {
    steps.push({ kind: 'move_role', fci: instanceName(c.fci), from: c.owner, to, reason });
    c.owner = to;
    c.moves += 1;
  };
  const finishGroups = () => {
    for (const g of groups) {
      if (g.finished || !hostsOfGroup(g.group).every(isPatched)) continue;
      g.finished = true;
      const original = g.group.replicas.find((r) => sameInstance(r, g.originalPrimary))!;
      if (input.failback && !sameInstance(g.primary, g.originalPrimary) && isSync(original)) failover(g, g.originalPrimary, 'failback');
      for (const r of g.group.replicas) {
        if (g.prepared && r.failoverMode === 'automatic') {
          steps.push({ kind: 'restore', ag: g.group.name, replica: instanceName(r), from: 'manual', to: 'automatic' });
        }
      }
    }
    for (const c of clusters) {
      if (c.finished || !hostsOfFci(c.fci).every(isPatched)) continue;
      c.finished = true;
      if (input.failback && !sameHost(c.owner, c.fci.owner)) moveRole(c, c.fci.owner, 'failback');
    }
  };

  // A host can be patched when none of its replicas is primary and it owns no FCI role.
  const free = (host: string) =>
    replicasOn(host).every(({ state }) => !sameHost(state.primary.server, host)) && clustersOn(host).every((c) => !sameHost(c.owner, host));
  // Asynchronous-commit secondaries first (Microsoft: remote DR replicas before local ones).
  const asyncOnly = (host: string) => {
    const held = replicasOn(host);
    return held.length > 0 && held.every(({ replica }) => !isSync(replica));
  };

  const patch = (host: string) => {
    for (const { state } of replicasOn(host)) prepare(state);
    const holds = [
      ...replicasOn(host).map(({ state, replica }) => `${state.group.name}:${instanceName(replica)}`),
      ...clustersOn(host).map((c) => instanceName(c.fci)),
    ];
    steps.push({ kind: 'patch', host, holds });
    const replicas = replicasOn(host).map(({ state, replica }) => ({ ag: state.group.name, replica: instanceName(replica) }));
    if (replicas.length > 0) steps.push({ kind: 'wait_healthy', host, replicas });
    patched.add(key(host));
    finishGroups();
  };

  /**
   * Moves every primary and FCI role off `host`: to a patched synchronous secondary / node when
   * there is one, otherwise (only when `allowUnpatched`) to an unpatched one. False when impossible.
   */
  const vacate = (host: string, allowUnpatched: boolean): boolean => {
    const moves: (() => void)[] = [];
    for (const { state } of replicasOn(host)) {
      if (!sameHost(state.primary.server, host)) continue;
      const candidates = state.group.replicas.filter((r) => isSync(r) && !sameHost(r.server, host));
      const target = candidates.find((r) => isPatched(r.server)) ?? (allowUnpatched ? candidates[0] : undefined);
      if (!target) return false;
      const reason: FailoverReason = isPatched(target.server) ? 'patch_former_primary' : 'free_host';
      moves.push(() => failover(state, target, reason));
    }
    for (const c of clustersOn(host)) {
      if (!sameHost(c.owner, host)) continue;
      const others = c.fci.nodes.filter((n) => !sameHost(n, host));
      const target = others.find(isPatched) ?? (allowUnpatched ? others[0] : undefined);
      if (!target) return false;
      moves.push(() => moveRole(c, target, isPatched(target) ? 'patch_former_primary' : 'free_host'));
    }
    for (const move of moves) move();
    return true;
  };

  for (;;) {
    const remaining = [...toPatch].filter((h) => !patched.has(h)).map((h) => hostName.get(h)!);
    if (remaining.length === 0) break;
    remaining.sort((a, b) => Number(asyncOnly(b)) - Number(asyncOnly(a)) || a.localeCompare(b));
    const ready = remaining.find(free);
    if (ready) {
      patch(ready);
      continue;
    }
    // Every remaining host holds a primary or an FCI role: fail over to patched replicas where
    // possible, else free one host through an unpatched synchronized secondary.
    const host = remaining.find((h) => vacate(h, false)) ?? remaining.find((h) => vacate(h, true));
    if (!host) {
      for (const g of groups) if (!g.finished) refused.set(g.group.name.toLowerCase(), ['no order keeps every rule of this group']);
      break;
    }
  }
  finishGroups();

  const groupSequences: GroupSequence[] = topology.availabilityGroups.map((group) => {
    const state = groups.find((g) => g.group === group);
    const primary = primaryOf(group);
    const reasons = refused.get(group.name.toLowerCase()) ?? [];
    return {
      name: group.name,
      status: reasons.length > 0 ? 'refused' : state ? 'planned' : 'up_to_date',
      reasons,
      primaryBefore: primary ? instanceName(primary) : null,
      primaryAfter: state ? instanceName(state.primary) : primary ? instanceName(primary) : null,
      failovers: state?.failovers ?? 0,
    };
  });
  const clusterSequences: ClusterSequence[] = topology.failoverClusters.map((fci) => {
    const state = clusters.find((c) => c.fci === fci);
    const reasons = refused.get(instanceName(fci).toLowerCase()) ?? [];
    return {
      name: instanceName(fci),
      status: reasons.length > 0 ? 'refused' : state ? 'planned' : 'up_to_date',
      reasons,
      ownerBefore: fci.owner,
      ownerAfter: state?.owner ?? fci.owner,
      roleMoves: state?.moves ?? 0,
    };
  });
  const heldBack = [...held.entries()]
    .map(([host, reason]) => ({ host: hostName.get(host) ?? displayHost(topology, host), reason }))
    .sort((a, b) => a.host.localeCompare(b.host));
  const failovers = steps.filter((s) => s.kind === 'failover' || s.kind === 'move_role').length;
  return { steps, availabilityGroups: groupSequences, failoverClusters: clusterSequences, failovers, heldBack };
}

/** A host's name as the topology spells it. */
function displayHost(topology: Topology, lower: string): string {
  for (const g of topology.availabilityGroups) for (const r of g.replicas) if (key(r.server) === lower) return r.server;
  for (const f of topology.failoverClusters) for (const n of f.nodes) if (key(n) === lower) return n;
  return lower;
}
