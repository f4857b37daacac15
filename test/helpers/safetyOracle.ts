import { labReplicasOf } from '../../src/config/labTopology.js';
import type { TargetEntry } from '../../src/config/schemas.js';
import { inServiceSyncState, isInService } from '../../src/topology/syncHealth.js';

/**
 * The safety oracle: replays the lab's `lab_events` and `lab_executions` in time order, starting from
 * the topology the targets declare, and returns every rule of a rolling update that was broken:
 *
 *  - never patch a replica while it is primary, or an FCI node while it owns the role;
 *  - never fail over to a replica that was not SYNCHRONIZED just before;
 *  - at most one replica per availability group, and one node per FCI, out of service at once
 *    (a replica is out of service while its host runs an installer or it is not back in sync:
 *    SYNCHRONIZED, or SYNCHRONIZING for an asynchronous-commit replica, whose healthy state that is);
 *  - every failover mode ends as it began.
 */

export interface OracleEvent {
  readonly at: string;
  readonly server: string;
  readonly instance: string | null;
  readonly kind: string;
  readonly detail: string;
}

export interface OracleExecution {
  readonly server: string;
  readonly started_at: string;
  readonly finished_at: string | null;
  readonly parameters?: string | undefined;
}

interface Replica {
  readonly ag: string;
  readonly name: string;
  readonly server: string;
  role: string;
  mode: string;
  readonly initialMode: string;
  readonly availabilityMode: string;
  state: string;
}

type Point =
  | { readonly at: number; readonly order: number; readonly type: 'start'; readonly server: string }
  | { readonly at: number; readonly order: number; readonly type: 'end'; readonly server: string }
  | { readonly at: number; readonly order: number; readonly type: 'event'; readonly event: OracleEvent };

export function safetyViolations(targets: readonly TargetEntry[], events: readonly OracleEvent[], executions: readonly OracleExecution[]): string[] {
  const broken: string[] = [];
  const replicas: Replica[] = [];
  for (const t of targets) {
    for (const r of labReplicasOf(t)) {
      replicas.push({
        ag: r.name,
        name: `${t.server}\\${t.instance}`,
        server: t.server,
        role: r.role,
        mode: r.failover_mode,
        initialMode: r.failover_mode,
        availabilityMode: r.availability_mode,
        state: inServiceSyncState(r.availability_mode),
      });
    }
  }
  const fcis = targets
    .filter((t) => t.simulation?.failover_cluster)
    .map((t) => ({ name: `${t.server}\\${t.instance}`, nodes: t.simulation!.failover_cluster!.nodes, owner: t.simulation!.failover_cluster!.owner }));
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

  // Ends before starts and events at one instant: an installer that ends as another starts does not overlap it.
  const points: Point[] = [];
  for (const e of executions) {
    points.push({ at: Date.parse(e.started_at), order: 2, type: 'start', server: e.server });
    if (e.finished_at) points.push({ at: Date.parse(e.finished_at), order: 0, type: 'end', server: e.server });
  }
  for (const event of events) points.push({ at: Date.parse(event.at), order: 1, type: 'event', event });
  points.sort((a, b) => a.at - b.at || a.order - b.order);

  const running = new Map<string, number>();
  // An overlap is reported once, when it begins (or grows), not again at every later change.
  const reported = new Set<string>();
  const busy = (server: string) => [...running.entries()].some(([s, n]) => same(s, server) && n > 0);
  const checkOutOfService = (when: string) => {
    const groups = new Set(replicas.map((r) => r.ag));
    for (const ag of groups) {
      const out = replicas.filter((r) => r.ag === ag && (busy(r.server) || !isInService(r.availabilityMode, r.state)));
      const text = `${out.map((r) => r.name).join(' and ')} of ${ag} out of service at once`;
      if (out.length > 1 && !reported.has(text)) {
        reported.add(text);
        broken.push(`${when}: ${text}`);
      }
    }
    for (const fci of fcis) {
      const out = fci.nodes.filter(busy);
      const text = `nodes ${out.join(' and ')} of ${fci.name} out of service at once`;
      if (out.length > 1 && !reported.has(text)) {
        reported.add(text);
        broken.push(`${when}: ${text}`);
      }
    }
  };

  for (const point of points) {
    const when = new Date(point.at).toISOString();
    if (point.type === 'start') {
      for (const r of replicas) if (same(r.server, point.server) && r.role === 'primary') broken.push(`${when}: patched ${r.name} while primary of ${r.ag}`);
      for (const f of fcis) if (same(f.owner, point.server)) broken.push(`${when}: patched ${point.server} while it owned ${f.name}`);
      running.set(point.server.toLowerCase(), (running.get(point.server.toLowerCase()) ?? 0) + 1);
      checkOutOfService(when);
    } else if (point.type === 'end') {
      running.set(point.server.toLowerCase(), (running.get(point.server.toLowerCase()) ?? 1) - 1);
    } else {
      const detail = JSON.parse(point.event.detail) as Record<string, unknown>;
      const find = (ag: unknown, name: unknown) => replicas.find((r) => same(r.ag, String(ag)) && same(r.name, String(name)));
      switch (point.event.kind) {
        case 'sync_state': {
          const r = find(detail.ag, detail.replica);
          if (r) r.state = String(detail.state);
          checkOutOfService(when);
          break;
        }
        case 'failover': {
          if (detail.to_synchronized !== true) broken.push(`${when}: ${detail.ag} failed over to ${detail.to}, which was not SYNCHRONIZED`);
          for (const r of replicas.filter((x) => same(x.ag, String(detail.ag)))) r.role = same(r.name, String(detail.to)) ? 'primary' : 'secondary';
          break;
        }
        case 'failover_mode': {
          const r = find(detail.ag, detail.replica);
          if (r) r.mode = String(detail.to);
          break;
        }
        case 'role_move': {
          const f = fcis.find((x) => same(x.name, String(detail.fci)));
          if (f) f.owner = String(detail.to);
          break;
        }
        default:
          break;
      }
    }
  }
  for (const r of replicas) if (r.mode !== r.initialMode) broken.push(`${r.name} of ${r.ag} ends with failover mode ${r.mode}, not ${r.initialMode}`);
  return broken;
}
