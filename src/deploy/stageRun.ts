import pLimit from 'p-limit';
import { ConnectivityError, errorMessage } from '../errors.js';
import type { RunStatus } from '../store/states.js';
import { isFinalTargetStatus } from '../store/states.js';
import { visitHost } from './actions/hostVisit.js';
import { stripServer } from './actions/messages.js';
import { refusalOf } from './actions/preflight.js';
import { StagingError, stageInstaller } from './actions/stage.js';
import type { HostContext } from './actions/types.js';
import type { DeployContext } from './context.js';
import { crashPoint } from './crashPoints.js';
import type { RunOutcome } from './engine.js';
import { judgeRun } from './runVerdict.js';
import { loadHostWork } from './hostWork.js';

/**
 * A stage-only run (`--stage-only`): on every reachable planned host, pre-flight, then each planned
 * installer copied (unless already there with the same hash) and verified (SHA-256, Authenticode),
 * and nothing installed. Each target ends `success` when all its installers are staged and verified,
 * `failed` when one could not be, `skipped` when its host was unreachable or refused by pre-flight;
 * its steps end `skipped` with "staged, not installed". Up to `stagingHosts` hosts at once.
 *
 * It has no run graph: both halves are idempotent on the host (pre-flight reads, staging skips a
 * file already there), so a resumed stage run simply does again, for each host not yet final, what
 * the killed process may not have finished, and copies nothing twice.
 */
export async function executeStageRun(ctx: DeployContext, stagingHosts: number): Promise<RunOutcome> {
  const { history, runId } = ctx;
  crashPoint('run-created');
  const work = loadHostWork(history, runId);
  const limit = pLimit(Math.max(1, stagingHosts));
  const ends = await Promise.all(
    work.map((w) => limit(() => stageHost(ctx, { server: w.server, work: w, session: null, staged: new Map() }))),
  );
  const unfinished = ends.some((end) => end !== 'finished');
  const targets = history.targets(runId);
  const verdict = judgeRun(targets);
  const status: RunStatus = unfinished ? 'interrupted' : verdict.exitCode === 0 ? 'succeeded' : 'failed';
  crashPoint('run-finishing');
  const exitCode = ctx.cancellation.stopStarting && unfinished ? 130 : unfinished ? Math.max(verdict.exitCode, 1) : verdict.exitCode;
  history.runFinished(runId, status, exitCode, `stage-only run ${runId} ${status}: ${verdict.summary}; nothing was installed`);
  return { runId, status, exitCode, targets };
}

async function stageHost(ctx: DeployContext, host: HostContext): Promise<'finished' | 'not_started' | 'interrupted'> {
  const { history, runId } = ctx;
  const server = host.server;
  if (ctx.cancellation.stopStarting) return 'not_started';
  const visit = await visitHost(ctx, host, []);
  if (visit !== 'open') return visit;
  try {
    const open = () => history.targetsOfHost(runId, server).filter((t) => !isFinalTargetStatus(t.status));
    const pendingGroups = host.work.groups.filter((g) => g.status === 'pending');
    const refusal = await refusalOf(ctx, host.session!, server, open(), pendingGroups);
    if (refusal) {
      history.skipHost(runId, open().map((t) => t.id), server, refusal, { reached: true, kind: 'preflight_failed' });
      ctx.observer.hostFinished(server, 'skipped (pre-flight)');
      return 'finished';
    }
    crashPoint('preflight-done');
    const failures = new Map<number, string>();
    let index = 0;
    for (const group of host.work.groups) {
      index++;
      if (ctx.cancellation.stopStarting) {
        ctx.observer.hostFinished(server, 'interrupted');
        return 'interrupted';
      }
      const steps = history.stepsOfExecution(group.executionId);
      if (steps.every((s) => s.status !== 'pending')) continue;
      ctx.observer.stepStarted(server, index, host.work.groups.length, `staging ${group.installer}`);
      try {
        const staged = await stageInstaller(ctx, host, group);
        history.stepsStagedOnly(runId, steps.filter((s) => s.status === 'pending').map((s) => s.id), server, `${server}: ${group.installer} staged at ${staged.remotePath} and verified; not installed (stage-only run)`);
      } catch (error) {
        if (error instanceof ConnectivityError) throw error;
        const message = error instanceof StagingError ? error.message : `${server}: staging ${group.installer} failed: ${stripServer(server, errorMessage(error))}`;
        history.stepsSkipped(runId, steps.filter((s) => s.status === 'pending').map((s) => s.id), server, message);
        for (const s of steps) failures.set(s.hotfix_target_id, message);
      }
      crashPoint('stage-recorded');
    }
    for (const t of open()) {
      const failure = failures.get(t.id);
      const status = failure ? 'failed' : 'success';
      const message = failure ? `${t.server}\\${t.instance}: staging failed: ${failure}` : `${t.server}\\${t.instance}: installers staged and verified; nothing installed`;
      history.targetFinished(runId, t.id, t.server, { status, postBuild: null, requiresRestart: false, error: failure ?? null }, failure ? 'error' : 'info', message);
    }
    ctx.observer.hostFinished(server, failures.size === 0 ? 'staged' : 'staging failed');
    return 'finished';
  } catch (error) {
    // A broken connection or an operation that failed ends this host only: nothing ran there, so its unfinished targets are failed.
    const message = `${server}: staging stopped: ${stripServer(server, errorMessage(error))}`;
    history.addEvent({ runId, server, level: 'error', kind: 'host_error', message, error });
    const pending = host.work.groups.flatMap((g) => history.stepsOfExecution(g.executionId)).filter((s) => s.status === 'pending');
    history.stepsSkipped(runId, pending.map((s) => s.id), server, message);
    for (const t of history.targetsOfHost(runId, server).filter((t) => !isFinalTargetStatus(t.status))) {
      history.targetFinished(runId, t.id, t.server, { status: 'failed', postBuild: null, requiresRestart: false, error: message }, 'error', message);
    }
    ctx.observer.hostFinished(server, 'failed');
    return 'finished';
  } finally {
    await host.session?.close().catch((error: unknown) => ctx.observer.log('warn', `${server}: closing the session failed: ${errorMessage(error)}`));
    host.session = null;
  }
}
