import { type InstanceRef, instanceName, primaryOf, sameInstance, type Topology } from './types.js';

/**
 * Discovery is authoritative: where the targets file or the topology recorded by an earlier
 * discovery disagree with what the instances say now, the group is refused with what differs,
 * never guessed at. Returns, per availability group or FCI (by lower-case name), the differences.
 */
export function topologyDisagreements(live: Topology, targets: readonly InstanceRef[], recorded: Topology | null): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (key: string, message: string) => found.set(key.toLowerCase(), [...(found.get(key.toLowerCase()) ?? []), message]);
  for (const group of live.availabilityGroups) {
    for (const replica of group.replicas) {
      if (!targets.some((t) => sameInstance(t, replica))) {
        add(group.name, `replica ${instanceName(replica)} is in availability group ${group.name} but not in the targets`);
      }
    }
    const before = recorded?.availabilityGroups.find((g) => g.name.toLowerCase() === group.name.toLowerCase());
    if (!before) continue;
    const nowPrimary = primaryOf(group);
    const thenPrimary = primaryOf(before);
    if (nowPrimary && thenPrimary && !sameInstance(nowPrimary, thenPrimary)) {
      add(group.name, `primary is ${instanceName(nowPrimary)}, but ${instanceName(thenPrimary)} was recorded`);
    }
    for (const replica of group.replicas) {
      if (!before.replicas.some((r) => sameInstance(r, replica))) add(group.name, `replica ${instanceName(replica)} was not recorded in the group`);
    }
    for (const replica of before.replicas) {
      if (!group.replicas.some((r) => sameInstance(r, replica))) add(group.name, `recorded replica ${instanceName(replica)} is no longer in the group`);
    }
  }
  for (const fci of live.failoverClusters) {
    const before = recorded?.failoverClusters.find((f) => sameInstance(f, fci));
    if (!before) continue;
    const norm = (nodes: readonly string[]) => nodes.map((n) => n.toLowerCase()).sort().join(', ');
    if (norm(before.nodes) !== norm(fci.nodes)) add(instanceName(fci), `nodes are ${fci.nodes.join(', ')}, but ${before.nodes.join(', ')} were recorded`);
  }
  return found;
}
