import { ConnectivityError, errorMessage } from '../../errors.js';
import type { HostSession } from '../../remote/transport.js';
import { crashPoint } from '../crashPoints.js';
import { settleRestart } from '../settle.js';
import { detailOf, textOf } from './detail.js';
import { dropHostSession, openHostSession } from './hostVisit.js';
import { stripServer } from './messages.js';
import type { ActionCall, ActionEnd, ActionKindHandler } from './types.js';

/**
 * Restart: one host, recorded (with its boot time before) before it is requested, so that resume can
 * tell a restart that happened from one that did not by the host's boot time, and never restarts a
 * host twice. `detail.when` is `before` (a pending reboot, with clear_pending_reboot) or `after`
 * (patching, by the `restart` policy); the action decides when its turn comes whether it is needed.
 * It does not wait for the host: the wait_healthy action after it does.
 */
export const restartAction: ActionKindHandler = {
  kind: 'restart',
  // It works while the host is away (found running on resume): it opens its own session.
  needsSession: false,
  runsWhileStopping: false,
  decide({ ctx, graph, action, host }) {
    const detail = detailOf(action);
    const deps = graph.dependenciesOf(action.id);
    if (detail.when === 'before') {
      const preflight = deps.find((a) => a.kind === 'preflight');
      const pending = preflight ? detailOf(preflight).pending_reboot : undefined;
      if (preflight?.status !== 'success' || !Array.isArray(pending) || pending.length === 0) return { run: false, reason: 'no reboot is pending' };
      return { run: true };
    }
    const verify = deps.find((a) => a.kind === 'verify');
    if (verify && verify.status !== 'success') return { run: false, reason: `${host.server} was not verified after patching` };
    const ran = host.work.groups.some((g) => {
      const status = ctx.history.stepsOfExecution(g.executionId)[0]?.status;
      return status === 'success' || status === 'failed';
    });
    if (!ran) return { run: false, reason: 'no installer ran on it' };
    if (detail.policy === 'always') return { run: true };
    const needing = ctx.history.targetsOfHost(ctx.runId, host.server).filter((t) => t.requires_restart === 1);
    if (needing.length === 0) return { run: false, reason: 'no update asked for a restart (restart: when_required)' };
    return { run: true };
  },
  skip({ ctx, action, host }, reason) {
    ctx.history.actionTransition(
      ctx.runId,
      action.id,
      { from: ['pending'], to: 'skipped', error: reason },
      { server: host.server, level: 'info', kind: 'restart_skipped', message: `${host.server}: not restarted: ${reason}` },
    );
  },
  async run(call: ActionCall): Promise<ActionEnd> {
    const { ctx, host, action } = call;
    const { history, runId } = ctx;
    const server = host.server;
    const why = action.reason ?? 'restart';
    if (action.status === 'running' || action.status === 'interrupted') {
      const settled = await settleRestart(ctx, host, action);
      history.actionTransition(
        runId,
        action.id,
        { from: ['running', 'interrupted'], to: 'success', detail: { settled: settled.found } },
        { server, level: 'info', kind: 'restart_settled', message: `${server}: restart found on resume: ${settled.message}` },
      );
      await dropHostSession(ctx, host);
      return 'done';
    }
    if (!host.session) host.session = await openHostSession(ctx, host);
    const session: HostSession = host.session;
    const bootBefore = await session.bootTime(ctx.cancellation.signal);
    const now = Date.now();
    const comment = `AutoDBAudit run ${runId}: ${why}`;
    history.actionTransition(
      runId,
      action.id,
      {
        from: ['pending'],
        to: 'running',
        detail: { boot_before: bootBefore, requested_at: new Date(now).toISOString(), deadline: new Date(now + ctx.settings.restartTimeoutMs).toISOString(), comment },
      },
      { server, level: 'info', kind: 'restart_recorded', message: `${server}: restarting (${why}); up since ${bootBefore}` },
    );
    crashPoint('restart-recorded');
    let answer = 'accepted';
    try {
      await session.requestRestart({ comment }, ctx.cancellation.signal);
    } catch (error) {
      // The host may go down before its answer arrives; its boot time will say whether it restarted.
      if (!(error instanceof ConnectivityError)) throw error;
      answer = `the connection closed as it was requested (${stripServer(server, errorMessage(error))}); the boot time will tell`;
    }
    crashPoint('restart-requested');
    history.actionTransition(
      runId,
      action.id,
      { from: ['running'], to: 'success', detail: { answer } },
      { server, level: 'info', kind: 'restart_requested', message: `${server}: restart requested (${textOf(detailOf(action), 'when') === 'before' ? 'before patching' : 'after patching'}): ${answer}` },
    );
    await dropHostSession(ctx, host);
    return 'done';
  },
};
