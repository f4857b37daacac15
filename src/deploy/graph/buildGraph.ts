import type { RestartPolicy } from '../../config/schemas.js';
import { restartReason } from '../../plan/restarts.js';
import type { History, NewAction, StepRow, TargetRow } from '../../store/history.js';
import { isFinalTargetStatus } from '../../store/states.js';

/** What shapes a run's graph beyond its plan. */
export interface GraphOptions {
  readonly restart: RestartPolicy;
  readonly clearPendingReboot: boolean;
}

export const NO_RESTARTS: GraphOptions = { restart: 'never', clearPendingReboot: false };

/**
 * A host's chain, in the order the actions run:
 *
 *   preflight ─┬─────────────────────────────────────────────┬→ install (each execution, in host order) → verify
 *              └→ restart → wait_healthy → preflight (again) ─┘        (with clear_pending_reboot)
 *
 *   … verify → restart → wait_healthy → verify (again)                (restart: when_required | always)
 *
 * Each restart is in the graph from the start and decides when its turn comes whether it is needed
 * (a pending reboot found; setup or the mapping asking for one), so the plan can show it and resume
 * finds it. Hosts are independent here; graphs that tie hosts together (availability groups,
 * clusters, waves) add edges between chains.
 */
export function buildRunGraph(targets: readonly TargetRow[], steps: readonly StepRow[], options: GraphOptions = NO_RESTARTS): NewAction[] {
  const hosts = new Map<string, { server: string; targets: TargetRow[] }>();
  for (const t of targets) {
    if (isFinalTargetStatus(t.status)) continue;
    const key = t.server.toLowerCase();
    const host = hosts.get(key) ?? { server: t.server, targets: [] };
    host.targets.push(t);
    hosts.set(key, host);
  }
  const hostOfTarget = new Map<number, string>();
  for (const [key, host] of hosts) for (const t of host.targets) hostOfTarget.set(t.id, key);
  const executions = new Map<string, Map<string, { order: number; steps: StepRow[] }>>();
  for (const s of steps) {
    const key = hostOfTarget.get(s.hotfix_target_id);
    if (key === undefined) continue;
    const byExecution = executions.get(key) ?? new Map<string, { order: number; steps: StepRow[] }>();
    const execution = byExecution.get(s.execution_id) ?? { order: s.host_step_order, steps: [] };
    execution.steps.push(s);
    byExecution.set(s.execution_id, execution);
    executions.set(key, byExecution);
  }

  const actions: NewAction[] = [];
  for (const [key, host] of hosts) {
    const hostExecutions = [...(executions.get(key)?.entries() ?? [])].sort((a, b) => a[1].order - b[1].order);
    // A run recorded before graphs existed may have visited the host already: its pre-flight was done then.
    const visited = hostExecutions.some(([, e]) => e.steps.some((s) => s.status !== 'pending'));
    const server = host.server;
    const preflight = `${key}/preflight`;
    let previous = preflight;
    if (options.clearPendingReboot && !visited) {
      actions.push({ key: preflight, server, kind: 'preflight', dependsOn: [], detail: { clears_pending_reboot: true } });
      actions.push({ key: `${key}/restart/pending`, server, kind: 'restart', reason: 'a reboot is pending (clear_pending_reboot)', detail: { when: 'before' }, dependsOn: [preflight] });
      actions.push({ key: `${key}/wait/pending`, server, kind: 'wait_healthy', dependsOn: [`${key}/restart/pending`] });
      actions.push({ key: `${key}/preflight/again`, server, kind: 'preflight', detail: { after_restart: true }, dependsOn: [`${key}/wait/pending`] });
      previous = `${key}/preflight/again`;
    } else {
      actions.push({ key: preflight, server, kind: 'preflight', dependsOn: [], status: visited ? 'success' : 'pending' });
    }
    for (const [executionId, execution] of hostExecutions) {
      const installKey = `${key}/install/${execution.order}`;
      actions.push({ key: installKey, server, kind: 'install', executionId, dependsOn: [previous] });
      previous = installKey;
    }
    actions.push({ key: `${key}/verify`, server, kind: 'verify', dependsOn: [previous] });
    if (options.restart !== 'never') {
      const { why } = restartReason(options.restart, host.targets.some((t) => t.requires_restart === 1));
      actions.push({ key: `${key}/restart`, server, kind: 'restart', reason: why, detail: { when: 'after', policy: options.restart }, dependsOn: [`${key}/verify`] });
      actions.push({ key: `${key}/wait`, server, kind: 'wait_healthy', dependsOn: [`${key}/restart`] });
      actions.push({ key: `${key}/verify/again`, server, kind: 'verify', detail: { after_restart: true }, dependsOn: [`${key}/wait`] });
    }
  }
  return actions;
}

/** Records the run's graph unless it has one (a resumed run keeps the graph it was started with). */
export function ensureRunGraph(history: History, runId: number, options: GraphOptions = NO_RESTARTS): void {
  if (history.actions(runId).length > 0) return;
  history.recordGraph(runId, buildRunGraph(history.targets(runId), history.steps(runId), options));
}
