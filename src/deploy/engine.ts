import { LockLostError } from '../errors.js';
import type { TargetRow } from '../store/history.js';
import { isFinalActionStatus, type RunStatus } from '../store/states.js';
import type { HostContext } from './actions/types.js';
import type { DeployContext } from './context.js';
import { crashPoint } from './crashPoints.js';
import { ensureRunGraph } from './graph/buildGraph.js';
import { RunGraph } from './graph/runGraph.js';
import { isGroupServer, type RecordedRolling, serviceGroupsOfRolling } from './graph/rollingGraph.js';
import { orderHostsByExpectedWork } from './hostOrder.js';
import { loadHostWork } from './hostWork.js';
import { estimateRun, formatEta } from './eta.js';
import type { HostWork } from './hostWork.js';
import { RunPredictions } from './runPredictions.js';
import { judgeRun } from './runVerdict.js';
import { runWaves, type WavesOutcome } from './waves.js';
import { MaintenanceWindow } from './window.js';
import { DEFAULT_EXPECTED_MINUTES } from '../predict/durations.js';

export type { DeployContext, DeploySettings } from './context.js';

export interface RunOutcome {
  readonly runId: number;
  readonly status: RunStatus;
  /** The process exit code this run calls for (0, 1, 3, or 130 when cancelled). */
  readonly exitCode: number;
  readonly targets: readonly TargetRow[];
}

/**
 * Carries out a recorded run: its graph of actions (recorded on first execution), scheduled within
 * the limits. Runs equally on a new run and on one resumed after a crash, since it works from
 * history.db's state.
 */
export async function executeRun(given: DeployContext): Promise<RunOutcome> {
  const { history, runId } = given;
  crashPoint('run-created');
  ensureRunGraph(history, runId, { restart: given.settings.restart, clearPendingReboot: given.settings.clearPendingReboot });
  const ctx = withClusterLimits(given);
  const graph = RunGraph.load(history, runId);
  const withWork = graph.servers().filter((server) => graph.ofHost(server).some((a) => !isFinalActionStatus(a.status)));
  // `--resume --server`: only the hosts named are worked on; the others stay as they are.
  const wanted = new Set(withWork.map((s) => s.toLowerCase()).filter((s) => !ctx.hosts || ctx.hosts.has(s)));
  const work = orderHostsByExpectedWork(loadHostWork(history, runId, withWork), history.typicalInstallerDurations()).filter((w) =>
    wanted.has(w.server.toLowerCase()),
  );
  const hosts = work.map((w): HostContext => ({ server: w.server, work: w, session: null, staged: new Map() }));
  const predictions = new RunPredictions(history, work, ctx.defaultExpectedMinutes ?? DEFAULT_EXPECTED_MINUTES);
  if (ctx.windowEndMs != null) ctx.window = new MaintenanceWindow(ctx.windowEndMs, predictions);
  const stopEta = reportEta(ctx, work, predictions);
  let waves: WavesOutcome;
  try {
    waves = await runWaves(ctx, graph, hosts);
  } finally {
    stopEta();
  }
  const { ends, halt } = waves;
  // A process that lost the run lock records nothing more (not even the run's end): the new owner settles it.
  if (history.lockLost) throw new LockLostError();
  if (waves.storageFailure) throw waves.storageFailure;
  const left = history.unfinishedWork(runId);
  // Group actions (failovers, restores of failover modes) are work too: a run whose restore has not
  // run is not finished, whatever its targets say.
  const groupActions = history.actions(runId).filter((a) => isGroupServer(a.server));
  const groupsLeft = groupActions.filter((a) => !isFinalActionStatus(a.status));
  // A run is finished only when every target and step is: a host that ended early leaves it interrupted.
  const unfinished = waves.unfinished || [...ends.values()].some((end) => end !== 'finished') || left.targets > 0 || left.steps > 0 || groupsLeft.length > 0;
  const targets = history.targets(runId);
  const judged = judgeRun(targets);
  // A group action that failed (a failover refused, a replica not resynchronized, a mode not restored) fails the run.
  const groupFailures = groupActions.filter((a) => a.status === 'failed');
  const verdict =
    groupFailures.length > 0
      ? { exitCode: judged.exitCode === 3 ? 3 : 1, summary: `${judged.summary}; ${groupFailures.length} availability group or cluster action(s) failed` }
      : judged;
  const cancelled = ctx.cancellation.stopStarting && unfinished;
  const status: RunStatus = unfinished ? 'interrupted' : verdict.exitCode === 0 && halt === null ? 'succeeded' : 'failed';
  crashPoint('run-finishing');
  const exitCode = cancelled ? 130 : unfinished ? Math.max(verdict.exitCode, 1) : halt !== null ? Math.max(verdict.exitCode, 1) : verdict.exitCode;
  history.runFinished(runId, status, exitCode, `run ${runId} ${status}: ${verdict.summary}${halt ? `; ${halt}` : ''}`);
  return { runId, status, exitCode, targets };
}

/**
 * The scheduler's "one host of a group out of service" limit, filled from the rolling order the run
 * was started with: each replica's host belongs to its availability groups, each FCI's virtual name
 * to its FCI (its nodes are patched within its own chain, one at a time).
 */
function withClusterLimits(ctx: DeployContext): DeployContext {
  const rolling = ctx.history.rollingOf(ctx.runId);
  if (!rolling) return ctx;
  const groups = serviceGroupsOfRolling(rolling as RecordedRolling);
  const given = ctx.settings.serviceGroupsOf;
  const serviceGroupsOf = (server: string): readonly string[] => [...(given?.(server) ?? []), ...(groups.get(server.toLowerCase()) ?? [])];
  return { ...ctx, settings: { ...ctx.settings, serviceGroupsOf } };
}

/** After each installer that finishes (and each wave decision), the expected end of the run and of its wave, on screen and in the log. */
function reportEta(ctx: DeployContext, work: readonly HostWork[], predictions: RunPredictions): () => void {
  let active = true;
  ctx.history.onEvent((event) => {
    if (!active || !ETA_EVENTS.has(event.kind)) return;
    const eta = estimateRun(ctx.history, ctx.runId, work, predictions, ctx.settings.maxConcurrent, Date.now());
    if (eta.installersLeft === 0 && eta.wave === null) return;
    const text = formatEta(eta);
    ctx.observer.eta?.(text);
    ctx.observer.log('info', text);
  });
  return () => {
    active = false;
  };
}

const ETA_EVENTS = new Set(['step_success', 'step_failed', 'window_deferred', 'wave_started', 'wave_passed', 'wave_overridden']);

