import type { InstanceTopology } from '../remote/transport.js';
import {
  type AvailabilityGroupTopology,
  type FailoverClusterTopology,
  type InstanceRef,
  type ReplicaFacts,
  type ReplicaRoleName,
  sameHost,
  type Topology,
} from './types.js';

/** One instance's answer to the topology query, with the target it was asked through. */
export interface InstanceAnswer {
  readonly target: InstanceRef;
  readonly facts: InstanceTopology;
}

/**
 * `HOST\INSTANCE` or `HOST` (the default instance), as sys.availability_replicas names a replica,
 * resolved against the known targets: the same name, or the same first DNS label
 * (`SQL1.contoso.com` is the target `SQL1`).
 */
export function resolveReplicaName(replicaServerName: string, known: readonly InstanceRef[]): InstanceRef {
  const [host = replicaServerName, instance = 'MSSQLSERVER'] = replicaServerName.split('\\');
  const label = (name: string) => name.split('.')[0]!.toLowerCase();
  const match =
    known.find((k) => sameHost(k.server, host) && k.instance.toLowerCase() === instance.toLowerCase()) ??
    known.find((k) => label(k.server) === label(host) && k.instance.toLowerCase() === instance.toLowerCase());
  return match ? { server: match.server, instance: match.instance } : { server: host, instance: instance.toUpperCase() === 'MSSQLSERVER' ? 'MSSQLSERVER' : instance };
}

function roleOf(value: string | null): ReplicaRoleName | null {
  return value === 'primary' || value === 'secondary' ? value : null;
}

/**
 * Puts the instances' answers together into one topology. A group's primary sees every replica's
 * state, so its answer wins; without one, each replica's own answer gives its role and state.
 */
export function assembleTopology(answers: readonly InstanceAnswer[], known: readonly InstanceRef[]): Topology {
  const groups = new Map<string, { name: string; views: { local: InstanceRef; facts: InstanceTopology['availabilityGroups'][number] }[] }>();
  const clusters: FailoverClusterTopology[] = [];
  for (const answer of answers) {
    if (answer.facts.error !== null) continue;
    for (const group of answer.facts.availabilityGroups) {
      const key = group.name.toLowerCase();
      const entry = groups.get(key) ?? { name: group.name, views: [] };
      entry.views.push({ local: answer.target, facts: group });
      groups.set(key, entry);
    }
    const cluster = answer.facts.failoverCluster;
    if (cluster) clusters.push({ ...answer.target, nodes: [...cluster.nodes], owner: cluster.owner });
  }
  const availabilityGroups: AvailabilityGroupTopology[] = [...groups.values()].map(({ name, views }) => {
    const fromPrimary = views.find((v) => v.facts.replicas.some((r) => r.isLocal && r.role === 'primary'));
    const base = (fromPrimary ?? views[0]!).facts.replicas;
    const replicas: ReplicaFacts[] = base.map((r) => {
      const ref = resolveReplicaName(r.replicaServerName, known);
      // Without the primary's view, a replica's role and state come from its own answer.
      const own = fromPrimary ? r : (views.map((v) => v.facts.replicas.find((x) => x.isLocal && x.replicaServerName === r.replicaServerName)).find(Boolean) ?? r);
      return {
        ...ref,
        role: roleOf(own.role),
        availabilityMode: r.availabilityMode ?? 'unknown',
        failoverMode: r.failoverMode ?? 'unknown',
        synchronizationState: own.synchronizationState,
      };
    });
    replicas.sort((a, b) => `${a.server}\\${a.instance}`.localeCompare(`${b.server}\\${b.instance}`));
    return { name, replicas };
  });
  availabilityGroups.sort((a, b) => a.name.localeCompare(b.name));
  clusters.sort((a, b) => `${a.server}\\${a.instance}`.localeCompare(`${b.server}\\${b.instance}`));
  return { availabilityGroups, failoverClusters: clusters };
}
