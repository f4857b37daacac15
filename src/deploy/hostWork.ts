import type { History, StepRow, TargetRow } from '../store/history.js';
import type { TransportName } from '../remote/transport.js';
import { isFinalTargetStatus, type StepStatus } from '../store/states.js';

/** One installer execution on a host and the steps (one per target it serves) that record it. */
export interface ExecutionGroup {
  readonly server: string;
  readonly executionId: string;
  readonly hostStepOrder: number;
  readonly installer: string;
  readonly localPath: string;
  readonly parameters: string;
  readonly pinnedSha256: string | null;
  readonly required: boolean;
  readonly steps: readonly StepRow[];
  /** The steps of one execution move together, so they share one status. */
  readonly status: StepStatus;
}

/** What is left to do on one host of a run, read from history.db. */
export interface HostWork {
  readonly server: string;
  readonly transport: TransportName;
  readonly port: number | undefined;
  readonly credential: string | undefined;
  /** The host's targets that are not yet final. */
  readonly targets: readonly TargetRow[];
  /** Every execution of those targets, in host order, finished ones included. */
  readonly groups: readonly ExecutionGroup[];
}

/**
 * Reads a run's unfinished work per host. The engine runs from this state whether the run is new or
 * resumed after a crash, so there is one code path for both.
 */
export function loadHostWork(history: History, runId: number, alsoServers: readonly string[] = []): HostWork[] {
  const all = history.targets(runId);
  const targets = all.filter((t) => !isFinalTargetStatus(t.status));
  const steps = history.steps(runId);
  const hosts = new Map<string, { targets: TargetRow[]; any: TargetRow }>();
  for (const t of targets) {
    const key = t.server.toLowerCase();
    const host = hosts.get(key) ?? { targets: [], any: t };
    host.targets.push(t);
    hosts.set(key, host);
  }
  // Hosts whose targets are final but whose graph still has work (a restart after patching).
  const wanted = new Set(alsoServers.map((s) => s.toLowerCase()));
  for (const t of all) {
    const key = t.server.toLowerCase();
    if (wanted.has(key) && !hosts.has(key)) hosts.set(key, { targets: [], any: t });
  }
  // Each host's steps in one pass over the run's steps, in their order: scanning every step once
  // per host made loading a large run quadratic.
  const hostOfTarget = new Map(targets.map((t) => [t.id, t.server.toLowerCase()]));
  const stepsByHost = new Map<string, StepRow[]>();
  for (const s of steps) {
    const key = hostOfTarget.get(s.hotfix_target_id);
    if (key === undefined) continue;
    const list = stepsByHost.get(key);
    if (list) list.push(s);
    else stepsByHost.set(key, [s]);
  }
  return [...hosts.entries()].map(([key, { targets: hostTargets, any }]) => {
    const first = any;
    const row = history.connectionOf(first.server_id);
    const byExecution = new Map<string, StepRow[]>();
    for (const s of stepsByHost.get(key) ?? []) {
      const group = byExecution.get(s.execution_id);
      if (group) group.push(s);
      else byExecution.set(s.execution_id, [s]);
    }
    const groups = [...byExecution.entries()]
      .map(([executionId, groupSteps]): ExecutionGroup => {
        const s = groupSteps[0]!;
        return {
          server: first.server,
          executionId,
          hostStepOrder: s.host_step_order,
          installer: s.installer_file,
          localPath: s.installer_path,
          parameters: s.parameters,
          pinnedSha256: s.sha256,
          required: groupSteps.some((g) => g.required === 1),
          steps: groupSteps,
          status: s.status,
        };
      })
      .sort((a, b) => a.hostStepOrder - b.hostStepOrder);
    return {
      server: first.server,
      transport: (row.transport ?? 'winrm') as TransportName,
      port: row.port ?? undefined,
      credential: row.credential ?? undefined,
      targets: hostTargets,
      groups,
    };
  });
}
