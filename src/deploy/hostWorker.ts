import { ConnectivityError, errorMessage, RemoteOperationError } from '../errors.js';
import type { HostSession, InstallResult, StageResult } from '../remote/transport.js';
import { compareBuilds, parseBuild } from '../sqlserver/buildNumber.js';
import { classifyExitCode } from '../sqlserver/setupExitCodes.js';
import type { StepRow, TargetRow } from '../store/history.js';
import type { DeployContext } from './engine.js';
import { crashPoint } from './crashPoints.js';
import type { ExecutionGroup, HostWork } from './hostWork.js';

const GB = 1024 ** 3;

/** How a host's work ended in this process. */
export type HostEnd = 'finished' | 'not_started' | 'interrupted';

/** What one execution group came to, as far as this process knows. */
interface GroupOutcome {
  readonly status: 'success' | 'failed' | 'skipped' | 'interrupted';
  /** The installer's exit code, when it exited. */
  readonly exitCode?: number | null | undefined;
  /** The exit code said a restart is needed (3010 and its kin). */
  readonly restart: boolean;
  readonly message: string | null;
}

/**
 * Carries out one host's work: connect, pre-flight, stage, run the installers one at a time, verify
 * every instance's build, and record each transition before the next action. Works from the state in
 * history.db, so a resumed host settles what it finds `running` before starting anything new.
 */
export async function runHost(ctx: DeployContext, runId: number, work: HostWork): Promise<HostEnd> {
  const { history, observer, cancellation } = ctx;
  const server = work.server;
  if (cancellation.stopStarting) return 'not_started';
  const targetIds = work.targets.map((t) => t.id);
  history.targetStarted(runId, targetIds, server);
  crashPoint('target-started');
  const toRun = work.groups.filter((g) => g.status !== 'success' && g.status !== 'failed' && g.status !== 'skipped');
  observer.hostStarted(server, work.groups.length);

  let session: HostSession;
  try {
    const transport = await ctx.transports.get(work.transport);
    session = await transport.open({ server, port: work.port, credential: work.credential }, cancellation.signal);
  } catch (error) {
    const reason = `${server}: unreachable: ${stripServer(server, errorMessage(error))}`;
    if (work.groups.some((g) => g.status === 'running' || g.status === 'interrupted')) {
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
    observer.hostFinished(server, 'unreachable');
    return 'finished';
  }
  history.hostReached(targetIds);
  crashPoint('host-reached');

  try {
    const firstVisit = work.groups.every((g) => g.status === 'pending');
    if (firstVisit && toRun.length > 0) {
      const refusal = await preflight(ctx, session, work, toRun);
      if (refusal) {
        history.skipHost(runId, targetIds, server, refusal, { reached: true, kind: 'preflight_failed' });
        observer.hostFinished(server, 'skipped (pre-flight)');
        return 'finished';
      }
      crashPoint('preflight-done');
    }

    const outcomes = new Map<string, GroupOutcome>();
    for (const g of work.groups) if (g.status === 'success' || g.status === 'failed' || g.status === 'skipped') outcomes.set(g.executionId, settledOutcome(g));

    const staged = new Map<string, StageResult>();
    let requiredFailure: string | null = firstRequiredFailure(work.groups, outcomes);
    let interrupted = false;
    let index = 0;
    for (const group of work.groups) {
      index++;
      if (outcomes.has(group.executionId)) continue;
      if (requiredFailure && group.status === 'pending') {
        const reason = `not run: an earlier required step on ${server} failed (${requiredFailure})`;
        history.stepsSkipped(runId, group.steps.map((s) => s.id), server, reason);
        outcomes.set(group.executionId, { status: 'skipped', restart: false, message: reason });
        continue;
      }
      if (cancellation.stopStarting && group.status === 'pending') {
        interrupted = true;
        break;
      }
      observer.stepStarted(server, index, work.groups.length, group.installer);
      const outcome = await runGroup(ctx, runId, session, work, group, staged, `step ${index}/${work.groups.length}`);
      outcomes.set(group.executionId, outcome);
      if (outcome.status === 'interrupted') {
        interrupted = true;
        break;
      }
      if (outcome.status === 'failed' && group.required) requiredFailure = outcome.message ?? `${group.installer} failed`;
    }
    if (interrupted) {
      observer.hostFinished(server, 'interrupted');
      return 'interrupted';
    }
    await verifyAndFinish(ctx, runId, session, work, outcomes);
    return 'finished';
  } catch (error) {
    // A broken connection or anything unexpected ends this host only; the other hosts carry on.
    const why = error instanceof ConnectivityError ? 'the connection was lost' : error instanceof RemoteOperationError ? 'an operation on the host failed' : 'an unexpected error';
    const message = `${server}: deployment stopped: ${why}: ${stripServer(server, errorMessage(error))}`;
    history.addEvent({ runId, server, level: 'error', kind: 'host_error', message, error });
    failUnfinished(ctx, runId, work, message);
    observer.hostFinished(server, 'failed');
    return 'finished';
  } finally {
    await session.close().catch((error: unknown) => observer.log('warn', `${server}: closing the session failed: ${errorMessage(error)}`));
  }
}

function settledOutcome(group: ExecutionGroup): GroupOutcome {
  const step = group.steps[0]!;
  const restart = group.status === 'success' && step.exit_code !== null && classifyExitCode(step.exit_code).outcome === 'success_restart';
  return { status: group.status as GroupOutcome['status'], restart, message: step.error_message, exitCode: step.exit_code };
}

function firstRequiredFailure(groups: readonly ExecutionGroup[], outcomes: ReadonlyMap<string, GroupOutcome>): string | null {
  for (const g of groups) {
    const o = outcomes.get(g.executionId);
    if (o?.status === 'failed' && g.required) return o.message ?? `${g.installer} failed`;
  }
  return null;
}

/** Returns why the host must not be patched now, or null when it may. */
async function preflight(ctx: DeployContext, session: HostSession, work: HostWork, groups: readonly ExecutionGroup[]): Promise<string | null> {
  const server = work.server;
  const instances = work.targets.filter((t) => t.plan_status === 'pending').map((t) => t.instance);
  const facts = await session.preflight(
    { stagingDir: ctx.settings.stagingDir, instances, ignorePendingFileRename: ctx.settings.ignorePendingFileRename },
    ctx.cancellation.signal,
  );
  const reasons: string[] = [];
  if (facts.pendingReboot.length > 0) reasons.push(`a reboot is pending (${facts.pendingReboot.join('; ')}); restart the server, then deploy again`);
  if (facts.installerBusy) reasons.push('Windows Installer is busy with another installation');
  const installerBytes = sum(
    [...new Set(groups.map((g) => g.localPath))].map((p) => ctx.installers.peekSize(p) ?? 0),
  );
  const needed = Math.max(ctx.settings.minFreeDiskBytes, 2 * installerBytes);
  const lowest = Math.min(facts.stagingFreeBytes, facts.systemFreeBytes);
  if (lowest < needed) {
    reasons.push(`too little free disk: ${formatGb(lowest)} free, ${formatGb(needed)} needed for staging and setup`);
  }
  const stopped = facts.services.filter((s) => s.state.toLowerCase() !== 'running');
  if (stopped.length > 0) reasons.push(`SQL Server service not running: ${stopped.map((s) => `${s.name} is ${s.state}`).join(', ')}`);
  if (reasons.length === 0) return null;
  return `${server}: skipped by pre-flight: ${reasons.join('; ')}`;
}

async function stageInstaller(
  ctx: DeployContext,
  session: HostSession,
  server: string,
  group: ExecutionGroup,
  staged: Map<string, StageResult>,
): Promise<StageResult> {
  const known = staged.get(group.localPath);
  if (known) return known;
  const local = await ctx.installers.get(group.localPath, group.pinnedSha256);
  const result = await session.stage(
    { localPath: local.path, fileName: group.installer, sha256: local.sha256, sizeBytes: local.sizeBytes, stagingDir: ctx.settings.stagingDir },
    ctx.cancellation.signal,
  );
  if (result.sha256.toLowerCase() !== local.sha256) {
    throw new StagingError(
      `${server}: the staged copy of ${group.installer} at ${result.remotePath} has SHA-256 ${result.sha256}, expected ${local.sha256}; the copy is corrupt`,
    );
  }
  const signature = await session.installerSignature?.(result.remotePath, ctx.settings.stagingDir, ctx.cancellation.signal);
  const signed = signature ? `; Authenticode ${signature.status}${signature.signer ? `, signed by ${signature.signer}` : ''}` : '';
  if (signature && signature.status !== 'Valid' && ctx.settings.requireSignedInstallers) {
    throw new StagingError(
      `${server}: ${group.installer} at ${result.remotePath} is not validly signed (Authenticode ${signature.status}); refusing to run it (require_signed_installers)`,
    );
  }
  ctx.history.addEvent({
    runId: ctx.runId,
    server,
    level: 'info',
    kind: 'staged',
    message: `${server}: ${group.installer} ${result.alreadyPresent ? 'already staged' : 'staged'} at ${result.remotePath} (SHA-256 ${local.sha256.slice(0, 12)}… verified${signed})`,
  });
  staged.set(group.localPath, result);
  crashPoint('staged');
  return result;
}

class StagingError extends Error {}

async function runGroup(
  ctx: DeployContext,
  runId: number,
  session: HostSession,
  work: HostWork,
  group: ExecutionGroup,
  staged: Map<string, StageResult>,
  position: string,
): Promise<GroupOutcome> {
  const { history, observer } = ctx;
  const server = work.server;
  const served = describeServed(work, group.steps);
  const label = `${server} (${served}): ${group.installer}`;

  let stage: StageResult;
  try {
    stage = await stageInstaller(ctx, session, server, group, staged);
  } catch (error) {
    if (group.status === 'pending') history.stepsRunning(runId, group.executionId, server, `${label}: staging`);
    const message = error instanceof StagingError ? error.message : `${label}: staging failed: ${stripServer(server, errorMessage(error))}`;
    history.stepsFinished(runId, group.executionId, server, failedStep(message), 'error', message, error);
    return { status: 'failed', restart: false, message };
  }

  let result: InstallResult;
  if (group.status === 'running' || group.status === 'interrupted') {
    // Settle first: the target knows whether the installer ran, is running, or never started.
    const status = await session.installerStatus(group.executionId, ctx.cancellation.signal);
    if (status.state === 'finished') {
      history.addEvent({ runId, server, level: 'info', kind: 'step_settled', message: `${label}: found finished on the target while resuming` });
      const durationMs = Date.parse(status.finishedAt) - Date.parse(status.startedAt);
      result = status.exitCode === null ? { kind: 'timed_out', durationMs } : { kind: 'exited', exitCode: status.exitCode, durationMs };
      return recordResult(ctx, runId, group, label, result, { startedAt: status.startedAt, completedAt: status.finishedAt });
    }
    if (group.status === 'interrupted') history.stepsRunning(runId, group.executionId, server, `${label}: resumed`);
    const found = status.state === 'running' ? 'still running on the target; waiting for it' : 'had not started on the target; starting it';
    history.addEvent({ runId, server, level: 'info', kind: 'step_settled', message: `${label}: ${found}` });
  } else {
    history.stepsRunning(runId, group.executionId, server, `${label}: started (${position})`);
  }
  crashPoint('step-marked-running');
  observer.log('debug', `${label}: command parameters: ${group.parameters}`);
  try {
    result = await session.runInstaller({
      executionId: group.executionId,
      remotePath: stage.remotePath,
      parameters: group.parameters,
      timeoutMs: ctx.settings.stepTimeoutMs,
      signal: ctx.cancellation.signal,
    });
  } catch (error) {
    // The connection broke while waiting: the installer may go on on the target. --resume asks it.
    const message = `${label}: lost contact while the installer was running (${stripServer(server, errorMessage(error))}); it may still be running on the target: run --deploy-hotfixes --resume to settle it`;
    history.stepsInterrupted(runId, group.executionId, server, message, error);
    history.noteTargetErrors([...new Set(group.steps.map((s) => s.hotfix_target_id))], message);
    return { status: 'interrupted', restart: false, message };
  }
  crashPoint('installer-returned');
  const outcome = recordResult(ctx, runId, group, label, result, {});
  crashPoint('step-recorded');
  return outcome;
}

function recordResult(
  ctx: DeployContext,
  runId: number,
  group: ExecutionGroup,
  label: string,
  result: InstallResult,
  times: { startedAt?: string; completedAt?: string },
): GroupOutcome {
  const { history } = ctx;
  const server = group.server;
  switch (result.kind) {
    case 'exited': {
      const meaning = classifyExitCode(result.exitCode);
      const ok = meaning.outcome !== 'failure';
      const where = !ok && 'summaryPath' in result && result.summaryPath ? `; see ${result.summaryPath}` : '';
      const message = `${label} exited ${result.exitCode} (${meaning.meaning})${where}`;
      const output = 'summaryTail' in result ? (result.summaryTail ?? null) : null;
      history.stepsFinished(
        runId,
        group.executionId,
        server,
        {
          status: ok ? 'success' : 'failed',
          exitCode: result.exitCode,
          exitMeaning: meaning.meaning,
          durationMs: result.durationMs,
          output,
          error: ok ? null : message,
          ...times,
        },
        ok ? 'info' : 'error',
        message,
      );
      return { status: ok ? 'success' : 'failed', restart: meaning.outcome === 'success_restart', message: ok ? null : message, exitCode: result.exitCode };
    }
    case 'timed_out': {
      const minutes = ctx.settings.stepTimeoutMs / 60000;
      const message = `${label} timed out after ${formatMinutes(minutes)}; the installer's process tree was stopped`;
      history.stepsFinished(
        runId,
        group.executionId,
        server,
        { status: 'failed', exitCode: null, exitMeaning: 'timed out', durationMs: result.durationMs, output: result.summaryTail ?? null, error: message, ...times },
        'error',
        message,
      );
      return { status: 'failed', restart: false, message };
    }
    case 'detached': {
      const message = `${label}: stopped waiting (cancelled); the installer goes on on the target; run --deploy-hotfixes --resume to settle it`;
      history.stepsInterrupted(runId, group.executionId, server, message);
      return { status: 'interrupted', restart: false, message };
    }
    default: {
      const never: never = result;
      throw new Error(`unknown install result ${JSON.stringify(never)}`);
    }
  }
}

function failedStep(message: string) {
  return { status: 'failed' as const, exitCode: null, exitMeaning: null, durationMs: null, output: null, error: message };
}

/** Re-reads every instance's build, then settles each target's status from its steps and its build. */
async function verifyAndFinish(
  ctx: DeployContext,
  runId: number,
  session: HostSession,
  work: HostWork,
  outcomes: ReadonlyMap<string, GroupOutcome>,
): Promise<void> {
  const { history, observer } = ctx;
  const server = work.server;
  const builds = new Map<number, { build: string | null; error: string | null }>();
  for (const t of work.targets) {
    try {
      const q = await session.queryBuild(t.instance, ctx.cancellation.signal);
      builds.set(t.id, { build: q.build, error: null });
    } catch (error) {
      builds.set(t.id, { build: null, error: errorMessage(error) });
    }
  }
  const moved = (t: TargetRow): boolean => {
    const pre = parseBuild(t.pre_build);
    const post = parseBuild(builds.get(t.id)?.build ?? null);
    return pre !== null && post !== null && compareBuilds(post, pre) > 0;
  };
  const anyMoved = work.targets.some(moved);
  crashPoint('build-verified');
  const groupsByStep = new Map<number, ExecutionGroup>();
  for (const g of work.groups) for (const s of g.steps) groupsByStep.set(s.id, g);

  let failures = 0;
  for (const t of work.targets) {
    const stepGroups = work.groups.filter((g) => g.steps.some((s) => s.hotfix_target_id === t.id));
    const results = stepGroups.map((g) => ({ group: g, outcome: outcomes.get(g.executionId)! }));
    const { build, error: queryError } = builds.get(t.id)!;
    const name = `${t.server}\\${t.instance}`;
    const restart = results.some((r) => r.outcome.restart);
    // A restart is owed when setup said so, or when the mapping says so and the update went in.
    const requiresRestart = restart || (t.requires_restart === 1 && moved(t));
    const requiredFailed = results.find((r) => r.outcome.status === 'failed' && r.group.required);
    const skipped = results.find((r) => r.outcome.status === 'skipped');
    const optionalFailed = results.filter((r) => r.outcome.status === 'failed' && !r.group.required);
    const target = parseBuild(t.target_build);
    const post = parseBuild(build);
    const reached = target !== null && post !== null && compareBuilds(post, target) >= 0;

    let status: 'success' | 'partial' | 'failed';
    let error: string | null = null;
    if (requiredFailed) {
      status = 'failed';
      error = requiredFailed.outcome.message;
    } else if (skipped) {
      status = 'failed';
      error = skipped.outcome.message;
    } else if (queryError !== null) {
      status = 'failed';
      error = `the installers reported success but the build could not be verified: ${stripServer(t.server, queryError)}`;
    } else if (reached) {
      status = optionalFailed.length > 0 ? 'partial' : 'success';
      if (optionalFailed.length > 0) error = `optional step failed: ${optionalFailed.map((r) => r.outcome.message).join('; ')}`;
    } else if (moved(t) || anyMoved) {
      status = 'partial';
      error = `build is ${build ?? 'unknown'} after the installers, below the target ${t.target_build}${moved(t) ? '' : ' (other instances on the host were updated, this one was not)'}`;
    } else {
      status = 'failed';
      const codes = [...new Set(results.map((r) => r.outcome.exitCode ?? null))];
      const exitText = codes.length === 1 && codes[0] !== null ? `exit ${codes[0]}` : 'success exit codes';
      error = `the installer reported success (${exitText}) but the build is still ${build ?? 'unknown'}; expected ${t.target_build}. The update did not apply: check setup's Summary.txt on ${t.server}`;
    }
    if (status !== 'success') failures++;
    const message =
      status === 'success'
        ? `${name}: success, build ${build} (target ${t.target_build})${requiresRestart ? '; restart required' : ''}`
        : `${name}: ${status}: ${error}`;
    history.targetFinished(runId, t.id, t.server, { status, postBuild: build, requiresRestart, error }, status === 'success' ? 'info' : 'error', message);
    crashPoint('target-finished');
  }
  observer.hostFinished(server, failures === 0 ? 'success' : `${failures} target(s) not successful`);
}

/** After an unexpected error: what was running stays settle-able; the rest is recorded failed. */
function failUnfinished(ctx: DeployContext, runId: number, work: HostWork, message: string): void {
  const { history } = ctx;
  const current = new Map(history.steps(runId).map((s) => [s.id, s]));
  const pendingSteps = work.groups.flatMap((g) => g.steps).filter((s) => current.get(s.id)?.status === 'pending');
  history.stepsSkipped(runId, pendingSteps.map((s) => s.id), work.server, message);
  const hasUnsettled = work.groups.flatMap((g) => g.steps).some((s) => {
    const status = current.get(s.id)?.status;
    return status === 'running' || status === 'interrupted';
  });
  if (hasUnsettled) return;
  for (const t of work.targets) {
    const row = history.target(t.id);
    if (row.status === 'pending' || row.status === 'in_progress') {
      history.targetFinished(runId, t.id, t.server, { status: 'failed', postBuild: null, requiresRestart: false, error: message }, 'error', message);
    }
  }
}

function describeServed(work: HostWork, steps: readonly StepRow[]): string {
  const ids = new Set(steps.map((s) => s.hotfix_target_id));
  return work.targets
    .filter((t) => ids.has(t.id))
    .map((t) => t.instance)
    .join(', ');
}

function stripServer(server: string, message: string): string {
  return message.startsWith(`${server}: `) ? message.slice(server.length + 2) : message;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function formatGb(bytes: number): string {
  return `${(bytes / GB).toFixed(1)} GB`;
}

function formatMinutes(minutes: number): string {
  if (minutes >= 1) return `${Number(minutes.toFixed(2))} min`;
  return `${Number((minutes * 60).toFixed(1))} s`;
}
