import { errorMessage } from '../../errors.js';
import type { HostSession } from '../../remote/transport.js';
import { compareBuilds, parseBuild } from '../../sqlserver/buildNumber.js';
import type { StepRow, TargetRow } from '../../store/history.js';
import { isFinalTargetStatus } from '../../store/states.js';
import type { DeployContext } from '../context.js';
import { crashPoint } from '../crashPoints.js';
import type { ExecutionGroup } from '../hostWork.js';
import { detailOf } from './detail.js';
import { askedForRestart } from './install.js';
import { stripServer } from './messages.js';
import type { ActionCall, ActionEnd, ActionKindHandler, HostContext } from './types.js';

/** What one execution came to, read from its steps. */
interface ExecutionOutcome {
  readonly status: StepRow['status'];
  readonly exitCode: number | null;
  readonly restart: boolean;
  readonly message: string | null;
}

/**
 * Verify: re-read every instance's build and settle each unfinished target's status from its steps
 * and its build. It reads the host and finishes only targets not yet final, so an action found
 * running after a crash is simply done again.
 */
export const verifyAction: ActionKindHandler = {
  kind: 'verify',
  // Finishes what was begun: once a host's installers are done, its targets are settled even while stopping.
  needsSession: true,
  runsWhileStopping: true,
  decide({ graph, action, host }) {
    if (detailOf(action).after_restart === true) {
      const wait = graph.dependenciesOf(action.id).find((a) => a.kind === 'wait_healthy');
      return wait?.status === 'success' ? { run: true } : { run: false, reason: `${host.server} was not restarted` };
    }
    const ancestors = graph.ancestorsOf(action.id).filter((a) => a.server.toLowerCase() === host.server.toLowerCase());
    if (ancestors.some((a) => a.kind === 'preflight' && a.status === 'failed')) return { run: false, reason: `${host.server} did not pass pre-flight` };
    return { run: true };
  },
  skip({ ctx, action, host }, reason) {
    ctx.history.actionTransition(ctx.runId, action.id, { from: ['pending'], to: 'skipped', error: reason }, { server: host.server, level: 'debug', kind: 'verify_skipped', message: `${host.server}: verification skipped: ${reason}` });
  },
  async run({ ctx, host, action }: ActionCall): Promise<ActionEnd> {
    const { history, runId } = ctx;
    const server = host.server;
    if (action.status === 'pending') {
      history.actionTransition(runId, action.id, { from: ['pending'], to: 'running' }, { server, level: 'debug', kind: 'verify_running', message: `${server}: verifying builds` });
    }
    if (detailOf(action).after_restart === true) await verifyAfterRestart(ctx, host.session!, host);
    else {
      const targets = history.targetsOfHost(runId, server).filter((t) => !isFinalTargetStatus(t.status));
      if (targets.length > 0) await verifyAndFinish(ctx, host.session!, host, targets);
    }
    history.actionTransition(runId, action.id, { from: ['running'], to: 'success' }, { server, level: 'debug', kind: 'verify_done', message: `${server}: builds verified` });
    return 'done';
  },
};

/**
 * After a restart: every instance's build is read again. The restart a target needed is done; a build
 * that changed is recorded; one that fell below the target fails the target, saying so.
 */
async function verifyAfterRestart(ctx: DeployContext, session: HostSession, host: HostContext): Promise<void> {
  const { history, runId } = ctx;
  for (const t of history.targetsOfHost(runId, host.server)) {
    if (t.status === 'skipped' || t.status === 'pending' || t.status === 'in_progress') continue;
    const name = `${t.server}\\${t.instance}`;
    let build: string | null = null;
    let problem: string | null = null;
    try {
      build = (await session.queryBuild(t.instance, ctx.cancellation.signal)).build;
    } catch (error) {
      problem = `its build could not be read after the restart: ${stripServer(t.server, errorMessage(error))}`;
    }
    const post = parseBuild(build);
    const target = parseBuild(t.target_build);
    const fell = t.status !== 'failed' && post !== null && target !== null && compareBuilds(post, target) < 0;
    const failure = problem ?? (fell ? `build ${build} after the restart is below the target ${t.target_build}` : null);
    const message = failure
      ? `${name}: failed after the restart: ${failure}`
      : `${name}: restarted; build ${build ?? 'unknown'}${build !== t.post_build && t.post_build ? ` (was ${t.post_build} before the restart)` : ''}`;
    history.targetAfterRestart(runId, t.id, t.server, { postBuild: build, restartDone: true, failure }, failure ? 'error' : 'info', message);
    crashPoint('target-finished');
  }
}

function outcomeOf(steps: readonly StepRow[]): ExecutionOutcome {
  const step = steps[0]!;
  return { status: step.status, exitCode: step.exit_code, restart: askedForRestart(step), message: step.error_message };
}

/** Re-reads every instance's build, then settles each target's status from its steps and its build. */
async function verifyAndFinish(ctx: DeployContext, session: HostSession, host: HostContext, targets: readonly TargetRow[]): Promise<void> {
  const { history, observer, runId } = ctx;
  const server = host.server;
  const builds = new Map<number, { build: string | null; error: string | null }>();
  for (const t of targets) {
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
  const anyMoved = targets.some(moved);
  crashPoint('build-verified');
  const executions = host.work.groups.map((g): { group: ExecutionGroup; steps: StepRow[] } => ({ group: g, steps: history.stepsOfExecution(g.executionId) }));

  let failures = 0;
  for (const t of targets) {
    const results = executions
      .filter((e) => e.steps.some((s) => s.hotfix_target_id === t.id))
      .map((e) => ({ group: e.group, outcome: outcomeOf(e.steps) }));
    const { build, error: queryError } = builds.get(t.id)!;
    const name = `${t.server}\\${t.instance}${t.patched_alongside === 1 ? ' (patched alongside)' : ''}`;
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
