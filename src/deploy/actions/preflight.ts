import { stagingFolderRefusal } from '../../remote/stagingFolder.js';
import { asrBlocksWmi, type HostSession } from '../../remote/transport.js';
import type { AlongsideInstance, StepRow, TargetRow } from '../../store/history.js';
import { compareBuilds, parseBuild } from '../../sqlserver/buildNumber.js';
import { familyOf } from '../../sqlserver/family.js';
import { isFinalTargetStatus } from '../../store/states.js';
import type { DeployContext } from '../context.js';
import { crashPoint } from '../crashPoints.js';
import type { ExecutionGroup } from '../hostWork.js';
import { serviceNotes } from '../instanceServices.js';
import { detailOf } from './detail.js';
import { formatGb } from './messages.js';
import { StagingError, stageInstaller } from './stage.js';
import type { ActionEnd, ActionKindHandler, HostContext } from './types.js';

/**
 * Pre-flight: before anything is staged or started on a host, check that it may be patched now
 * (no pending reboot, Windows Installer free, enough disk), and that every installer it will run is
 * staged and trusted. The state of the instances' services is reported, not required: setup patches a
 * stopped engine, and patching needs nothing of SQL Server Agent.
 * A refusal skips the host's targets with the reasons. Read-only on the host, so an action found
 * running after a crash is simply done again.
 */
export const preflightAction: ActionKindHandler = {
  kind: 'preflight',
  needsSession: true,
  runsWhileStopping: false,
  decide({ ctx, host, graph, action }) {
    // The second pre-flight of clear_pending_reboot runs only when the host was restarted before patching.
    if (detailOf(action).after_restart === true) {
      const wait = graph.dependenciesOf(action.id).find((a) => a.kind === 'wait_healthy');
      if (wait?.status !== 'success') return { run: false, reason: 'no restart was needed before patching' };
      return { run: true };
    }
    // The maintenance window: a host starts only when all its remaining installers are predicted to end inside it.
    const refusal = ctx.window?.refusesHost(ctx.history, host);
    return refusal ? { run: false, reason: refusal.reason } : { run: true };
  },
  skip({ ctx, action, host }, reason) {
    ctx.history.actionTransition(ctx.runId, action.id, { from: ['pending'], to: 'skipped', error: reason }, { server: host.server, level: 'debug', kind: 'preflight_skipped', message: `${host.server}: pre-flight skipped: ${reason}` });
    const deferral = ctx.window?.lastRefusal(host.server);
    if (deferral && deferral.reason === reason) {
      ctx.history.deferHost(ctx.runId, host.server, reason, deferral.neededMs);
      ctx.history.actionsSkippedOnHost(ctx.runId, host.server, reason);
      ctx.observer.hostFinished(host.server, 'deferred (maintenance window)');
    }
  },
  async run({ ctx, host, action }): Promise<ActionEnd> {
    const { history, runId } = ctx;
    const server = host.server;
    if (action.status === 'pending') {
      history.actionTransition(runId, action.id, { from: ['pending'], to: 'running' }, { server, level: 'debug', kind: 'preflight_running', message: `${server}: pre-flight` });
    }
    let targets = history.targetsOfHost(runId, server).filter((t) => !isFinalTargetStatus(t.status));
    if (targets.length === 0) {
      // Found running after a crash that came after the host was skipped: the refusal is on record already.
      const reason = `${server}: skipped by pre-flight`;
      history.actionTransition(runId, action.id, { from: ['running'], to: 'failed', error: reason }, { server, level: 'info', kind: 'preflight_settled', message: `${reason} (settled on resume)` });
      history.actionsSkippedOnHost(runId, server, reason);
      return 'done';
    }
    const session = host.session!;
    const detail = detailOf(action);
    const groups = host.work.groups.filter((g) => g.status !== 'success' && g.status !== 'failed' && g.status !== 'skipped');
    // Instances setup will patch with /AllInstances though no target names them are checked and recorded too.
    if (await recordInstancesPatchedAlongside(ctx, host, session, groups)) {
      targets = history.targetsOfHost(runId, server).filter((t) => !isFinalTargetStatus(t.status));
    }
    const found = await findingsOf(ctx, session, server, targets, groups);
    if (found.pendingReboot.length > 0 && detail.clears_pending_reboot === true && found.others.length === 0) {
      // clear_pending_reboot: the restart after this action clears it, and pre-flight runs again.
      crashPoint('preflight-done');
      history.actionTransition(
        runId,
        action.id,
        { from: ['running'], to: 'success', detail: { pending_reboot: found.pendingReboot } },
        { server, level: 'info', kind: 'preflight_reboot_pending', message: `${server}: a reboot is pending (${found.pendingReboot.join('; ')}): restarting it before patching (clear_pending_reboot)` },
      );
      return 'done';
    }
    const reasons = [...found.others];
    if (found.pendingReboot.length > 0) {
      reasons.unshift(
        detail.after_restart === true
          ? `a reboot is still pending after its restart (${found.pendingReboot.join('; ')})`
          : `a reboot is pending (${found.pendingReboot.join('; ')}); restart the server, then deploy again (or set clear_pending_reboot)`,
      );
    }
    const refusal = (reasons.length > 0 ? `${server}: skipped by pre-flight: ${reasons.join('; ')}` : null) ?? (await trustRefusal(ctx, host, groups));
    if (refusal) {
      history.skipHost(runId, targets.map((t) => t.id), server, refusal, { reached: true, kind: 'preflight_failed' });
      history.actionTransition(runId, action.id, { from: ['running'], to: 'failed', error: refusal }, { server, level: 'debug', kind: 'preflight_refused', message: refusal });
      history.actionsSkippedOnHost(runId, server, refusal);
      ctx.observer.hostFinished(server, 'skipped (pre-flight)');
      return 'done';
    }
    crashPoint('preflight-done');
    history.actionTransition(runId, action.id, { from: ['running'], to: 'success' }, { server, level: 'debug', kind: 'preflight_passed', message: `${server}: pre-flight passed` });
    return 'done';
  },
};

// Setup's switches are case-insensitive; /InstanceName= limits it to the named instances.
const ALL_INSTANCES = /(^|\s)\/allinstances(\s|$)/i;
const INSTANCE_NAME = /(^|\s)"?\/instancename=/i;

/** Whether setup run with these parameters patches every instance of its version on the host. */
export function patchesAllInstances(parameters: string): boolean {
  return ALL_INSTANCES.test(parameters) && !INSTANCE_NAME.test(parameters);
}

/**
 * Setup run with /AllInstances patches every instance of its version on the host, listed or not. The
 * host's instances are discovered; each one no target of the run names, of the family of a planned
 * target of such an execution and below that target's build, is recorded as a target patched
 * alongside, with a step in each execution that patches it: from then on it is checked, verified and
 * reported like the planned ones. Returns whether any was recorded. Idempotent (resume).
 */
async function recordInstancesPatchedAlongside(ctx: DeployContext, host: HostContext, session: HostSession, groups: readonly ExecutionGroup[]): Promise<boolean> {
  const wide = groups.filter((g) => patchesAllInstances(g.parameters));
  if (wide.length === 0) return false;
  const all = ctx.history.targetsOfHost(ctx.runId, host.server);
  const known = new Set(all.map((t) => t.instance.toLowerCase()));
  const byId = new Map(all.map((t) => [t.id, t]));
  const discovered = await session.discover(ctx.cancellation.signal);
  const found: AlongsideInstance[] = [];
  for (const instance of discovered.instances) {
    if (known.has(instance.instance.toLowerCase())) continue;
    const build = parseBuild(instance.build);
    if (!build) continue;
    const family = familyOf(build);
    if (!family) continue;
    const steps: StepRow[] = [];
    let targetBuild: string | null = null;
    for (const group of wide) {
      const planned = group.steps.map((s) => byId.get(s.hotfix_target_id)).find((t) => t?.version_family === family);
      if (!planned) continue;
      const target = parseBuild(planned.target_build);
      // Setup leaves an instance alone that is already at or above the update's level.
      if (target && compareBuilds(build, target) >= 0) continue;
      steps.push(group.steps[0]!);
      targetBuild = planned.target_build;
    }
    if (steps.length > 0) found.push({ instance: instance.instance, edition: instance.edition, family, preBuild: instance.build!, targetBuild, steps });
  }
  if (found.length === 0) return false;
  const recorded = ctx.history.recordAlongside(ctx.runId, host.server, { transport: host.work.transport, port: host.work.port, credential: host.work.credential }, found);
  crashPoint('alongside-recorded');
  return recorded.length > 0;
}

/** Returns why the host must not be patched now, or null when it may (a pending reboot among the reasons). */
export async function refusalOf(
  ctx: DeployContext,
  session: HostSession,
  server: string,
  targets: readonly TargetRow[],
  groups: readonly ExecutionGroup[],
): Promise<string | null> {
  const found = await findingsOf(ctx, session, server, targets, groups);
  const reasons = [...found.others];
  if (found.pendingReboot.length > 0) reasons.unshift(`a reboot is pending (${found.pendingReboot.join('; ')}); restart the server, then deploy again`);
  if (reasons.length === 0) return null;
  return `${server}: skipped by pre-flight: ${reasons.join('; ')}`;
}

/** What stands in the way of patching the host now: a pending reboot, and every other reason. */
async function findingsOf(
  ctx: DeployContext,
  session: HostSession,
  server: string,
  targets: readonly TargetRow[],
  groups: readonly ExecutionGroup[],
): Promise<{ pendingReboot: readonly string[]; others: string[] }> {
  const instances = targets.filter((t) => t.plan_status === 'pending').map((t) => t.instance);
  const facts = await session.preflight(
    { stagingDir: ctx.settings.stagingDir, instances, ignorePendingFileRename: ctx.settings.ignorePendingFileRename },
    ctx.cancellation.signal,
  );
  const reasons: string[] = [];
  const folder = facts.stagingFolder;
  if (folder.problem) reasons.push(stagingFolderRefusal(folder));
  else if (folder.created) {
    ctx.history.addEvent({ runId: ctx.runId, server, level: 'info', kind: 'staging_folder_created', message: `${server}: created the staging folder ${folder.path}, writable by SYSTEM and Administrators only` });
  }
  if (asrBlocksWmi(facts.asrWmiRule)) {
    const rule = `Defender's attack surface reduction rule "Block process creations originating from PSExec and WMI commands" (d1e49aac-8f56-4280-b9ba-993a6d77406c) is in ${facts.asrWmiRule} mode`;
    if ((ctx.settings.installerStart ?? 'scheduled_task') === 'wmi') {
      reasons.push(`${rule}, which stops setup started through WMI (installer_start "wmi"): use installer_start "scheduled_task", or set the rule to audit for the patching window`);
    } else {
      ctx.history.addEvent({ runId: ctx.runId, server, level: 'info', kind: 'preflight_note', message: `${server}: ${rule}; setup is started through a scheduled task, which the rule does not block` });
    }
  }
  if (facts.installerBusy) reasons.push('Windows Installer is busy with another installation');
  const installerBytes = [...new Set(groups.map((g) => g.localPath))].map((p) => ctx.installers.peekSize(p) ?? 0).reduce((a, b) => a + b, 0);
  const needed = Math.max(ctx.settings.minFreeDiskBytes, 2 * installerBytes);
  const lowest = Math.min(facts.stagingFreeBytes, facts.systemFreeBytes);
  if (lowest < needed) {
    reasons.push(`too little free disk: ${formatGb(lowest)} free, ${formatGb(needed)} needed for staging and setup`);
  }
  for (const note of serviceNotes(facts.services)) {
    ctx.history.addEvent({ runId: ctx.runId, server, level: note.level, kind: 'preflight_note', message: `${server}: ${note.message}` });
  }
  return { pendingReboot: facts.pendingReboot, others: reasons };
}

/**
 * Every installer the host will run is staged and checked (hash, signature, signer) before the first
 * one starts, so an untrusted file refuses the host before anything has changed on it.
 */
async function trustRefusal(ctx: DeployContext, host: HostContext, groups: readonly ExecutionGroup[]): Promise<string | null> {
  for (const group of groups) {
    try {
      await stageInstaller(ctx, host, group);
    } catch (error) {
      if (error instanceof StagingError) return error.message;
      throw error;
    }
  }
  return null;
}
