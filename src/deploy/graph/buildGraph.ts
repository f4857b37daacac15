import type { History, NewAction, StepRow, TargetRow } from '../../store/history.js';
import { isFinalTargetStatus } from '../../store/states.js';

/**
 * A host's chain, in the order the actions run:
 *
 *   preflight → install (each execution, in host order) → verify
 *
 * Hosts are independent here; graphs that tie hosts together (availability groups, clusters,
 * waves) add edges between chains.
 */
export function buildRunGraph(targets: readonly TargetRow[], steps: readonly StepRow[]): NewAction[] {
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
    actions.push({ key: preflight, server, kind: 'preflight', dependsOn: [], status: visited ? 'success' : 'pending' });
    let previous = preflight;
    for (const [executionId, execution] of hostExecutions) {
      const installKey = `${key}/install/${execution.order}`;
      actions.push({ key: installKey, server, kind: 'install', executionId, dependsOn: [previous] });
      previous = installKey;
    }
    actions.push({ key: `${key}/verify`, server, kind: 'verify', dependsOn: [previous] });
  }
  return actions;
}

/** Records the run's graph unless it has one (a resumed run keeps the graph it was started with). */
export function ensureRunGraph(history: History, runId: number): void {
  if (history.actions(runId).length > 0) return;
  history.recordGraph(runId, buildRunGraph(history.targets(runId), history.steps(runId)));
}
