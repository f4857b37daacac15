import { RemoteOperationError } from '../../errors.js';
import type { DeployContext } from '../context.js';
import { crashPoint } from '../crashPoints.js';
import { label } from '../groupStop.js';
import { replicaRef, withSession } from './clusterWorld.js';
import { detailOf, textOf } from './detail.js';
import { reasonText } from './failover.js';
import { skipGroupAction } from './groupActions.js';
import type { ActionEnd, GroupActionHandler, GroupCall } from './types.js';

/** The node that owns the FCI now, asked through its virtual name. */
async function ownerNow(ctx: DeployContext, virtualServer: string, instance: string): Promise<string> {
  return withSession(ctx, virtualServer, async (session) => {
    const answer = (await session.queryTopology([instance], ctx.cancellation.signal)).instances[0];
    if (!answer || answer.error || !answer.failoverCluster) {
      throw new RemoteOperationError(virtualServer, 'topology', answer?.error ?? `${virtualServer}\\${instance} does not report a failover cluster`);
    }
    return answer.failoverCluster.owner;
  });
}

/**
 * Move role: an FCI's role (its SQL Server cluster group) to another node, run on that node (the
 * virtual name moves with the role). Recorded `running` with the owner before; resume asks the owner
 * now: the target node means it happened. A role move to let the former owner be patched goes only
 * to a node patched in this run.
 */
export const moveRoleAction: GroupActionHandler = {
  kind: 'move_role',
  runsWhileStopping: false,
  decide({ graph, action }) {
    const detail = detailOf(action);
    if (textOf(detail, 'reason') === 'free_host') return { run: true };
    const to = (textOf(detail, 'to') ?? '').toLowerCase();
    const installs = graph.all().filter((a) => a.kind === 'install' && String(detailOf(a).node ?? '').toLowerCase() === to && String(detailOf(a).groups) === String(detail.groups));
    const bad = installs.find((a) => a.status !== 'success');
    if (bad) return { run: false, reason: `node ${textOf(detail, 'to')} was not patched (its installer ${bad.status})`, stop: true };
    return { run: true };
  },
  skip(call, reason, stop) {
    skipGroupAction(call, reason, stop, 'role move');
  },
  async run(call: GroupCall): Promise<ActionEnd> {
    const { ctx, action } = call;
    const { history, runId } = ctx;
    const detail = detailOf(action);
    const fci = textOf(detail, 'fci')!;
    const to = textOf(detail, 'to')!;
    const virtualServer = textOf(detail, 'virtual_server') ?? replicaRef(fci).server;
    const { instance } = replicaRef(fci);
    const who = label(action);
    const before = await ownerNow(ctx, virtualServer, instance);
    if (action.status !== 'pending' && before.toLowerCase() === to.toLowerCase()) {
      history.actionTransition(
        runId,
        action.id,
        { from: ['running', 'interrupted'], to: 'success', detail: { owner_after: before, settled: true, moved_at: new Date().toISOString() } },
        { server: action.server, level: 'info', kind: 'role_move_settled', message: `${who}: found owned by ${before} on resume` },
      );
      return 'done';
    }
    if (action.status === 'pending') {
      history.actionTransition(
        runId,
        action.id,
        { from: ['pending'], to: 'running', detail: { owner_before: before } },
        { server: action.server, level: 'info', kind: 'role_move_recorded', message: `${who}: moving the role from ${before} to ${to} (${reasonText(textOf(detail, 'reason'))})` },
      );
      crashPoint('role-move-recorded');
    }
    const change = await withSession(ctx, to, (session) => session.moveRole({ instance, node: to }, ctx.cancellation.signal), virtualServer);
    crashPoint('role-moved');
    history.actionTransition(
      runId,
      action.id,
      { from: ['running', 'interrupted'], to: 'success', detail: { owner_after: change.current, moved_at: new Date().toISOString() } },
      { server: action.server, level: 'info', kind: 'role_moved', message: `${who}: role moved from ${change.previous} to ${change.current}` },
    );
    return 'done';
  },
};
