import { topologyDisagreements } from './compare.js';
import { planRollingOrder, type RollingPlan, type RollingStep } from './rollingOrder.js';
import { type InstanceRef, instanceName, sameHost, sameInstance, type Topology } from './types.js';

/** What the plan knows of one target, for the rolling order. */
export interface TargetState extends InstanceRef {
  /** The plan's status: `pending` means installers will run for it. */
  readonly status: string;
}

export interface RollingPlanInput {
  /** What the instances said just now; null with --offline (the recorded topology is used). */
  readonly live: Topology | null;
  /** What history.db recorded from the last discovery. */
  readonly recorded: Topology;
  /** Every known target (targets file and servers table), selected or not. */
  readonly known: readonly InstanceRef[];
  /** The plan's targets (those selected), with their status. */
  readonly planned: readonly TargetState[];
  readonly failback: boolean;
  /** Record the live topology even where it differs from the recorded one (the operator checked it). */
  readonly acceptTopology: boolean;
}

export interface RollingPlanResult {
  readonly topology: Topology;
  readonly rolling: RollingPlan;
  /** The part of the live topology to record: groups and FCIs that agree with the record, or all when accepted. */
  readonly toRecord: Topology | null;
}

/**
 * The rolling order for the plan's clustered instances. Discovery is authoritative: a group is
 * refused, naming what differs, when a replica is missing from the targets, when its primary or
 * replicas differ from what was recorded, when a replica could not be reached, or when --server
 * selected some of its replicas but not all.
 */
export function rollingPlanFor(input: RollingPlanInput): RollingPlanResult {
  const topology = input.live ?? input.recorded;
  const disagreements = input.live ? topologyDisagreements(input.live, input.known, input.recorded) : new Map<string, string[]>();
  const refusals = new Map<string, string[]>();
  for (const [name, reasons] of disagreements) refusals.set(name, [...reasons]);
  const refuse = (name: string, reason: string) => refusals.set(name.toLowerCase(), [...(refusals.get(name.toLowerCase()) ?? []), reason]);
  const planTarget = (ref: InstanceRef) => input.planned.find((t) => sameInstance(t, ref));

  for (const group of topology.availabilityGroups) {
    const notSelected = group.replicas.filter((r) => !planTarget(r) && input.known.some((k) => sameInstance(k, r)));
    const selected = group.replicas.filter((r) => planTarget(r));
    if (selected.length > 0 && notSelected.length > 0) {
      refuse(group.name, `--server selects some of its replicas but not ${notSelected.map(instanceName).join(', ')}`);
    }
    for (const r of group.replicas) {
      if (planTarget(r)?.status === 'unreachable') refuse(group.name, `replica ${instanceName(r)} could not be reached`);
    }
  }
  for (const fci of topology.failoverClusters) {
    if (planTarget(fci)?.status === 'unreachable') refuse(instanceName(fci), `${instanceName(fci)} could not be reached`);
  }

  const pendingHost = (host: string) => input.planned.some((t) => t.status === 'pending' && sameHost(t.server, host));
  const needsPatch = (host: string) =>
    pendingHost(host) ||
    topology.failoverClusters.some((f) => f.nodes.some((n) => sameHost(n, host)) && planTarget(f)?.status === 'pending');
  const inPlan = (ref: InstanceRef) => planTarget(ref) !== undefined;
  // Only the groups and FCIs that the selected targets belong to are the plan's business.
  const relevant: Topology = {
    availabilityGroups: topology.availabilityGroups.filter((g) => g.replicas.some(inPlan)),
    failoverClusters: topology.failoverClusters.filter(inPlan),
  };
  const rolling = planRollingOrder({ topology: relevant, needsPatch, refusals, failback: input.failback });

  let toRecord: Topology | null = null;
  if (input.live) {
    toRecord = input.acceptTopology
      ? input.live
      : {
          availabilityGroups: input.live.availabilityGroups.filter((g) => !disagreements.has(g.name.toLowerCase())),
          failoverClusters: input.live.failoverClusters.filter((f) => !disagreements.has(instanceName(f).toLowerCase())),
        };
  }
  return { topology: relevant, rolling, toRecord };
}

/** The plan JSON's `rolling` object: the order of the clustered instances' work, before anything happens. */
export interface RollingPlanJson {
  readonly failovers: number;
  readonly availability_groups: readonly {
    readonly name: string;
    readonly status: string;
    readonly reasons: readonly string[];
    readonly primary_before: string | null;
    readonly primary_after: string | null;
    readonly failovers: number;
    readonly replicas: readonly {
      readonly replica: string;
      readonly role: string | null;
      readonly availability_mode: string;
      readonly failover_mode: string;
      readonly synchronization_state: string | null;
    }[];
  }[];
  readonly failover_clusters: readonly {
    readonly name: string;
    readonly status: string;
    readonly reasons: readonly string[];
    readonly nodes: readonly string[];
    readonly owner_before: string;
    readonly owner_after: string;
    readonly role_moves: number;
  }[];
  readonly order: readonly ({ readonly step: number } & Record<string, unknown>)[];
  readonly held_back: readonly { readonly host: string; readonly reason: string }[];
}

function stepJson(step: RollingStep, index: number): { step: number } & Record<string, unknown> {
  return { step: index + 1, ...step };
}

export function rollingPlanJson(result: RollingPlanResult): RollingPlanJson {
  const { topology, rolling } = result;
  return {
    failovers: rolling.failovers,
    availability_groups: rolling.availabilityGroups.map((g) => {
      const group = topology.availabilityGroups.find((x) => x.name === g.name)!;
      return {
        name: g.name,
        status: g.status,
        reasons: g.reasons,
        primary_before: g.primaryBefore,
        primary_after: g.primaryAfter,
        failovers: g.failovers,
        replicas: group.replicas.map((r) => ({
          replica: instanceName(r),
          role: r.role,
          availability_mode: r.availabilityMode,
          failover_mode: r.failoverMode,
          synchronization_state: r.synchronizationState,
        })),
      };
    }),
    failover_clusters: rolling.failoverClusters.map((c) => ({
      name: c.name,
      status: c.status,
      reasons: c.reasons,
      nodes: topology.failoverClusters.find((f) => instanceName(f) === c.name)?.nodes ?? [],
      owner_before: c.ownerBefore,
      owner_after: c.ownerAfter,
      role_moves: c.roleMoves,
    })),
    order: rolling.steps.map(stepJson),
    held_back: rolling.heldBack,
  };
}
