import type { RestartPolicy } from '../../config/schemas.js';
import { restartReason } from '../../plan/restarts.js';
import type { NewAction, StepRow, TargetRow } from '../../store/history.js';

/** What shapes a run's graph beyond its plan. */
export interface GraphOptions {
  readonly restart: RestartPolicy;
  readonly clearPendingReboot: boolean;
}

export const NO_RESTARTS: GraphOptions = { restart: 'never', clearPendingReboot: false };

/** One host's work as the graph builder needs it. */
export interface HostChainInput {
  readonly key: string;
  readonly server: string;
  readonly targets: readonly TargetRow[];
  /** Its installer executions, in host order. */
  readonly executions: readonly { readonly executionId: string; readonly order: number; readonly steps: readonly StepRow[] }[];
}

/**
 * A host's chain (see buildRunGraph): `after` are the keys its first action waits for (other hosts'
 * work, for clustered hosts); `extra` is merged into every action's detail; `executions` limits the
 * installs to some of the host's executions (an FCI's node) and `verify: false` leaves the verify out.
 */
export function hostChain(
  chain: HostChainInput,
  options: GraphOptions,
  after: readonly string[],
  part: { extra?: Record<string, unknown>; executions?: HostChainInput['executions']; preflight?: boolean; verify?: boolean; installDetail?: Record<string, unknown>; previous?: string } = {},
): { actions: NewAction[]; last: string } {
  const { key, server } = chain;
  const extra = part.extra ?? {};
  const actions: NewAction[] = [];
  const hostExecutions = part.executions ?? chain.executions;
  // A run recorded before graphs existed may have visited the host already: its pre-flight was done then.
  const visited = chain.executions.some((e) => e.steps.some((s) => s.status !== 'pending'));
  const preflight = `${key}/preflight`;
  let previous = part.previous ?? preflight;
  let first = true;
  const deps = (own: string[]): string[] => {
    const all = first ? [...own, ...after] : own;
    first = false;
    return [...new Set(all)];
  };
  if (part.preflight !== false) {
    if (options.clearPendingReboot && !visited) {
      actions.push({ key: preflight, server, kind: 'preflight', dependsOn: deps([]), detail: { ...extra, clears_pending_reboot: true } });
      actions.push({ key: `${key}/restart/pending`, server, kind: 'restart', reason: 'a reboot is pending (clear_pending_reboot)', detail: { ...extra, when: 'before' }, dependsOn: [preflight] });
      actions.push({ key: `${key}/wait/pending`, server, kind: 'wait_healthy', detail: extra, dependsOn: [`${key}/restart/pending`] });
      actions.push({ key: `${key}/preflight/again`, server, kind: 'preflight', detail: { ...extra, after_restart: true }, dependsOn: [`${key}/wait/pending`] });
      previous = `${key}/preflight/again`;
    } else {
      actions.push({ key: preflight, server, kind: 'preflight', dependsOn: deps([]), detail: extra, status: visited ? 'success' : 'pending' });
    }
  }
  for (const execution of hostExecutions) {
    const installKey = `${key}/install/${execution.order}`;
    actions.push({ key: installKey, server, kind: 'install', executionId: execution.executionId, detail: { ...extra, ...(part.installDetail ?? {}) }, dependsOn: deps([previous]) });
    previous = installKey;
  }
  if (part.verify === false) return { actions, last: previous };
  actions.push({ key: `${key}/verify`, server, kind: 'verify', detail: extra, dependsOn: deps([previous]) });
  previous = `${key}/verify`;
  if (options.restart !== 'never') {
    const { why } = restartReason(options.restart, chain.targets.some((t) => t.requires_restart === 1));
    actions.push({ key: `${key}/restart`, server, kind: 'restart', reason: why, detail: { ...extra, when: 'after', policy: options.restart }, dependsOn: [`${key}/verify`] });
    actions.push({ key: `${key}/wait`, server, kind: 'wait_healthy', detail: extra, dependsOn: [`${key}/restart`] });
    actions.push({ key: `${key}/verify/again`, server, kind: 'verify', detail: { ...extra, after_restart: true }, dependsOn: [`${key}/wait`] });
    previous = `${key}/verify/again`;
  }
  return { actions, last: previous };
}

