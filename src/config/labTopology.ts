import type { ConfigProblem } from '../errors.js';
import type { LabAvailabilityReplica, TargetEntry, TargetsFile } from './schemas.js';

/** The availability group replicas a target's simulation block declares (one object or a list). */
export function labReplicasOf(target: TargetEntry): LabAvailabilityReplica[] {
  const declared = target.simulation?.availability_group;
  if (declared === undefined) return [];
  return Array.isArray(declared) ? declared : [declared];
}

/**
 * Checks that the lab's availability groups and failover cluster instances describe a world SQL
 * Server could be in: one primary per group, automatic failover only with synchronous commit (SQL
 * Server refuses anything else), an owner that is one of the nodes.
 */
export function labTopologyProblems(file: string, targetsFile: TargetsFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const groups = new Map<string, { name: string; primaries: string[]; firstAt: string }>();
  targetsFile.targets.forEach((t, i) => {
    const at = `targets[${i}].simulation`;
    const replicas = labReplicasOf(t);
    const seenHere = new Set<string>();
    replicas.forEach((replica, j) => {
      const path = Array.isArray(t.simulation?.availability_group) ? `${at}.availability_group[${j}]` : `${at}.availability_group`;
      const key = replica.name.toLowerCase();
      if (seenHere.has(key)) problems.push({ file, path, message: `names availability group ${replica.name} twice for ${t.server}\\${t.instance}` });
      seenHere.add(key);
      if (replica.failover_mode === 'automatic' && replica.availability_mode !== 'synchronous_commit') {
        problems.push({ file, path: `${path}.failover_mode`, message: 'automatic failover needs availability_mode "synchronous_commit" (SQL Server refuses it otherwise)' });
      }
      const group = groups.get(key) ?? { name: replica.name, primaries: [], firstAt: path };
      if (replica.role === 'primary') group.primaries.push(`${t.server}\\${t.instance}`);
      groups.set(key, group);
    });
    const cluster = t.simulation?.failover_cluster;
    if (cluster) {
      const nodes = cluster.nodes.map((n) => n.toLowerCase());
      if (new Set(nodes).size !== nodes.length) problems.push({ file, path: `${at}.failover_cluster.nodes`, message: 'names a node twice' });
      if (!nodes.includes(cluster.owner.toLowerCase())) {
        problems.push({ file, path: `${at}.failover_cluster.owner`, message: `${cluster.owner} is not one of the nodes (${cluster.nodes.join(', ')})` });
      }
      if (nodes.includes(t.server.toLowerCase())) {
        problems.push({ file, path: `${at}.failover_cluster.nodes`, message: `${t.server} is the instance's virtual name and cannot also be a node` });
      }
      if (replicas.length > 0) {
        problems.push({
          file,
          path: `${at}.failover_cluster`,
          message: 'the lab does not model an availability group replica hosted by a failover cluster instance (SQL Server allows only manual failover there)',
        });
      }
    }
  });
  for (const group of groups.values()) {
    if (group.primaries.length !== 1) {
      const found = group.primaries.length === 0 ? 'none' : group.primaries.join(', ');
      problems.push({ file, path: group.firstAt, message: `availability group ${group.name} needs exactly one primary replica (found: ${found})` });
    }
  }
  return problems;
}
