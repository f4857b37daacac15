import { ConnectivityError, errorMessage, RemoteOperationError } from '../../errors.js';
import type { HostSession } from '../../remote/transport.js';
import type { ActionRow } from '../../store/history.js';
import { isFinalTargetStatus } from '../../store/states.js';
import type { DeployContext } from '../context.js';
import { crashPoint } from '../crashPoints.js';
import { stripServer } from './messages.js';
import type { HostContext } from './types.js';

/** How a host's visit ended in this process. */
export type HostEnd = 'finished' | 'not_started' | 'interrupted';

/**
 * Starts this process's visit of a host: its unfinished targets become in progress, and the host is
 * connected. Returns 'open' with `host.session` set, or how the host's work ended when it cannot be
 * reached: skipped as unreachable, or left open when an installer may still be running there.
 */
export async function visitHost(ctx: DeployContext, host: HostContext, actions: readonly ActionRow[]): Promise<'open' | HostEnd> {
  const { history, observer, cancellation, runId } = ctx;
  const server = host.server;
  const targetIds = unfinishedTargetIds(ctx, host);
  history.targetStarted(runId, targetIds, server);
  crashPoint('target-started');
  observer.hostStarted(server, host.work.groups.length);
  try {
    const transport = await ctx.transports.get(host.work.transport);
    host.session = await transport.open({ server, port: host.work.port, credential: host.work.credential }, cancellation.signal);
  } catch (error) {
    const reason = `${server}: unreachable: ${stripServer(server, errorMessage(error))}`;
    if (actions.some((a) => a.kind === 'install' && (a.status === 'running' || a.status === 'interrupted'))) {
      // An installer may still be running there: only the host can say, so the work stays open.
      history.addEvent({
        runId,
        server,
        level: 'error',
        kind: 'host_unreachable',
        message: `${reason}; its unsettled steps stay open: run --deploy-hotfixes --resume again once it answers`,
        error,
      });
      observer.hostFinished(server, 'unreachable (unsettled steps kept)');
      return 'interrupted';
    }
    history.skipHost(runId, targetIds, server, reason, { reached: false, kind: 'host_unreachable', error });
    history.actionsSkippedOnHost(runId, server, reason);
    observer.hostFinished(server, 'unreachable');
    return 'finished';
  }
  history.hostReached(targetIds);
  crashPoint('host-reached');
  return 'open';
}

export function unfinishedTargetIds(ctx: DeployContext, host: HostContext): number[] {
  return ctx.history
    .targetsOfHost(ctx.runId, host.server)
    .filter((t) => !isFinalTargetStatus(t.status))
    .map((t) => t.id);
}

/**
 * An action ended with an unexpected error (a broken connection, an operation that failed): this host
 * stops, the other hosts carry on. What may still be running on the host stays settle-able; the rest
 * is recorded failed or skipped.
 */
export function hostFailed(ctx: DeployContext, host: HostContext, action: ActionRow, error: unknown): void {
  const { history, runId } = ctx;
  const server = host.server;
  const why = error instanceof ConnectivityError ? 'the connection was lost' : error instanceof RemoteOperationError ? 'an operation on the host failed' : 'an unexpected error';
  const message = `${server}: deployment stopped: ${why}: ${stripServer(server, errorMessage(error))}`;
  history.addEvent({ runId, server, level: 'error', kind: 'host_error', message, error });
  if (action.kind !== 'install' && history.action(action.id).status === 'running') {
    history.actionTransition(runId, action.id, { from: ['running'], to: 'failed', error: message }, { server, level: 'error', kind: `${action.kind}_failed`, message });
  }
  const steps = host.work.groups.flatMap((g) => history.stepsOfExecution(g.executionId));
  history.stepsSkipped(
    runId,
    steps.filter((s) => s.status === 'pending').map((s) => s.id),
    server,
    message,
  );
  history.actionsSkippedOnHost(runId, server, message);
  const hasUnsettled = steps.some((s) => s.status === 'running' || s.status === 'interrupted');
  if (!hasUnsettled) {
    for (const t of history.targetsOfHost(runId, server)) {
      if (t.status === 'pending' || t.status === 'in_progress') {
        history.targetFinished(runId, t.id, t.server, { status: 'failed', postBuild: null, requiresRestart: false, error: message }, 'error', message);
      }
    }
  }
  ctx.observer.hostFinished(server, 'failed');
}

/** A new session to the host, outside a visit: for actions that must reach a host that may be away. */
export async function openHostSession(ctx: DeployContext, host: HostContext): Promise<HostSession> {
  const transport = await ctx.transports.get(host.work.transport);
  return transport.open({ server: host.server, port: host.work.port, credential: host.work.credential }, ctx.cancellation.signal);
}

/** Ends the host's session, which a restart takes down with it; a failure to close only goes to the log. */
export async function dropHostSession(ctx: DeployContext, host: HostContext): Promise<void> {
  const session = host.session;
  host.session = null;
  host.staged.clear();
  await session?.close().catch((error: unknown) => ctx.observer.log('debug', `${host.server}: closing the session failed: ${errorMessage(error)}`));
}

/**
 * The host did not come back from a restart: every target of it that is not skipped fails with the
 * reason (patched or not, it is out of service), steps not started are skipped, and nothing more
 * happens there in this run.
 */
export function hostLost(ctx: DeployContext, host: HostContext, message: string): void {
  const { history, runId } = ctx;
  const steps = host.work.groups.flatMap((g) => history.stepsOfExecution(g.executionId));
  history.stepsSkipped(runId, steps.filter((s) => s.status === 'pending').map((s) => s.id), host.server, message);
  for (const t of history.targetsOfHost(runId, host.server)) {
    if (t.status === 'skipped') continue;
    history.targetAfterRestart(runId, t.id, t.server, { postBuild: null, restartDone: false, failure: message }, 'error', `${t.server}\\${t.instance}: failed: ${message}`);
  }
  history.actionsSkippedOnHost(runId, host.server, message);
  ctx.observer.hostFinished(host.server, 'did not come back from its restart');
}
