import pLimit from 'p-limit';
import type { TransportProvider } from '../remote/transports.js';
import type { History, TargetRow } from '../store/history.js';
import type { RunStatus } from '../store/states.js';
import type { Cancellation } from './cancellation.js';
import { crashPoint } from './crashPoints.js';
import { runHost } from './hostWorker.js';
import { orderHostsByExpectedWork } from './hostOrder.js';
import { loadHostWork } from './hostWork.js';
import type { InstallerCache } from './installerCache.js';
import type { DeployObserver } from './observer.js';

export interface DeploySettings {
  /** Folder on each target where installers are staged (a Windows path). */
  readonly stagingDir: string;
  readonly stepTimeoutMs: number;
  readonly minFreeDiskBytes: number;
  readonly ignorePendingFileRename: boolean;
  /** Refuse installers whose Authenticode signature the target reports as anything but Valid. */
  readonly requireSignedInstallers: boolean;
  /** Hosts patched at once. */
  readonly maxConcurrent: number;
}

export interface DeployContext {
  readonly runId: number;
  readonly history: History;
  readonly transports: TransportProvider;
  readonly settings: DeploySettings;
  readonly observer: DeployObserver;
  readonly cancellation: Cancellation;
  readonly installers: InstallerCache;
}

export interface RunOutcome {
  readonly runId: number;
  readonly status: RunStatus;
  /** The process exit code this run calls for (0, 1, 3, or 130 when cancelled). */
  readonly exitCode: number;
  readonly targets: readonly TargetRow[];
}

/**
 * Carries out a recorded run: up to `maxConcurrent` hosts at once, one installer at a time per host.
 * Runs equally on a new run and on one resumed after a crash, since it works from history.db's state.
 */
export async function executeRun(ctx: DeployContext): Promise<RunOutcome> {
  const { history, runId } = ctx;
  crashPoint('run-created');
  const work = orderHostsByExpectedWork(loadHostWork(history, runId), history.typicalInstallerDurations());
  const limit = pLimit(Math.max(1, ctx.settings.maxConcurrent));
  const ends = await Promise.all(work.map((host) => limit(() => runHost(ctx, runId, host))));
  const unfinished = ends.some((end) => end !== 'finished');
  const targets = history.targets(runId);
  const verdict = judgeRun(targets);
  const cancelled = ctx.cancellation.stopStarting && unfinished;
  const status: RunStatus = unfinished ? 'interrupted' : verdict.exitCode === 0 ? 'succeeded' : 'failed';
  crashPoint('run-finishing');
  const exitCode = cancelled ? 130 : unfinished ? Math.max(verdict.exitCode, 1) : verdict.exitCode;
  history.runFinished(runId, status, exitCode, `run ${runId} ${status}: ${verdict.summary}`);
  return { runId, status, exitCode, targets };
}

/**
 * The exit code a run's targets call for: 0 when every target succeeded or needed nothing
 * (unsupported and unmapped instances are reported, not failures); 3 when no host could be reached
 * at all; 1 when any target failed, ended partial, or was skipped for a problem.
 */
export function judgeRun(targets: readonly TargetRow[]): { exitCode: 0 | 1 | 3; summary: string } {
  const counts = new Map<string, number>();
  for (const t of targets) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const summary = [...counts.entries()].map(([status, n]) => `${n} ${status}`).join(', ') || 'no targets';
  const tried = targets.filter((t) => t.reached !== null);
  if (tried.length > 0 && tried.every((t) => t.reached === 0)) return { exitCode: 3, summary };
  const problem = targets.some((t) => isProblem(t));
  return { exitCode: problem ? 1 : 0, summary };
}

/** A target that did not end well: failed, partial, unfinished, or skipped for a reason other than "nothing to do". */
export function isProblem(t: TargetRow): boolean {
  switch (t.status) {
    case 'success':
      return false;
    case 'partial':
    case 'failed':
    case 'pending':
    case 'in_progress':
      return true;
    case 'skipped':
      return t.plan_status === 'pending' || t.plan_status === 'unreachable' || t.plan_status === 'invalid_version';
    default: {
      const never: never = t.status;
      throw new Error(`unknown target status ${String(never)}`);
    }
  }
}
