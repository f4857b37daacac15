import { ConnectivityError, errorMessage, RemoteOperationError } from '../../errors.js';
import { delay } from '../../remote/delay.js';
import type { HostSession, InstanceHealth } from '../../remote/transport.js';
import { crashPoint } from '../crashPoints.js';
import { detailOf, textOf } from './detail.js';
import { dropHostSession, hostLost, openHostSession } from './hostVisit.js';
import { formatMinutes, stripServer } from './messages.js';
import type { ActionCall, ActionEnd, ActionKindHandler } from './types.js';

// Between two looks at a restarting host: often enough to see it back soon, seldom enough not to hammer it.
const MIN_POLL_MS = 200;
const MAX_POLL_MS = 5_000;

/**
 * Wait until healthy: after a restart, the host is reachable again through its transport with a boot
 * time later than the one recorded with the restart, every instance's engine runs and answers, and
 * its databases are online; within restart_timeout_minutes of the request. A host that does not come
 * back fails with that reason (its targets fail; the rest of the run goes on). It only reads the
 * host, so an action found running on resume simply waits on, to the same deadline.
 */
export const waitHealthyAction: ActionKindHandler = {
  kind: 'wait_healthy',
  needsSession: false,
  // The host is down because of this run: waiting for it finishes what was begun.
  runsWhileStopping: true,
  decide({ graph, action }) {
    const restart = graph.dependenciesOf(action.id).find((a) => a.kind === 'restart');
    if (restart?.status !== 'success') return { run: false, reason: 'the host was not restarted' };
    return { run: true };
  },
  skip({ ctx, action, host }, reason) {
    ctx.history.actionTransition(ctx.runId, action.id, { from: ['pending'], to: 'skipped', error: reason }, { server: host.server, level: 'debug', kind: 'wait_skipped', message: `${host.server}: no wait: ${reason}` });
  },
  async run({ ctx, host, graph, action }: ActionCall): Promise<ActionEnd> {
    const { history, runId } = ctx;
    const server = host.server;
    const restart = graph.dependenciesOf(action.id).find((a) => a.kind === 'restart')!;
    const facts = detailOf(restart);
    const requestedAt = Date.parse(textOf(facts, 'requested_at') ?? restart.started_at ?? new Date().toISOString());
    const deadline = Date.parse(textOf(facts, 'deadline') ?? new Date(requestedAt + ctx.settings.restartTimeoutMs).toISOString());
    const bootBefore = Date.parse(textOf(facts, 'boot_before') ?? '1970-01-01T00:00:00Z');
    if (action.status === 'pending') {
      history.actionTransition(runId, action.id, { from: ['pending'], to: 'running' }, { server, level: 'info', kind: 'wait_healthy', message: `${server}: waiting for it to come back (until ${new Date(deadline).toISOString()})` });
    } else if (action.status === 'interrupted') {
      history.actionTransition(runId, action.id, { from: ['interrupted'], to: 'running' }, { server, level: 'info', kind: 'wait_healthy', message: `${server}: waiting again for it to come back` });
    }
    const instances = [...new Set(history.targetsOfHost(runId, server).map((t) => t.instance))];
    const pollMs = Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, ctx.settings.restartTimeoutMs / 100));
    let last = 'it has not answered yet';
    for (;;) {
      if (ctx.cancellation.signal.aborted) {
        history.actionTransition(runId, action.id, { from: ['running'], to: 'interrupted' }, { server, level: 'warn', kind: 'wait_interrupted', message: `${server}: stopped waiting for it to come back; --resume waits on` });
        return 'interrupted';
      }
      let session: HostSession | null = null;
      try {
        session = await openHostSession(ctx, host);
        const boot = await session.bootTime(ctx.cancellation.signal);
        if (Date.parse(boot) <= bootBefore) {
          last = `it is still up since ${boot}: it has not restarted yet`;
        } else {
          const health = await session.instanceHealth(instances, ctx.cancellation.signal);
          const unwell = health.filter((h) => !healthy(h));
          if (unwell.length === 0) {
            crashPoint('host-healthy');
            const now = Date.now();
            history.actionTransition(
              runId,
              action.id,
              { from: ['running'], to: 'success', detail: { boot_after: boot, back_at: new Date(now).toISOString(), back_ms: now - requestedAt } },
              {
                server,
                level: 'info',
                kind: 'host_back',
                message: `${server}: back and healthy ${formatMinutes((now - requestedAt) / 60_000)} after the restart was requested (booted at ${boot}; ${instances.length} instance(s) answering, databases online)`,
              },
            );
            await dropHostSession(ctx, host);
            host.session = session;
            return 'done';
          }
          last = `booted at ${boot}, but ${unwell.map(describe).join('; ')}`;
        }
      } catch (error) {
        if (!(error instanceof ConnectivityError || error instanceof RemoteOperationError)) throw error;
        last = stripServer(server, errorMessage(error));
      }
      await session?.close().catch(() => {});
      crashPoint('wait-healthy-polling');
      const now = Date.now();
      if (now >= deadline) break;
      await delay(Math.min(pollMs, deadline - now), ctx.cancellation.signal);
    }
    const allowed = formatMinutes((deadline - requestedAt) / 60_000);
    const message = `${server}: did not come back healthy within ${allowed} of its restart (last: ${last})`;
    history.actionTransition(runId, action.id, { from: ['running'], to: 'failed', error: message }, { server, level: 'error', kind: 'host_not_back', message });
    hostLost(ctx, host, message);
    return 'done';
  },
};

function healthy(h: InstanceHealth): boolean {
  return h.engineRunning && h.answering && h.offlineDatabases.length === 0;
}

function describe(h: InstanceHealth): string {
  if (!h.engineRunning) return `${h.instance}: its engine is not running`;
  if (!h.answering) return `${h.instance}: its engine does not answer`;
  return `${h.instance}: databases not online: ${h.offlineDatabases.join(', ')}`;
}
