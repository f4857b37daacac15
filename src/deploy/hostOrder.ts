import type { HostWork } from './hostWork.js';

/**
 * The order hosts are started in: longest expected work first, so that with a concurrency limit the
 * last slot does not end up running one long host alone (longest-processing-time-first scheduling).
 *
 * A host's expected work is the sum of its remaining installers' typical durations, taken from
 * earlier runs in history.db (the median of successful executions of that installer file). An
 * installer never seen before counts as the median of all known ones, or as one unit when history is
 * empty, so that without history the hosts with more installers go first. Ties keep the plan's order.
 */
export function orderHostsByExpectedWork(work: readonly HostWork[], typicalMs: ReadonlyMap<string, number>): HostWork[] {
  const known = [...typicalMs.values()].sort((a, b) => a - b);
  const fallback = known.length > 0 ? known[Math.floor(known.length / 2)]! : 1;
  const expected = (host: HostWork): number =>
    host.groups
      .filter((g) => g.status !== 'success' && g.status !== 'failed' && g.status !== 'skipped')
      .reduce((total, g) => total + (typicalMs.get(g.installer.toLowerCase()) ?? fallback), 0);
  return work
    .map((host, index) => ({ host, index, weight: expected(host) }))
    .sort((a, b) => b.weight - a.weight || a.index - b.index)
    .map((entry) => entry.host);
}
