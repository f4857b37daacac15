import type { History, NewAction, StepRow, TargetRow } from '../../store/history.js';
import { isFinalTargetStatus } from '../../store/states.js';
import { type GraphOptions, type HostChainInput, hostChain, NO_RESTARTS } from './hostChain.js';
import { clusteredHosts, type RecordedRolling, rollingActions } from './rollingGraph.js';

export { type GraphOptions, NO_RESTARTS } from './hostChain.js';


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
export function buildRunGraph(
  targets: readonly TargetRow[],
  steps: readonly StepRow[],
  options: GraphOptions = NO_RESTARTS,
  rolling: RecordedRolling | null = null,
): NewAction[] {
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

  const chains = new Map<string, HostChainInput>();
  for (const [key, host] of hosts) {
    const hostExecutions = [...(executions.get(key)?.entries() ?? [])]
      .sort((a, b) => a[1].order - b[1].order)
      .map(([executionId, e]) => ({ executionId, order: e.order, steps: e.steps }));
    chains.set(key, { key, server: host.server, targets: host.targets, executions: hostExecutions });
  }
  const actions: NewAction[] = [];
  const clustered = rolling ? clusteredHosts(rolling) : new Set<string>();
  for (const [key, chain] of chains) {
    if (clustered.has(key)) continue;
    actions.push(...hostChain(chain, options, []).actions);
  }
  if (rolling) actions.push(...rollingActions(rolling, chains, options));
  return actions;
}

/** Records the run's graph unless it has one (a resumed run keeps the graph it was started with). */
export function ensureRunGraph(history: History, runId: number, options: GraphOptions = NO_RESTARTS): void {
  if (history.actions(runId).length > 0) return;
  const rolling = history.rollingOf(runId);
  history.recordGraph(runId, buildRunGraph(history.targets(runId), history.steps(runId), options, rolling ? (rolling as RecordedRolling) : null));
}
