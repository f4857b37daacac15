import { LockLostError } from '../errors.js';
import type { TargetRow } from '../store/history.js';
import { isFinalActionStatus, type RunStatus } from '../store/states.js';
import type { HostContext } from './actions/types.js';
import type { DeployContext } from './context.js';
import { crashPoint } from './crashPoints.js';
import { ensureRunGraph } from './graph/buildGraph.js';
import { RunGraph } from './graph/runGraph.js';
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
export async function executeRun(ctx: DeployContext): Promise<RunOutcome> {
  const { history, runId } = ctx;
  crashPoint('run-created');
  ensureRunGraph(history, runId, { restart: ctx.settings.restart, clearPendingReboot: ctx.settings.clearPendingReboot });
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
  // A run is finished only when every target and step is: a host that ended early leaves it interrupted.
  const unfinished = waves.unfinished || [...ends.values()].some((end) => end !== 'finished') || left.targets > 0 || left.steps > 0;
  const targets = history.targets(runId);
  const verdict = judgeRun(targets);
  const cancelled = ctx.cancellation.stopStarting && unfinished;
  const status: RunStatus = unfinished ? 'interrupted' : verdict.exitCode === 0 && halt === null ? 'succeeded' : 'failed';
  crashPoint('run-finishing');
  const exitCode = cancelled ? 130 : unfinished ? Math.max(verdict.exitCode, 1) : halt !== null ? Math.max(verdict.exitCode, 1) : verdict.exitCode;
  history.runFinished(runId, status, exitCode, `run ${runId} ${status}: ${verdict.summary}${halt ? `; ${halt}` : ''}`);
  return { runId, status, exitCode, targets };
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

