import type { AvailabilityGroupTopology, FailoverClusterTopology, Topology } from '../topology/types.js';
import type { HistoryDb } from './database.js';
import { nowIso, statements } from './database.js';

/**
 * The topology discovery last found, per availability group and per failover cluster instance:
 * what `--offline` plans from, and what a live discovery is compared with.
 */

interface ReplicaRow {
  readonly ag_name: string;
  readonly server: string;
  readonly instance: string;
  readonly role: 'primary' | 'secondary' | null;
  readonly availability_mode: string;
  readonly failover_mode: string;
  readonly synchronization_state: string | null;
}

interface FciRow {
  readonly server: string;
  readonly instance: string;
  /** JSON array. */
  readonly nodes: string;
  readonly owner: string;
}

export function recordedTopology(db: HistoryDb): Topology {
  const rows = statements(db).prepare('SELECT * FROM availability_replicas ORDER BY ag_name, server, instance').all() as ReplicaRow[];
  const groups = new Map<string, { name: string; replicas: AvailabilityGroupTopology['replicas'][number][] }>();
  for (const row of rows) {
    const group = groups.get(row.ag_name.toLowerCase()) ?? { name: row.ag_name, replicas: [] };
    group.replicas.push({
      server: row.server,
      instance: row.instance,
      role: row.role,
      availabilityMode: row.availability_mode,
      failoverMode: row.failover_mode,
      synchronizationState: row.synchronization_state,
    });
    groups.set(row.ag_name.toLowerCase(), group);
  }
  const fcis = statements(db).prepare('SELECT * FROM failover_cluster_instances ORDER BY server, instance').all() as FciRow[];
  return {
    availabilityGroups: [...groups.values()],
    failoverClusters: fcis.map((f): FailoverClusterTopology => ({ server: f.server, instance: f.instance, nodes: JSON.parse(f.nodes) as string[], owner: f.owner })),
  };
}

/** Replaces the record of each group and FCI in `topology` (others keep theirs), in one transaction. */
export function recordTopology(db: HistoryDb, topology: Topology, now = nowIso()): void {
  const s = statements(db);
  db.transaction(() => {
    for (const group of topology.availabilityGroups) {
      s.prepare('DELETE FROM availability_replicas WHERE ag_name = ?').run(group.name);
      for (const r of group.replicas) {
        s.prepare(
          `INSERT INTO availability_replicas (ag_name, server, instance, role, availability_mode, failover_mode, synchronization_state, seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(group.name, r.server, r.instance, r.role, r.availabilityMode, r.failoverMode, r.synchronizationState, now);
      }
    }
    for (const fci of topology.failoverClusters) {
      s.prepare(
        `INSERT INTO failover_cluster_instances (server, instance, nodes, owner, seen_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (server, instance) DO UPDATE SET nodes = excluded.nodes, owner = excluded.owner, seen_at = excluded.seen_at`,
      ).run(fci.server, fci.instance, JSON.stringify(fci.nodes), fci.owner, now);
    }
  })();
}
