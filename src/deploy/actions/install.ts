import { errorMessage, RemoteOperationError } from '../../errors.js';
import type { InstallResult, StageResult } from '../../remote/transport.js';
import type { StepRow } from '../../store/history.js';
import { classifyExitCode } from '../../sqlserver/setupExitCodes.js';
import { summaryDisagreement } from '../../sqlserver/setupSummary.js';
import type { DeployContext } from '../context.js';
import { crashPoint } from '../crashPoints.js';
import type { ExecutionGroup } from '../hostWork.js';
import { settleInstall } from '../settle.js';
import { detailOf, textOf } from './detail.js';
import { formatMinutes, stripServer } from './messages.js';
import { StagingError, stageInstaller } from './stage.js';
import type { ActionEnd, ActionKindHandler, HostContext } from './types.js';

/**
 * Install: one installer execution on a host, serving the steps (one per target) that record it.
 * Its state is its steps' state, so each transition stays one guarded statement on hotfix_steps.
 * Windows Installer runs one install at a time per host, so a host's installs form a chain.
 */
export const installAction: ActionKindHandler = {
  kind: 'install',
  needsSession: true,
  runsWhileStopping: false,
  decide({ ctx, host, graph, action }) {
    const earlier = graph.ancestorsOf(action.id);
    if (earlier.some((a) => a.kind === 'preflight' && a.status === 'failed')) return { run: false, reason: `not run: ${host.server} did not pass pre-flight` };
    if (earlier.some((a) => (a.kind === 'restart' || a.kind === 'wait_healthy') && a.status === 'failed')) {
      return { run: false, reason: `not run: ${host.server} did not come back from its restart` };
    }
    const failure = firstRequiredFailure(ctx, host, action.execution_id!);
    if (failure) return { run: false, reason: `not run: an earlier required step on ${host.server} failed (${failure})` };
    const late = ctx.window?.refusesInstall(host, action.execution_id!);
    if (late) return { run: false, reason: late.reason };
    return { run: true };
  },
  skip({ ctx, host, action }, reason) {
    const pending = ctx.history.stepsOfExecution(action.execution_id!).filter((s) => s.status === 'pending');
    ctx.history.stepsSkipped(ctx.runId, pending.map((s) => s.id), host.server, reason);
  },
  async run({ ctx, host, action }): Promise<ActionEnd> {
    const index = host.work.groups.findIndex((g) => g.executionId === action.execution_id);
    const group = freshGroup(ctx, host.work.groups[index]!);
    const total = host.work.groups.length;
    // A failover cluster instance's setup runs on one node at a time, reached by the node's own name.
    const node = textOf(detailOf(action), 'node');
    const where = node ? await nodeContext(ctx, host, node) : host;
    ctx.observer.stepStarted(where.server, index + 1, total, group.installer);
    const outcome = await runExecution(ctx, where, group, `step ${index + 1}/${total}`);
    return outcome === 'interrupted' ? 'interrupted' : 'done';
  },
};

/** The node of an FCI as a host of its own: its session (opened once per visit) and what it has staged. */
async function nodeContext(ctx: DeployContext, host: HostContext, node: string): Promise<HostContext> {
  host.nodes ??= new Map();
  const known = host.nodes.get(node.toLowerCase());
  if (known?.session) return known;
  const transport = await ctx.transports.get(host.work.transport);
  const session = await transport.open({ server: node, port: host.work.port, credential: host.work.credential }, ctx.cancellation.signal);
  const context: HostContext = { server: node, work: host.work, session, staged: new Map() };
  host.nodes.set(node.toLowerCase(), context);
  return context;
}

/** The execution as history.db holds it now. */
function freshGroup(ctx: DeployContext, group: ExecutionGroup): ExecutionGroup {
  const steps = ctx.history.stepsOfExecution(group.executionId);
  return { ...group, steps, status: steps[0]?.status ?? group.status };
}

/** The message of the first required execution on the host, before this one, that failed. */
function firstRequiredFailure(ctx: DeployContext, host: HostContext, executionId: string): string | null {
  for (const g of host.work.groups) {
    if (g.executionId === executionId) return null;
    if (!g.required) continue;
    const steps = ctx.history.stepsOfExecution(g.executionId);
    if (steps[0]?.status === 'failed') return steps[0].error_message ?? `${g.installer} failed`;
  }
  return null;
}

async function runExecution(ctx: DeployContext, host: HostContext, group: ExecutionGroup, position: string): Promise<'finished' | 'interrupted'> {
  const { history, observer, runId } = ctx;
  const server = host.server;
  const session = host.session!;
  const label = `${server} (${describeServed(host, group.steps)}): ${group.installer}`;

  let stage: StageResult;
  try {
    stage = await stageInstaller(ctx, host, group);
  } catch (error) {
    if (group.status === 'pending') history.stepsRunning(runId, stepIdsOf(group), server, `${label}: staging`);
    const message = error instanceof StagingError ? error.message : `${label}: staging failed: ${stripServer(server, errorMessage(error))}`;
    history.stepsFinished(runId, stepIdsOf(group), server, failedStep(message), 'error', message, error);
    return 'finished';
  }

  if (group.status === 'running' || group.status === 'interrupted') {
    const settled = await settleInstall(session, group.executionId, ctx.cancellation.signal);
    if (settled.found === 'finished') {
      history.addEvent({ runId, server, level: 'info', kind: 'step_settled', message: `${label}: found finished on the target while resuming` });
      recordResult(ctx, group, label, settled.result.result, { startedAt: settled.result.startedAt, completedAt: settled.result.completedAt });
      return 'finished';
    }
    if (group.status === 'interrupted') history.stepsRunning(runId, stepIdsOf(group), server, `${label}: resumed`);
    const found = settled.found === 'running' ? 'still running on the target; waiting for it' : 'had not started on the target; starting it';
    history.addEvent({ runId, server, level: 'info', kind: 'step_settled', message: `${label}: ${found}` });
  } else {
    history.stepsRunning(runId, stepIdsOf(group), server, `${label}: started (${position})`);
  }
  crashPoint('step-marked-running');
  observer.log('debug', `${label}: command parameters: ${group.parameters}`);
  let result: InstallResult;
  try {
    result = await session.runInstaller({
      executionId: group.executionId,
      remotePath: stage.remotePath,
      parameters: group.parameters,
      timeoutMs: ctx.settings.stepTimeoutMs,
      signal: ctx.cancellation.signal,
      timeoutAction: ctx.settings.timeoutAction,
      sha256: stage.sha256,
      startMethod: ctx.settings.installerStart ?? 'scheduled_task',
    });
  } catch (error) {
    const notStarted = installerStartFailure(error);
    if (notStarted) {
      // The target said the installer never started: nothing runs there, so the step has failed.
      const message = `${label}: the installer could not be started on the target: ${stripServer(server, notStarted)}`;
      history.stepsFinished(runId, stepIdsOf(group), server, failedStep(message), 'error', message, error);
      return 'finished';
    }
    // The connection broke while waiting: the installer may go on on the target. --resume asks it.
    const message = `${label}: lost contact while the installer was running (${stripServer(server, errorMessage(error))}); it may still be running on the target: run --deploy-hotfixes --resume to settle it`;
    history.stepsInterrupted(runId, stepIdsOf(group), server, message, error);
    history.noteTargetErrors([...new Set(group.steps.map((s) => s.hotfix_target_id))], message);
    return 'interrupted';
  }
  crashPoint('installer-returned');
  const end = recordResult(ctx, group, label, result, {});
  crashPoint('step-recorded');
  return end;
}

function recordResult(
  ctx: DeployContext,
  group: ExecutionGroup,
  label: string,
  result: InstallResult,
  times: { startedAt?: string; completedAt?: string },
): 'finished' | 'interrupted' {
  const { history, runId } = ctx;
  const server = group.server;
  switch (result.kind) {
    case 'exited': {
      const meaning = classifyExitCode(result.exitCode);
      const ok = meaning.outcome !== 'failure';
      const where = !ok && 'summaryPath' in result && result.summaryPath ? `; see ${result.summaryPath}` : '';
      const summary = result.summary ?? null;
      const disagreement = summary ? summaryDisagreement(result.exitCode, summary) : null;
      const message = `${label} exited ${result.exitCode} (${meaning.meaning})${disagreement ? `; ${disagreement}` : ''}${where}`;
      const output = 'summaryTail' in result ? (result.summaryTail ?? null) : null;
      history.stepsFinished(
        runId,
        stepIdsOf(group),
        server,
        {
          status: ok ? 'success' : 'failed',
          exitCode: result.exitCode,
          exitMeaning: meaning.meaning,
          durationMs: result.durationMs,
          output,
          error: ok ? null : message,
          setupVerdict: summary ? { finalResult: summary.finalResult, exitCode: summary.exitCode, summaryPath: result.summaryPath ?? null } : null,
          ...times,
        },
        ok ? (disagreement ? 'warn' : 'info') : 'error',
        message,
      );
      return 'finished';
    }
    case 'timed_out': {
      const minutes = ctx.settings.stepTimeoutMs / 60000;
      const message = `${label} timed out after ${formatMinutes(minutes)}; the installer's process tree was stopped`;
      history.stepsFinished(
        runId,
        stepIdsOf(group),
        server,
        { status: 'failed', exitCode: null, exitMeaning: 'timed out', durationMs: result.durationMs, output: result.summaryTail ?? null, error: message, ...times },
        'error',
        message,
      );
      return 'finished';
    }
    case 'left_running': {
      // Settled like an interrupted step: the host's later steps wait, and --resume reads the real exit code.
      const minutes = ctx.settings.stepTimeoutMs / 60000;
      const message = `${label} passed its timeout of ${formatMinutes(minutes)} and was left running: ${result.reason}. The host's later steps are held back; run --deploy-hotfixes --resume once it has finished to record its exit code`;
      history.stepsInterrupted(runId, stepIdsOf(group), server, message);
      history.noteTargetErrors([...new Set(group.steps.map((s) => s.hotfix_target_id))], message);
      return 'interrupted';
    }
    case 'detached': {
      const message = `${label}: stopped waiting (cancelled); the installer goes on on the target; run --deploy-hotfixes --resume to settle it`;
      history.stepsInterrupted(runId, stepIdsOf(group), server, message);
      return 'interrupted';
    }
    default: {
      const never: never = result;
      throw new Error(`unknown install result ${JSON.stringify(never)}`);
    }
  }
}

/** The step rows of one execution: transitions are scoped by their row ids. */
function stepIdsOf(group: ExecutionGroup): number[] {
  return group.steps.map((s) => s.id);
}

/**
 * The message of an error by which the target said the installer did not start (it is missing, or
 * Windows refused to start it), or null for any other error, after which it may be running.
 */
export function installerStartFailure(error: unknown): string | null {
  if (!(error instanceof RemoteOperationError)) return null;
  const neverStarted = ['InstallerStartFailed', 'FileNotFound', 'StagedFileChanged'];
  return error.remoteType !== undefined && neverStarted.includes(error.remoteType) ? error.message : null;
}

function failedStep(message: string) {
  return { status: 'failed' as const, exitCode: null, exitMeaning: null, durationMs: null, output: null, error: message };
}

function describeServed(host: HostContext, steps: readonly StepRow[]): string {
  const ids = new Set(steps.map((s) => s.hotfix_target_id));
  return host.work.targets
    .filter((t) => ids.has(t.id))
    .map((t) => t.instance)
    .join(', ');
}

/** Whether an execution's exit code asked for a restart (3010 and its kin). */
export function askedForRestart(step: StepRow): boolean {
  return step.status === 'success' && step.exit_code !== null && classifyExitCode(step.exit_code).outcome === 'success_restart';
}
