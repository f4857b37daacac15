import { ConnectivityError, errorMessage } from '../errors.js';
import type { HostSession, InstallResult } from '../remote/transport.js';
import type { ActionRow } from '../store/history.js';
import { detailOf, textOf } from './actions/detail.js';
import { openHostSession } from './actions/hostVisit.js';
import type { HostContext } from './actions/types.js';
import type { DeployContext } from './context.js';

/**
 * Resume's one question, per kind of action: what became of an action found `running` (the process
 * died) or `interrupted` (the wait was given up)? Always asked of the world, never assumed, so that
 * nothing is done twice:
 *
 * - `install`: the target keeps each execution id; it says finished (with the exit code), still
 *   running (attach and wait), or never started (start it).
 * - `restart`: the host's boot time against the time the restart was recorded (settleRestart).
 * - `preflight`, `verify`, `wait_healthy`: they read the host and record what they find, so an
 *   unfinished one is done again.
 */
export type Settlement<T> = { readonly found: 'finished'; readonly result: T } | { readonly found: 'running'; readonly startedAt: string } | { readonly found: 'not_started' };

export interface SettledInstall {
  readonly result: InstallResult;
  readonly startedAt: string;
  readonly completedAt: string;
}

export async function settleInstall(session: HostSession, executionId: string, signal: AbortSignal): Promise<Settlement<SettledInstall>> {
  const status = await session.installerStatus(executionId, signal);
  switch (status.state) {
    case 'finished': {
      const durationMs = Date.parse(status.finishedAt) - Date.parse(status.startedAt);
      const result: InstallResult = status.exitCode === null ? { kind: 'timed_out', durationMs } : { kind: 'exited', exitCode: status.exitCode, durationMs };
      return { found: 'finished', result: { result, startedAt: status.startedAt, completedAt: status.finishedAt } };
    }
    case 'running':
      return { found: 'running', startedAt: status.startedAt };
    case 'not_started':
      return { found: 'not_started' };
    default: {
      const never: never = status;
      throw new Error(`unknown installer status ${JSON.stringify(never)}`);
    }
  }
}

/**
 * A restart found running: it was recorded with the host's boot time before it, then maybe requested.
 * A later boot time means it happened; a host that does not answer is restarting now; a host up since
 * the recorded boot time had not been asked (the process died between the record and the request),
 * so it is asked now: Windows starts no second restart while one is under way, so this never restarts
 * a host twice.
 */
export async function settleRestart(ctx: DeployContext, host: HostContext, action: ActionRow): Promise<{ found: string; message: string }> {
  const detail = detailOf(action);
  const bootBefore = textOf(detail, 'boot_before');
  const recordedAt = textOf(detail, 'requested_at') ?? action.started_at ?? 'unknown time';
  let session: HostSession;
  let boot: string;
  try {
    session = await openHostSession(ctx, host);
    boot = await session.bootTime(ctx.cancellation.signal);
  } catch (error) {
    if (!(error instanceof ConnectivityError)) throw error;
    return { found: 'host_away', message: `the host does not answer (${errorMessage(error)}): the restart recorded at ${recordedAt} is under way` };
  }
  try {
    if (bootBefore === null || Date.parse(boot) > Date.parse(bootBefore)) {
      return { found: 'restarted', message: `booted at ${boot}, after the restart was recorded at ${recordedAt}` };
    }
    await session.requestRestart({ comment: textOf(detail, 'comment') ?? `AutoDBAudit run ${ctx.runId}` }, ctx.cancellation.signal).catch((error: unknown) => {
      if (!(error instanceof ConnectivityError)) throw error;
    });
    return { found: 'requested_again', message: `still up since ${boot} (before the restart was recorded at ${recordedAt}): restart requested now` };
  } finally {
    await session.close().catch(() => {});
  }
}
