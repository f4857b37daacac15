/**
 * Always On availability groups and failover cluster instances as the planner sees them: what
 * discovery found (or what history.db recorded from an earlier discovery, for --offline). Pure data.
 */

/** An instance: `server` is its host (or an FCI's virtual name), `instance` `MSSQLSERVER` for the default. */
export interface InstanceRef {
  readonly server: string;
  readonly instance: string;
}

export type ReplicaRoleName = 'primary' | 'secondary';

export interface ReplicaFacts extends InstanceRef {
  /** Null when no instance that answered could see it (only a primary sees every replica's role). */
  readonly role: ReplicaRoleName | null;
  /** `synchronous_commit` | `asynchronous_commit` (or what SQL Server reported, lower-case). */
  readonly availabilityMode: string;
  /** `automatic` | `manual` (or what SQL Server reported, lower-case). */
  readonly failoverMode: string;
  /** `SYNCHRONIZED`, `SYNCHRONIZING`, `NOT SYNCHRONIZING`, or null when unknown. */
  readonly synchronizationState: string | null;
}

export interface AvailabilityGroupTopology {
  readonly name: string;
  readonly replicas: readonly ReplicaFacts[];
}

export interface FailoverClusterTopology extends InstanceRef {
  /** The nodes that can own the instance; setup runs on each of them. */
  readonly nodes: readonly string[];
  /** The node that owns it now. */
  readonly owner: string;
}

export interface Topology {
  readonly availabilityGroups: readonly AvailabilityGroupTopology[];
  readonly failoverClusters: readonly FailoverClusterTopology[];
}

export const EMPTY_TOPOLOGY: Topology = { availabilityGroups: [], failoverClusters: [] };

/** `HOST\INSTANCE`, the way plans, events and messages name an instance. */
export function instanceName(ref: InstanceRef): string {
  return `${ref.server}\\${ref.instance}`;
}

export function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function sameInstance(a: InstanceRef, b: InstanceRef): boolean {
  return sameHost(a.server, b.server) && a.instance.toLowerCase() === b.instance.toLowerCase();
}

export function primaryOf(group: AvailabilityGroupTopology): ReplicaFacts | undefined {
  return group.replicas.find((r) => r.role === 'primary');
}
