import type { HostSession, InstallResult } from '../remote/transport.js';

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
