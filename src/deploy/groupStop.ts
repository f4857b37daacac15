import type { ActionRow, History } from '../store/history.js';
import { isFinalTargetStatus } from '../store/states.js';
import { groupsOf } from './actions/clusterWorld.js';
import { detailOf, textOf } from './actions/detail.js';
import { isProblem } from './runVerdict.js';
import type { RunGraph } from './graph/runGraph.js';
import { isGroupServer } from './graph/rollingGraph.js';

/**
 * When an availability group's (or FCI's) rolling update stops: one of its own actions failed (a
 * replica that did not resynchronize in time, a failover SQL Server refused), or was skipped because
 * it could not be done safely (a failover whose target was not patched), or a host of it ended badly
 * (an installer failed, the host could not be reached, pre-flight refused it). Its remaining work is
 * then skipped with this reason; its restore actions still run, and other groups and hosts go on.
 */
export function groupStopReason(history: History, runId: number, graph: RunGraph, keys: readonly string[]): string | null {
  if (keys.length === 0) return null;
  const members = graph.all().filter((a) => groupsOf(a).some((g) => keys.includes(g)));
  for (const a of members) {
    if (!isGroupServer(a.server)) continue;
    if (a.status === 'failed') return `${label(a)}: ${a.error_message ?? `${a.kind} failed`}`;
    const stop = textOf(detailOf(a), 'stop');
    if (a.status === 'skipped' && stop) return stop;
  }
  const hosts = [...new Set(members.filter((a) => !isGroupServer(a.server)).map((a) => a.server.toLowerCase()))];
  for (const host of hosts) {
    for (const t of history.targetsOfHost(runId, host)) {
      // What went wrong in this run: an instance the plan already left out (unsupported, no mapping, an
      // unreadable version) beside a replica does not stop its group.
      if (t.plan_status !== 'pending' || !isFinalTargetStatus(t.status) || t.status === 'partial' || t.status === 'success' || !isProblem(t)) continue;
      return `${t.server}\\${t.instance} ${t.status}: ${t.error_message ?? 'no reason recorded'}`;
    }
  }
  return null;
}

/** `availability group AG1` / `failover cluster instance F\I`, from a group action's server. */
export function label(action: ActionRow): string {
  const server = action.server;
  if (server.toLowerCase().startsWith('ag:')) return `availability group ${server.slice(3)}`;
  if (server.toLowerCase().startsWith('fci:')) return `failover cluster instance ${server.slice(4)}`;
  return server;
}

/** `availability group AG1` / `failover cluster instance F\I`, from a group key (`ag:ag1`) and the graph's spelling. */
export function groupLabel(graph: RunGraph, key: string): string {
  const own = graph.all().find((a) => isGroupServer(a.server) && a.server.toLowerCase() === key);
  if (own) return label(own);
  return key.startsWith('ag:') ? `availability group ${key.slice(3)}` : `failover cluster instance ${key.slice(4)}`;
}
