import { isFinalActionStatus } from '../../store/states.js';
import { crashPoint } from '../crashPoints.js';
import { label } from '../groupStop.js';
import type { RunGraph } from '../graph/runGraph.js';
import type { ActionRow } from '../../store/history.js';
import { groupsOf, livePrimary, namesReplica, replicaRef, replicasOfAction, withSession } from './clusterWorld.js';
import { detailOf, textOf } from './detail.js';
import { skipGroupAction } from './groupActions.js';
import type { ActionEnd, GroupActionHandler, GroupCall } from './types.js';

/** The set_failover_mode action this restore undoes (same group and replica). */
export function changeRestoredBy(graph: RunGraph, restore: ActionRow): ActionRow | undefined {
  const d = detailOf(restore);
  return graph
    .all()
    .find(
      (a) =>
        a.kind === 'set_failover_mode' &&
        String(detailOf(a).ag).toLowerCase() === String(d.ag).toLowerCase() &&
        String(detailOf(a).replica).toLowerCase() === String(d.replica).toLowerCase(),
    );
}

/**
 * Restore: a compensation. Puts a replica's failover mode back to what the set_failover_mode action
 * found (`original`), on the group's live primary (wherever the rolling update left it), however the
 * group's work ended: done, stopped by a fault, or stopped by the operator. Runs while stopping; a
 * resumed run finds it pending or running and does it (asking again changes nothing when it is so).
 * Skipped only when the mode was never changed.
 */
export const restoreAction: GroupActionHandler = {
  kind: 'restore',
  runsWhileStopping: true,
  decide({ graph, action }) {
    const change = changeRestoredBy(graph, action);
    if (!change || change.status === 'skipped' || change.status === 'failed' || change.status === 'pending') {
      if (change && !isFinalActionStatus(change.status)) return { run: false, reason: 'its failover mode has not been changed yet' };
      return { run: false, reason: 'its failover mode was not changed' };
    }
    return { run: true };
  },
  skip(call, reason) {
    skipGroupAction(call, reason, false, 'failover mode restore');
  },
  async run(call: GroupCall): Promise<ActionEnd> {
    const { ctx, graph, action } = call;
    const detail = detailOf(action);
    const change = changeRestoredBy(graph, action);
    // Found interrupted (restored early, when the operator stopped the run) while its group has work
    // left: that work needs the manual mode again before it goes on.
    if (action.status === 'interrupted' && !ctx.cancellation.stopStarting && groupUnfinished(graph, action)) return rearm(call, change);
    const { history, runId } = ctx;
    const ag = textOf(detail, 'ag')!;
    const replica = textOf(detail, 'replica')!;
    const original = (change && textOf(detailOf(change), 'original')) ?? textOf(detail, 'to') ?? 'automatic';
    const mode = original === 'automatic' ? 'automatic' : 'manual';
    const who = label(action);
    const primary = await livePrimary(ctx, ag, replicasOfAction(action));
    const seen = primary.group.replicas.find((r) => namesReplica(r.replicaServerName, replica));
    if (!seen) throw new Error(`${who}: its primary ${primary.replica} does not list the replica ${replica}`);
    if (action.status === 'pending') {
      history.actionTransition(
        runId,
        action.id,
        { from: ['pending'], to: 'running', detail: { primary: primary.replica, restoring: mode } },
        { server: action.server, level: 'info', kind: 'restore_recorded', message: `${who}: restoring the failover mode of ${replica} to ${mode} (it is ${seen.failoverMode}), on the primary ${primary.replica}` },
      );
      crashPoint('restore-recorded');
    }
    const { server, instance } = replicaRef(primary.replica);
    const result = await withSession(ctx, server, (session) => session.setFailoverMode({ instance, group: ag, replica: seen.replicaServerName, mode }, ctx.cancellation.signal));
    crashPoint('restore-done');
    // Restored before the group's work was done (the operator stopped the run): --resume sets the
    // manual mode again before that work goes on, and restores it once more at the end.
    const early = ctx.cancellation.stopStarting && groupUnfinished(graph, action);
    history.actionTransition(
      runId,
      action.id,
      { from: ['running', 'interrupted'], to: early ? 'interrupted' : 'success', detail: { previous: result.previous, current: result.current, changed: result.changed, restored_early: early } },
      {
        server: action.server,
        level: 'info',
        kind: 'failover_mode_restored',
        message: `${who}: failover mode of ${replica} restored to ${result.current}${result.changed ? '' : ' (it was already)'}${early ? ' while the run stops; --resume sets it to manual again before the group goes on' : ''}`,
      },
    );
    return early ? 'interrupted' : 'done';
  },
};

/** Whether the restore's group has work left other than its restores. */
function groupUnfinished(graph: RunGraph, restore: ActionRow): boolean {
  const keys = groupsOf(restore);
  return graph.all().some((a) => a.id !== restore.id && a.kind !== 'restore' && !isFinalActionStatus(a.status) && groupsOf(a).some((g) => keys.includes(g)));
}

/**
 * A resumed run's first move for a group restored early: the replica's failover mode is set to what
 * the set_failover_mode action set (manual) again, and the restore waits for the end of the group's
 * work once more. Asking again changes nothing when it is so, so a crash here is harmless.
 */
async function rearm(call: GroupCall, change: ActionRow | undefined): Promise<ActionEnd> {
  const { ctx, action } = call;
  const detail = detailOf(action);
  const ag = textOf(detail, 'ag')!;
  const replica = textOf(detail, 'replica')!;
  const mode = (change && textOf(detailOf(change), 'to')) === 'automatic' ? 'automatic' : 'manual';
  const primary = await livePrimary(ctx, ag, replicasOfAction(action));
  const seen = primary.group.replicas.find((r) => namesReplica(r.replicaServerName, replica));
  if (!seen) throw new Error(`${label(action)}: its primary ${primary.replica} does not list the replica ${replica}`);
  const { server, instance } = replicaRef(primary.replica);
  const result = await withSession(ctx, server, (session) => session.setFailoverMode({ instance, group: ag, replica: seen.replicaServerName, mode }, ctx.cancellation.signal));
  ctx.history.actionTransition(
    ctx.runId,
    action.id,
    { from: ['interrupted'], to: 'pending', detail: { rearmed_at: new Date().toISOString(), restored_early: false } },
    { server: action.server, level: 'info', kind: 'failover_mode_rearmed', message: `${label(action)}: failover mode of ${replica} set to ${result.current} again before the group's work goes on` },
  );
  return 'done';
}
