import { ConnectivityError, errorMessage, RemoteOperationError } from '../../errors.js';
import { delay } from '../../remote/delay.js';
import { inServiceSyncState, isInService } from '../../topology/syncHealth.js';
import { crashPoint } from '../crashPoints.js';
import { label } from '../groupStop.js';
import { replicaState } from './clusterWorld.js';
import { detailOf, textOf } from './detail.js';
import { skipGroupAction } from './groupActions.js';
import { formatMinutes } from './messages.js';
import type { ActionEnd, GroupActionHandler, GroupCall } from './types.js';

const MIN_POLL_MS = 100;
const MAX_POLL_MS = 5_000;

/**
 * Wait until healthy, for availability group replicas: after a host is patched, each of its replicas
 * is back in service (asked of the replica itself): SYNCHRONIZED for synchronous commit, SYNCHRONIZING
 * and connected for asynchronous commit, which never reports SYNCHRONIZED (topology/syncHealth.ts), within sync_timeout_minutes of the wait's
 * start (the deadline is recorded with it, so a resumed run waits to the same time). A replica that
 * does not resynchronize in time fails the action with the reason, and its group's rolling update
 * stops there; other groups and hosts go on. It only reads, so resume simply waits on.
 */
export const syncWaitAction: GroupActionHandler = {
  kind: 'wait_healthy',
  // Nothing new starts while stopping: a wait found later is done by --resume.
  runsWhileStopping: false,
  decide({ ctx, graph, action }) {
    const host = textOf(detailOf(action), 'host') ?? '';
    const installs = graph.ofHost(host).filter((a) => a.kind === 'install');
    if (installs.length > 0 && installs.every((a) => a.status === 'skipped')) return { run: false, reason: `no installer ran on ${host}` };
    void ctx;
    return { run: true };
  },
  skip(call, reason, stop) {
    skipGroupAction(call, reason, stop, 'wait for synchronization');
  },
  async run({ ctx, action }: GroupCall): Promise<ActionEnd> {
    const { history, runId } = ctx;
    const detail = detailOf(action);
    const host = textOf(detail, 'host')!;
    const replicas = (detail.sync as { ag: string; replica: string }[]) ?? [];
    const who = label(action);
    const names = replicas.map((r) => `${r.replica} (${r.ag})`).join(', ');
    let deadline = Date.parse(textOf(detail, 'deadline') ?? '');
    if (action.status === 'pending' || Number.isNaN(deadline)) {
      const start = Date.now();
      deadline = start + ctx.settings.syncTimeoutMs;
      history.actionTransition(
        runId,
        action.id,
        { from: ['pending', 'interrupted', 'running'], to: 'running', detail: { deadline: new Date(deadline).toISOString(), waiting_since: new Date(start).toISOString() } },
        { server: action.server, level: 'info', kind: 'sync_wait', message: `${who}: waiting until ${names} on ${host} is back in sync (SYNCHRONIZED; SYNCHRONIZING for an asynchronous-commit replica), until ${new Date(deadline).toISOString()}` },
      );
    } else if (action.status === 'interrupted') {
      history.actionTransition(runId, action.id, { from: ['interrupted'], to: 'running' }, { server: action.server, level: 'info', kind: 'sync_wait', message: `${who}: waiting again for ${names}` });
    }
    const since = Date.parse(textOf(detailOf(ctx.history.action(action.id)), 'waiting_since') ?? new Date().toISOString());
    // Looks often at first (a replica is often back within seconds), then less, up to MAX_POLL_MS.
    const maxPollMs = Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, ctx.settings.syncTimeoutMs / 200));
    let pollMs = MIN_POLL_MS;
    let last = 'not asked yet';
    for (;;) {
      if (ctx.cancellation.signal.aborted) {
        history.actionTransition(runId, action.id, { from: ['running'], to: 'interrupted' }, { server: action.server, level: 'warn', kind: 'sync_wait_interrupted', message: `${who}: stopped waiting for ${names}; --resume waits on` });
        return 'interrupted';
      }
      const states: string[] = [];
      let all = true;
      for (const r of replicas) {
        try {
          const state = await replicaState(ctx, r.replica, r.ag);
          if (!isInService(state.availabilityMode, state.synchronizationState, state.connected)) {
            all = false;
            const expected = inServiceSyncState(state.availabilityMode);
            const disconnected = state.connected === false ? ', disconnected' : '';
            states.push(`${r.replica} is ${state.synchronizationState ?? 'of unknown state'}${disconnected} (in service: ${expected})`);
          }
        } catch (error) {
          if (!(error instanceof ConnectivityError || error instanceof RemoteOperationError)) throw error;
          all = false;
          states.push(`${r.replica}: ${errorMessage(error)}`);
        }
      }
      if (all) {
        crashPoint('replica-synchronized');
        const now = Date.now();
        history.actionTransition(
          runId,
          action.id,
          { from: ['running'], to: 'success', detail: { synchronized_at: new Date(now).toISOString(), waited_ms: now - since } },
          { server: action.server, level: 'info', kind: 'replicas_synchronized', message: `${who}: ${names} on ${host} in sync again after ${formatMinutes((now - since) / 60_000)}` },
        );
        return 'done';
      }
      last = states.join('; ');
      crashPoint('sync-wait-polling');
      const now = Date.now();
      if (now >= deadline) break;
      await delay(Math.min(pollMs, deadline - now), ctx.cancellation.signal);
      pollMs = Math.min(maxPollMs, pollMs * 2);
    }
    const message = `${who}: ${names} on ${host} did not resynchronize within ${formatMinutes(ctx.settings.syncTimeoutMs / 60_000)} (sync_timeout_minutes; last: ${last}); the group's remaining work is stopped`;
    history.actionTransition(runId, action.id, { from: ['running'], to: 'failed', error: message }, { server: action.server, level: 'error', kind: 'replica_not_synchronized', message });
    return 'done';
  },
};
