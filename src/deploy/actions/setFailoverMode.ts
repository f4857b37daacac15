import { crashPoint } from '../crashPoints.js';
import { label } from '../groupStop.js';
import { livePrimary, namesReplica, replicaRef, replicasOfAction, withSession } from './clusterWorld.js';
import { detailOf, textOf } from './detail.js';
import { skipGroupAction } from './groupActions.js';
import type { ActionEnd, GroupActionHandler, GroupCall } from './types.js';

/**
 * Set failover mode: one replica of a group from automatic to manual before the group's rolling
 * update, so that no unplanned failover happens mid-way. Run on the group's live primary (SQL Server
 * accepts the change only there). The replica's mode as the primary reports it just before is
 * recorded (`original`) with the action before the change is asked for, so that the restore puts back
 * what was there, whoever set it. Asking again on resume changes nothing when it is already so.
 */
export const setFailoverModeAction: GroupActionHandler = {
  kind: 'set_failover_mode',
  runsWhileStopping: false,
  decide() {
    return { run: true };
  },
  skip(call, reason, stop) {
    skipGroupAction(call, reason, stop, 'failover mode change');
  },
  async run(call: GroupCall): Promise<ActionEnd> {
    const { ctx, action } = call;
    const { history, runId } = ctx;
    const detail = detailOf(action);
    const ag = textOf(detail, 'ag')!;
    const replica = textOf(detail, 'replica')!;
    const to = textOf(detail, 'to') === 'automatic' ? 'automatic' : 'manual';
    const who = label(action);
    const primary = await livePrimary(ctx, ag, replicasOfAction(action), textOf(detail, 'primary') ?? undefined);
    const seen = primary.group.replicas.find((r) => namesReplica(r.replicaServerName, replica));
    if (!seen) throw new Error(`${who}: its primary ${primary.replica} does not list the replica ${replica}`);
    if (action.status === 'pending') {
      history.actionTransition(
        runId,
        action.id,
        { from: ['pending'], to: 'running', detail: { primary: primary.replica, original: seen.failoverMode } },
        { server: action.server, level: 'info', kind: 'failover_mode_recorded', message: `${who}: setting the failover mode of ${replica} to ${to} (it is ${seen.failoverMode}), on the primary ${primary.replica}` },
      );
      crashPoint('failover-mode-recorded');
    }
    const { instance } = replicaRef(primary.replica);
    const change = await withSession(ctx, replicaRef(primary.replica).server, (session) =>
      session.setFailoverMode({ instance, group: ag, replica: seen.replicaServerName, mode: to }, ctx.cancellation.signal),
    );
    crashPoint('failover-mode-set');
    const settled = action.status !== 'pending';
    history.actionTransition(
      runId,
      action.id,
      { from: ['running', 'interrupted'], to: 'success', detail: { previous: change.previous, current: change.current, changed: change.changed, ...(settled ? { settled: true } : {}) } },
      {
        server: action.server,
        level: 'info',
        kind: 'failover_mode_set',
        message: `${who}: failover mode of ${replica} is ${change.current}${change.changed ? ` (was ${change.previous})` : settled ? ' (found so on resume)' : ' (it was already)'}`,
      },
    );
    return 'done';
  },
};
