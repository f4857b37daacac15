import type { InstanceTopology, TopologyChange } from '../remote/transport.js';
import { LabTopologyError, replicaServerName } from './topology.js';
import type { LabWorld } from './world.js';

/**
 * What an instance of the lab answers to the topology queries, in two shapes: the Transport's
 * (the `simulated` transport) and the rows of the SQL the Windows surfaces run (the SSH test bed's
 * lab surfaces, so that the real Topology.ps1 assembles them). Both come from one reading of the world.
 */

/** Why the lab cannot answer for this instance (not installed, engine stopped), or null. */
function unavailable(world: LabWorld, server: string, instance: string, servicesRunning: boolean): string | null {
  const row = world.instances(server).find((i) => i.instance.toLowerCase() === instance.toLowerCase());
  if (!row) return `SQL Server instance "${instance}" is not installed on this host`;
  if (!servicesRunning || row.engine_state !== 'running') return `cannot connect to (local)\\${instance}: the service is not running`;
  return null;
}

export function labInstanceTopology(world: LabWorld, server: string, instance: string): InstanceTopology {
  const host = world.host(server);
  const problem = unavailable(world, server, instance, host?.services_running === 1);
  if (problem) return { instance, error: problem, availabilityGroups: [], failoverCluster: null };
  const fci = world.topology.fci(server, instance);
  return {
    instance,
    error: null,
    failoverCluster: fci ? { nodes: JSON.parse(fci.nodes) as string[], owner: fci.owner } : null,
    availabilityGroups: world.topology.groupsSeenBy(server, instance).map((group) => ({
      name: group.name,
      replicas: group.replicas.map((r) => ({ ...r })),
    })),
  };
}

type Row = Record<string, string | number | null>;

/** The rows Invoke-SqlClusterQuery, Invoke-SqlHadrReplicaQuery and Invoke-SqlHadrDatabaseQuery return. */
export interface LabTopologyRows {
  readonly error: string | null;
  readonly cluster: Readonly<Record<string, string | number | null | readonly string[]>>;
  readonly replicas: Row[];
  readonly databases: Row[];
}

export function labTopologyRows(world: LabWorld, server: string, instance: string): LabTopologyRows {
  const facts = labInstanceTopology(world, server, instance);
  const fci = facts.failoverCluster;
  const upper = (value: string | null) => (value === null ? null : value.toUpperCase());
  return {
    error: facts.error,
    cluster: {
      is_clustered: fci ? 1 : 0,
      is_hadr_enabled: facts.availabilityGroups.length > 0 ? 1 : 0,
      physical_node: fci ? fci.owner : server,
      server_name: replicaServerName(server, instance),
      nodes: fci ? [...fci.nodes] : [],
    },
    replicas: facts.availabilityGroups.flatMap((group) =>
      group.replicas.map((r) => ({
        group_name: group.name,
        replica_server_name: r.replicaServerName,
        availability_mode_desc: upper(r.availabilityMode),
        failover_mode_desc: upper(r.failoverMode),
        role_desc: upper(r.role),
        connected_state_desc: r.connected === null ? null : r.connected ? 'CONNECTED' : 'DISCONNECTED',
        is_local: r.isLocal ? 1 : 0,
      })),
    ),
    // The lab gives every replica one database.
    databases: facts.availabilityGroups.flatMap((group) =>
      group.replicas
        .filter((r) => r.synchronizationState !== null)
        .map((r) => ({
          group_name: group.name,
          replica_server_name: r.replicaServerName,
          database_count: 1,
          synchronized_count: r.synchronizationState === 'SYNCHRONIZED' ? 1 : 0,
          not_synchronizing_count: r.synchronizationState === 'NOT SYNCHRONIZING' ? 1 : 0,
          failover_ready: r.failoverReady === null ? null : r.failoverReady ? 1 : 0,
        })),
    ),
  };
}

/** `HOST\INSTANCE` or `HOST` (default instance), as sys.availability_replicas names a replica. */
function replicaRef(replicaServerNameText: string): { server: string; instance: string } {
  const [server = replicaServerNameText, instance = 'MSSQLSERVER'] = replicaServerNameText.split('\\');
  return { server, instance };
}

function failoverModeOf(world: LabWorld, group: string, replica: { server: string; instance: string }): string | null {
  const row = world.topology
    .replicas(group)
    .find((r) => r.server.toLowerCase() === replica.server.toLowerCase() && r.instance.toLowerCase() === replica.instance.toLowerCase());
  return row?.failover_mode ?? null;
}

/** The lab's answer to setFailoverMode run on `server\instance`. */
export function labSetFailoverMode(
  world: LabWorld,
  server: string,
  request: { readonly instance: string; readonly group: string; readonly replica: string; readonly mode: 'automatic' | 'manual' },
): TopologyChange {
  const replica = replicaRef(request.replica);
  const previous = failoverModeOf(world, request.group, replica);
  if (previous === null) throw new LabTopologyError(`${request.replica} is not a replica of availability group ${request.group}`);
  world.setFailoverMode({ server, instance: request.instance }, request.group, replica, request.mode);
  const current = failoverModeOf(world, request.group, replica)!;
  return { previous, current, changed: previous !== current };
}

/** The lab's answer to a planned failover run on `server\instance`. */
export function labFailover(world: LabWorld, server: string, request: { readonly instance: string; readonly group: string }): { alreadyPrimary: boolean } {
  const self = world.topology
    .replicas(request.group)
    .find((r) => r.server.toLowerCase() === server.toLowerCase() && r.instance.toLowerCase() === request.instance.toLowerCase());
  if (!self) throw new LabTopologyError(`${server}\\${request.instance} has no replica of availability group ${request.group}`);
  if (self.role === 'primary') return { alreadyPrimary: true };
  world.failover(request.group, { server, instance: request.instance });
  return { alreadyPrimary: false };
}

/** The lab's answer to moveRole run on the cluster node `node`. */
export function labMoveRole(world: LabWorld, node: string, request: { readonly instance: string; readonly node: string }): TopologyChange {
  const fci = world.topology
    .fcis()
    .find(
      (f) => f.instance.toLowerCase() === request.instance.toLowerCase() && (JSON.parse(f.nodes) as string[]).some((n) => n.toLowerCase() === node.toLowerCase()),
    );
  if (!fci) throw new LabTopologyError(`no SQL Server cluster resource for instance ${request.instance} in the cluster of ${node}`);
  world.moveRole(fci.server, fci.instance, request.node);
  const current = world.topology.fci(fci.server, fci.instance)!.owner;
  return { previous: fci.owner, current, changed: fci.owner !== current };
}

/** The owner of the FCI role of `instance` in the cluster `node` belongs to. */
export function labRoleOwner(world: LabWorld, node: string, instance: string): string {
  const fci = world.topology
    .fcis()
    .find((f) => f.instance.toLowerCase() === instance.toLowerCase() && (JSON.parse(f.nodes) as string[]).some((n) => n.toLowerCase() === node.toLowerCase()));
  if (!fci) throw new LabTopologyError(`no SQL Server cluster resource for instance ${instance} in the cluster of ${node}`);
  return fci.owner;
}

/**
 * The two statements the operations send (AvailabilityChange.ps1), run against the lab: the lab
 * understands exactly these forms and refuses anything else.
 */
export function labRunStatement(world: LabWorld, server: string, instance: string, statement: string): void {
  const ident = String.raw`\[((?:[^\]]|\]\])+)\]`;
  const modify = new RegExp(String.raw`^ALTER AVAILABILITY GROUP ${ident} MODIFY REPLICA ON N'((?:[^']|'')+)' WITH \(FAILOVER_MODE = (AUTOMATIC|MANUAL)\)$`).exec(statement);
  if (modify) {
    const group = modify[1]!.replaceAll(']]', ']');
    const replica = modify[2]!.replaceAll("''", "'");
    world.setFailoverMode({ server, instance }, group, replicaRef(replica), modify[3]!.toLowerCase() as 'automatic' | 'manual');
    return;
  }
  const failover = new RegExp(String.raw`^ALTER AVAILABILITY GROUP ${ident} FAILOVER$`).exec(statement);
  if (failover) {
    world.failover(failover[1]!.replaceAll(']]', ']'), { server, instance });
    return;
  }
  throw new LabTopologyError(`the lab does not run this statement: ${statement}`);
}
