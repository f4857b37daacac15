import type { InstanceTopology } from '../remote/transport.js';
import { replicaServerName } from './topology.js';
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
