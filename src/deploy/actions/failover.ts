import { isProblem } from '../runVerdict.js';
import { crashPoint } from '../crashPoints.js';
import { label } from '../groupStop.js';
import { livePrimary, replicaRef, replicasOfAction, replicaState, withSession } from './clusterWorld.js';
import { detailOf, textOf } from './detail.js';
import { skipGroupAction } from './groupActions.js';
import type { ActionEnd, GroupActionHandler, GroupCall } from './types.js';

/**
 * Failover: a planned failover of a group (`ALTER AVAILABILITY GROUP … FAILOVER`, run on the
 * secondary that becomes primary). Recorded `running` with the primary before it, then the target
 * is read once more just before and must be a SYNCHRONIZED secondary (SQL Server would refuse
 * otherwise: 41142, and a forced failover loses data, which this tool never does). A failover to let
 * the former primary be patched goes only to a replica patched in this run (or already up to date).
 * Resume asks who is primary now: the target means it happened.
 */
export const failoverAction: GroupActionHandler = {
  kind: 'failover',
  runsWhileStopping: false,
  decide({ ctx, action }) {
    const detail = detailOf(action);
    const to = textOf(detail, 'to')!;
    if (textOf(detail, 'reason') === 'free_host') return { run: true };
    // The target replica's own instance must have been patched in this run (or be up to date).
    const { server, instance } = replicaRef(to);
    const bad = ctx.history
      .targetsOfHost(ctx.runId, server)
      .find((t) => t.instance.toLowerCase() === instance.toLowerCase() && t.plan_status === 'pending' && t.status !== 'success' && t.status !== 'partial' && isProblem(t));
    if (bad) return { run: false, reason: `its target ${to} was not patched (${bad.status}${bad.error_message ? `: ${bad.error_message}` : ''})`, stop: true };
    return { run: true };
  },
  skip(call, reason, stop) {
    skipGroupAction(call, reason, stop, 'failover');
  },
  async run(call: GroupCall): Promise<ActionEnd> {
    const { ctx, action } = call;
    const { history, runId } = ctx;
    const detail = detailOf(action);
    const ag = textOf(detail, 'ag')!;
    const to = textOf(detail, 'to')!;
    const who = label(action);
    const replicas = replicasOfAction(action);
    const before = await livePrimary(ctx, ag, replicas, textOf(detail, 'from') ?? undefined);
    if (action.status !== 'pending' && before.replica.toLowerCase() === to.toLowerCase()) {
      history.actionTransition(
        runId,
        action.id,
        { from: ['running', 'interrupted'], to: 'success', detail: { primary_after: to, settled: true, failed_over_at: new Date().toISOString() } },
        { server: action.server, level: 'info', kind: 'failover_settled', message: `${who}: found failed over to ${to} on resume` },
      );
      return 'done';
    }
    if (action.status === 'pending') {
      history.actionTransition(
        runId,
        action.id,
        { from: ['pending'], to: 'running', detail: { primary_before: before.replica } },
        { server: action.server, level: 'info', kind: 'failover_recorded', message: `${who}: failing over from ${before.replica} to ${to} (${reasonText(textOf(detail, 'reason'))})` },
      );
      crashPoint('failover-recorded');
    }
    // Just before: the target must be a connected, SYNCHRONIZED secondary.
    const state = await replicaState(ctx, to, ag);
    if (state.role?.toLowerCase() !== 'secondary' || state.synchronizationState !== 'SYNCHRONIZED' || state.connected === false) {
      const message = `${who}: not failed over to ${to}: just before, it was ${state.role ?? 'of unknown role'} and ${state.synchronizationState ?? 'of unknown state'}, not a SYNCHRONIZED secondary`;
      history.actionTransition(runId, action.id, { from: ['running', 'interrupted'], to: 'failed', error: message, detail: { to_state: state.synchronizationState } }, { server: action.server, level: 'error', kind: 'failover_refused', message });
      return 'done';
    }
    const { server, instance } = replicaRef(to);
    await withSession(ctx, server, (session) => session.failover({ instance, group: ag }, ctx.cancellation.signal));
    crashPoint('failover-done');
    const at = new Date().toISOString();
    history.actionTransition(
      runId,
      action.id,
      { from: ['running', 'interrupted'], to: 'success', detail: { primary_after: to, to_state: 'SYNCHRONIZED', failed_over_at: at } },
      { server: action.server, level: 'info', kind: 'failover_done', message: `${who}: failed over from ${before.replica} to ${to}; ${to} is the primary` },
    );
    return 'done';
  },
};

export function reasonText(reason: string | null): string {
  switch (reason) {
    case 'patch_former_primary':
      return 'to a patched replica, so that the former primary can be patched';
    case 'free_host':
      return 'to free a host: every host left holds a primary';
    case 'failback':
      return 'failing back to the original primary';
    default:
      return reason ?? 'planned';
  }
}
